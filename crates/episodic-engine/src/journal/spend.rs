//! Spending that holds across machines: the budget of a batch, and fal's out-of-credit answer.
//!
//! **Budget sessions.** A run given a batch (the engine names it by a hash of the render keys of
//! its plans, so machines given the same manifests name the same batch) joins the budget session
//! of a run of that batch still alive, or starts its own. Before each submit,
//! [`Journal::reserve_spend`] locks the session (its first run's row: the whole database on
//! SQLite, `SELECT ... FOR NO KEY UPDATE` on PostgreSQL), adds up what the session committed
//! (billed costs of renders its runs completed, plus the estimates reserved by renders its runs
//! hold unfinished, and the same for lines voiced by ElevenLabs: [`Journal::reserve_speech_spend`])
//! and reserves this render's estimate only if the sum stays within the cap. Two
//! machines can therefore never together pass it, and a rerun after every run of the batch has
//! ended starts afresh, as a single run always has.
//!
//! **The breaker.** fal's out-of-credit 403 is recorded ([`Journal::trip_spend_breaker`]); every
//! run started before it sees it at its next submit and stops submitting. A run started after it
//! (the user topped up) tries again, and trips it again at its first refusal if nothing changed.

use super::backend::{Tx, TxMode};
use super::error::JournalError;
use super::liveness::owner_is_alive;
use super::record::{Owner, RunId, UnixSeconds};
use super::store::{Journal, to_i64, to_u64};

/// What [`Journal::reserve_spend`] decided about one submit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpendDecision {
    /// The estimate is reserved: submit.
    Reserved,
    /// The estimate would take the budget session past the cap: do not submit.
    OverBudget {
        /// What the session had committed before this render, in micro-dollars.
        committed_micros: u64,
    },
    /// fal said the account is out of credit after this run started: do not submit.
    OutOfCredit {
        /// When it was recorded.
        tripped_at: UnixSeconds,
        /// The run that met it.
        by: RunId,
    },
}

/// What a reservation is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spending {
    Render,
    Speech,
}

impl Journal {
    /// Puts a new run into the budget session of a live run of `batch`, or its own.
    pub(crate) fn join_session(
        &self,
        tx: &mut dyn Tx,
        batch: &str,
        me: &Owner,
        now: UnixSeconds,
    ) -> Result<(), JournalError> {
        for (owner, session, facts) in tx.open_runs_of_batch(batch, me.run_id)? {
            if owner_is_alive(&owner, me, Some(facts), now, self.stale_after()) {
                return tx.set_session(me.run_id, session);
            }
        }
        tx.set_session(me.run_id, me.run_id)
    }

    /// Before submitting `key` (claimed by `owner`): checks the spend breaker, then reserves
    /// `estimate_micros` against the run's budget session if that keeps it within `cap_micros`
    /// (always, without a cap). One transaction, serialised per session across machines.
    pub fn reserve_spend(
        &self,
        key: &str,
        owner: &Owner,
        estimate_micros: u64,
        cap_micros: Option<u64>,
    ) -> Result<SpendDecision, JournalError> {
        self.reserve(Spending::Render, key, owner, estimate_micros, cap_micros)
    }

    /// Before voicing the line `key` (claimed by `owner`): reserves `estimate_micros` against the
    /// run's budget session, as [`Journal::reserve_spend`] does for a render, so lines and renders
    /// share one cap across machines. fal's out-of-credit answer does not stop ElevenLabs, so the
    /// breaker is not consulted.
    pub fn reserve_speech_spend(
        &self,
        key: &str,
        owner: &Owner,
        estimate_micros: u64,
        cap_micros: Option<u64>,
    ) -> Result<SpendDecision, JournalError> {
        self.reserve(Spending::Speech, key, owner, estimate_micros, cap_micros)
    }

    fn reserve(
        &self,
        spending: Spending,
        key: &str,
        owner: &Owner,
        estimate_micros: u64,
        cap_micros: Option<u64>,
    ) -> Result<SpendDecision, JournalError> {
        let estimate = to_i64("estimate", estimate_micros)?;
        // Not fsynced: a reservation only matters while its run lives, and a power cut ends it.
        self.transaction(TxMode::Write, |tx| {
            let run = tx.run(owner.run_id)?.ok_or_else(|| JournalError::InvalidRow {
                what: format!("run {}", owner.run_id),
                reason: "no such run".to_owned(),
            })?;
            // Strictly after the start: a run started in the second of a trip may be the user's
            // rerun after topping up, and a missed trip costs at most one refused submit.
            if spending == Spending::Render
                && let Some((tripped_at, by)) = tx.breaker_trip_since(run.started_at.saturating_add(1))?
            {
                return Ok(SpendDecision::OutOfCredit { tripped_at, by });
            }
            let session = tx.session_of(owner.run_id)?.unwrap_or(owner.run_id);
            tx.lock_session(session)?;
            // Render and speech keys are hashes of different things, so leaving out `key` leaves
            // out only this claim's own earlier reservation.
            let committed = tx.session_committed(session, key)?;
            if let Some(cap) = cap_micros {
                let committed_micros = to_u64("committed", committed)?;
                if committed_micros.saturating_add(estimate_micros) > cap {
                    return Ok(SpendDecision::OverBudget { committed_micros });
                }
            }
            match spending {
                Spending::Render => tx.set_reserved(key, estimate)?,
                Spending::Speech => tx.set_speech_reserved(key, estimate)?,
            }
            Ok(SpendDecision::Reserved)
        })
    }

