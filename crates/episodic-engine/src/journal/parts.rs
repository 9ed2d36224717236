//! Each node's inputs by name as it was last made (`node_parts`, schema 5), and the read-only
//! opening `plan` uses to look at a state folder without changing it.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::error::JournalError;
use super::liveness::DEFAULT_STALE_AFTER;
use super::record::UnixSeconds;
use super::store::{ARTIFACTS_DIR, DATABASE_FILE, Journal, open_error};

impl Journal {
    /// Opens a state folder to read it only: nothing is created, migrated or written (`plan`
    /// looks, `render` acts). `None` when the folder or its database does not exist: nothing is
    /// done yet. A database written by an older build reads too; what it lacks reads as empty.
    pub fn open_read_only(state_dir: impl AsRef<Path>) -> Result<Option<Journal>, JournalError> {
        let state_dir = state_dir.as_ref();
        let db_path = state_dir.join(DATABASE_FILE);
        if !db_path.is_file() {
            return Ok(None);
        }
        let flags =
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        // A reader of a WAL database creates `-wal` and `-shm` beside it when they are missing
        // (the last writer closed cleanly) and leaves them there. Then every page is in the main
        // file, so it is read as an immutable file instead, which creates nothing. When they
        // exist (a run is writing, or died), they are used as they are.
        let wal = state_dir.join(format!("{DATABASE_FILE}-wal"));
        let uri = if wal.exists() {
            format!("file:{}?mode=ro", uri_path(&db_path))
        } else {
            format!("file:{}?mode=ro&immutable=1", uri_path(&db_path))
        };
        let conn = Connection::open_with_flags(&uri, flags).map_err(|e| open_error(&db_path, e))?;
        conn.busy_timeout(super::store::BUSY_TIMEOUT).map_err(|e| open_error(&db_path, e))?;
        // The first read: a file that is not a database fails here, with the same message as
        // `render` gives.
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get::<_, i64>(0))
            .map_err(|e| open_error(&db_path, e))?;
        Ok(Some(Journal::from_parts(
            Mutex::new(conn),
            Some(state_dir.to_owned()),
            Some(state_dir.join(ARTIFACTS_DIR)),
            db_path,
            DEFAULT_STALE_AFTER,
        )))
    }

    /// Records what a finished node was made from (its [`episodic_plan::Parts`] as JSON), for
    /// `plan` to name what changed the next time its key differs.
    pub fn record_parts(
        &self,
        episode: &str,
        node: &str,
        key: &str,
        parts: &str,
        now: UnixSeconds,
    ) -> Result<(), JournalError> {
        self.write(false, |tx| {
            tx.execute(
                "INSERT INTO node_parts (episode, node, key, parts, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (episode, node) DO UPDATE SET key = excluded.key, parts = excluded.parts,
                 recorded_at = excluded.recorded_at",
                params![episode, node, key, parts, now],
            )?;
            Ok(())
        })
    }

    /// The key and parts a node was last made with, if it ever was (and the database is new
    /// enough to have kept them).
    pub fn last_parts(&self, episode: &str, node: &str) -> Result<Option<(String, String)>, JournalError> {
        let conn = self.lock();
        let known: bool = conn
            .query_row("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'node_parts'", [], |_| {
                Ok(true)
            })
            .optional()?
            .unwrap_or(false);
        if !known {
            return Ok(None);
        }
        Ok(conn
            .query_row(
                "SELECT key, parts FROM node_parts WHERE episode = ?1 AND node = ?2",
                params![episode, node],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?)
    }

    /// How long a completed render took, from its (last) claim to its journaled result: queue
    /// and render time at fal, in whole seconds. `None` for a render that is not completed.
    pub fn render_seconds(&self, key: &str) -> Result<Option<u64>, JournalError> {
        let conn = self.lock();
        let seconds: Option<i64> = conn
            .query_row(
                "SELECT completed_at - claimed_at FROM renders WHERE key = ?1 AND state = 'completed'",
                params![key],
                |row| row.get(0),
            )
            .optional()?;
        Ok(seconds.map(|seconds| seconds.max(0) as u64))
    }

    /// Whether an artifact was ever recorded for `key`, whether or not its file is still there.
    pub fn has_artifact_record(&self, key: &str) -> Result<bool, JournalError> {
        Ok(self.artifact(key)?.is_some())
    }

    /// Whether the file with this sha256 was ever uploaded (its URL may have expired since).
    pub fn ever_uploaded(&self, sha256: &str) -> Result<bool, JournalError> {
        let conn = self.lock();
        Ok(conn
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_folder_is_nothing_done_and_stays_missing() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        assert!(Journal::open_read_only(&state).unwrap().is_none());
        assert!(!state.exists(), "looking created the folder");
    }

    #[test]
    fn parts_are_kept_per_node_and_read_without_writing() {
        let dir = tempfile::tempdir().unwrap();
        {
            let journal = Journal::open(dir.path()).unwrap();
            journal.record_parts("ep", "render/a/speaker", "k1", r#"{"prompt":"a"}"#, 1).unwrap();
            journal.record_parts("ep", "render/a/speaker", "k2", r#"{"prompt":"b"}"#, 2).unwrap();
        }
        let before: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        let modified = std::fs::metadata(dir.path().join(DATABASE_FILE)).unwrap().modified().unwrap();
        let journal = Journal::open_read_only(dir.path()).unwrap().unwrap();
        assert_eq!(
            journal.last_parts("ep", "render/a/speaker").unwrap(),
            Some(("k2".to_owned(), r#"{"prompt":"b"}"#.to_owned()))
        );
        assert_eq!(journal.last_parts("ep", "render/b/speaker").unwrap(), None);
        assert!(journal.record_parts("ep", "x", "k", "{}", 3).is_err(), "a read-only journal refuses writes");
        assert!(uri_path(Path::new("/a b/c%d?#")).ends_with("/a%20b/c%25d%3F%23"));
        drop(journal);
        let after: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(before, after);
        assert_eq!(std::fs::metadata(dir.path().join(DATABASE_FILE)).unwrap().modified().unwrap(), modified);
    }
}
