//! [`Journal`]: the render lifecycle, whichever backend keeps it.
//!
//! Locking: every operation that decides something is one transaction that reads the render's
//! row locked (see `backend.rs`), so two processes (on one machine or many) can never both read
//! "unclaimed" and both claim. A new key is inserted with `ON CONFLICT DO NOTHING`: the loser of
//! that race reads the winner's row and answers from it.
//!
//! Durability: every render transition is a [`TxMode::Durable`] transaction. A claim must be on
//! disk before the POST it allows, and the request id before the caller moves on: otherwise a
//! crash could forget a paid request and the next run would pay for it again. Upload, artifact
//! and run bookkeeping are [`TxMode::Write`]: losing them costs a re-upload or a re-download,
//! never a render.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::backend::{Backend, RenderFilter, Tx, TxMode};
use super::error::JournalError;
use super::liveness::{DEFAULT_STALE_AFTER, owner_is_alive};
use super::postgres::PostgresBackend;
use super::record::{Claim, Owner, RenderRecord, RenderState, RunId, UnixSeconds};
use super::sqlite::SqliteBackend;

/// The database file inside the state directory.
pub const DATABASE_FILE: &str = "state.sqlite";
/// The directory of content-addressed files inside the state directory.
pub const ARTIFACTS_DIR: &str = "artifacts";
/// How long an operation waits for another process's lock before failing with
/// [`JournalError::Locked`].
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The durable state store: renders, uploads, artifacts, runs, webhook outcomes and the spend
/// breaker, kept by a [`Backend`]: SQLite in the state folder (the default), or a PostgreSQL
/// database shared by several machines. The engine and the render driver only see this type.
///
/// `Journal` is `Send + Sync`, so the engine shares it (an `Arc<Journal>`) with async tasks. Its
/// methods are synchronous and short (a local commit, or one round trip to PostgreSQL), so they
/// are called directly rather than through a blocking pool. Several processes may each open their
/// own `Journal` on one state folder or one database; the backend's locks keep them consistent.
#[derive(Debug)]
pub struct Journal {
    backend: Box<dyn Backend>,
    /// `None` for an in-memory journal or a shared database opened without a state folder.
    state_dir: Option<PathBuf>,
    artifacts_dir: Option<PathBuf>,
    stale_after: Duration,
}

impl Journal {
    /// Opens (creating if needed) the state directory, its `artifacts/` and `state.sqlite`, and
    /// brings the schema up to date.
    pub fn open(state_dir: impl AsRef<Path>) -> Result<Journal, JournalError> {
        let state_dir = state_dir.as_ref();
        let artifacts_dir = create_state_dir(state_dir)?;
        let backend = SqliteBackend::open(&state_dir.join(DATABASE_FILE))?;
        Ok(Journal::with_backend(Box::new(backend), Some(state_dir.to_owned()), Some(artifacts_dir)))
    }

    /// Opens the journal at `url` (`postgres://user:password@host:port/database`, shared by every
    /// machine given the same URL), creating or upgrading its schema, with artifacts in
    /// `state_dir`'s `artifacts/` when given. The URL's password is never shown in an error.
    pub fn connect(url: &str, state_dir: Option<&Path>) -> Result<Journal, JournalError> {
        let dirs = state_dir.map(|dir| create_state_dir(dir).map(|artifacts| (dir.to_owned(), artifacts)));
        let (state_dir, artifacts_dir) = dirs.transpose()?.unzip();
        let backend = PostgresBackend::connect(url)?;
        Ok(Journal::with_backend(Box::new(backend), state_dir, artifacts_dir))
    }

    /// Opens the journal a user chose: the database at `url` when given (see
    /// [`Journal::connect`]), else `state.sqlite` in `state_dir`.
    pub fn open_at(state_dir: &Path, url: Option<&str>) -> Result<Journal, JournalError> {
        match url {
            Some(url) => Journal::connect(url, Some(state_dir)),
            None => Journal::open(state_dir),
        }
    }

    /// A journal in memory, with no state directory: for tests.
    pub fn open_in_memory() -> Result<Journal, JournalError> {
        Ok(Journal::with_backend(Box::new(SqliteBackend::open_in_memory()?), None, None))
    }

