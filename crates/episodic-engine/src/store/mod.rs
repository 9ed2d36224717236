//! Where finished artifacts are shared between machines: a folder (a local disk or a shared
//! mount) or S3-compatible object storage. The state folder's `artifacts/` stays each machine's
//! local cache, because ffmpeg reads local files; a shared store sits behind it, so a clip
//! downloaded or a segment composed on one machine is fetched, not made again, by every other.
//!
//! The store only moves named objects. What the names mean (content addresses, and pointers from
//! a node key to the content that node made) lives in `executor/artifact.rs`, so the executors
//! never learn which store they talk to.

mod local;
mod s3;

pub use local::FolderStore;
pub use s3::S3Store;

use std::path::Path;
use std::sync::Arc;

/// Why the shared store could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The `--artifacts` / `EPISODIC_ARTIFACTS_URL` value is not a store this build knows.
    #[error("`{url}` is not an artifact store: {reason}")]
    BadUrl {
        /// The value as given (it never holds credentials: those come from `AWS_*`).
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A local file or folder could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, with the path.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The object store answered with an error (or could not be reached).
    #[error("the artifact store at {location} failed to {action} `{name}`: {detail}")]
    Remote {
        /// The store (bucket and prefix), never credentials.
        location: String,
        /// What was being done: `read`, `write`, `look up`.
        action: &'static str,
        /// The object's name under the prefix.
        name: String,
        /// The store's message.
        detail: String,
    },
}

/// A flat namespace of immutable objects shared by every machine of a fleet. Names are
/// relative (`objects/<sha256>.mp4`, `keys/<sha256 of a node key>`); writers never overwrite
/// an object with different content, so readers need no locking.
#[async_trait::async_trait]
pub trait ArtifactStore: Send + Sync + std::fmt::Debug {
    /// Where the store is, for messages: a folder or `s3://bucket/prefix`, never credentials.
    fn location(&self) -> String;

    /// The object's size, or `None` when there is no such object.
    async fn size(&self, name: &str) -> Result<Option<u64>, StoreError>;

    /// Stores the file at `from` under `name`; readers see the whole object or none of it.
    async fn put_file(&self, name: &str, from: &Path) -> Result<(), StoreError>;

    /// Copies the object into the file `to` (created or replaced), or `Ok(false)` when there is
    /// no such object. `to` may hold a partial copy if this fails.
    async fn get_file(&self, name: &str, to: &Path) -> Result<bool, StoreError>;

    /// Stores a small object (a pointer) held in memory.
    async fn put_bytes(&self, name: &str, bytes: Vec<u8>) -> Result<(), StoreError>;

    /// Reads a small object whole, or `None` when there is no such object.
    async fn get_bytes(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError>;
}

/// Opens the store an `--artifacts` value names: `s3://bucket[/prefix]` (credentials, region and
/// `AWS_ENDPOINT_URL` from the standard `AWS_*` variables), `file:///folder`, or a plain folder
/// path (created when missing).
pub fn open(url: &str) -> Result<Arc<dyn ArtifactStore>, StoreError> {
    if url.starts_with("s3://") {
        return Ok(Arc::new(S3Store::from_env(url)?));
    }
    let folder = url.strip_prefix("file://").unwrap_or(url);
    if folder.is_empty() || folder.contains("://") {
        return Err(StoreError::BadUrl {
            url: url.to_owned(),
            reason: "expected s3://bucket/prefix, file:///folder or a folder path".into(),
        });
    }
    Ok(Arc::new(FolderStore::open(Path::new(folder))?))
}

/// The object names, checked: relative, `/`-separated, without `.` or `..` parts, so an object
/// name can never leave a folder store's root.
fn checked(name: &str) -> Option<&str> {
    let ok = !name.is_empty()
        && !name.starts_with('/')
        && name.split('/').all(|part| !part.is_empty() && part != "." && part != "..");
    ok.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_never_leave_the_root() {
        assert_eq!(checked("objects/ab.mp4"), Some("objects/ab.mp4"));
        for bad in ["", "/etc/passwd", "../x", "a/../../b", "a//b", "./a"] {
            assert_eq!(checked(bad), None, "{bad}");
        }
    }

    #[test]
    fn urls_name_their_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&format!("file://{}", dir.path().display())).unwrap();
        assert_eq!(store.location(), dir.path().display().to_string());
        assert!(matches!(open("ftp://host/x"), Err(StoreError::BadUrl { .. })));
        assert!(matches!(open("s3://"), Err(StoreError::BadUrl { .. })));
    }
}
