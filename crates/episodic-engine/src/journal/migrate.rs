//! Embedded schema migrations, applied in order inside one transaction and tracked with
//! `PRAGMA user_version` (the number of migrations applied). The SQL is compiled into the binary,
//! so an installed episodic never depends on files beside it.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::error::JournalError;

/// One numbered schema change.
struct Migration {
    /// 1-based; equals the `user_version` after it is applied.
    version: u32,
    /// The SQL, run as one batch.
    sql: &'static str,
}

/// Every migration, oldest first. Append only: a released migration is never edited.
const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, sql: include_str!("migrations/0001_initial.sql") },
    Migration { version: 2, sql: include_str!("migrations/0002_webhooks.sql") },
    Migration { version: 3, sql: include_str!("migrations/0003_episodes.sql") },
    Migration { version: 4, sql: include_str!("migrations/0004_speech.sql") },
    Migration { version: 5, sql: include_str!("migrations/0005_node_parts.sql") },
    Migration { version: 6, sql: include_str!("migrations/0006_fleet.sql") },
];

/// The schema version this build creates and understands.
pub const SCHEMA_VERSION: u32 = 6;

/// Brings the database up to [`SCHEMA_VERSION`]. Safe to run from several processes at once:
/// `BEGIN IMMEDIATE` serialises them and the version is re-read under the lock, so the loser
/// finds nothing left to do.
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), JournalError> {
    migrate_to(conn, path, SCHEMA_VERSION)
}

/// Applies the migrations up to `target` (tests stop early to build old databases).
fn migrate_to(conn: &mut Connection, path: &Path, target: u32) -> Result<(), JournalError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current: u32 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if current > SCHEMA_VERSION {
        return Err(JournalError::TooNew { path: path.to_owned(), found: current, known: SCHEMA_VERSION });
    }
    if current >= target {
        return Ok(());
    }
    for migration in MIGRATIONS.iter().filter(|m| m.version > current && m.version <= target) {
        tx.execute_batch(migration.sql)?;
    }
    tx.pragma_update(None, "user_version", target)?;
    tx.commit()?;
    Ok(())
}

/// The schema version recorded in the database.
pub(crate) fn schema_version(conn: &Connection) -> Result<u32, JournalError> {
    Ok(conn.pragma_query_value(None, "user_version", |row| row.get(0))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        conn
    }

    #[test]
    fn migrations_are_numbered_in_order_and_end_at_the_schema_version() {
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version as usize, index + 1);
        }
        assert_eq!(MIGRATIONS.last().map(|m| m.version), Some(SCHEMA_VERSION));
    }

    #[test]
    fn a_database_at_every_version_opens_with_all_later_migrations() {
        for start in 1..=SCHEMA_VERSION {
            let mut conn = memory();
            migrate_to(&mut conn, Path::new(":memory:"), start).unwrap();
            // Data written by the old schema: one row in each table.
            conn.execute_batch(
                "INSERT INTO runs (id, started_at, pid, host, manifests, heartbeat_at)
                     VALUES (1, 10, 42, 'h', '[]', 10);
                 INSERT INTO renders (key, endpoint, args, state, owner_run, owner_pid, owner_host,
                                      claimed_at, request_id, submitted_at, updated_at)
                     VALUES ('k', 'e', '{}', 'submitted', 1, 42, 'h', 10, 'req', 11, 11);
                 INSERT INTO uploads (sha256, url, content_type, size, uploaded_at)
                     VALUES ('s', 'u', 'image/png', 1, 10);
                 INSERT INTO artifacts (key, path, sha256, size, created_at)
                     VALUES ('a', 'artifacts/x.mp4', 'x', 1, 10);",
            )
            .unwrap();
            migrate(&mut conn, Path::new(":memory:")).unwrap();
            assert_eq!(schema_version(&conn).unwrap(), SCHEMA_VERSION);
            let request: String =
                conn.query_row("SELECT request_id FROM renders WHERE key = 'k'", [], |r| r.get(0)).unwrap();
            assert_eq!(request, "req");
        }
    }

    #[test]
    fn migrating_twice_changes_nothing() {
        let mut conn = memory();
        migrate(&mut conn, Path::new(":memory:")).unwrap();
        migrate(&mut conn, Path::new(":memory:")).unwrap();
        assert_eq!(schema_version(&conn).unwrap(), SCHEMA_VERSION);
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let mut conn = memory();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
        let error = migrate(&mut conn, Path::new("state.sqlite")).unwrap_err();
        assert!(matches!(error, JournalError::TooNew { found, .. } if found == SCHEMA_VERSION + 1));
        assert!(error.to_string().contains("upgrade episodic"), "{error}");
    }

    /// The journal must never hold a credential: the fal key is read from the environment for each
    /// run and sent only in request headers. Any column whose name suggests a secret fails this
    /// test; `key` alone is the render or node content key (a hash), which is not a secret.
    #[test]
    fn no_column_is_named_like_a_secret() {
        let mut conn = memory();
        migrate(&mut conn, Path::new(":memory:")).unwrap();
        let mut tables = conn.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").unwrap();
        let tables: Vec<String> = tables.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
        assert!(tables.len() >= 4, "{tables:?}");
        const SUSPICIOUS: &[&str] =
            &["secret", "token", "auth", "password", "passwd", "credential", "bearer", "header", "cookie"];
        for table in tables {
            let mut columns = conn.prepare("SELECT name FROM pragma_table_info(?1)").unwrap();
            let columns: Vec<String> =
                columns.query_map([&table], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
            for column in columns {
                let lower = column.to_lowercase();
                assert!(
                    !SUSPICIOUS.iter().any(|word| lower.contains(word)),
                    "{table}.{column} looks like it holds a secret"
                );
                assert!(
                    !lower.contains("key") || lower == "key",
                    "{table}.{column}: only the content `key` column may mention keys"
                );
            }
        }
    }
}