    pub(crate) fn with_backend(
        backend: Box<dyn Backend>,
        state_dir: Option<PathBuf>,
        artifacts_dir: Option<PathBuf>,
    ) -> Journal {
        Journal { backend, state_dir, artifacts_dir, stale_after: DEFAULT_STALE_AFTER }
    }

    /// Changes how long a run may go without a heartbeat before its claims count as abandoned.
    pub fn with_stale_after(mut self, stale_after: Duration) -> Journal {
        self.stale_after = stale_after;
        self
    }

    /// How long a run may go without a heartbeat before its claims count as abandoned.
    pub(crate) fn stale_after(&self) -> Duration {
        self.stale_after
    }

    /// The state directory (`None` for an in-memory journal).
    pub fn state_dir(&self) -> Option<&Path> {
        self.state_dir.as_deref()
    }

    /// The directory artifacts are stored in (`None` for an in-memory journal).
    pub fn artifacts_dir(&self) -> Option<&Path> {
        self.artifacts_dir.as_deref()
    }

    /// Where the journal lives, for messages: the database file, or the URL without its password.
    pub fn location(&self) -> String {
        self.backend.describe()
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<u32, JournalError> {
        self.backend.schema_version()
    }

    /// Runs `f` in one transaction of `mode` and returns what it returned.
    pub(crate) fn transaction<T: Send>(
        &self,
        mode: TxMode,
        mut f: impl FnMut(&mut dyn Tx) -> Result<T, JournalError> + Send,
    ) -> Result<T, JournalError> {
        let mut out = None;
        self.backend.transaction(mode, &mut |tx| {
            out = Some(f(tx)?);
            Ok(())
        })?;
        out.ok_or_else(|| JournalError::InvalidRow {
            what: "transaction".to_owned(),
            reason: "the backend committed without running it".to_owned(),
        })
    }

    /// Claims a render for submission, or says why not. One transaction; see [`Claim`] for what
    /// each answer obliges the caller to do. `args` is the canonical JSON the key was hashed from.
    pub fn claim_render(
        &self,
        key: &str,
        endpoint: &str,
        args: &str,
        owner: &Owner,
        now: UnixSeconds,
    ) -> Result<Claim, JournalError> {
        self.transaction(TxMode::Durable, |tx| {
            let record = match tx.render(key, true)? {
                Some(record) => record,
                None if tx.insert_claim(key, endpoint, args, owner, now)? => return Ok(Claim::Claimed),
                // Another transaction inserted it between our read and our insert.
                None => tx.render(key, true)?.ok_or_else(|| unknown(key))?,
            };
            if record.endpoint != endpoint || record.args != args {
                return Err(JournalError::KeyMismatch { key: key.to_owned() });
            }
            self.settle(tx, record, owner, now)
        })
    }

    /// Takes over a leftover render found by recovery without knowing its arguments: the same
    /// answers as [`Journal::claim_render`] for an existing row (a `Reattach` makes the caller the
    /// owner).
    pub fn adopt(&self, key: &str, owner: &Owner, now: UnixSeconds) -> Result<Claim, JournalError> {
        self.transaction(TxMode::Durable, |tx| {
            let record = tx.render(key, true)?.ok_or_else(|| unknown(key))?;
            self.settle(tx, record, owner, now)
        })
    }

    /// Claims a failed render again because the user asked (`--retry-failed`): `Claimed` if it was
    /// `Failed`, otherwise whatever [`Journal::claim_render`] would answer now (another process
    /// may have retried it first).
    pub fn retry_failed(&self, key: &str, owner: &Owner, now: UnixSeconds) -> Result<Claim, JournalError> {
        self.transaction(TxMode::Durable, |tx| {
            let record = tx.render(key, true)?.ok_or_else(|| unknown(key))?;
            if let RenderState::Failed { .. } = record.state {
                tx.reclaim(key, owner, now)?;
                return Ok(Claim::Claimed);
            }
            self.settle(tx, record, owner, now)
        })
    }

    /// Claims an `Ambiguous` render again because the user decided to pay the risk of a second
    /// charge: `Claimed` if its owner is still gone, otherwise whatever
    /// [`Journal::claim_render`] would answer now.
    pub fn force_resubmit(&self, key: &str, owner: &Owner, now: UnixSeconds) -> Result<Claim, JournalError> {
        self.transaction(TxMode::Durable, |tx| {
            let record = tx.render(key, true)?.ok_or_else(|| unknown(key))?;
            match self.settle(tx, record, owner, now)? {
                Claim::Ambiguous { .. } => {
                    tx.reclaim(key, owner, now)?;
                    Ok(Claim::Claimed)
                }
                other => Ok(other),
            }
        })
    }

    /// Records fal's request id for a render we are submitting. Durable before it returns.
    /// Calling it again with the same id is a no-op.
    pub fn mark_submitted(
        &self,
        key: &str,
        owner: &Owner,
        request_id: &str,
        now: UnixSeconds,
    ) -> Result<(), JournalError> {
        self.transaction(TxMode::Durable, |tx| {
            let record = tx.render(key, true)?.ok_or_else(|| unknown(key))?;
            match &record.state {
                RenderState::Submitting { owner: holder, .. } => {
                    check_owner(key, holder, owner)?;
                    tx.set_submitted(key, request_id, now)
                }
                RenderState::Submitted { owner: holder, request_id: recorded, .. } => {
                    if recorded != request_id {
                        return Err(JournalError::ConflictingRequestId {
                            key: key.to_owned(),
                            recorded: recorded.clone(),
                            given: request_id.to_owned(),
                        });
                    }
                    check_owner(key, holder, owner)
                }
                other => Err(wrong_state(key, "mark submitted", other)),
            }
        })
    }

    /// Records a render's result and cost; the spending counts for `owner`'s run. A second call for
    /// a completed render changes nothing (the first result and cost stand).
    pub fn mark_completed(
        &self,
        key: &str,
        owner: &Owner,
        result: &serde_json::Value,
        billed_seconds: f64,
        cost_micros: u64,
        now: UnixSeconds,
    ) -> Result<(), JournalError> {
        if !billed_seconds.is_finite() || billed_seconds < 0.0 {
            return Err(JournalError::InvalidValue {
                what: "billed seconds",
                value: billed_seconds.to_string(),
            });
        }
        let cost = to_i64("cost", cost_micros)?;
        let result = result.to_string();
        self.transaction(TxMode::Durable, |tx| {
            let record = tx.render(key, true)?.ok_or_else(|| unknown(key))?;
            match &record.state {
                RenderState::Submitted { owner: holder, .. } => {
                    check_owner(key, holder, owner)?;
                    tx.set_completed(key, &result, billed_seconds, cost, owner.run_id, now)
                }
                RenderState::Completed { .. } => Ok(()),
                other => Err(wrong_state(key, "mark completed", other)),
            }
        })
    }

    /// Records that a render failed: fal refused the submission, or the request failed after it.
    /// Only for outcomes fal's answer proves: a POST whose fate is unknown (a timeout after the
    /// body was sent) must stay `Submitting`, so that the next run reports it as ambiguous instead
    /// of a failure the user might retry into a second charge. A render already failed keeps its
    /// first error.
    pub fn mark_failed(
        &self,
        key: &str,
        owner: &Owner,
        error: &str,
        now: UnixSeconds,
    ) -> Result<(), JournalError> {
        self.transaction(TxMode::Durable, |tx| {
            let record = tx.render(key, true)?.ok_or_else(|| unknown(key))?;
            match &record.state {
                RenderState::Submitting { owner: holder, .. }
                | RenderState::Submitted { owner: holder, .. } => {
                    check_owner(key, holder, owner)?;
                    tx.set_failed(key, error, now)
                }
                RenderState::Failed { .. } => Ok(()),
                other => Err(wrong_state(key, "mark failed", other)),
            }
        })
    }

    /// Marks a completed render's result as lost (its output expired at fal before it was
    /// downloaded): it becomes `Failed`, so only `--retry-failed` renders and pays for it again.
    pub fn lose_result(&self, key: &str, error: &str, now: UnixSeconds) -> Result<(), JournalError> {
        self.transaction(TxMode::Durable, |tx| {
            let record = tx.render(key, true)?.ok_or_else(|| unknown(key))?;
            match &record.state {
                RenderState::Completed { .. } => tx.set_failed(key, error, now),
                RenderState::Failed { .. } => Ok(()),
                other => Err(wrong_state(key, "lose the result of", other)),
            }
        })
    }

    /// Gives a claim back when the request certainly was not sent (refused before any byte left,
    /// cancelled before the POST): the row is removed and the next run claims it afresh. Releasing
    /// a render that has no row is a no-op.
    pub fn release(&self, key: &str, owner: &Owner) -> Result<(), JournalError> {
        self.transaction(TxMode::Durable, |tx| {
            let Some(record) = tx.render(key, true)? else {
                return Ok(());
            };
            match &record.state {
                RenderState::Submitting { owner: holder, .. } => {
                    check_owner(key, holder, owner)?;
                    tx.delete_render(key)
                }
                other => Err(wrong_state(key, "release", other)),
            }
        })
    }

    /// The render with this key, if it was ever claimed.
    pub fn render(&self, key: &str) -> Result<Option<RenderRecord>, JournalError> {
        self.transaction(TxMode::Read, |tx| tx.render(key, false))
    }

    /// Every render submitted to fal whose result is not journaled yet, oldest first: the
    /// requests a new run re-attaches to.
    pub fn renders_in_flight(&self) -> Result<Vec<RenderRecord>, JournalError> {
        self.transaction(TxMode::Read, |tx| tx.renders(RenderFilter::InFlight))
    }

    /// Every unfinished render (`Submitting` or `Submitted`) with whether its owner is alive, as
    /// judged by `observer`, read in one consistent snapshot. For recovery.
    pub(crate) fn unfinished_with_liveness(
        &self,
        observer: &Owner,
        now: UnixSeconds,
    ) -> Result<Vec<(RenderRecord, bool)>, JournalError> {
        self.transaction(TxMode::Read, |tx| {
            let records = tx.renders(RenderFilter::Unfinished)?;
            let mut out = Vec::with_capacity(records.len());
            for record in records {
                let alive = match record.state.owner() {
                    Some(owner) => self.alive(tx, owner, observer, now)?,
                    None => false,
                };
                out.push((record, alive));
            }
            Ok(out)
        })
    }

    /// The answer for an existing row, applying a take-over where the answer is `Reattach` to a
    /// render whose owner is gone (so a third process sees a live owner and waits).
    fn settle(
        &self,
        tx: &mut dyn Tx,
        record: RenderRecord,
        caller: &Owner,
        now: UnixSeconds,
    ) -> Result<Claim, JournalError> {
        match record.state {
            RenderState::Completed { .. } => Ok(Claim::Done(Box::new(record))),
            RenderState::Failed { request_id, error, .. } => Ok(Claim::Failed { request_id, error }),
            RenderState::Submitted { owner, request_id, .. } => {
                if owner.run_id == caller.run_id {
                    return Ok(Claim::Reattach { request_id });
                }
                if self.alive(tx, &owner, caller, now)? {
                    return Ok(Claim::Busy { owner });
                }
                tx.set_owner(&record.key, caller, now)?;
                Ok(Claim::Reattach { request_id })
            }
            RenderState::Submitting { owner, claimed_at } => {
                // Our own run is mid-submit (another task of ours): that is busy, not abandoned.
                if owner.run_id == caller.run_id || self.alive(tx, &owner, caller, now)? {
                    Ok(Claim::Busy { owner })
                } else {
                    Ok(Claim::Ambiguous { owner, claimed_at })
                }
            }
        }
    }

    /// Whether `owner` is alive, from its run's row and its pid.
    pub(crate) fn alive(
        &self,
        tx: &mut dyn Tx,
        owner: &Owner,
        observer: &Owner,
        now: UnixSeconds,
    ) -> Result<bool, JournalError> {
        let facts = tx.run_facts(owner.run_id)?;
        Ok(owner_is_alive(owner, observer, facts, now, self.stale_after))
    }
}

/// Creates the state directory and its `artifacts/`; returns the latter.
fn create_state_dir(state_dir: &Path) -> Result<PathBuf, JournalError> {
    let artifacts_dir = state_dir.join(ARTIFACTS_DIR);
    for dir in [state_dir, &artifacts_dir] {
        std::fs::create_dir_all(dir)
            .map_err(|source| JournalError::StateDir { path: dir.to_owned(), source })?;
    }
    Ok(artifacts_dir)
}

pub(crate) fn check_owner(key: &str, holder: &Owner, caller: &Owner) -> Result<(), JournalError> {
    if holder.run_id == caller.run_id {
        Ok(())
    } else {
        Err(JournalError::NotOwner { key: key.to_owned(), owner: holder.run_id, caller: caller.run_id })
    }
}

fn wrong_state(key: &str, operation: &'static str, state: &RenderState) -> JournalError {
    JournalError::WrongState { key: key.to_owned(), operation, state: state.name() }
}

fn unknown(key: &str) -> JournalError {
    JournalError::UnknownRender { key: key.to_owned() }
}

/// Converts a size or cost for an INTEGER column.
pub(crate) fn to_i64(what: &'static str, value: u64) -> Result<i64, JournalError> {
    i64::try_from(value).map_err(|_| JournalError::InvalidValue { what, value: value.to_string() })
}

/// Reads a non-negative INTEGER column back.
pub(crate) fn to_u64(what: &str, value: i64) -> Result<u64, JournalError> {
    u64::try_from(value)
        .map_err(|_| JournalError::InvalidRow { what: what.to_owned(), reason: format!("negative {value}") })
}

/// The columns of a render row, in the order [`RawRender`] reads them.
pub(crate) const RENDER_COLUMNS: &str =
    "key, endpoint, args, state, attempts, owner_run, owner_pid, owner_host,
    claimed_at, request_id, submitted_at, result, billed_seconds, cost_micros, completed_at,
    completed_by_run, error, failed_at, updated_at";

/// A `renders` row as stored, before its state is checked; each backend fills it from its row.
pub(crate) struct RawRender {
    pub(crate) key: String,
    pub(crate) endpoint: String,
    pub(crate) args: String,
    pub(crate) state: String,
    pub(crate) attempts: i64,
    pub(crate) owner_run: i64,
    pub(crate) owner_pid: i64,
    pub(crate) owner_host: String,
    pub(crate) claimed_at: i64,
    pub(crate) request_id: Option<String>,
    pub(crate) submitted_at: Option<i64>,
    pub(crate) result: Option<String>,
    pub(crate) billed_seconds: Option<f64>,
    pub(crate) cost_micros: Option<i64>,
    pub(crate) completed_at: Option<i64>,
    pub(crate) completed_by_run: Option<i64>,
    pub(crate) error: Option<String>,
    pub(crate) failed_at: Option<i64>,
    pub(crate) updated_at: i64,
}

impl RawRender {
    /// The record, or why the row cannot be one.
    pub(crate) fn decode(self) -> Result<RenderRecord, JournalError> {
        let key = self.key;
        let invalid =
            |reason: &str| JournalError::InvalidRow { what: key.clone(), reason: reason.to_owned() };
        let pid = u32::try_from(self.owner_pid).map_err(|_| invalid("owner pid out of range"))?;
        let attempts = u32::try_from(self.attempts).map_err(|_| invalid("attempts out of range"))?;
        let owner = Owner { run_id: RunId(self.owner_run), pid, host: self.owner_host };
        let state = match self.state.as_str() {
            "submitting" => RenderState::Submitting { owner, claimed_at: self.claimed_at },
            "submitted" => RenderState::Submitted {
                owner,
                request_id: self.request_id.ok_or_else(|| invalid("submitted without a request id"))?,
                submitted_at: self.submitted_at.ok_or_else(|| invalid("submitted without a time"))?,
            },
            "completed" => {
                let result = self.result.ok_or_else(|| invalid("completed without a result"))?;
                RenderState::Completed {
                    request_id: self.request_id.ok_or_else(|| invalid("completed without a request id"))?,
                    result: serde_json::from_str(&result)
                        .map_err(|e| invalid(&format!("result is not JSON: {e}")))?,
                    billed_seconds: self
                        .billed_seconds
                        .ok_or_else(|| invalid("completed without seconds"))?,
                    cost_micros: to_u64(
                        &key,
                        self.cost_micros.ok_or_else(|| invalid("completed without a cost"))?,
                    )?,
                    completed_at: self.completed_at.ok_or_else(|| invalid("completed without a time"))?,
                    completed_by: RunId(
                        self.completed_by_run.ok_or_else(|| invalid("completed without a run"))?,
                    ),
                }
            }
            "failed" => RenderState::Failed {
                request_id: self.request_id,
                error: self.error.ok_or_else(|| invalid("failed without an error"))?,
                failed_at: self.failed_at.ok_or_else(|| invalid("failed without a time"))?,
            },
            other => return Err(invalid(&format!("unknown state {other:?}"))),
        };
        Ok(RenderRecord {
            key,
            endpoint: self.endpoint,
            args: self.args,
            state,
            attempts,
            updated_at: self.updated_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::journal::Process;

    const HOST: &str = "test-host";

    fn journal() -> Journal {
        Journal::open_in_memory().unwrap()
    }

    fn run(journal: &Journal, pid: u32, now: UnixSeconds) -> Owner {
        journal.start_run(&Process { pid, host: HOST.to_owned() }, &["episode.yaml".to_owned()], now).unwrap()
    }

    fn live(journal: &Journal) -> Owner {
        run(journal, std::process::id(), 100)
    }

    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    fn claim(journal: &Journal, key: &str, owner: &Owner) -> Claim {
        journal.claim_render(key, "fal-ai/avatar", r#"{"prompt":"hi"}"#, owner, 100).unwrap()
    }

    #[test]
    fn journal_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Journal>();
    }

    #[test]
    fn full_lifecycle_claim_submit_complete_then_reuse() {
        let journal = journal();
        let me = live(&journal);
        assert_eq!(journal.render("k").unwrap(), None);
        assert_eq!(claim(&journal, "k", &me), Claim::Claimed);
        let record = journal.render("k").unwrap().unwrap();
        assert_eq!(record.state, RenderState::Submitting { owner: me.clone(), claimed_at: 100 });
        assert_eq!((record.endpoint.as_str(), record.args.as_str()), ("fal-ai/avatar", r#"{"prompt":"hi"}"#));

        journal.mark_submitted("k", &me, "req-1", 101).unwrap();
        assert_eq!(journal.renders_in_flight().unwrap().len(), 1);
        let result = json!({"video": {"url": "https://files.example/out.mp4", "file_size": 10}});
        journal.mark_completed("k", &me, &result, 5.5, 1_234_567, 102).unwrap();
        assert!(journal.renders_in_flight().unwrap().is_empty());

        let done = journal.render("k").unwrap().unwrap();
        assert_eq!(
            done.state,
            RenderState::Completed {
                request_id: "req-1".to_owned(),
                result,
                billed_seconds: 5.5,
                cost_micros: 1_234_567,
                completed_at: 102,
                completed_by: me.run_id,
            }
        );
        assert_eq!((done.attempts, done.updated_at), (1, 102));
        // A later run reuses it and submits nothing.
        let later = live(&journal);
        assert_eq!(claim(&journal, "k", &later), Claim::Done(Box::new(done)));
        // Completing twice changes nothing: the cost is counted once.
        journal.mark_completed("k", &me, &json!({}), 9.0, 9, 103).unwrap();
        assert_eq!(journal.spent_micros(me.run_id).unwrap(), 1_234_567);
    }

    #[test]
    fn mark_submitted_is_idempotent_for_the_same_id_only() {
        let journal = journal();
        let me = live(&journal);
        claim(&journal, "k", &me);
        journal.mark_submitted("k", &me, "req-1", 101).unwrap();
        journal.mark_submitted("k", &me, "req-1", 102).unwrap();
        let record = journal.render("k").unwrap().unwrap();
        assert!(matches!(record.state, RenderState::Submitted { submitted_at: 101, .. }));
        let error = journal.mark_submitted("k", &me, "req-2", 103).unwrap_err();
        assert!(matches!(error, JournalError::ConflictingRequestId { .. }), "{error}");
    }

    #[test]
    fn only_the_owner_moves_a_render_on() {
        let journal = journal();
        let me = live(&journal);
        let other = live(&journal);
        claim(&journal, "k", &me);
        let error = journal.mark_submitted("k", &other, "req", 101).unwrap_err();
        assert!(matches!(error, JournalError::NotOwner { .. }), "{error}");
        assert!(error.to_string().contains("owned by run"), "{error}");
        assert!(matches!(journal.release("k", &other), Err(JournalError::NotOwner { .. })));
        assert!(matches!(journal.mark_failed("k", &other, "x", 1), Err(JournalError::NotOwner { .. })));
        journal.mark_submitted("k", &me, "req", 101).unwrap();
        assert!(matches!(
            journal.mark_completed("k", &other, &json!({}), 1.0, 1, 102),
            Err(JournalError::NotOwner { .. })
        ));
    }

    #[test]
    fn transitions_out_of_order_are_refused() {
        let journal = journal();
        let me = live(&journal);
        assert!(matches!(
            journal.mark_submitted("nope", &me, "r", 1),
            Err(JournalError::UnknownRender { .. })
        ));
        claim(&journal, "k", &me);
        let error = journal.mark_completed("k", &me, &json!({}), 1.0, 1, 101).unwrap_err();
        assert!(matches!(error, JournalError::WrongState { state: "submitting", .. }), "{error}");
        journal.mark_submitted("k", &me, "r", 101).unwrap();
        assert!(matches!(journal.release("k", &me), Err(JournalError::WrongState { .. })));
        journal.mark_completed("k", &me, &json!({}), 1.0, 1, 102).unwrap();
        assert!(matches!(journal.mark_submitted("k", &me, "r", 103), Err(JournalError::WrongState { .. })));
        assert!(matches!(journal.mark_failed("k", &me, "late", 103), Err(JournalError::WrongState { .. })));
        let error = journal.mark_completed("k", &me, &json!({}), f64::NAN, 1, 104).unwrap_err();
        assert!(matches!(error, JournalError::InvalidValue { .. }));
    }

    #[test]
    fn a_key_with_other_arguments_is_refused() {
        let journal = journal();
        let me = live(&journal);
        claim(&journal, "k", &me);
        let error = journal.claim_render("k", "fal-ai/avatar", r#"{"prompt":"bye"}"#, &me, 101).unwrap_err();
        assert!(matches!(error, JournalError::KeyMismatch { .. }), "{error}");
    }

    #[test]
    fn a_live_owner_makes_others_wait() {
        let journal = journal();
        let me = live(&journal);
        let other = live(&journal);
        claim(&journal, "k", &me);
        assert_eq!(claim(&journal, "k", &other), Claim::Busy { owner: me.clone() });
        // Our own run asking again is busy too: another of our tasks holds it.
        assert_eq!(claim(&journal, "k", &me), Claim::Busy { owner: me.clone() });
        journal.mark_submitted("k", &me, "req", 101).unwrap();
        assert_eq!(claim(&journal, "k", &other), Claim::Busy { owner: me.clone() });
        assert_eq!(claim(&journal, "k", &me), Claim::Reattach { request_id: "req".to_owned() });
    }

    #[test]
    fn a_dead_owner_mid_submit_is_ambiguous_until_the_user_forces_it() {
        let journal = journal();
        let dead = run(&journal, dead_pid(), 100);
        let me = live(&journal);
        claim(&journal, "k", &dead);
        assert_eq!(claim(&journal, "k", &me), Claim::Ambiguous { owner: dead.clone(), claimed_at: 100 });
        // Asking again changes nothing: no silent take-over.
        assert_eq!(claim(&journal, "k", &me), Claim::Ambiguous { owner: dead.clone(), claimed_at: 100 });
        assert_eq!(journal.force_resubmit("k", &me, 105).unwrap(), Claim::Claimed);
        let record = journal.render("k").unwrap().unwrap();
        assert_eq!(record.state, RenderState::Submitting { owner: me.clone(), claimed_at: 105 });
        assert_eq!(record.attempts, 2);
        // A second forced resubmission by someone else finds a live owner.
        let other = live(&journal);
        assert_eq!(journal.force_resubmit("k", &other, 106).unwrap(), Claim::Busy { owner: me });
        assert!(matches!(journal.force_resubmit("nope", &other, 1), Err(JournalError::UnknownRender { .. })));
    }

    #[test]
    fn a_dead_owner_after_submit_is_reattached_and_taken_over() {
        let journal = journal();
        let dead = run(&journal, dead_pid(), 100);
        let me = live(&journal);
        claim(&journal, "k", &dead);
        journal.mark_submitted("k", &dead, "req", 101).unwrap();
        assert_eq!(claim(&journal, "k", &me), Claim::Reattach { request_id: "req".to_owned() });
        // We own it now: a third run waits, and we can complete it.
        let third = live(&journal);
        assert_eq!(claim(&journal, "k", &third), Claim::Busy { owner: me.clone() });
        journal.mark_completed("k", &me, &json!({"ok": true}), 2.0, 50, 110).unwrap();
        assert_eq!(journal.spent_micros(me.run_id).unwrap(), 50);
        // force_resubmit never resubmits what fal already has.
        assert!(matches!(journal.force_resubmit("k", &third, 111).unwrap(), Claim::Done(_)));
    }

    #[test]
    fn a_stale_heartbeat_or_finished_run_counts_as_gone() {
        let journal = journal().with_stale_after(Duration::from_secs(30));
        let remote = journal.start_run(&Process { pid: 1, host: "other-host".to_owned() }, &[], 100).unwrap();
        let me = live(&journal);
        journal.claim_render("k", "e", "{}", &remote, 100).unwrap();
        journal.heartbeat(&remote, 120).unwrap();
        assert_eq!(
            journal.claim_render("k", "e", "{}", &me, 150).unwrap(),
            Claim::Busy { owner: remote.clone() }
        );
        assert_eq!(
            journal.claim_render("k", "e", "{}", &me, 151).unwrap(),
            Claim::Ambiguous { owner: remote.clone(), claimed_at: 100 }
        );
        // A run that finished (even on this host with a live pid) holds nothing.
        let finished = live(&journal);
        journal.claim_render("f", "e", "{}", &finished, 100).unwrap();
        journal.finish_run(finished.run_id, crate::journal::RunOutcome::Failed, 101).unwrap();
        assert_eq!(
            journal.claim_render("f", "e", "{}", &me, 102).unwrap(),
            Claim::Ambiguous { owner: finished, claimed_at: 100 }
        );
    }

    #[test]
    fn failures_are_kept_until_the_user_asks_for_a_retry() {
        let journal = journal();
        let me = live(&journal);
        claim(&journal, "refused", &me);
        journal.mark_failed("refused", &me, "422: image too small", 101).unwrap();
        journal.mark_failed("refused", &me, "second error is ignored", 102).unwrap();
        assert_eq!(
            claim(&journal, "refused", &me),
            Claim::Failed { request_id: None, error: "422: image too small".to_owned() }
        );
        claim(&journal, "broke", &me);
        journal.mark_submitted("broke", &me, "req", 101).unwrap();
        journal.mark_failed("broke", &me, "model error", 102).unwrap();
        assert_eq!(
            claim(&journal, "broke", &me),
            Claim::Failed { request_id: Some("req".to_owned()), error: "model error".to_owned() }
        );
        let next = live(&journal);
        assert_eq!(journal.retry_failed("broke", &next, 200).unwrap(), Claim::Claimed);
        let record = journal.render("broke").unwrap().unwrap();
        assert_eq!(record.state, RenderState::Submitting { owner: next.clone(), claimed_at: 200 });
        assert_eq!(record.attempts, 2);
        // Another process asking to retry too finds it claimed.
        let racer = live(&journal);
        assert_eq!(journal.retry_failed("broke", &racer, 201).unwrap(), Claim::Busy { owner: next });
    }

    #[test]
    fn release_gives_a_claim_back() {
        let journal = journal();
        let me = live(&journal);
        claim(&journal, "k", &me);
        journal.release("k", &me).unwrap();
        journal.release("k", &me).unwrap();
        assert_eq!(journal.render("k").unwrap(), None);
        let other = live(&journal);
        assert_eq!(claim(&journal, "k", &other), Claim::Claimed);
    }

    #[test]
    fn in_flight_lists_submitted_renders_oldest_first() {
        let journal = journal();
        let me = live(&journal);
        for (key, at) in [("b", 105), ("a", 103), ("c", 104)] {
            claim(&journal, key, &me);
            journal.mark_submitted(key, &me, &format!("req-{key}"), at).unwrap();
        }
        claim(&journal, "pending", &me);
        let keys: Vec<String> = journal.renders_in_flight().unwrap().into_iter().map(|r| r.key).collect();
        assert_eq!(keys, ["a", "c", "b"]);
    }

    #[test]
    fn an_in_memory_journal_has_no_directories_and_the_current_schema() {
        let journal = journal();
        assert_eq!(journal.state_dir(), None);
        assert_eq!(journal.artifacts_dir(), None);
        assert_eq!(journal.schema_version().unwrap(), crate::journal::SCHEMA_VERSION);
    }
}
