//! [`Journal`]: opening the state store and the render lifecycle.
//!
//! Locking: each process (or thread) that opens the state directory has its own SQLite connection.
//! Every operation that decides something is one `BEGIN IMMEDIATE` transaction, which takes the
//! database's write lock before reading, so two processes can never both read "unclaimed" and
//! both claim. Readers never block writers (WAL). A writer waits up to [`BUSY_TIMEOUT`] for the
//! lock; SQLite holds it for well under a millisecond per operation.
//!
//! Durability: the connection runs `synchronous=NORMAL` (a commit survives a crash or `kill -9`
//! of the process, not a power cut) and switches to `FULL` (the WAL is fsynced before the commit
//! returns) for every render transition. A claim must be on disk before the POST it allows, and
//! the request id before the caller moves on: otherwise a power cut could forget a paid request and
//! the next run would pay for it again. Upload, artifact and run bookkeeping stay `NORMAL`:
//! losing them costs a re-upload or a re-download, never a render.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};

use super::error::JournalError;
use super::liveness::{DEFAULT_STALE_AFTER, RunFacts, owner_is_alive};
use super::migrate;
use super::record::{Claim, Owner, RenderRecord, RenderState, RunId, UnixSeconds};

/// The database file inside the state directory.
pub const DATABASE_FILE: &str = "state.sqlite";
/// The directory of content-addressed files inside the state directory.
pub const ARTIFACTS_DIR: &str = "artifacts";
/// How long an operation waits for another process's write lock before failing with
/// [`JournalError::Locked`].
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The durable state store of a state directory: renders, uploads, artifacts and runs.
///
/// `Journal` is `Send + Sync`: one connection behind a mutex, so the engine can share it (an
/// `Arc<Journal>`) with async tasks. Its methods are synchronous and take well under a
/// millisecond (plus an fsync for render transitions), so they are called directly from the
/// engine's single dispatcher task rather than through a blocking pool. Several processes on one
/// state directory each open their own `Journal`; SQLite's locks keep them consistent.
#[derive(Debug)]
pub struct Journal {
    conn: Mutex<Connection>,
    /// `None` for an in-memory journal.
    state_dir: Option<PathBuf>,
    artifacts_dir: Option<PathBuf>,
    /// The database path, for messages (`:memory:` in tests).
    db_path: PathBuf,
    stale_after: Duration,
}

impl Journal {
    /// Opens (creating if needed) the state directory, its `artifacts/` and `state.sqlite`, and
    /// brings the schema up to date.
    pub fn open(state_dir: impl AsRef<Path>) -> Result<Journal, JournalError> {
        let state_dir = state_dir.as_ref();
        let artifacts_dir = state_dir.join(ARTIFACTS_DIR);
        for dir in [state_dir, &artifacts_dir] {
            std::fs::create_dir_all(dir)
                .map_err(|source| JournalError::StateDir { path: dir.to_owned(), source })?;
        }
        let db_path = state_dir.join(DATABASE_FILE);
        let conn = Connection::open(&db_path).map_err(|e| open_error(&db_path, e))?;
        let journal = Journal {
            conn: Mutex::new(conn),
            state_dir: Some(state_dir.to_owned()),
            artifacts_dir: Some(artifacts_dir),
            db_path,
            stale_after: DEFAULT_STALE_AFTER,
        };
        journal.initialise()?;
        Ok(journal)
    }

    /// A journal around an open connection (the read-only opening skips [`Journal::initialise`]).
    pub(crate) fn from_parts(
        conn: Mutex<Connection>,
        state_dir: Option<PathBuf>,
        artifacts_dir: Option<PathBuf>,
        db_path: PathBuf,
        stale_after: Duration,
    ) -> Journal {
        Journal { conn, state_dir, artifacts_dir, db_path, stale_after }
    }

