//! The PostgreSQL backend: one database shared by every machine given the same `--journal` URL.
//!
//! Locking: every writing transaction is `READ COMMITTED` (a reading one is `REPEATABLE READ`,
//! so what it reads is one snapshot, as on SQLite); a decision reads the render's row with
//! `SELECT ... FOR UPDATE`, so a second machine's claim of the same key waits for the first to
//! commit and then reads what it decided. A new key is inserted with `ON CONFLICT DO NOTHING`; the
//! loser of that race locks and reads the winner's row. Budget reservations lock the session's
//! run row (`FOR NO KEY UPDATE`, which does not block claims' foreign-key checks). A lock is waited
//! for at most [`BUSY_TIMEOUT`] (`lock_timeout`). Every commit is flushed before it returns
//! (`synchronous_commit` as the server has it; its default, `on`, is what a journal needs).
//!
//! Liveness across machines: a run's host and pid are recorded with each claim, but a pid is only
//! checked on its own host; elsewhere the heartbeat decides (`liveness.rs`).
//!
//! The `postgres` client drives its connection on a runtime of its own, which must not be
//! started or dropped on a thread inside the engine's runtime: calls made there run on a scoped
//! thread (a round trip to the database costs more than starting one).
//!
//! Credentials come only from the URL (or the server's usual `PG*` variables and `.pgpass`, which
//! the client does not read: put them in the URL). The password is never shown: messages name the
//! database as `postgres://user@host:port/database`.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Client, Config, IsolationLevel, NoTls, Row, Transaction};

use super::backend::{Backend, RenderFilter, StoredSpeechCompletion, StoredWebhook, Tx, TxMode};
use super::error::JournalError;
use super::liveness::RunFacts;
use super::needs::{EpisodeNeeds, EpisodeRow, Need, Origin};
use super::record::{
    ArtifactRecord, Owner, Process, RenderRecord, RunId, RunRecord, UnixSeconds, UploadRecord,
};
use super::runs::decode_run;
use super::speech::{RawSpeech, SPEECH_COLUMNS, SpeechRecord};
use super::store::{BUSY_TIMEOUT, RENDER_COLUMNS, RawRender, to_u64};
use super::webhooks::WebhookResult;

/// One numbered schema change of the PostgreSQL journal.
struct Migration {
    /// 1-based; the `episodic_schema` version after it is applied.
    version: u32,
    /// The SQL, run as one batch.
    sql: &'static str,
}

/// Every PostgreSQL migration, oldest first. Append only.
const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, sql: include_str!("postgres_migrations/0001_initial.sql") },
    Migration { version: 2, sql: include_str!("postgres_migrations/0002_episodes_speech_parts.sql") },
];

/// The PostgreSQL schema version this build creates and understands.
pub const POSTGRES_SCHEMA_VERSION: u32 = 2;

/// Serialises migrations of one database across machines (`pg_advisory_xact_lock`); any
/// constant works as long as nothing else in the database uses it.
const MIGRATION_LOCK: i64 = 0x6570_6973_6f64; // "episod"

/// How many times a transaction the server rolled back (serialization failure, deadlock) is run.
const ATTEMPTS: usize = 5;

/// A journal in a PostgreSQL database.
pub(crate) struct PostgresBackend {
    config: Config,
    /// `postgres://user@host:port/database`: the URL without its password.
    describe: String,
    /// `None` after the connection was lost; the next transaction reconnects.
    client: Mutex<Option<Client>>,
}

impl std::fmt::Debug for PostgresBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not `config`: its Debug prints the password.
        f.debug_struct("PostgresBackend").field("database", &self.describe).finish_non_exhaustive()
    }
}

