//! Each node's inputs by name as it was last made (`node_parts`: SQLite schema 5, PostgreSQL
//! schema 2), the other questions `plan` asks, and the read-only opening it uses to look at a
//! journal without changing it.

use std::path::Path;

use super::backend::TxMode;
use super::error::JournalError;
use super::postgres::PostgresBackend;
use super::record::UnixSeconds;
use super::sqlite::SqliteBackend;
use super::store::{ARTIFACTS_DIR, DATABASE_FILE, Journal};

impl Journal {
    /// Opens a state folder to read it only: nothing is created, migrated or written (`plan`
    /// looks, `render` acts). `None` when the folder or its database does not exist: nothing is
    /// done yet. A database written by an older build reads too; what it lacks reads as empty.
    pub fn open_read_only(state_dir: impl AsRef<Path>) -> Result<Option<Journal>, JournalError> {
        let state_dir = state_dir.as_ref();
        let Some(backend) = SqliteBackend::open_read_only(&state_dir.join(DATABASE_FILE))? else {
            return Ok(None);
        };
        Ok(Some(Journal::with_backend(
            Box::new(backend),
            Some(state_dir.to_owned()),
            Some(state_dir.join(ARTIFACTS_DIR)),
        )))
    }

    /// Opens the journal a user chose to read it: the database at `url` when given, else the
    /// state folder's SQLite file as [`Journal::open_read_only`] does. On PostgreSQL this is an
    /// ordinary connection (which, like any, creates or upgrades the schema of an empty or older
    /// database) on which only reading transactions are run; the state folder is not created, so
    /// artifacts read as missing when it does not exist.
    pub fn open_read_only_at(state_dir: &Path, url: Option<&str>) -> Result<Option<Journal>, JournalError> {
        let Some(url) = url else { return Journal::open_read_only(state_dir) };
        let backend = PostgresBackend::connect(url)?;
        Ok(Some(Journal::with_backend(
            Box::new(backend),
            Some(state_dir.to_owned()),
            Some(state_dir.join(ARTIFACTS_DIR)),
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
        self.transaction(TxMode::Write, |tx| tx.put_parts(episode, node, key, parts, now))
    }

    /// The key and parts a node was last made with, if it ever was (and the database is new
    /// enough to have kept them).
    pub fn last_parts(&self, episode: &str, node: &str) -> Result<Option<(String, String)>, JournalError> {
        self.transaction(TxMode::Read, |tx| tx.parts(episode, node))
    }

    /// How long a completed render took, from its (last) claim to its journaled result: queue
    /// and render time at fal, in whole seconds. `None` for a render that is not completed.
    pub fn render_seconds(&self, key: &str) -> Result<Option<u64>, JournalError> {
        let seconds = self.transaction(TxMode::Read, |tx| tx.render_seconds(key))?;
        Ok(seconds.map(|seconds| seconds.max(0) as u64))
    }

    /// Whether an artifact was ever recorded for `key`, whether or not its file is still there.
    pub fn has_artifact_record(&self, key: &str) -> Result<bool, JournalError> {
        Ok(self.artifact(key)?.is_some())
    }

    /// Whether the file with this sha256 was ever uploaded (its URL may have expired since).
    pub fn ever_uploaded(&self, sha256: &str) -> Result<bool, JournalError> {
        self.transaction(TxMode::Read, |tx| tx.ever_uploaded(sha256))
    }
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
        drop(journal);
        let after: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(before, after);
        assert_eq!(std::fs::metadata(dir.path().join(DATABASE_FILE)).unwrap().modified().unwrap(), modified);
    }
}
