//! Runs: one row per `episodic render` invocation, its heartbeat, and what it spent.

use rusqlite::{OptionalExtension, params};

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
        let manifests_json = serde_json::to_string(manifests)
            .map_err(|e| JournalError::InvalidValue { what: "manifest list", value: e.to_string() })?;
        let id = self.write(false, |tx| {
            tx.execute(
                "INSERT INTO runs (started_at, pid, host, manifests, heartbeat_at)
                 VALUES (?1, ?2, ?3, ?4, ?1)",
                params![now, process.pid, process.host, manifests_json],
            )?;
            Ok(tx.last_insert_rowid())
        })?;
        Ok(Owner { run_id: RunId(id), pid: process.pid, host: process.host.clone() })
    }

    /// Tells other processes the run is alive (see `liveness`): the engine calls it every few
    /// seconds, well within [`crate::journal::DEFAULT_STALE_AFTER`].
    pub fn heartbeat(&self, owner: &Owner, now: UnixSeconds) -> Result<(), JournalError> {
        self.write(false, |tx| {
            tx.execute(
                "UPDATE runs SET heartbeat_at = max(heartbeat_at, ?2) WHERE id = ?1",
                params![owner.run_id.0, now],
            )?;
            Ok(())
        })
    }

    /// Records how a run ended. Its unfinished claims then count as abandoned at once.
    pub fn finish_run(&self, run: RunId, outcome: RunOutcome, now: UnixSeconds) -> Result<(), JournalError> {
        self.write(false, |tx| {
            let changed = tx.execute(
                "UPDATE runs SET finished_at = ?2, outcome = ?3 WHERE id = ?1 AND finished_at IS NULL",
                params![run.0, now, outcome.as_str()],
            )?;
            if changed == 0 {
                let known: bool =
                    tx.query_row("SELECT EXISTS (SELECT 1 FROM runs WHERE id = ?1)", params![run.0], |r| {
                        r.get(0)
                    })?;
                if !known {
                    return Err(JournalError::InvalidRow {
                        what: format!("run {run}"),
                        reason: "no such run".to_owned(),
                    });
                }
            }
            Ok(())
        })
    }

    /// The run with this id.
    pub fn run(&self, run: RunId) -> Result<Option<RunRecord>, JournalError> {
        let conn = self.lock();
        let row = conn
            .query_row(
                "SELECT id, started_at, finished_at, pid, host, manifests, outcome, heartbeat_at
                 FROM runs WHERE id = ?1",
                params![run.0],
                |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, i64>(1)?,
                        row.get::<_, Option<i64>>(2)?,
                        row.get::<_, u32>(3)?,
                        row.get::<_, String>(4)?,
                        row.get::<_, String>(5)?,
                        row.get::<_, Option<String>>(6)?,
                        row.get::<_, i64>(7)?,
                    ))
                },
            )
            .optional()?;
        let Some((id, started_at, finished_at, pid, host, manifests, outcome, heartbeat_at)) = row else {
            return Ok(None);
        };
        let invalid = |reason: String| JournalError::InvalidRow { what: format!("run {id}"), reason };
        let manifests: Vec<String> =
            serde_json::from_str(&manifests).map_err(|e| invalid(format!("manifests: {e}")))?;
        let outcome = outcome
            .map(|text| RunOutcome::parse(&text).ok_or_else(|| invalid(format!("outcome {text:?}"))))
            .transpose()?;
        Ok(Some(RunRecord {
            id: RunId(id),
            started_at,
            finished_at,
            pid,
            host,
            manifests,
            outcome,
            heartbeat_at,
        }))
    }

    /// The micro-dollars billed for renders completed by `run`, for budget checks while it runs.
    pub fn spent_micros(&self, run: RunId) -> Result<u64, JournalError> {
        let conn = self.lock();
        let total: i64 = conn.query_row(
            "SELECT (SELECT coalesce(sum(cost_micros), 0) FROM renders WHERE completed_by_run = ?1)
                  + (SELECT coalesce(sum(cost_micros), 0) FROM speeches WHERE completed_by_run = ?1)",
            params![run.0],
            |row| row.get(0),
        )?;
        to_u64("spent", total)
    }

    /// The micro-dollars billed for renders completed by any run at or after `since`.
    pub fn spent_since(&self, since: UnixSeconds) -> Result<u64, JournalError> {
        let conn = self.lock();
        let total: i64 = conn.query_row(
            "SELECT coalesce(sum(cost_micros), 0) FROM renders
             WHERE state = 'completed' AND completed_at >= ?1",
            params![since],
            |row| row.get(0),
        )?;
        to_u64("spent", total)
    }
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