impl PostgresBackend {
    /// Connects to the database at `url` and brings its schema up to date.
    pub(crate) fn connect(url: &str) -> Result<PostgresBackend, JournalError> {
        let mut config = Config::from_str(url).map_err(|error| JournalError::PostgresUrl {
            // The parser's message names the option, never its value.
            reason: error.to_string(),
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(BUSY_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("episodic");
        }
        let describe = describe(&config);
        let backend = PostgresBackend { config, describe, client: Mutex::new(None) };
        backend.transaction_once(TxMode::Write, &mut |_| Ok(()), true)?;
        Ok(backend)
    }

    fn lock(&self) -> MutexGuard<'_, Option<Client>> {
        self.client.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn error(&self, source: postgres::Error) -> JournalError {
        match source.code() {
            Some(code) if *code == SqlState::LOCK_NOT_AVAILABLE => {
                JournalError::Locked { waited_secs: BUSY_TIMEOUT.as_secs() }
            }
            _ => JournalError::Postgres { database: self.describe.clone(), source },
        }
    }

    /// One attempt: connects if needed (migrating when `migrate`, or on a first connection), runs
    /// `body` in a transaction and commits.
    fn transaction_once(
        &self,
        mode: TxMode,
        body: &mut (dyn FnMut(&mut dyn Tx) -> Result<(), JournalError> + Send),
        migrate: bool,
    ) -> Result<(), JournalError> {
        outside_runtime(|| {
            let mut guard = self.lock();
            if guard.as_ref().is_none_or(Client::is_closed) {
                let mut client = self.config.connect(NoTls).map_err(|e| self.error(e))?;
                let timeout = BUSY_TIMEOUT.as_millis();
                client
                    .batch_execute(&format!("SET lock_timeout = {timeout}; SET synchronous_commit = on"))
                    .map_err(|e| self.error(e))?;
                self.migrate(&mut client)?;
                // Replacing a closed client drops its runtime here, outside the engine's.
                *guard = Some(client);
            } else if migrate {
                let client = guard.as_mut().ok_or_else(lost)?;
                self.migrate(client)?;
            }
            let client = guard.as_mut().ok_or_else(lost)?;
            let tx = client
                .build_transaction()
                .isolation_level(if mode == TxMode::Read {
                    IsolationLevel::RepeatableRead
                } else {
                    IsolationLevel::ReadCommitted
                })
                .read_only(mode == TxMode::Read)
                .start()
                .map_err(|e| self.error(e))?;
            let mut pg = PgTx { tx, backend: self };
            body(&mut pg)?;
            pg.tx.commit().map_err(|e| self.error(e))
        })
    }

    /// Applies the migrations this database lacks, one machine at a time.
    fn migrate(&self, client: &mut Client) -> Result<(), JournalError> {
        let mut tx = client.transaction().map_err(|e| self.error(e))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).map_err(|e| self.error(e))?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS episodic_schema (version INTEGER NOT NULL)")
            .map_err(|e| self.error(e))?;
        let current: i32 = tx
            .query_opt("SELECT max(version) FROM episodic_schema", &[])
            .map_err(|e| self.error(e))?
            .and_then(|row| row.get::<_, Option<i32>>(0))
            .unwrap_or(0);
        let current = u32::try_from(current).unwrap_or(0);
        if current > POSTGRES_SCHEMA_VERSION {
            return Err(JournalError::TooNew {
                path: PathBuf::from(&self.describe),
                found: current,
                known: POSTGRES_SCHEMA_VERSION,
            });
        }
        if current == POSTGRES_SCHEMA_VERSION {
            return Ok(());
        }
        for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
            tx.batch_execute(migration.sql).map_err(|e| self.error(e))?;
        }
        let version = i32::try_from(POSTGRES_SCHEMA_VERSION).unwrap_or(i32::MAX);
        tx.execute("DELETE FROM episodic_schema", &[]).map_err(|e| self.error(e))?;
        tx.execute("INSERT INTO episodic_schema (version) VALUES ($1)", &[&version])
            .map_err(|e| self.error(e))?;
        tx.commit().map_err(|e| self.error(e))
    }
}

impl Drop for PostgresBackend {
    fn drop(&mut self) {
        let client = self.client.get_mut().unwrap_or_else(PoisonError::into_inner).take();
        // The client's runtime must not be dropped inside the engine's.
        outside_runtime(move || drop(client));
    }
}

impl Backend for PostgresBackend {
    fn describe(&self) -> String {
        self.describe.clone()
    }

    fn schema_version(&self) -> Result<u32, JournalError> {
        let mut version = 0;
        self.transaction(TxMode::Read, &mut |tx| {
            version = tx.schema_version()?;
            Ok(())
        })?;
        Ok(version)
    }

    fn transaction(
        &self,
        mode: TxMode,
        body: &mut (dyn FnMut(&mut dyn Tx) -> Result<(), JournalError> + Send),
    ) -> Result<(), JournalError> {
        let mut attempt = 1;
        loop {
            match self.transaction_once(mode, body, false) {
                Err(JournalError::Postgres { source, .. })
                    if attempt < ATTEMPTS
                        && source.code().is_some_and(|code| {
                            *code == SqlState::T_R_SERIALIZATION_FAILURE
                                || *code == SqlState::T_R_DEADLOCK_DETECTED
                        }) =>
                {
                    // The server rolled it back: nothing of it was kept, so it is safe to run again.
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(5 * attempt as u64));
                }
                result => {
                    if let Err(JournalError::Postgres { .. }) = &result {
                        // A broken connection is replaced on the next call.
                        let mut guard = self.lock();
                        if guard.as_ref().is_some_and(Client::is_closed) {
                            let closed = guard.take();
                            outside_runtime(move || drop(closed));
                        }
                    }
                    return result;
                }
            }
        }
    }
}

