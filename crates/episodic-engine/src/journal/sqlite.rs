//! The SQLite backend: `state.sqlite` in the state folder (WAL mode), the default journal.
//!
//! Each process (or thread) that opens the state folder has its own connection, behind a mutex.
//! A writing transaction is `BEGIN IMMEDIATE`, which takes the database's write lock before
//! reading, so every row read in it is locked until it ends; readers never block writers (WAL).
//! A writer waits up to [`BUSY_TIMEOUT`] for the lock; SQLite holds it for well under a
//! millisecond per operation.
//!
//! Durability: the connection runs `synchronous=NORMAL` (a commit survives a crash or `kill -9`
//! of the process, not a power cut) and switches to `FULL` (the WAL is fsynced before the commit
//! returns) for [`TxMode::Durable`] transactions.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, Transaction, TransactionBehavior, params};

use super::backend::{Backend, RenderFilter, StoredSpeechCompletion, StoredWebhook, Tx, TxMode};
use super::error::JournalError;
use super::liveness::RunFacts;
use super::migrate;
use super::needs::{EpisodeNeeds, EpisodeRow, Need, Origin};
use super::record::{
    ArtifactRecord, Owner, Process, RenderRecord, RunId, RunRecord, UnixSeconds, UploadRecord,
};
use super::runs::decode_run;
use super::speech::{RawSpeech, SPEECH_COLUMNS, SpeechRecord};
use super::store::{BUSY_TIMEOUT, RENDER_COLUMNS, RawRender, to_u64};
use super::webhooks::WebhookResult;

/// A journal in one SQLite database.
#[derive(Debug)]
pub(crate) struct SqliteBackend {
    conn: Mutex<Connection>,
    /// The database path, for messages (`:memory:` in tests).
    db_path: PathBuf,
}

impl SqliteBackend {
    /// Opens (creating if needed) the database at `db_path` and brings its schema up to date.
    pub(crate) fn open(db_path: &Path) -> Result<SqliteBackend, JournalError> {
        let conn = Connection::open(db_path).map_err(|e| open_error(db_path, e))?;
        let backend = SqliteBackend { conn: Mutex::new(conn), db_path: db_path.to_owned() };
        backend.initialise()?;
        Ok(backend)
    }

    /// A database in memory: for tests.
    pub(crate) fn open_in_memory() -> Result<SqliteBackend, JournalError> {
        let db_path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|e| open_error(&db_path, e))?;
        let backend = SqliteBackend { conn: Mutex::new(conn), db_path };
        backend.initialise()?;
        Ok(backend)
    }

    /// Opens the database at `db_path` to read it only: nothing is created, migrated or written.
    /// `None` when it does not exist.
    pub(crate) fn open_read_only(db_path: &Path) -> Result<Option<SqliteBackend>, JournalError> {
        if !db_path.is_file() {
            return Ok(None);
        }
        let flags =
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        // A reader of a WAL database creates `-wal` and `-shm` beside it when they are missing
        // (the last writer closed cleanly) and leaves them there. Then every page is in the main
        // file, so it is read as an immutable file instead, which creates nothing. When they
        // exist (a run is writing, or died), they are used as they are.
        let mut wal = db_path.as_os_str().to_owned();
        wal.push("-wal");
        let uri = if Path::new(&wal).exists() {
            format!("file:{}?mode=ro", uri_path(db_path))
        } else {
            format!("file:{}?mode=ro&immutable=1", uri_path(db_path))
        };
        let conn = Connection::open_with_flags(&uri, flags).map_err(|e| open_error(db_path, e))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| open_error(db_path, e))?;
        // The first read: a file that is not a database fails here, with the same message as
        // `render` gives.
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get::<_, i64>(0))
            .map_err(|e| open_error(db_path, e))?;
        Ok(Some(SqliteBackend { conn: Mutex::new(conn), db_path: db_path.to_owned() }))
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

    /// One attempt of [`SqliteBackend::initialise`]; waits for other writers at most `left`.
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
    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Backend for SqliteBackend {
    fn describe(&self) -> String {
        self.db_path.display().to_string()
    }

    fn schema_version(&self) -> Result<u32, JournalError> {
        migrate::schema_version(&self.lock())
    }

    fn transaction(
        &self,
        mode: TxMode,
        body: &mut (dyn FnMut(&mut dyn Tx) -> Result<(), JournalError> + Send),
    ) -> Result<(), JournalError> {
        let mut conn = self.lock();
        let behavior = match mode {
            TxMode::Read => TransactionBehavior::Deferred,
            TxMode::Write | TxMode::Durable => {
                // Set on every write so a failed earlier write cannot leave the wrong level behind.
                let level = if mode == TxMode::Durable { "FULL" } else { "NORMAL" };
                conn.pragma_update(None, "synchronous", level)?;
                TransactionBehavior::Immediate
            }
        };
        let tx = conn.transaction_with_behavior(behavior)?;
        let mut sqlite = SqliteTx { tx };
        body(&mut sqlite)?;
        sqlite.tx.commit()?;
        Ok(())
    }
}

