//! What a starting run does with the renders earlier runs left unfinished. Restore is a policy,
//! decided here in one place and never by accident:
//!
//! | leftover | owner | action |
//! |---|---|---|
//! | `Submitted` (has a request id) | gone, or this run | [`RecoveryAction::Reattach`]: poll it and fetch the result; never submit |
//! | `Submitting` (no request id) | gone | [`RecoveryAction::Ambiguous`]: the POST may or may not have reached fal; report it, resubmit only on the user's word ([`Journal::force_resubmit`]) |
//! | either | alive (another process) | [`RecoveryAction::LeaveToOwner`]: it is being handled |
//!
//! [`plan`] only reads. To act on a `Reattach`, the engine calls [`Journal::adopt`], which makes the
//! run the owner in a transaction (so two starting runs cannot both take it over) and answers with
//! the [`Claim`](super::Claim) to follow.

use super::error::JournalError;
use super::record::{Owner, RenderRecord, RenderState, UnixSeconds};
use super::store::Journal;

/// What to do with one unfinished render.
#[derive(Debug, Clone, PartialEq)]
pub enum RecoveryAction {
    /// Poll this request and fetch its result (after [`Journal::adopt`]).
    Reattach {
        /// fal's request id.
        request_id: String,
    },
    /// Report it: it may or may not have been submitted, and only the user may decide to pay again.
    Ambiguous {
        /// The owner that died mid-submit.
        owner: Owner,
    },
    /// A live process owns it: leave it alone.
    LeaveToOwner {
        /// The live owner.
        owner: Owner,
    },
}

/// One unfinished render and what to do with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Recovery {
    /// The render as journaled.
    pub record: RenderRecord,
    /// The policy's answer.
    pub action: RecoveryAction,
}

/// Decides, for every render left `Submitting` or `Submitted`, what run `owner` should do with it.
pub fn plan(journal: &Journal, owner: &Owner, now: UnixSeconds) -> Result<Vec<Recovery>, JournalError> {
    let unfinished = journal.unfinished_with_liveness(owner, now)?;
    Ok(unfinished
        .into_iter()
        .filter_map(|(record, alive)| {
            let action = match &record.state {
                RenderState::Submitted { owner: holder, request_id, .. } => {
                    if holder.run_id == owner.run_id || !alive {
                        RecoveryAction::Reattach { request_id: request_id.clone() }
                    } else {
                        RecoveryAction::LeaveToOwner { owner: holder.clone() }
                    }
                }
                RenderState::Submitting { owner: holder, .. } => {
                    if holder.run_id == owner.run_id || alive {
                        RecoveryAction::LeaveToOwner { owner: holder.clone() }
                    } else {
                        RecoveryAction::Ambiguous { owner: holder.clone() }
                    }
                }
                // Filtered out by the query; a finished render needs no recovery.
                RenderState::Completed { .. } | RenderState::Failed { .. } => return None,
            };
            Some(Recovery { record, action })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{Claim, Process};

    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    #[test]
    fn leftovers_are_reattached_reported_or_left_to_their_live_owner() {
        let journal = Journal::open_in_memory().unwrap();
        let host = "test-host".to_owned();
        let dead = journal.start_run(&Process { pid: dead_pid(), host: host.clone() }, &[], 100).unwrap();
        let live =
            journal.start_run(&Process { pid: std::process::id(), host: host.clone() }, &[], 100).unwrap();
        let me = journal.start_run(&Process { pid: std::process::id(), host }, &[], 150).unwrap();

        // The dead run: one request journaled, one claim without an id, one finished render.
        journal.claim_render("sent", "e", "{}", &dead, 100).unwrap();
        journal.mark_submitted("sent", &dead, "req-sent", 101).unwrap();
        journal.claim_render("unsure", "e", "{}", &dead, 102).unwrap();
        journal.claim_render("done", "e", "{}", &dead, 103).unwrap();
        journal.mark_submitted("done", &dead, "req-done", 104).unwrap();
        journal.mark_completed("done", &dead, &serde_json::json!({}), 1.0, 1, 105).unwrap();
        // The live run: both kinds, in progress.
        journal.claim_render("theirs-sent", "e", "{}", &live, 110).unwrap();
        journal.mark_submitted("theirs-sent", &live, "req-theirs", 111).unwrap();
        journal.claim_render("theirs-unsure", "e", "{}", &live, 112).unwrap();

        let actions: Vec<(String, RecoveryAction)> =
            plan(&journal, &me, 150).unwrap().into_iter().map(|r| (r.record.key, r.action)).collect();
        assert_eq!(
            actions,
            vec![
                ("sent".to_owned(), RecoveryAction::Reattach { request_id: "req-sent".to_owned() }),
                ("unsure".to_owned(), RecoveryAction::Ambiguous { owner: dead.clone() }),
                ("theirs-sent".to_owned(), RecoveryAction::LeaveToOwner { owner: live.clone() }),
                ("theirs-unsure".to_owned(), RecoveryAction::LeaveToOwner { owner: live.clone() }),
            ]
        );

        // Acting on the plan: adopting takes the request over; the plan has nothing more to
        // re-attach for anyone else.
        assert_eq!(
            journal.adopt("sent", &me, 151).unwrap(),
            Claim::Reattach { request_id: "req-sent".to_owned() }
        );
        let other = journal
            .start_run(&Process { pid: std::process::id(), host: "test-host".to_owned() }, &[], 152)
            .unwrap();
        assert_eq!(journal.adopt("sent", &other, 152).unwrap(), Claim::Busy { owner: me.clone() });
        // Nothing was resubmitted: the ambiguous claim is still as the dead run left it.
        assert_eq!(
            journal.adopt("unsure", &me, 153).unwrap(),
            Claim::Ambiguous { owner: dead, claimed_at: 102 }
        );
    }
}