/// Runs `f` where the `postgres` client may block: on this thread when it is outside any tokio
/// runtime, else on a scoped thread.
fn outside_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    std::thread::scope(|scope| match scope.spawn(f).join() {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

fn lost() -> JournalError {
    JournalError::InvalidRow { what: "journal connection".to_owned(), reason: "lost".to_owned() }
}

/// `postgres://user@host:port/database`, from what the URL said, without the password.
fn describe(config: &Config) -> String {
    let user = config.get_user().map(|user| format!("{user}@")).unwrap_or_default();
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(host)) => host.clone(),
        #[cfg(unix)]
        Some(postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = config.get_ports().first().map(|port| format!(":{port}")).unwrap_or_default();
    let database = config.get_dbname().unwrap_or("");
    format!("postgres://{user}{host}{port}/{database}")
}

/// One PostgreSQL transaction.
struct PgTx<'c> {
    tx: Transaction<'c>,
    backend: &'c PostgresBackend,
}

impl PgTx<'_> {
    fn execute(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, JournalError> {
        self.tx.execute(sql, params).map_err(|e| self.backend.error(e))
    }

    fn query_opt(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>, JournalError> {
        self.tx.query_opt(sql, params).map_err(|e| self.backend.error(e))
    }

    fn query(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, JournalError> {
        self.tx.query(sql, params).map_err(|e| self.backend.error(e))
    }

    fn sum(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<i64, JournalError> {
        let row = self.query_opt(sql, params)?;
        // sum() over BIGINT is NUMERIC in PostgreSQL: the queries cast it back.
        Ok(row.and_then(|row| row.get::<_, Option<i64>>(0)).unwrap_or(0))
    }

    fn decode(&self, row: &Row) -> Result<RenderRecord, JournalError> {
        let raw = (|| -> Result<RawRender, postgres::Error> {
            Ok(RawRender {
                key: row.try_get(0)?,
                endpoint: row.try_get(1)?,
                args: row.try_get(2)?,
                state: row.try_get(3)?,
                attempts: row.try_get(4)?,
                owner_run: row.try_get(5)?,
                owner_pid: row.try_get(6)?,
                owner_host: row.try_get(7)?,
                claimed_at: row.try_get(8)?,
                request_id: row.try_get(9)?,
                submitted_at: row.try_get(10)?,
                result: row.try_get(11)?,
                billed_seconds: row.try_get(12)?,
                cost_micros: row.try_get(13)?,
                completed_at: row.try_get(14)?,
                completed_by_run: row.try_get(15)?,
                error: row.try_get(16)?,
                failed_at: row.try_get(17)?,
                updated_at: row.try_get(18)?,
            })
        })()
        .map_err(|e| self.backend.error(e))?;
        raw.decode()
    }

    fn decode_speech(&self, row: &Row) -> Result<SpeechRecord, JournalError> {
        let raw = (|| -> Result<RawSpeech, postgres::Error> {
            Ok(RawSpeech {
                key: row.try_get(0)?,
                voice_id: row.try_get(1)?,
                model_id: row.try_get(2)?,
                request: row.try_get(3)?,
                state: row.try_get(4)?,
                attempts: row.try_get(5)?,
                owner_run: row.try_get(6)?,
                owner_pid: row.try_get(7)?,
                owner_host: row.try_get(8)?,
                claimed_at: row.try_get(9)?,
                history_item_id: row.try_get(10)?,
                characters: row.try_get(11)?,
                credits: row.try_get(12)?,
                cost_micros: row.try_get(13)?,
                aligned: row.try_get(14)?,
                completed_by_run: row.try_get(15)?,
                error: row.try_get(16)?,
            })
        })()
        .map_err(|e| self.backend.error(e))?;
        raw.decode()
    }
}

impl Tx for PgTx<'_> {
    fn schema_version(&mut self) -> Result<u32, JournalError> {
        let version: Option<i32> =
            self.query_opt("SELECT max(version) FROM episodic_schema", &[])?.and_then(|row| row.get(0));
        Ok(version.and_then(|v| u32::try_from(v).ok()).unwrap_or(0))
    }

    fn render(&mut self, key: &str, lock: bool) -> Result<Option<RenderRecord>, JournalError> {
        let lock = if lock { " FOR UPDATE" } else { "" };
        let row =
            self.query_opt(&format!("SELECT {RENDER_COLUMNS} FROM renders WHERE key = $1{lock}"), &[&key])?;
        row.map(|row| self.decode(&row)).transpose()
    }

    fn renders(&mut self, filter: RenderFilter) -> Result<Vec<RenderRecord>, JournalError> {
        let filter = match filter {
            RenderFilter::InFlight => "state = 'submitted' ORDER BY submitted_at, key",
            RenderFilter::Unfinished => "state IN ('submitting', 'submitted') ORDER BY claimed_at, key",
        };
        let rows = self.query(&format!("SELECT {RENDER_COLUMNS} FROM renders WHERE {filter}"), &[])?;
        rows.iter().map(|row| self.decode(row)).collect()
    }

    fn insert_claim(
        &mut self,
        key: &str,
        endpoint: &str,
        args: &str,
        owner: &Owner,
        now: UnixSeconds,
    ) -> Result<bool, JournalError> {
        let inserted = self.execute(
            "INSERT INTO renders (key, endpoint, args, state, owner_run, owner_pid, owner_host,
                                  claimed_at, updated_at)
             VALUES ($1, $2, $3, 'submitting', $4, $5, $6, $7, $7) ON CONFLICT (key) DO NOTHING",
            &[&key, &endpoint, &args, &owner.run_id.0, &i64::from(owner.pid), &owner.host, &now],
        )?;
        Ok(inserted == 1)
    }

    fn set_owner(&mut self, key: &str, owner: &Owner, now: UnixSeconds) -> Result<(), JournalError> {
        self.execute(
            "UPDATE renders SET owner_run = $2, owner_pid = $3, owner_host = $4, updated_at = $5 WHERE key = $1",
            &[&key, &owner.run_id.0, &i64::from(owner.pid), &owner.host, &now],
        )?;
        Ok(())
    }

    fn reclaim(&mut self, key: &str, owner: &Owner, now: UnixSeconds) -> Result<(), JournalError> {
        self.execute(
            "UPDATE renders SET state = 'submitting', attempts = attempts + 1,
                                owner_run = $2, owner_pid = $3, owner_host = $4, claimed_at = $5,
                                request_id = NULL, submitted_at = NULL, error = NULL, failed_at = NULL,
                                reserved_micros = NULL, updated_at = $5
             WHERE key = $1",
            &[&key, &owner.run_id.0, &i64::from(owner.pid), &owner.host, &now],
        )?;
        Ok(())
    }

    fn set_submitted(&mut self, key: &str, request_id: &str, now: UnixSeconds) -> Result<(), JournalError> {
        self.execute(
            "UPDATE renders SET state = 'submitted', request_id = $2, submitted_at = $3, updated_at = $3
             WHERE key = $1",
            &[&key, &request_id, &now],
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
        self.execute(
            "UPDATE renders SET state = 'completed', result = $2, billed_seconds = $3,
                                cost_micros = $4, completed_at = $5, completed_by_run = $6,
                                reserved_micros = NULL, updated_at = $5
             WHERE key = $1",
            &[&key, &result, &billed_seconds, &cost_micros, &now, &run.0],
        )?;
        Ok(())
    }

    fn set_failed(&mut self, key: &str, error: &str, now: UnixSeconds) -> Result<(), JournalError> {
        self.execute(
            "UPDATE renders SET state = 'failed', error = $2, failed_at = $3, reserved_micros = NULL,
                                updated_at = $3
             WHERE key = $1",
            &[&key, &error, &now],
        )?;
        Ok(())
    }

    fn delete_render(&mut self, key: &str) -> Result<(), JournalError> {
        self.execute("DELETE FROM renders WHERE key = $1", &[&key])?;
        Ok(())
    }

    fn run_facts(&mut self, run: RunId) -> Result<Option<RunFacts>, JournalError> {
        let row = self
            .query_opt("SELECT finished_at IS NOT NULL, heartbeat_at FROM runs WHERE id = $1", &[&run.0])?;
        Ok(row.map(|row| RunFacts { finished: row.get(0), heartbeat_at: row.get(1) }))
    }

    fn insert_run(
        &mut self,
        process: &Process,
        manifests_json: &str,
        batch: Option<&str>,
        now: UnixSeconds,
    ) -> Result<RunId, JournalError> {
        let row = self
            .query_opt(
                "INSERT INTO runs (started_at, pid, host, manifests, heartbeat_at, batch)
                 VALUES ($1, $2, $3, $4, $1, $5) RETURNING id",
                &[&now, &i64::from(process.pid), &process.host, &manifests_json, &batch],
            )?
            .ok_or_else(lost)?;
        Ok(RunId(row.get(0)))
    }

    fn heartbeat(&mut self, run: RunId, now: UnixSeconds) -> Result<(), JournalError> {
        self.execute(
            "UPDATE runs SET heartbeat_at = greatest(heartbeat_at, $2) WHERE id = $1",
            &[&run.0, &now],
        )?;
        Ok(())
    }

    fn finish_run(&mut self, run: RunId, outcome: &str, now: UnixSeconds) -> Result<bool, JournalError> {
        let changed = self.execute(
            "UPDATE runs SET finished_at = $2, outcome = $3 WHERE id = $1 AND finished_at IS NULL",
            &[&run.0, &now, &outcome],
        )?;
        Ok(changed == 1)
    }

    fn run(&mut self, run: RunId) -> Result<Option<RunRecord>, JournalError> {
        let row = self.query_opt(
            "SELECT id, started_at, finished_at, pid, host, manifests, outcome, heartbeat_at FROM runs WHERE id = $1",
            &[&run.0],
        )?;
        row.map(|row| {
            let manifests: String = row.get(5);
            decode_run(
                row.get(0),
                row.get(1),
                row.get(2),
                row.get(3),
                row.get(4),
                &manifests,
                row.get(6),
                row.get(7),
            )
        })
        .transpose()
    }

    fn spent_by_run(&mut self, run: RunId) -> Result<i64, JournalError> {
        self.sum(
            "SELECT (coalesce((SELECT sum(cost_micros) FROM renders WHERE completed_by_run = $1), 0)
                   + coalesce((SELECT sum(cost_micros) FROM speeches WHERE completed_by_run = $1), 0))::BIGINT",
            &[&run.0],
        )
    }

    fn spent_since(&mut self, since: UnixSeconds) -> Result<i64, JournalError> {
        self.sum(
            "SELECT (coalesce((SELECT sum(cost_micros) FROM renders
                               WHERE state = 'completed' AND completed_at >= $1), 0)
                   + coalesce((SELECT sum(cost_micros) FROM speeches
                               WHERE state = 'completed' AND completed_at >= $1), 0))::BIGINT",
            &[&since],
        )
    }

    fn session_of(&mut self, run: RunId) -> Result<Option<RunId>, JournalError> {
        let row = self.query_opt("SELECT coalesce(session, id) FROM runs WHERE id = $1", &[&run.0])?;
        Ok(row.map(|row| RunId(row.get(0))))
    }

    fn set_session(&mut self, run: RunId, session: RunId) -> Result<(), JournalError> {
        self.execute("UPDATE runs SET session = $2 WHERE id = $1", &[&run.0, &session.0])?;
        Ok(())
    }

    fn open_runs_of_batch(
        &mut self,
        batch: &str,
        except: RunId,
    ) -> Result<Vec<(Owner, RunId, RunFacts)>, JournalError> {
        let rows = self.query(
            "SELECT id, pid, host, coalesce(session, id), heartbeat_at FROM runs
             WHERE batch = $1 AND finished_at IS NULL AND id <> $2 ORDER BY id",
            &[&batch, &except.0],
        )?;
        rows.iter()
            .map(|row| {
                let pid: i64 = row.get(1);
                let pid = u32::try_from(pid).map_err(|_| JournalError::InvalidRow {
                    what: format!("run {}", row.get::<_, i64>(0)),
                    reason: format!("pid {pid}"),
                })?;
                Ok((
                    Owner { run_id: RunId(row.get(0)), pid, host: row.get(2) },
                    RunId(row.get(3)),
                    RunFacts { finished: false, heartbeat_at: row.get(4) },
                ))
            })
            .collect()
    }

    fn lock_session(&mut self, session: RunId) -> Result<(), JournalError> {
        self.query_opt("SELECT id FROM runs WHERE id = $1 FOR NO KEY UPDATE", &[&session.0])?;
        Ok(())
    }

    fn session_committed(&mut self, session: RunId, except_key: &str) -> Result<i64, JournalError> {
        self.sum(
            "SELECT (
                 coalesce((SELECT sum(r.cost_micros) FROM renders r JOIN runs u ON u.id = r.completed_by_run
                           WHERE r.state = 'completed' AND coalesce(u.session, u.id) = $1), 0)
               + coalesce((SELECT sum(r.reserved_micros) FROM renders r JOIN runs u ON u.id = r.owner_run
                           WHERE r.state IN ('submitting', 'submitted') AND r.key <> $2
                             AND coalesce(u.session, u.id) = $1), 0)
               + coalesce((SELECT sum(s.cost_micros) FROM speeches s JOIN runs u ON u.id = s.completed_by_run
                           WHERE s.state = 'completed' AND coalesce(u.session, u.id) = $1), 0)
               + coalesce((SELECT sum(s.reserved_micros) FROM speeches s JOIN runs u ON u.id = s.owner_run
                           WHERE s.state IN ('voicing', 'answered') AND s.key <> $2
                             AND coalesce(u.session, u.id) = $1), 0))::BIGINT",
            &[&session.0, &except_key],
        )
    }

    fn set_reserved(&mut self, key: &str, micros: i64) -> Result<(), JournalError> {
        self.execute("UPDATE renders SET reserved_micros = $2 WHERE key = $1", &[&key, &micros])?;
        Ok(())
    }

    fn insert_breaker_trip(
        &mut self,
        run: RunId,
        reason: &str,
        now: UnixSeconds,
    ) -> Result<(), JournalError> {
        self.execute(
            "INSERT INTO spend_breaker (tripped_at, run, reason) VALUES ($1, $2, $3)",
            &[&now, &run.0, &reason],
        )?;
        Ok(())
    }

    fn breaker_trip_since(
        &mut self,
        since: UnixSeconds,
    ) -> Result<Option<(UnixSeconds, RunId)>, JournalError> {
        let row = self.query_opt(
            "SELECT tripped_at, run FROM spend_breaker WHERE tripped_at >= $1
             ORDER BY tripped_at DESC, id DESC LIMIT 1",
            &[&since],
        )?;
        Ok(row.map(|row| (row.get(0), RunId(row.get(1)))))
    }

    fn upload(
        &mut self,
        sha256: &str,
        valid_after: UnixSeconds,
    ) -> Result<Option<UploadRecord>, JournalError> {
        let row = self.query_opt(
            "SELECT sha256, url, content_type, size, uploaded_at, expires_at FROM uploads
             WHERE sha256 = $1 AND (expires_at IS NULL OR expires_at > $2)",
            &[&sha256, &valid_after],
        )?;
        row.map(|row| {
            let sha256: String = row.get(0);
            Ok(UploadRecord {
                size: to_u64(&sha256, row.get(3))?,
                url: row.get(1),
                content_type: row.get(2),
                uploaded_at: row.get(4),
                expires_at: row.get(5),
                sha256,
            })
        })
        .transpose()
    }

    fn put_upload(&mut self, upload: &UploadRecord, size: i64) -> Result<(), JournalError> {
        self.execute(
            "INSERT INTO uploads (sha256, url, content_type, size, uploaded_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (sha256) DO UPDATE SET url = excluded.url,
                 content_type = excluded.content_type, size = excluded.size,
                 uploaded_at = excluded.uploaded_at, expires_at = excluded.expires_at",
            &[
                &upload.sha256,
                &upload.url,
                &upload.content_type,
                &size,
                &upload.uploaded_at,
                &upload.expires_at,
            ],
        )?;
        Ok(())
    }

    fn artifact(&mut self, key: &str) -> Result<Option<ArtifactRecord>, JournalError> {
        let row = self
            .query_opt("SELECT key, path, sha256, size, created_at FROM artifacts WHERE key = $1", &[&key])?;
        row.map(|row| {
            let key: String = row.get(0);
            let path: String = row.get(1);
            Ok(ArtifactRecord {
                size: to_u64(&key, row.get(3))?,
                path: PathBuf::from(path),
                sha256: row.get(2),
                created_at: row.get(4),
                key,
            })
        })
        .transpose()
    }

    fn put_artifact(&mut self, artifact: &ArtifactRecord, path: &str, size: i64) -> Result<(), JournalError> {
        self.execute(
            "INSERT INTO artifacts (key, path, sha256, size, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (key) DO UPDATE SET path = excluded.path, sha256 = excluded.sha256,
                 size = excluded.size, created_at = excluded.created_at",
            &[&artifact.key, &path, &artifact.sha256, &size, &artifact.created_at],
        )?;
        Ok(())
    }

    fn insert_webhook(&mut self, result: &WebhookResult, payload: &str) -> Result<bool, JournalError> {
        let inserted = self.execute(
            "INSERT INTO webhook_results (request_id, ok, payload, error, received_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (request_id) DO NOTHING",
            &[&result.request_id, &result.ok, &payload, &result.error, &result.received_at],
        )?;
        Ok(inserted == 1)
    }

    fn webhook(&mut self, request_id: &str) -> Result<Option<StoredWebhook>, JournalError> {
        let row = self.query_opt(
            "SELECT ok, payload, error, received_at FROM webhook_results WHERE request_id = $1",
            &[&request_id],
        )?;
        Ok(row.map(|row| (row.get(0), row.get(1), row.get(2), row.get(3))))
    }

    fn speech(&mut self, key: &str, lock: bool) -> Result<Option<SpeechRecord>, JournalError> {
        let lock = if lock { " FOR UPDATE" } else { "" };
        let row =
            self.query_opt(&format!("SELECT {SPEECH_COLUMNS} FROM speeches WHERE key = $1{lock}"), &[&key])?;
        row.map(|row| self.decode_speech(&row)).transpose()
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
        let inserted = self.execute(
            "INSERT INTO speeches (key, voice_id, model_id, request, state, owner_run, owner_pid,
                                   owner_host, claimed_at, updated_at)
             VALUES ($1, $2, $3, $4, 'voicing', $5, $6, $7, $8, $8) ON CONFLICT (key) DO NOTHING",
            &[
                &key,
                &voice_id,
                &model_id,
                &request,
                &owner.run_id.0,
                &i64::from(owner.pid),
                &owner.host,
                &now,
            ],
        )?;
        Ok(inserted == 1)
    }

    fn set_speech_owner(&mut self, key: &str, owner: &Owner, now: UnixSeconds) -> Result<(), JournalError> {
        self.execute(
            "UPDATE speeches SET owner_run = $2, owner_pid = $3, owner_host = $4, updated_at = $5
             WHERE key = $1",
            &[&key, &owner.run_id.0, &i64::from(owner.pid), &owner.host, &now],
        )?;
        Ok(())
    }

    fn reclaim_speech(&mut self, key: &str, owner: &Owner, now: UnixSeconds) -> Result<(), JournalError> {
        self.execute(
            "UPDATE speeches SET state = 'voicing', attempts = attempts + 1, owner_run = $2, owner_pid = $3,
                                 owner_host = $4, claimed_at = $5, history_item_id = NULL, request_id = NULL,
                                 answered_at = NULL, error = NULL, failed_at = NULL, reserved_micros = NULL,
                                 updated_at = $5
             WHERE key = $1",
            &[&key, &owner.run_id.0, &i64::from(owner.pid), &owner.host, &now],
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
        self.execute(
            "UPDATE speeches SET state = 'answered', history_item_id = $2, request_id = $3,
                                 answered_at = $4, owner_run = $5, owner_pid = $6,
                                 owner_host = $7, updated_at = $4
             WHERE key = $1",
            &[&key, &history_item_id, &request_id, &now, &owner.run_id.0, &i64::from(owner.pid), &owner.host],
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
        self.execute(
            "UPDATE speeches SET state = 'completed', characters = $2, credits = $3,
                                 cost_micros = $4, aligned = $5, completed_at = $6,
                                 completed_by_run = $7, reserved_micros = NULL, updated_at = $6
             WHERE key = $1",
            &[
                &key,
                &completion.characters,
                &completion.credits,
                &completion.cost_micros,
                &completion.aligned,
                &now,
                &run.0,
            ],
        )?;
        Ok(())
    }

    fn set_speech_failed(&mut self, key: &str, error: &str, now: UnixSeconds) -> Result<(), JournalError> {
        self.execute(
            "UPDATE speeches SET state = 'failed', error = $2, failed_at = $3, reserved_micros = NULL,
                                 updated_at = $3
             WHERE key = $1",
            &[&key, &error, &now],
        )?;
        Ok(())
    }

    fn delete_speech(&mut self, key: &str) -> Result<(), JournalError> {
        self.execute("DELETE FROM speeches WHERE key = $1", &[&key])?;
        Ok(())
    }

    fn history_item_taken(&mut self, history_item_id: &str, key: &str) -> Result<bool, JournalError> {
        let row = self.query_opt(
            "SELECT 1 FROM speeches WHERE history_item_id = $1 AND key <> $2 LIMIT 1",
            &[&history_item_id, &key],
        )?;
        Ok(row.is_some())
    }

    fn set_speech_reserved(&mut self, key: &str, micros: i64) -> Result<(), JournalError> {
        self.execute("UPDATE speeches SET reserved_micros = $2 WHERE key = $1", &[&key, &micros])?;
        Ok(())
    }

    fn replace_needs(
        &mut self,
        needs: &EpisodeNeeds,
        run: RunId,
        now: UnixSeconds,
    ) -> Result<(), JournalError> {
        self.execute("DELETE FROM episodes WHERE output = $1", &[&needs.output])?;
        self.execute(
            "INSERT INTO episodes (output, episode, manifest, run_id, planned_at) VALUES ($1, $2, $3, $4, $5)",
            &[&needs.output, &needs.episode, &needs.manifest, &run.0, &now],
        )?;
        for needed in &needs.nodes {
            self.execute(
                "INSERT INTO episode_nodes (output, node_id, key) VALUES ($1, $2, $3)
                 ON CONFLICT (output, node_id) DO UPDATE SET key = excluded.key",
                &[&needs.output, &needed.id, &needed.key],
            )?;
            self.execute(
                "INSERT INTO node_origins (key, kind, render, sha256) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (key) DO NOTHING",
                &[&needed.key, &needed.kind, &needed.render_key, &needed.sha256],
            )?;
        }
        Ok(())
    }

    fn lock_needs(&mut self) -> Result<(), JournalError> {
        // EXCLUSIVE conflicts with the ROW EXCLUSIVE lock every write to `episodes` takes, and
        // lets plain reads through.
        self.execute("LOCK TABLE episodes IN EXCLUSIVE MODE", &[])?;
        Ok(())
    }

    fn all_artifacts(&mut self) -> Result<Vec<ArtifactRecord>, JournalError> {
        let rows = self.query(
            "SELECT key, path, sha256, size, created_at FROM artifacts ORDER BY created_at, key",
            &[],
        )?;
        rows.iter()
            .map(|row| {
                let key: String = row.get(0);
                let path: String = row.get(1);
                Ok(ArtifactRecord {
                    size: to_u64(&key, row.get(3))?,
                    path: PathBuf::from(path),
                    sha256: row.get(2),
                    created_at: row.get(4),
                    key,
                })
            })
            .collect()
    }

    fn all_uploads(&mut self) -> Result<Vec<UploadRecord>, JournalError> {
        let rows = self.query(
            "SELECT sha256, url, content_type, size, uploaded_at, expires_at FROM uploads
             ORDER BY uploaded_at, sha256",
            &[],
        )?;
        rows.iter()
            .map(|row| {
                let sha256: String = row.get(0);
                Ok(UploadRecord {
                    size: to_u64(&sha256, row.get(3))?,
                    url: row.get(1),
                    content_type: row.get(2),
                    uploaded_at: row.get(4),
                    expires_at: row.get(5),
                    sha256,
                })
            })
            .collect()
    }

    fn episodes(&mut self) -> Result<Vec<EpisodeRow>, JournalError> {
        let rows = self.query(
            "SELECT output, episode, manifest, planned_at FROM episodes ORDER BY planned_at, output",
            &[],
        )?;
        Ok(rows
            .iter()
            .map(|row| EpisodeRow {
                output: row.get(0),
                episode: row.get(1),
                manifest: row.get(2),
                planned_at: row.get(3),
            })
            .collect())
    }

    fn needs(&mut self) -> Result<Vec<(String, Need)>, JournalError> {
        let rows = self.query(
            "SELECT n.key, e.episode, e.output, n.node_id FROM episode_nodes n
             JOIN episodes e ON e.output = n.output
             ORDER BY e.planned_at, e.output, n.node_id",
            &[],
        )?;
        Ok(rows
            .iter()
            .map(|row| (row.get(0), Need { episode: row.get(1), output: row.get(2), node: row.get(3) }))
            .collect())
    }

    fn origins(&mut self) -> Result<Vec<(String, Origin)>, JournalError> {
        let rows = self.query("SELECT key, kind, render, sha256 FROM node_origins", &[])?;
        Ok(rows
            .iter()
            .map(|row| (row.get(0), Origin { kind: row.get(1), render_key: row.get(2), sha256: row.get(3) }))
            .collect())
    }

    fn payments(&mut self) -> Result<Vec<(String, i64, UnixSeconds)>, JournalError> {
        let rows =
            self.query("SELECT key, cost_micros, completed_at FROM renders WHERE state = 'completed'", &[])?;
        Ok(rows.iter().map(|row| (row.get(0), row.get(1), row.get(2))).collect())
    }

    fn delete_artifact_at(&mut self, key: &str, path: &str) -> Result<bool, JournalError> {
        let removed = self.execute("DELETE FROM artifacts WHERE key = $1 AND path = $2", &[&key, &path])?;
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
        self.execute(
            "INSERT INTO node_parts (episode, node, key, parts, recorded_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (episode, node) DO UPDATE SET key = excluded.key, parts = excluded.parts,
             recorded_at = excluded.recorded_at",
            &[&episode, &node, &key, &parts, &now],
        )?;
        Ok(())
    }

    fn parts(&mut self, episode: &str, node: &str) -> Result<Option<(String, String)>, JournalError> {
        // Every PostgreSQL journal is migrated on connecting, so the table is always there.
        let row = self.query_opt(
            "SELECT key, parts FROM node_parts WHERE episode = $1 AND node = $2",
            &[&episode, &node],
        )?;
        Ok(row.map(|row| (row.get(0), row.get(1))))
    }

    fn render_seconds(&mut self, key: &str) -> Result<Option<i64>, JournalError> {
        let row = self.query_opt(
            "SELECT completed_at - claimed_at FROM renders WHERE key = $1 AND state = 'completed'",
            &[&key],
        )?;
        Ok(row.map(|row| row.get(0)))
    }

    fn ever_uploaded(&mut self, sha256: &str) -> Result<bool, JournalError> {
        Ok(self.query_opt("SELECT 1 FROM uploads WHERE sha256 = $1", &[&sha256])?.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_description_never_holds_the_password() {
        let config =
            Config::from_str("postgres://ep:s3cr3t-pw@db.example:6543/journal?sslmode=disable").unwrap();
        assert_eq!(describe(&config), "postgres://ep@db.example:6543/journal");
        let backend = PostgresBackend { config, describe: "d".into(), client: Mutex::new(None) };
        assert!(!format!("{backend:?}").contains("s3cr3t"));
    }

    #[test]
    fn a_bad_url_is_refused_without_echoing_it() {
        let error =
            PostgresBackend::connect("postgres://ep:s3cr3t-pw@db.example:notaport/journal").unwrap_err();
        assert!(matches!(error, JournalError::PostgresUrl { .. }), "{error:?}");
        assert!(!error.to_string().contains("s3cr3t"), "{error}");
    }

    #[test]
    fn migrations_are_numbered_in_order_and_end_at_the_schema_version() {
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version as usize, index + 1);
        }
        assert_eq!(MIGRATIONS.last().map(|m| m.version), Some(POSTGRES_SCHEMA_VERSION));
    }
}