    /// Records fal's out-of-credit answer to a submit of `owner`'s run, for every run to see.
    pub fn trip_spend_breaker(
        &self,
        owner: &Owner,
        reason: &str,
        now: UnixSeconds,
    ) -> Result<(), JournalError> {
        self.transaction(TxMode::Durable, |tx| tx.insert_breaker_trip(owner.run_id, reason, now))
    }

    /// The budget session of a run (its own id when it leads one), for reports and tests.
    pub fn budget_session(&self, run: RunId) -> Result<Option<RunId>, JournalError> {
        self.transaction(TxMode::Read, |tx| tx.session_of(run))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::Process;

    fn process(pid: u32) -> Process {
        Process { pid, host: "test-host".to_owned() }
    }

    #[test]
    fn live_runs_of_one_batch_share_a_budget_and_later_ones_start_afresh() {
        let journal = Journal::open_in_memory().unwrap();
        let me = std::process::id();
        let first = journal.start_batch_run(&process(me), &[], Some("b"), 100).unwrap();
        let second = journal.start_batch_run(&process(me), &[], Some("b"), 101).unwrap();
        let other = journal.start_batch_run(&process(me), &[], Some("c"), 101).unwrap();
        assert_eq!(journal.budget_session(second.run_id).unwrap(), Some(first.run_id));
        assert_eq!(journal.budget_session(other.run_id).unwrap(), Some(other.run_id));

        journal.claim_render("a", "e", "{}", &first, 102).unwrap();
        assert_eq!(journal.reserve_spend("a", &first, 600, Some(1_000)).unwrap(), SpendDecision::Reserved);
        journal.claim_render("b", "e", "{}", &second, 102).unwrap();
        assert_eq!(
            journal.reserve_spend("b", &second, 600, Some(1_000)).unwrap(),
            SpendDecision::OverBudget { committed_micros: 600 }
        );
        assert_eq!(journal.reserve_spend("b", &second, 400, Some(1_000)).unwrap(), SpendDecision::Reserved);
        // Completing replaces the reservation by the billed cost.
        journal.mark_submitted("a", &first, "req-a", 103).unwrap();
        journal.mark_completed("a", &first, &serde_json::json!({}), 1.0, 100, 104).unwrap();
        journal.claim_render("c", "e", "{}", &first, 105).unwrap();
        assert_eq!(journal.reserve_spend("c", &first, 500, Some(1_000)).unwrap(), SpendDecision::Reserved);
        // Another batch has its own budget.
        journal.claim_render("d", "e", "{}", &other, 105).unwrap();
        assert_eq!(journal.reserve_spend("d", &other, 1_000, Some(1_000)).unwrap(), SpendDecision::Reserved);

        // Once both have finished, a new run of the batch starts its own session.
        for run in [first.run_id, second.run_id] {
            journal.finish_run(run, crate::journal::RunOutcome::Succeeded, 110).unwrap();
        }
        let later = journal.start_batch_run(&process(me), &[], Some("b"), 111).unwrap();
        assert_eq!(journal.budget_session(later.run_id).unwrap(), Some(later.run_id));
    }

    #[test]
    fn the_breaker_stops_runs_started_before_it_only() {
        let journal = Journal::open_in_memory().unwrap();
        let early = journal.start_run(&process(std::process::id()), &[], 100).unwrap();
        let tripper = journal.start_run(&process(std::process::id()), &[], 100).unwrap();
        journal.claim_render("k", "e", "{}", &early, 101).unwrap();
        assert_eq!(journal.reserve_spend("k", &early, 1, None).unwrap(), SpendDecision::Reserved);
        journal.trip_spend_breaker(&tripper, "out of credit", 105).unwrap();
        assert_eq!(
            journal.reserve_spend("k", &early, 1, None).unwrap(),
            SpendDecision::OutOfCredit { tripped_at: 105, by: tripper.run_id }
        );
        let topped_up = journal.start_run(&process(std::process::id()), &[], 105).unwrap();
        journal.claim_render("k2", "e", "{}", &topped_up, 106).unwrap();
        assert_eq!(journal.reserve_spend("k2", &topped_up, 1, None).unwrap(), SpendDecision::Reserved);
    }
}