/// One SQLite transaction.
struct SqliteTx<'c> {
    tx: Transaction<'c>,
}

impl SqliteTx<'_> {
    /// Whether the database has `table` (a read-only opening may find an older schema).
    fn has_table(&self, table: &str) -> Result<bool, JournalError> {
        Ok(self
            .tx
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                params![table],
                |_| Ok(true),
            )
            .optional()?
            .unwrap_or(false))
    }

    fn load_renders(&self, filter: &str) -> Result<Vec<RenderRecord>, JournalError> {
        let mut statement =
            self.tx.prepare(&format!("SELECT {RENDER_COLUMNS} FROM renders WHERE {filter}"))?;
        let raws = statement.query_map([], read_render)?.collect::<Result<Vec<_>, _>>()?;
        raws.into_iter().map(RawRender::decode).collect()
    }
}

fn read_speech(row: &Row<'_>) -> rusqlite::Result<RawSpeech> {
    Ok(RawSpeech {
        key: row.get(0)?,
        voice_id: row.get(1)?,
        model_id: row.get(2)?,
        request: row.get(3)?,
        state: row.get(4)?,
        attempts: row.get(5)?,
        owner_run: row.get(6)?,
        owner_pid: row.get(7)?,
        owner_host: row.get(8)?,
        claimed_at: row.get(9)?,
        history_item_id: row.get(10)?,
        characters: row.get(11)?,
        credits: row.get(12)?,
        cost_micros: row.get(13)?,
        aligned: row.get(14)?,
        completed_by_run: row.get(15)?,
        error: row.get(16)?,
    })
}

