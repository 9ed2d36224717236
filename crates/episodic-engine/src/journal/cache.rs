//! The upload cache (content hash → fal storage URL) and the artifact index (node key → file in
//! `artifacts/`). Both are plain upserts: losing one costs a re-upload or a re-download, never a
//! render, so they are `TxMode::Write` (no fsync on SQLite).

#[cfg(test)]
use std::path::PathBuf;
use std::path::{Component, Path};

use super::backend::TxMode;
use super::error::JournalError;
use super::record::{ArtifactRecord, UnixSeconds, UploadRecord};
use super::store::{Journal, to_i64};

/// A cached URL expiring sooner than this is treated as expired: a render queued behind others
/// may start minutes after submission, and fal must still be able to fetch its inputs then.
pub const UPLOAD_EXPIRY_MARGIN_SECS: i64 = 10 * 60;

impl Journal {
    /// The cached upload of the file with this sha256, if its URL stays valid for at least
    /// [`UPLOAD_EXPIRY_MARGIN_SECS`] from `now`.
    pub fn cached_upload(
        &self,
        sha256: &str,
        now: UnixSeconds,
    ) -> Result<Option<UploadRecord>, JournalError> {
        let valid_after = now.saturating_add(UPLOAD_EXPIRY_MARGIN_SECS);
        self.transaction(TxMode::Read, |tx| tx.upload(sha256, valid_after))
    }

    /// Records (or replaces, after a re-upload) the URL of a file.
    pub fn record_upload(&self, upload: &UploadRecord) -> Result<(), JournalError> {
        let size = to_i64("upload size", upload.size)?;
        self.transaction(TxMode::Write, |tx| tx.put_upload(upload, size))
    }

    /// The artifact recorded for a node key. The caller checks that the file is still there and
    /// has the recorded size before trusting it.
    pub fn artifact(&self, key: &str) -> Result<Option<ArtifactRecord>, JournalError> {
        self.transaction(TxMode::Read, |tx| tx.artifact(key))
    }

    /// Records (or replaces) the artifact of a node. Its path must be relative to the state
    /// directory and stay inside it.
    pub fn record_artifact(&self, artifact: &ArtifactRecord) -> Result<(), JournalError> {
        let path = stored_path(&artifact.path)?;
        let size = to_i64("artifact size", artifact.size)?;
        self.transaction(TxMode::Write, |tx| tx.put_artifact(artifact, &path, size))
    }
}

/// The path as stored: relative, inside the state directory, `/`-separated UTF-8 so a state
/// directory moved between machines still resolves.
fn stored_path(path: &Path) -> Result<String, JournalError> {
    let mut parts = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => {
                parts.push(part.to_str().ok_or_else(|| JournalError::ArtifactPath(path.to_owned()))?)
            }
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(JournalError::ArtifactPath(path.to_owned()));
            }
        }
    }
    if parts.is_empty() {
        return Err(JournalError::ArtifactPath(path.to_owned()));
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload(sha: &str, expires_at: Option<i64>) -> UploadRecord {
        UploadRecord {
            sha256: sha.to_owned(),
            url: format!("https://files.example/{sha}"),
            content_type: "image/png".to_owned(),
            size: 1234,
            uploaded_at: 1_000,
            expires_at,
        }
    }

    #[test]
    fn an_upload_is_cached_until_shortly_before_it_expires() {
        let journal = Journal::open_in_memory().unwrap();
        assert_eq!(journal.cached_upload("aa", 1_000).unwrap(), None);
        journal.record_upload(&upload("aa", Some(1_000 + 3_600))).unwrap();
        assert_eq!(journal.cached_upload("aa", 1_000).unwrap(), Some(upload("aa", Some(4_600))));
        // Inside the safety margin: treated as expired.
        let near = 4_600 - UPLOAD_EXPIRY_MARGIN_SECS;
        assert!(journal.cached_upload("aa", near - 1).unwrap().is_some());
        assert_eq!(journal.cached_upload("aa", near).unwrap(), None);
        assert_eq!(journal.cached_upload("aa", 10_000).unwrap(), None);
    }

    #[test]
    fn an_upload_without_expiry_stays_cached_and_a_reupload_replaces_it() {
        let journal = Journal::open_in_memory().unwrap();
        journal.record_upload(&upload("bb", Some(2_000))).unwrap();
        assert_eq!(journal.cached_upload("bb", 5_000).unwrap(), None);
        let mut again = upload("bb", None);
        again.url = "https://files.example/bb-again".to_owned();
        again.uploaded_at = 5_000;
        journal.record_upload(&again).unwrap();
        assert_eq!(journal.cached_upload("bb", i64::MAX - 1).unwrap(), Some(again));
    }

    #[test]
    fn artifacts_are_recorded_by_key_with_relative_paths() {
        let journal = Journal::open_in_memory().unwrap();
        let record = ArtifactRecord {
            key: "k1".to_owned(),
            path: PathBuf::from("artifacts/ab12.mp4"),
            sha256: "ab12".to_owned(),
            size: 99,
            created_at: 7,
        };
        assert_eq!(journal.artifact("k1").unwrap(), None);
        journal.record_artifact(&record).unwrap();
        journal.record_artifact(&record).unwrap();
        assert_eq!(journal.artifact("k1").unwrap(), Some(record.clone()));
        for bad in ["/etc/passwd", "../outside.mp4", "artifacts/../../x", ""] {
            let error =
                journal.record_artifact(&ArtifactRecord { path: PathBuf::from(bad), ..record.clone() });
            assert!(matches!(error, Err(JournalError::ArtifactPath(_))), "{bad}: {error:?}");
        }
        assert_eq!(stored_path(Path::new("./artifacts/cd.mp4")).unwrap(), "artifacts/cd.mp4");
    }

    #[test]
    fn sizes_beyond_i64_are_refused() {
        let journal = Journal::open_in_memory().unwrap();
        let mut huge = upload("cc", None);
        huge.size = u64::MAX;
        assert!(matches!(journal.record_upload(&huge), Err(JournalError::InvalidValue { .. })));
    }
}
