//! Runs: one row per `episodic render` invocation, its heartbeat, and what it spent.

use super::backend::TxMode;
use super::error::JournalError;
use super::record::{Owner, Process, RunId, RunOutcome, RunRecord, UnixSeconds};
use super::store::{Journal, to_u64};

impl Journal {
    /// Starts a run for `process` over `manifests`; the returned [`Owner`] goes with every claim
    /// the run makes.
    pub fn start_run(
        &self,
        process: &Process,
        manifests: &[String],
        now: UnixSeconds,
    ) -> Result<Owner, JournalError> {
        self.start_batch_run(process, manifests, None, now)
    }

    /// Starts a run of `batch` (see [`Journal::reserve_spend`]): a run of the same batch still
    /// alive shares its budget session with this one, so the cap holds across machines.
    pub fn start_batch_run(
        &self,
        process: &Process,
        manifests: &[String],
        batch: Option<&str>,
        now: UnixSeconds,
    ) -> Result<Owner, JournalError> {
        let manifests_json = serde_json::to_string(manifests)
            .map_err(|e| JournalError::InvalidValue { what: "manifest list", value: e.to_string() })?;
        let id = self.transaction(TxMode::Write, |tx| {
            let id = tx.insert_run(process, &manifests_json, batch, now)?;
            if let Some(batch) = batch {
                let me = Owner { run_id: id, pid: process.pid, host: process.host.clone() };
                self.join_session(tx, batch, &me, now)?;
            }
            Ok(id)
        })?;
        Ok(Owner { run_id: id, pid: process.pid, host: process.host.clone() })
    }

    /// Tells other processes the run is alive (see `liveness`): the engine calls it every few
    /// seconds, well within [`crate::journal::DEFAULT_STALE_AFTER`].
    pub fn heartbeat(&self, owner: &Owner, now: UnixSeconds) -> Result<(), JournalError> {
        self.transaction(TxMode::Write, |tx| tx.heartbeat(owner.run_id, now))
    }

    /// Records how a run ended. Its unfinished claims then count as abandoned at once.
    pub fn finish_run(&self, run: RunId, outcome: RunOutcome, now: UnixSeconds) -> Result<(), JournalError> {
        self.transaction(TxMode::Write, |tx| {
            if !tx.finish_run(run, outcome.as_str(), now)? && tx.run_facts(run)?.is_none() {
                return Err(JournalError::InvalidRow {
                    what: format!("run {run}"),
                    reason: "no such run".to_owned(),
                });
            }
            Ok(())
        })
    }

    /// The run with this id.
    pub fn run(&self, run: RunId) -> Result<Option<RunRecord>, JournalError> {
        self.transaction(TxMode::Read, |tx| tx.run(run))
    }

    /// The micro-dollars billed for renders completed by `run`.
    pub fn spent_micros(&self, run: RunId) -> Result<u64, JournalError> {
        to_u64("spent", self.transaction(TxMode::Read, |tx| tx.spent_by_run(run))?)
    }

    /// The micro-dollars billed for renders completed by any run at or after `since`.
    pub fn spent_since(&self, since: UnixSeconds) -> Result<u64, JournalError> {
        to_u64("spent", self.transaction(TxMode::Read, |tx| tx.spent_since(since))?)
    }
}

/// A run row as a record; shared by the backends.
#[allow(clippy::too_many_arguments)]
pub(crate) fn decode_run(
    id: i64,
    started_at: UnixSeconds,
    finished_at: Option<UnixSeconds>,
    pid: i64,
    host: String,
    manifests: &str,
    outcome: Option<String>,
    heartbeat_at: UnixSeconds,
) -> Result<RunRecord, JournalError> {
    let invalid = |reason: String| JournalError::InvalidRow { what: format!("run {id}"), reason };
    let manifests: Vec<String> =
        serde_json::from_str(manifests).map_err(|e| invalid(format!("manifests: {e}")))?;
    let outcome = outcome
        .map(|text| RunOutcome::parse(&text).ok_or_else(|| invalid(format!("outcome {text:?}"))))
        .transpose()?;
    let pid = u32::try_from(pid).map_err(|_| invalid(format!("pid {pid}")))?;
    Ok(RunRecord { id: RunId(id), started_at, finished_at, pid, host, manifests, outcome, heartbeat_at })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process() -> Process {
        Process { pid: std::process::id(), host: "test-host".to_owned() }
    }

    #[test]
    fn a_run_starts_heartbeats_and_finishes() {
        let journal = Journal::open_in_memory().unwrap();
        let manifests = vec!["a.yaml".to_owned(), "b.yaml".to_owned()];
        let owner = journal.start_run(&process(), &manifests, 100).unwrap();
        journal.heartbeat(&owner, 130).unwrap();
        // A late heartbeat never moves time backwards.
        journal.heartbeat(&owner, 120).unwrap();
        let run = journal.run(owner.run_id).unwrap().unwrap();
        assert_eq!(run.heartbeat_at, 130);
        assert_eq!(run.manifests, manifests);
        assert_eq!(run.outcome, None);
        assert_eq!(run.owner(), owner);
        journal.finish_run(owner.run_id, RunOutcome::Interrupted, 140).unwrap();
        // Finishing twice keeps the first outcome.
        journal.finish_run(owner.run_id, RunOutcome::Succeeded, 150).unwrap();
        let run = journal.run(owner.run_id).unwrap().unwrap();
        assert_eq!((run.finished_at, run.outcome), (Some(140), Some(RunOutcome::Interrupted)));
        assert!(journal.finish_run(RunId(999), RunOutcome::Failed, 1).is_err());
        assert_eq!(journal.run(RunId(999)).unwrap(), None);
    }

    #[test]
    fn spending_counts_the_renders_a_run_completed() {
        let journal = Journal::open_in_memory().unwrap();
        let first = journal.start_run(&process(), &[], 100).unwrap();
        let second = journal.start_run(&process(), &[], 200).unwrap();
        let result = serde_json::json!({"video": {"url": "https://files.example/v.mp4"}});
        for (key, owner, cost, now) in
            [("a", &first, 1_500_000, 110), ("b", &first, 250_000, 120), ("c", &second, 7, 210)]
        {
            journal.claim_render(key, "fal-ai/x", "{}", owner, now).unwrap();
            journal.mark_submitted(key, owner, &format!("req-{key}"), now).unwrap();
            journal.mark_completed(key, owner, &result, 5.0, cost, now).unwrap();
        }
        assert_eq!(journal.spent_micros(first.run_id).unwrap(), 1_750_000);
        assert_eq!(journal.spent_micros(second.run_id).unwrap(), 7);
        assert_eq!(journal.spent_since(115).unwrap(), 250_007);
        assert_eq!(journal.spent_micros(RunId(42)).unwrap(), 0);
    }
}