fn read_render(row: &Row<'_>) -> rusqlite::Result<RawRender> {
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

impl Tx for SqliteTx<'_> {
    fn schema_version(&mut self) -> Result<u32, JournalError> {
        migrate::schema_version(&self.tx)
    }

    fn render(&mut self, key: &str, _lock: bool) -> Result<Option<RenderRecord>, JournalError> {
        // A writing transaction already holds the database's lock (BEGIN IMMEDIATE).
        let raw = self
            .tx
            .query_row(
                &format!("SELECT {RENDER_COLUMNS} FROM renders WHERE key = ?1"),
                params![key],
                read_render,
            )
            .optional()?;
        raw.map(RawRender::decode).transpose()
    }

    fn renders(&mut self, filter: RenderFilter) -> Result<Vec<RenderRecord>, JournalError> {
        self.load_renders(match filter {
            RenderFilter::InFlight => "state = 'submitted' ORDER BY submitted_at, key",
            RenderFilter::Unfinished => "state IN ('submitting', 'submitted') ORDER BY claimed_at, key",
        })
    }

    fn insert_claim(
        &mut self,
        key: &str,
        endpoint: &str,
        args: &str,
        owner: &Owner,
        now: UnixSeconds,
    ) -> Result<bool, JournalError> {
        let inserted = self.tx.execute(
            "INSERT INTO renders (key, endpoint, args, state, owner_run, owner_pid, owner_host,
                                  claimed_at, updated_at)
             VALUES (?1, ?2, ?3, 'submitting', ?4, ?5, ?6, ?7, ?7) ON CONFLICT (key) DO NOTHING",
            params![key, endpoint, args, owner.run_id.0, owner.pid, owner.host, now],
        )?;
        Ok(inserted == 1)
    }

    fn set_owner(&mut self, key: &str, owner: &Owner, now: UnixSeconds) -> Result<(), JournalError> {
        self.tx.execute(
            "UPDATE renders SET owner_run = ?2, owner_pid = ?3, owner_host = ?4, updated_at = ?5
             WHERE key = ?1",
            params![key, owner.run_id.0, owner.pid, owner.host, now],
        )?;
        Ok(())
    }

    fn reclaim(&mut self, key: &str, owner: &Owner, now: UnixSeconds) -> Result<(), JournalError> {
        self.tx.execute(
            "UPDATE renders SET state = 'submitting', attempts = attempts + 1,
                                owner_run = ?2, owner_pid = ?3, owner_host = ?4, claimed_at = ?5,
                                request_id = NULL, submitted_at = NULL, error = NULL, failed_at = NULL,
                                reserved_micros = NULL, updated_at = ?5
             WHERE key = ?1",
            params![key, owner.run_id.0, owner.pid, owner.host, now],
        )?;
        Ok(())
    }

    fn set_submitted(&mut self, key: &str, request_id: &str, now: UnixSeconds) -> Result<(), JournalError> {
        self.tx.execute(
            "UPDATE renders SET state = 'submitted', request_id = ?2, submitted_at = ?3, updated_at = ?3
             WHERE key = ?1",
            params![key, request_id, now],
        )?;
        Ok(())
    }

    fn set_completed(
        &mut self,
        key: &str,
        result: &str,
        billed_seconds: f64,
        cost_micros: i64,
        run: RunId,
        now: UnixSeconds,
    ) -> Result<(), JournalError> {
        self.tx.execute(
            "UPDATE renders SET state = 'completed', result = ?2, billed_seconds = ?3,
                                cost_micros = ?4, completed_at = ?5, completed_by_run = ?6,
                                reserved_micros = NULL, updated_at = ?5
             WHERE key = ?1",
            params![key, result, billed_seconds, cost_micros, now, run.0],
        )?;
        Ok(())
    }

    fn set_failed(&mut self, key: &str, error: &str, now: UnixSeconds) -> Result<(), JournalError> {
        self.tx.execute(
            "UPDATE renders SET state = 'failed', error = ?2, failed_at = ?3, reserved_micros = NULL,
                                updated_at = ?3
             WHERE key = ?1",
            params![key, error, now],
        )?;
        Ok(())
    }

    fn delete_render(&mut self, key: &str) -> Result<(), JournalError> {
        self.tx.execute("DELETE FROM renders WHERE key = ?1", params![key])?;
        Ok(())
    }

    fn run_facts(&mut self, run: RunId) -> Result<Option<RunFacts>, JournalError> {
        Ok(self
            .tx
            .query_row(
                "SELECT finished_at IS NOT NULL, heartbeat_at FROM runs WHERE id = ?1",
                params![run.0],
                |row| Ok(RunFacts { finished: row.get(0)?, heartbeat_at: row.get(1)? }),
            )
            .optional()?)
    }

    fn insert_run(
        &mut self,
        process: &Process,
        manifests_json: &str,
        batch: Option<&str>,
        now: UnixSeconds,
    ) -> Result<RunId, JournalError> {
        self.tx.execute(
            "INSERT INTO runs (started_at, pid, host, manifests, heartbeat_at, batch)
             VALUES (?1, ?2, ?3, ?4, ?1, ?5)",
            params![now, process.pid, process.host, manifests_json, batch],
        )?;
        Ok(RunId(self.tx.last_insert_rowid()))
    }

    fn heartbeat(&mut self, run: RunId, now: UnixSeconds) -> Result<(), JournalError> {
        self.tx.execute(
            "UPDATE runs SET heartbeat_at = max(heartbeat_at, ?2) WHERE id = ?1",
            params![run.0, now],
        )?;
        Ok(())
    }

    fn finish_run(&mut self, run: RunId, outcome: &str, now: UnixSeconds) -> Result<bool, JournalError> {
        let changed = self.tx.execute(
            "UPDATE runs SET finished_at = ?2, outcome = ?3 WHERE id = ?1 AND finished_at IS NULL",
            params![run.0, now, outcome],
        )?;
        Ok(changed == 1)
    }

    fn run(&mut self, run: RunId) -> Result<Option<RunRecord>, JournalError> {
        let row = self
            .tx
            .query_row(
                "SELECT id, started_at, finished_at, pid, host, manifests, outcome, heartbeat_at
                 FROM runs WHERE id = ?1",
                params![run.0],
                |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, i64>(1)?,
                        row.get::<_, Option<i64>>(2)?,
                        row.get::<_, i64>(3)?,
                        row.get::<_, String>(4)?,
                        row.get::<_, String>(5)?,
                        row.get::<_, Option<String>>(6)?,
                        row.get::<_, i64>(7)?,
                    ))
                },
            )
            .optional()?;
        row.map(|(id, started_at, finished_at, pid, host, manifests, outcome, heartbeat_at)| {
            decode_run(id, started_at, finished_at, pid, host, &manifests, outcome, heartbeat_at)
        })
        .transpose()
    }

    fn spent_by_run(&mut self, run: RunId) -> Result<i64, JournalError> {
        Ok(self.tx.query_row(
            "SELECT (SELECT coalesce(sum(cost_micros), 0) FROM renders WHERE completed_by_run = ?1)
                  + (SELECT coalesce(sum(cost_micros), 0) FROM speeches WHERE completed_by_run = ?1)",
            params![run.0],
            |row| row.get(0),
        )?)
    }

    fn spent_since(&mut self, since: UnixSeconds) -> Result<i64, JournalError> {
        Ok(self.tx.query_row(
            "SELECT (SELECT coalesce(sum(cost_micros), 0) FROM renders
                     WHERE state = 'completed' AND completed_at >= ?1)
                  + (SELECT coalesce(sum(cost_micros), 0) FROM speeches
                     WHERE state = 'completed' AND completed_at >= ?1)",
            params![since],
            |row| row.get(0),
        )?)
    }

    fn session_of(&mut self, run: RunId) -> Result<Option<RunId>, JournalError> {
        let session: Option<Option<i64>> = self
            .tx
            .query_row("SELECT session FROM runs WHERE id = ?1", params![run.0], |row| row.get(0))
            .optional()?;
        Ok(session.map(|session| RunId(session.unwrap_or(run.0))))
    }

    fn set_session(&mut self, run: RunId, session: RunId) -> Result<(), JournalError> {
        self.tx.execute("UPDATE runs SET session = ?2 WHERE id = ?1", params![run.0, session.0])?;
        Ok(())
    }

    fn open_runs_of_batch(
        &mut self,
        batch: &str,
        except: RunId,
    ) -> Result<Vec<(Owner, RunId, RunFacts)>, JournalError> {
        let mut statement = self.tx.prepare(
            "SELECT id, pid, host, coalesce(session, id), heartbeat_at FROM runs
             WHERE batch = ?1 AND finished_at IS NULL AND id <> ?2 ORDER BY id",
        )?;
        let rows = statement
            .query_map(params![batch, except.0], |row| {
                Ok((
                    Owner { run_id: RunId(row.get(0)?), pid: row.get(1)?, host: row.get(2)? },
                    RunId(row.get(3)?),
                    RunFacts { finished: false, heartbeat_at: row.get(4)? },
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn lock_session(&mut self, _session: RunId) -> Result<(), JournalError> {
        // BEGIN IMMEDIATE already holds the database's write lock.
        Ok(())
    }

    fn session_committed(&mut self, session: RunId, except_key: &str) -> Result<i64, JournalError> {
        Ok(self.tx.query_row(
            "SELECT
                 coalesce((SELECT sum(r.cost_micros) FROM renders r JOIN runs u ON u.id = r.completed_by_run
                           WHERE r.state = 'completed' AND coalesce(u.session, u.id) = ?1), 0)
               + coalesce((SELECT sum(r.reserved_micros) FROM renders r JOIN runs u ON u.id = r.owner_run
                           WHERE r.state IN ('submitting', 'submitted') AND r.key <> ?2
                             AND coalesce(u.session, u.id) = ?1), 0)
               + coalesce((SELECT sum(s.cost_micros) FROM speeches s JOIN runs u ON u.id = s.completed_by_run
                           WHERE s.state = 'completed' AND coalesce(u.session, u.id) = ?1), 0)
               + coalesce((SELECT sum(s.reserved_micros) FROM speeches s JOIN runs u ON u.id = s.owner_run
                           WHERE s.state IN ('voicing', 'answered') AND s.key <> ?2
                             AND coalesce(u.session, u.id) = ?1), 0)",
            params![session.0, except_key],
            |row| row.get(0),
        )?)
    }

    fn set_reserved(&mut self, key: &str, micros: i64) -> Result<(), JournalError> {
        self.tx.execute("UPDATE renders SET reserved_micros = ?2 WHERE key = ?1", params![key, micros])?;
        Ok(())
    }

    fn insert_breaker_trip(
        &mut self,
        run: RunId,
        reason: &str,
        now: UnixSeconds,
    ) -> Result<(), JournalError> {
        self.tx.execute(
            "INSERT INTO spend_breaker (tripped_at, run, reason) VALUES (?1, ?2, ?3)",
            params![now, run.0, reason],
        )?;
        Ok(())
    }

    fn breaker_trip_since(
        &mut self,
        since: UnixSeconds,
    ) -> Result<Option<(UnixSeconds, RunId)>, JournalError> {
        Ok(self
            .tx
            .query_row(
                "SELECT tripped_at, run FROM spend_breaker WHERE tripped_at >= ?1
                 ORDER BY tripped_at DESC, id DESC LIMIT 1",
                params![since],
                |row| Ok((row.get(0)?, RunId(row.get(1)?))),
            )
            .optional()?)
    }

    fn upload(
        &mut self,
        sha256: &str,
        valid_after: UnixSeconds,
    ) -> Result<Option<UploadRecord>, JournalError> {
        let row = self
            .tx
            .query_row(
                "SELECT sha256, url, content_type, size, uploaded_at, expires_at FROM uploads
                 WHERE sha256 = ?1 AND (expires_at IS NULL OR expires_at > ?2)",
                params![sha256, valid_after],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, i64>(3)?,
                        row.get::<_, i64>(4)?,
                        row.get::<_, Option<i64>>(5)?,
                    ))
                },
            )
            .optional()?;
        row.map(|(sha256, url, content_type, size, uploaded_at, expires_at)| {
            Ok(UploadRecord {
                size: to_u64(&sha256, size)?,
                sha256,
                url,
                content_type,
                uploaded_at,
                expires_at,
            })
        })
        .transpose()
    }

    fn put_upload(&mut self, upload: &UploadRecord, size: i64) -> Result<(), JournalError> {
        self.tx.execute(
            "INSERT INTO uploads (sha256, url, content_type, size, uploaded_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (sha256) DO UPDATE SET url = excluded.url,
                 content_type = excluded.content_type, size = excluded.size,
                 uploaded_at = excluded.uploaded_at, expires_at = excluded.expires_at",
            params![
                upload.sha256,
                upload.url,
                upload.content_type,
                size,
                upload.uploaded_at,
                upload.expires_at
            ],
        )?;
        Ok(())
    }

    fn artifact(&mut self, key: &str) -> Result<Option<ArtifactRecord>, JournalError> {
        let row = self
            .tx
            .query_row(
                "SELECT key, path, sha256, size, created_at FROM artifacts WHERE key = ?1",
                params![key],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, i64>(3)?,
                        row.get::<_, i64>(4)?,
                    ))
                },
            )
            .optional()?;
        row.map(|(key, path, sha256, size, created_at)| {
            Ok(ArtifactRecord {
                size: to_u64(&key, size)?,
                key,
                path: PathBuf::from(path),
                sha256,
                created_at,
            })
        })
        .transpose()
    }

    fn put_artifact(&mut self, artifact: &ArtifactRecord, path: &str, size: i64) -> Result<(), JournalError> {
        self.tx.execute(
            "INSERT INTO artifacts (key, path, sha256, size, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (key) DO UPDATE SET path = excluded.path, sha256 = excluded.sha256,
                 size = excluded.size, created_at = excluded.created_at",
            params![artifact.key, path, artifact.sha256, size, artifact.created_at],
        )?;
        Ok(())
    }

    fn insert_webhook(&mut self, result: &WebhookResult, payload: &str) -> Result<bool, JournalError> {
        let inserted = self.tx.execute(
            "INSERT INTO webhook_results (request_id, ok, payload, error, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(request_id) DO NOTHING",
            params![result.request_id, result.ok, payload, result.error, result.received_at],
        )?;
        Ok(inserted == 1)
    }

    fn webhook(&mut self, request_id: &str) -> Result<Option<StoredWebhook>, JournalError> {
        Ok(self
            .tx
            .query_row(
                "SELECT ok, payload, error, received_at FROM webhook_results WHERE request_id = ?1",
                params![request_id],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
            )
            .optional()?)
    }

    fn speech(&mut self, key: &str, _lock: bool) -> Result<Option<SpeechRecord>, JournalError> {
        // A writing transaction already holds the database's lock (BEGIN IMMEDIATE).
        let raw = self
            .tx
            .query_row(
                &format!("SELECT {SPEECH_COLUMNS} FROM speeches WHERE key = ?1"),
                params![key],
                read_speech,
            )
            .optional()?;
        raw.map(RawSpeech::decode).transpose()
    }

    fn insert_speech_claim(
        &mut self,
        key: &str,
        voice_id: &str,
        model_id: &str,
        request: &str,
        owner: &Owner,
        now: UnixSeconds,
    ) -> Result<bool, JournalError> {
        let inserted = self.tx.execute(
            "INSERT INTO speeches (key, voice_id, model_id, request, state, owner_run, owner_pid,
                                   owner_host, claimed_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, 'voicing', ?5, ?6, ?7, ?8, ?8) ON CONFLICT (key) DO NOTHING",
            params![key, voice_id, model_id, request, owner.run_id.0, owner.pid, owner.host, now],
        )?;
        Ok(inserted == 1)
    }

    fn set_speech_owner(&mut self, key: &str, owner: &Owner, now: UnixSeconds) -> Result<(), JournalError> {
        self.tx.execute(
            "UPDATE speeches SET owner_run = ?2, owner_pid = ?3, owner_host = ?4, updated_at = ?5
             WHERE key = ?1",
            params![key, owner.run_id.0, owner.pid, owner.host, now],
        )?;
        Ok(())
    }

    fn reclaim_speech(&mut self, key: &str, owner: &Owner, now: UnixSeconds) -> Result<(), JournalError> {
        self.tx.execute(
            "UPDATE speeches SET state = 'voicing', attempts = attempts + 1, owner_run = ?2, owner_pid = ?3,
                                 owner_host = ?4, claimed_at = ?5, history_item_id = NULL, request_id = NULL,
                                 answered_at = NULL, error = NULL, failed_at = NULL, reserved_micros = NULL,
                                 updated_at = ?5
             WHERE key = ?1",
            params![key, owner.run_id.0, owner.pid, owner.host, now],
        )?;
        Ok(())
    }

    fn set_speech_answered(
        &mut self,
        key: &str,
        history_item_id: &str,
        request_id: Option<&str>,
        owner: &Owner,
        now: UnixSeconds,
    ) -> Result<(), JournalError> {
        self.tx.execute(
            "UPDATE speeches SET state = 'answered', history_item_id = ?2, request_id = ?3,
                                 answered_at = ?4, owner_run = ?5, owner_pid = ?6,
                                 owner_host = ?7, updated_at = ?4
             WHERE key = ?1",
            params![key, history_item_id, request_id, now, owner.run_id.0, owner.pid, owner.host],
        )?;
        Ok(())
    }

    fn set_speech_completed(
        &mut self,
        key: &str,
        completion: &StoredSpeechCompletion,
        run: RunId,
        now: UnixSeconds,
    ) -> Result<(), JournalError> {
        self.tx.execute(
            "UPDATE speeches SET state = 'completed', characters = ?2, credits = ?3,
                                 cost_micros = ?4, aligned = ?5, completed_at = ?6,
                                 completed_by_run = ?7, reserved_micros = NULL, updated_at = ?6
             WHERE key = ?1",
            params![
                key,
                completion.characters,
                completion.credits,
                completion.cost_micros,
                completion.aligned,
                now,
                run.0
            ],
        )?;
        Ok(())
    }

    fn set_speech_failed(&mut self, key: &str, error: &str, now: UnixSeconds) -> Result<(), JournalError> {
        self.tx.execute(
            "UPDATE speeches SET state = 'failed', error = ?2, failed_at = ?3, reserved_micros = NULL,
                                 updated_at = ?3
             WHERE key = ?1",
            params![key, error, now],
        )?;
        Ok(())
    }

    fn delete_speech(&mut self, key: &str) -> Result<(), JournalError> {
        self.tx.execute("DELETE FROM speeches WHERE key = ?1", params![key])?;
        Ok(())
    }

    fn history_item_taken(&mut self, history_item_id: &str, key: &str) -> Result<bool, JournalError> {
        let taken = self
            .tx
            .query_row(
                "SELECT 1 FROM speeches WHERE history_item_id = ?1 AND key <> ?2",
                params![history_item_id, key],
                |_| Ok(()),
            )
            .optional()?;
        Ok(taken.is_some())
    }

    fn set_speech_reserved(&mut self, key: &str, micros: i64) -> Result<(), JournalError> {
        self.tx.execute("UPDATE speeches SET reserved_micros = ?2 WHERE key = ?1", params![key, micros])?;
        Ok(())
    }

    fn replace_needs(
        &mut self,
        needs: &EpisodeNeeds,
        run: RunId,
        now: UnixSeconds,
    ) -> Result<(), JournalError> {
        self.tx.execute("DELETE FROM episodes WHERE output = ?1", params![needs.output])?;
        self.tx.execute(
            "INSERT INTO episodes (output, episode, manifest, run_id, planned_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![needs.output, needs.episode, needs.manifest, run.0, now],
        )?;
        let mut node = self
            .tx
            .prepare("INSERT OR REPLACE INTO episode_nodes (output, node_id, key) VALUES (?1, ?2, ?3)")?;
        let mut origin = self.tx.prepare(
            "INSERT OR IGNORE INTO node_origins (key, kind, render, sha256) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for needed in &needs.nodes {
            node.execute(params![needs.output, needed.id, needed.key])?;
            origin.execute(params![needed.key, needed.kind, needed.render_key, needed.sha256])?;
        }
        Ok(())
    }

    fn lock_needs(&mut self) -> Result<(), JournalError> {
        // BEGIN IMMEDIATE already holds the database's write lock.
        Ok(())
    }

    fn all_artifacts(&mut self) -> Result<Vec<ArtifactRecord>, JournalError> {
        let mut statement = self
            .tx
            .prepare("SELECT key, path, sha256, size, created_at FROM artifacts ORDER BY created_at, key")?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, i64>(3)?,
                    row.get::<_, i64>(4)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(key, path, sha256, size, created_at)| {
                Ok(ArtifactRecord {
                    size: to_u64(&key, size)?,
                    key,
                    path: PathBuf::from(path),
                    sha256,
                    created_at,
                })
            })
            .collect()
    }

    fn all_uploads(&mut self) -> Result<Vec<UploadRecord>, JournalError> {
        let mut statement = self.tx.prepare(
            "SELECT sha256, url, content_type, size, uploaded_at, expires_at FROM uploads
             ORDER BY uploaded_at, sha256",
        )?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, i64>(3)?,
                    row.get::<_, i64>(4)?,
                    row.get::<_, Option<i64>>(5)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(sha256, url, content_type, size, uploaded_at, expires_at)| {
                Ok(UploadRecord {
                    size: to_u64(&sha256, size)?,
                    sha256,
                    url,
                    content_type,
                    uploaded_at,
                    expires_at,
                })
            })
            .collect()
    }

    fn episodes(&mut self) -> Result<Vec<EpisodeRow>, JournalError> {
        let mut statement = self.tx.prepare(
            "SELECT output, episode, manifest, planned_at FROM episodes ORDER BY planned_at, output",
        )?;
        let rows = statement
            .query_map([], |row| {
                Ok(EpisodeRow {
                    output: row.get(0)?,
                    episode: row.get(1)?,
                    manifest: row.get(2)?,
                    planned_at: row.get(3)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn needs(&mut self) -> Result<Vec<(String, Need)>, JournalError> {
        let mut statement = self.tx.prepare(
            "SELECT n.key, e.episode, e.output, n.node_id FROM episode_nodes n
             JOIN episodes e ON e.output = n.output
             ORDER BY e.planned_at, e.output, n.node_id",
        )?;
        let rows = statement
            .query_map([], |row| {
                Ok((row.get(0)?, Need { episode: row.get(1)?, output: row.get(2)?, node: row.get(3)? }))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn origins(&mut self) -> Result<Vec<(String, Origin)>, JournalError> {
        let mut statement = self.tx.prepare("SELECT key, kind, render, sha256 FROM node_origins")?;
        let rows = statement
            .query_map([], |row| {
                Ok((row.get(0)?, Origin { kind: row.get(1)?, render_key: row.get(2)?, sha256: row.get(3)? }))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn payments(&mut self) -> Result<Vec<(String, i64, UnixSeconds)>, JournalError> {
        let mut statement = self
            .tx
            .prepare("SELECT key, cost_micros, completed_at FROM renders WHERE state = 'completed'")?;
        let rows = statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn delete_artifact_at(&mut self, key: &str, path: &str) -> Result<bool, JournalError> {
        let removed =
            self.tx.execute("DELETE FROM artifacts WHERE key = ?1 AND path = ?2", params![key, path])?;
        Ok(removed > 0)
    }

    fn put_parts(
        &mut self,
        episode: &str,
        node: &str,
        key: &str,
        parts: &str,
        now: UnixSeconds,
    ) -> Result<(), JournalError> {
        self.tx.execute(
            "INSERT INTO node_parts (episode, node, key, parts, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (episode, node) DO UPDATE SET key = excluded.key, parts = excluded.parts,
             recorded_at = excluded.recorded_at",
            params![episode, node, key, parts, now],
        )?;
        Ok(())
    }

    fn parts(&mut self, episode: &str, node: &str) -> Result<Option<(String, String)>, JournalError> {
        if !self.has_table("node_parts")? {
            return Ok(None);
        }
        Ok(self
            .tx
            .query_row(
                "SELECT key, parts FROM node_parts WHERE episode = ?1 AND node = ?2",
                params![episode, node],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?)
    }

    fn render_seconds(&mut self, key: &str) -> Result<Option<i64>, JournalError> {
        Ok(self
            .tx
            .query_row(
                "SELECT completed_at - claimed_at FROM renders WHERE key = ?1 AND state = 'completed'",
                params![key],
                |row| row.get(0),
            )
            .optional()?)
    }

    fn ever_uploaded(&mut self, sha256: &str) -> Result<bool, JournalError> {
        Ok(self
            .tx
            .query_row("SELECT 1 FROM uploads WHERE sha256 = ?1", params![sha256], |_| Ok(true))
            .optional()?
            .unwrap_or(false))
    }
}

/// A path as the path of a `file:` URI: the characters a URI gives a meaning to, escaped.
fn uri_path(path: &Path) -> String {
    let mut text = String::new();
    for c in path.display().to_string().chars() {
        match c {
            '%' | '?' | '#' | ' ' => text.push_str(&format!("%{:02X}", c as u32)),
            c => text.push(c),
        }
    }
    text
}

/// Spreads retry pauses so that processes which collided once do not collide again in step. Not
/// random in any strong sense (no dependency for it): seeded from the clock, the process and the
/// thread, stepped with xorshift.
pub(crate) struct Jitter(u64);

impl Jitter {
    pub(crate) fn new() -> Jitter {
        use std::hash::BuildHasher;
        let seed = std::collections::hash_map::RandomState::new().hash_one((
            std::process::id(),
            std::thread::current().id(),
            Instant::now(),
        ));
        Jitter(seed | 1)
    }

    /// A duration between half and one and a half times `pause`.
    pub(crate) fn around(&mut self, pause: Duration) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        let fraction = (self.0 % 1024) as f64 / 1024.0;
        pause.mul_f64(0.5 + fraction)
    }
}

/// Classifies an error met while opening, so the user reads what to do about it.
fn open_error(path: &Path, error: rusqlite::Error) -> JournalError {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uri_path_escapes_what_a_uri_gives_a_meaning_to() {
        assert!(uri_path(Path::new("/a b/c%d?#")).ends_with("/a%20b/c%25d%3F%23"));
    }
}