    /// A journal in memory, with no state directory: for tests.
    pub fn open_in_memory() -> Result<Journal, JournalError> {
        let db_path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|e| open_error(&db_path, e))?;
        let journal = Journal {
            conn: Mutex::new(conn),
            state_dir: None,
            artifacts_dir: None,
            db_path,
            stale_after: DEFAULT_STALE_AFTER,
        };
        journal.initialise()?;
        Ok(journal)
    }

    /// Changes how long a run may go without a heartbeat before its claims count as abandoned.
    pub fn with_stale_after(mut self, stale_after: Duration) -> Journal {
        self.stale_after = stale_after;
        self
    }

    /// The state directory (`None` for an in-memory journal).
    pub fn state_dir(&self) -> Option<&Path> {
        self.state_dir.as_deref()
    }

    /// The directory artifacts are stored in (`None` for an in-memory journal).
    pub fn artifacts_dir(&self) -> Option<&Path> {
        self.artifacts_dir.as_deref()
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<u32, JournalError> {
        migrate::schema_version(&self.lock())
    }

    /// Sets the connection's pragmas and applies migrations. Errors here are the ones a user meets
    /// first (garbage in `state.sqlite`, a read-only disk), so they are classified for a clear
    /// message.
    ///
    /// When several processes open a new state directory at once, SQLite answers some of these
    /// first statements with `SQLITE_BUSY` without calling the busy handler: the switch to WAL
    /// needs the database to itself, and a connection that reads the file while another converts
    /// it may find it changing under it. Every step is idempotent (the migration re-reads the
    /// version inside its own `BEGIN IMMEDIATE`), so the whole sequence is tried again after a
    /// short jittered pause, for at most [`BUSY_TIMEOUT`] in all.
    fn initialise(&self) -> Result<(), JournalError> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(1);
        let mut jitter = Jitter::new();
        loop {
            let left = BUSY_TIMEOUT.saturating_sub(started.elapsed());
            match self.initialise_once(left) {
                Err(JournalError::Locked { .. }) if !left.is_zero() => {
                    std::thread::sleep(jitter.around(pause).min(left));
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                result => {
                    // Later operations wait the full timeout again.
                    let conn = self.lock();
                    conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| open_error(&self.db_path, e))?;
                    return result;
                }
            }
        }
    }

    /// One attempt of [`Journal::initialise`]; waits for other writers at most `left`.
    fn initialise_once(&self, left: Duration) -> Result<(), JournalError> {
        let path = &self.db_path;
        let mut conn = self.lock();
        conn.busy_timeout(left).map_err(|e| open_error(path, e))?;
        // The first statement that reads the file: a non-database fails here.
        // A file system without shared-memory support refuses WAL and keeps the rollback journal:
        // still correct, only slower for concurrent readers, so the answer is not checked.
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))
            .map_err(|e| open_error(path, e))?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(|e| open_error(path, e))?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(|e| open_error(path, e))?;
        migrate::migrate(&mut conn, path).map_err(|e| match e {
            JournalError::Sqlite(e) | JournalError::Unwritable { source: e, .. } => open_error(path, e),
            other => other,
        })
    }

    /// The connection. A panic while it was held cannot have left a half-done change: rusqlite
    /// rolls a transaction back when it is dropped during unwinding, so a poisoned lock is safe to
    /// take.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction, committed with `synchronous=FULL` when
    /// `durable` (see the module docs for which writes need it).
    pub(crate) fn write<T>(
        &self,
        durable: bool,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, JournalError>,
    ) -> Result<T, JournalError> {
        let mut conn = self.lock();
        // Set on every write so a failed earlier write cannot leave the wrong level behind.
        conn.pragma_update(None, "synchronous", if durable { "FULL" } else { "NORMAL" })?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
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
        self.write(true, |tx| match load_render(tx, key)? {
            None => {
                tx.execute(
                    "INSERT INTO renders (key, endpoint, args, state, owner_run, owner_pid, owner_host,
                                          claimed_at, updated_at)
                     VALUES (?1, ?2, ?3, 'submitting', ?4, ?5, ?6, ?7, ?7)",
                    params![key, endpoint, args, owner.run_id.0, owner.pid, owner.host, now],
                )?;
                Ok(Claim::Claimed)
            }
            Some(record) if record.endpoint != endpoint || record.args != args => {
                Err(JournalError::KeyMismatch { key: key.to_owned() })
            }
            Some(record) => self.settle(tx, record, owner, now),
        })
    }

    /// Takes over a leftover render found by recovery without knowing its arguments: the same
    /// answers as [`Journal::claim_render`] for an existing row (a `Reattach` makes the caller the
    /// owner).
    pub fn adopt(&self, key: &str, owner: &Owner, now: UnixSeconds) -> Result<Claim, JournalError> {
        self.write(true, |tx| {
            let record = load_render(tx, key)?.ok_or_else(|| unknown(key))?;
            self.settle(tx, record, owner, now)
        })
    }

    /// Claims a failed render again because the user asked (`--retry-failed`): `Claimed` if it was
    /// `Failed`, otherwise whatever [`Journal::claim_render`] would answer now (another process
    /// may have retried it first).
    pub fn retry_failed(&self, key: &str, owner: &Owner, now: UnixSeconds) -> Result<Claim, JournalError> {
        self.write(true, |tx| {
            let record = load_render(tx, key)?.ok_or_else(|| unknown(key))?;
            if let RenderState::Failed { .. } = record.state {
                reclaim(tx, key, owner, now)?;
                return Ok(Claim::Claimed);
            }
            self.settle(tx, record, owner, now)
        })
    }

    /// Claims an `Ambiguous` render again because the user decided to pay the risk of a second
    /// charge: `Claimed` if its owner is still gone, otherwise whatever
    /// [`Journal::claim_render`] would answer now.
    pub fn force_resubmit(&self, key: &str, owner: &Owner, now: UnixSeconds) -> Result<Claim, JournalError> {
        self.write(true, |tx| {
            let record = load_render(tx, key)?.ok_or_else(|| unknown(key))?;
            match self.settle(tx, record, owner, now)? {
                Claim::Ambiguous { .. } => {
                    reclaim(tx, key, owner, now)?;
                    Ok(Claim::Claimed)
                }
                other => Ok(other),
            }
        })
    }

    /// Records fal's request id for a render we are submitting. Durable (`FULL`) before it
    /// returns. Calling it again with the same id is a no-op.
    pub fn mark_submitted(
        &self,
        key: &str,
        owner: &Owner,
        request_id: &str,
        now: UnixSeconds,
    ) -> Result<(), JournalError> {
        self.write(true, |tx| {
            let record = load_render(tx, key)?.ok_or_else(|| unknown(key))?;
            match &record.state {
                RenderState::Submitting { owner: holder, .. } => {
                    check_owner(key, holder, owner)?;
                    tx.execute(
                        "UPDATE renders SET state = 'submitted', request_id = ?2, submitted_at = ?3,
                                            updated_at = ?3
                         WHERE key = ?1",
                        params![key, request_id, now],
                    )?;
                    Ok(())
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
        self.write(true, |tx| {
            let record = load_render(tx, key)?.ok_or_else(|| unknown(key))?;
            match &record.state {
                RenderState::Submitted { owner: holder, .. } => {
                    check_owner(key, holder, owner)?;
                    tx.execute(
                        "UPDATE renders SET state = 'completed', result = ?2, billed_seconds = ?3,
                                            cost_micros = ?4, completed_at = ?5,
                                            completed_by_run = ?6, updated_at = ?5
                         WHERE key = ?1",
                        params![key, result, billed_seconds, cost, now, owner.run_id.0],
                    )?;
                    Ok(())
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
        self.write(true, |tx| {
            let record = load_render(tx, key)?.ok_or_else(|| unknown(key))?;
            match &record.state {
                RenderState::Submitting { owner: holder, .. }
                | RenderState::Submitted { owner: holder, .. } => {
                    check_owner(key, holder, owner)?;
                    tx.execute(
                        "UPDATE renders SET state = 'failed', error = ?2, failed_at = ?3, updated_at = ?3
                         WHERE key = ?1",
                        params![key, error, now],
                    )?;
                    Ok(())
                }
                RenderState::Failed { .. } => Ok(()),
                other => Err(wrong_state(key, "mark failed", other)),
            }
        })
    }

    /// Marks a completed render's result as lost (its output expired at fal before it was
    /// downloaded): it becomes `Failed`, so only `--retry-failed` renders and pays for it again.
    pub fn lose_result(&self, key: &str, error: &str, now: UnixSeconds) -> Result<(), JournalError> {
        self.write(true, |tx| {
            let record = load_render(tx, key)?.ok_or_else(|| unknown(key))?;
            match &record.state {
                RenderState::Completed { .. } => {
                    tx.execute(
                        "UPDATE renders SET state = 'failed', error = ?2, failed_at = ?3, updated_at = ?3
                         WHERE key = ?1",
                        params![key, error, now],
                    )?;
                    Ok(())
                }
                RenderState::Failed { .. } => Ok(()),
                other => Err(wrong_state(key, "lose the result of", other)),
            }
        })
    }

    /// Gives a claim back when the request certainly was not sent (refused before any byte left,
    /// cancelled before the POST): the row is removed and the next run claims it afresh. Releasing
    /// a render that has no row is a no-op.
    pub fn release(&self, key: &str, owner: &Owner) -> Result<(), JournalError> {
        self.write(true, |tx| {
            let Some(record) = load_render(tx, key)? else {
                return Ok(());
            };
            match &record.state {
                RenderState::Submitting { owner: holder, .. } => {
                    check_owner(key, holder, owner)?;
                    tx.execute("DELETE FROM renders WHERE key = ?1", params![key])?;
                    Ok(())
                }
                other => Err(wrong_state(key, "release", other)),
            }
        })
    }

    /// The render with this key, if it was ever claimed.
    pub fn render(&self, key: &str) -> Result<Option<RenderRecord>, JournalError> {
        load_render(&self.lock(), key)
    }

    /// Every render submitted to fal whose result is not journaled yet, oldest first: the
    /// requests a new run re-attaches to.
    pub fn renders_in_flight(&self) -> Result<Vec<RenderRecord>, JournalError> {
        load_renders(&self.lock(), "state = 'submitted' ORDER BY submitted_at, key")
    }

    /// Every unfinished render (`Submitting` or `Submitted`) with whether its owner is alive, as
    /// judged by `observer`, read in one consistent snapshot. For recovery.
    pub(crate) fn unfinished_with_liveness(
        &self,
        observer: &Owner,
        now: UnixSeconds,
    ) -> Result<Vec<(RenderRecord, bool)>, JournalError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        let records = load_renders(&tx, "state IN ('submitting', 'submitted') ORDER BY claimed_at, key")?;
        let mut out = Vec::with_capacity(records.len());
        for record in records {
            let alive = match record.state.owner() {
                Some(owner) => self.alive(&tx, owner, observer, now)?,
                None => false,
            };
            out.push((record, alive));
        }
        tx.finish()?;
        Ok(out)
    }

    /// The answer for an existing row, applying a take-over where the answer is `Reattach` to a
    /// render whose owner is gone (so a third process sees a live owner and waits).
    fn settle(
        &self,
        tx: &Transaction<'_>,
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
                tx.execute(
                    "UPDATE renders SET owner_run = ?2, owner_pid = ?3, owner_host = ?4, updated_at = ?5
                     WHERE key = ?1",
                    params![record.key, caller.run_id.0, caller.pid, caller.host, now],
                )?;
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
        conn: &Connection,
        owner: &Owner,
        observer: &Owner,
        now: UnixSeconds,
    ) -> Result<bool, JournalError> {
        let facts = conn
            .query_row(
                "SELECT finished_at IS NOT NULL, heartbeat_at FROM runs WHERE id = ?1",
                params![owner.run_id.0],
                |row| Ok(RunFacts { finished: row.get(0)?, heartbeat_at: row.get(1)? }),
            )
            .optional()?;
        Ok(owner_is_alive(owner, observer, facts, now, self.stale_after))
    }
}

/// Makes `owner` the submitter of an existing row, clearing what an earlier attempt left.
fn reclaim(tx: &Transaction<'_>, key: &str, owner: &Owner, now: UnixSeconds) -> Result<(), JournalError> {
    tx.execute(
        "UPDATE renders SET state = 'submitting', attempts = attempts + 1,
                            owner_run = ?2, owner_pid = ?3, owner_host = ?4, claimed_at = ?5,
                            request_id = NULL, submitted_at = NULL, error = NULL, failed_at = NULL,
                            updated_at = ?5
         WHERE key = ?1",
        params![key, owner.run_id.0, owner.pid, owner.host, now],
    )?;
    Ok(())
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

/// Spreads retry pauses so that processes which collided once do not collide again in step. Not
/// random in any strong sense (no dependency for it): seeded from the clock, the process and the
/// thread, stepped with xorshift.
struct Jitter(u64);

impl Jitter {
    fn new() -> Jitter {
        use std::hash::BuildHasher;
        let seed = std::collections::hash_map::RandomState::new().hash_one((
            std::process::id(),
            std::thread::current().id(),
            Instant::now(),
        ));
        Jitter(seed | 1)
    }

    /// A duration between half and one and a half times `pause`.
    fn around(&mut self, pause: Duration) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        let fraction = (self.0 % 1024) as f64 / 1024.0;
        pause.mul_f64(0.5 + fraction)
    }
}

/// Classifies an error met while opening, so the user reads what to do about it.
pub(crate) fn open_error(path: &Path, error: rusqlite::Error) -> JournalError {
    use rusqlite::ErrorCode;
    match error.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
            JournalError::Corrupt { path: path.to_owned(), source: error }
        }
        Some(ErrorCode::CannotOpen | ErrorCode::ReadOnly | ErrorCode::PermissionDenied) => {
            JournalError::Unwritable { path: path.to_owned(), source: error }
        }
        _ => JournalError::from(error),
    }
}

const RENDER_COLUMNS: &str = "key, endpoint, args, state, attempts, owner_run, owner_pid, owner_host,
    claimed_at, request_id, submitted_at, result, billed_seconds, cost_micros, completed_at,
    completed_by_run, error, failed_at, updated_at";

fn load_render(conn: &Connection, key: &str) -> Result<Option<RenderRecord>, JournalError> {
    let raw = conn
        .query_row(
            &format!("SELECT {RENDER_COLUMNS} FROM renders WHERE key = ?1"),
            params![key],
            RawRender::read,
        )
        .optional()?;
    raw.map(RawRender::decode).transpose()
}

/// Renders matching `filter` (a trusted SQL fragment from this module, never user input).
fn load_renders(conn: &Connection, filter: &str) -> Result<Vec<RenderRecord>, JournalError> {
    let mut statement = conn.prepare(&format!("SELECT {RENDER_COLUMNS} FROM renders WHERE {filter}"))?;
    let raws = statement.query_map([], RawRender::read)?.collect::<Result<Vec<_>, _>>()?;
    raws.into_iter().map(RawRender::decode).collect()
}

/// A `renders` row as stored, before its state is checked.
struct RawRender {
    key: String,
    endpoint: String,
    args: String,
    state: String,
    attempts: u32,
    owner_run: i64,
    owner_pid: u32,
    owner_host: String,
    claimed_at: i64,
    request_id: Option<String>,
    submitted_at: Option<i64>,
    result: Option<String>,
    billed_seconds: Option<f64>,
    cost_micros: Option<i64>,
    completed_at: Option<i64>,
    completed_by_run: Option<i64>,
    error: Option<String>,
    failed_at: Option<i64>,
    updated_at: i64,
}

impl RawRender {
    fn read(row: &Row<'_>) -> rusqlite::Result<RawRender> {
        Ok(RawRender {
            key: row.get(0)?,
            endpoint: row.get(1)?,
            args: row.get(2)?,
            state: row.get(3)?,
            attempts: row.get(4)?,
            owner_run: row.get(5)?,
            owner_pid: row.get(6)?,
            owner_host: row.get(7)?,
            claimed_at: row.get(8)?,
            request_id: row.get(9)?,
            submitted_at: row.get(10)?,
            result: row.get(11)?,
            billed_seconds: row.get(12)?,
            cost_micros: row.get(13)?,
            completed_at: row.get(14)?,
            completed_by_run: row.get(15)?,
            error: row.get(16)?,
            failed_at: row.get(17)?,
            updated_at: row.get(18)?,
        })
    }

    fn decode(self) -> Result<RenderRecord, JournalError> {
        let key = self.key;
        let invalid =
            |reason: &str| JournalError::InvalidRow { what: key.clone(), reason: reason.to_owned() };
        let owner = Owner { run_id: RunId(self.owner_run), pid: self.owner_pid, host: self.owner_host };
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
            attempts: self.attempts,
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
