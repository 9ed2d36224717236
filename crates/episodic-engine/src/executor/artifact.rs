//! The artifact store: files named by their content hash, recorded against the node key that
//! made them, so a rerun finds them and a half-written file is never mistaken for one.
//!
//! With a shared store (`--artifacts`), what a node makes is also published there: the content
//! as `objects/<sha256>.<ext>`, then a pointer `keys/<sha256 of the node key>` naming it. Another
//! machine missing the file locally reads the pointer, fetches the object into its own artifact
//! folder (ffmpeg needs local files), checks its hash, and records it, so it makes nothing that
//! any machine already made. The pointer is written after the object, so it never names a
//! missing one.

use super::Context;
use crate::NodeError;
use crate::journal::{ARTIFACTS_DIR, ArtifactRecord, Journal, now};
use crate::store::ArtifactStore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// What a shared store's `keys/…` pointer says about the artifact a node key made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Pointer {
    /// The object's name under `objects/`: `<sha256>.<ext>`.
    name: String,
    sha256: String,
    size: u64,
}

/// Where nodes keep what they make: this machine's artifact folder, recorded in the journal, and
/// the store shared with other machines behind it. Borrowed from the run's [`Context`], or built
/// by the speech driver's caller, so every kind of node shares files the same way.
#[derive(Clone, Copy)]
pub(crate) struct Artifacts<'a> {
    pub(crate) journal: &'a Journal,
    /// This machine's artifact folder (ffmpeg reads from here).
    pub(crate) folder: &'a Path,
    /// The store shared with other machines (`--artifacts`), if any.
    pub(crate) shared: Option<&'a dyn ArtifactStore>,
}

/// A kept file: where it is here, and its content hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Kept {
    pub(crate) path: PathBuf,
    pub(crate) sha256: String,
}

impl<'a> Artifacts<'a> {
    /// The run's artifact folder and shared store.
    pub(crate) fn of(ctx: &'a Context) -> Self {
        Artifacts { journal: &ctx.journal, folder: &ctx.artifacts, shared: ctx.shared.as_deref() }
    }

    /// The recorded artifact of a node, if its file is still there whole; with a shared store,
    /// one another machine made (or this one made and since lost) is fetched first.
    pub(crate) async fn existing(&self, key: &str) -> Result<Option<Kept>, NodeError> {
        let record = self.journal.artifact(key)?;
        if let Some(record) = &record
            && let Some(name) = record.path.file_name()
        {
            let path = self.folder.join(name);
            if std::fs::metadata(&path).is_ok_and(|meta| meta.len() == record.size) {
                return Ok(Some(Kept { path, sha256: record.sha256.clone() }));
            }
        }
        let Some(shared) = self.shared else { return Ok(None) };
        // The journal's record first (a shared journal names what another machine made without
        // a round trip for the pointer); its object may never have been published (made by a
        // machine without `--artifacts`), so the pointer is still asked before the node is made
        // again.
        let recorded = record.as_ref().and_then(pointer_of);
        if let Some(pointer) = &recorded
            && let Some(kept) = self.fetch(shared, key, pointer).await?
        {
            return Ok(Some(kept));
        }
        match read_pointer(shared, key).await? {
            Some(pointer) if recorded.as_ref() != Some(&pointer) => self.fetch(shared, key, &pointer).await,
            _ => Ok(None),
        }
    }

    /// A fresh temporary path in the artifact folder, for a file about to be written.
    pub(crate) fn scratch(&self, extension: &str) -> PathBuf {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        self.folder.join(format!(".tmp-{}-{nanos}.{extension}", std::process::id()))
    }

    /// Moves a finished file into the folder under its hash and records it for `key`; with a
    /// shared store, publishes it there too before the node counts as done.
    pub(crate) async fn adopt(&self, key: &str, written: &Path, extension: &str) -> Result<Kept, NodeError> {
        let (sha256, size) = hash(written).await?;
        let name = format!("{sha256}.{extension}");
        let target = self.folder.join(&name);
        tokio::fs::rename(written, &target).await.map_err(|source| NodeError::Io {
            what: format!("cannot move a finished file into `{}`", target.display()),
            source,
        })?;
        self.journal.record_artifact(&ArtifactRecord {
            key: key.to_owned(),
            path: PathBuf::from(ARTIFACTS_DIR).join(&name),
            sha256: sha256.clone(),
            size,
            created_at: now(),
        })?;
        if let Some(shared) = self.shared {
            publish(shared, key, &Pointer { name, sha256: sha256.clone(), size }, &target).await?;
        }
        Ok(Kept { path: target, sha256 })
    }

    /// Fetches the pointed-to object into the local artifact folder, checks it is the content
    /// the pointer names, and records it for `key`. `None` when the object is gone or not whole.
    async fn fetch(
        &self,
        shared: &dyn ArtifactStore,
        key: &str,
        pointer: &Pointer,
    ) -> Result<Option<Kept>, NodeError> {
        let extension = pointer.name.rsplit_once('.').map_or("bin", |(_, extension)| extension);
        let part = self.scratch(extension);
        let fetched = shared.get_file(&object_name(&pointer.name), &part).await;
        let whole = match fetched {
            Ok(true) => {
                hash(&part).await.is_ok_and(|(sha256, size)| sha256 == pointer.sha256 && size == pointer.size)
            }
            Ok(false) => false,
            Err(err) => {
                let _ = tokio::fs::remove_file(&part).await;
                return Err(err.into());
            }
        };
        if !whole {
            let _ = tokio::fs::remove_file(&part).await;
            return Ok(None);
        }
        let target = self.folder.join(&pointer.name);
        tokio::fs::rename(&part, &target).await.map_err(|source| NodeError::Io {
            what: format!("cannot move a fetched file into `{}`", target.display()),
            source,
        })?;
        self.journal.record_artifact(&ArtifactRecord {
            key: key.to_owned(),
            path: PathBuf::from(ARTIFACTS_DIR).join(&pointer.name),
            sha256: pointer.sha256.clone(),
            size: pointer.size,
            created_at: now(),
        })?;
        Ok(Some(Kept { path: target, sha256: pointer.sha256.clone() }))
    }
}

/// The recorded artifact of a node, if its file is still there whole (see [`Artifacts::existing`]).
pub(crate) async fn existing(ctx: &Context, key: &str) -> Result<Option<PathBuf>, NodeError> {
    Ok(Artifacts::of(ctx).existing(key).await?.map(|kept| kept.path))
}

/// A fresh temporary path in the artifact folder, for a file about to be written.
pub(crate) fn scratch(ctx: &Context, extension: &str) -> PathBuf {
    Artifacts::of(ctx).scratch(extension)
}

/// Moves a finished file into the store under its hash and records it for `key` (see
/// [`Artifacts::adopt`]).
pub(crate) async fn adopt(
    ctx: &Context,
    key: &str,
    written: &Path,
    extension: &str,
) -> Result<PathBuf, NodeError> {
    Ok(Artifacts::of(ctx).adopt(key, written, extension).await?.path)
}

/// sha256 and size of a file.
pub(crate) async fn hash(path: &Path) -> Result<(String, u64), NodeError> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut file = std::fs::File::open(&path)?;
        let mut hasher = Sha256::new();
        let size = std::io::copy(&mut file, &mut hasher)?;
        Ok::<_, std::io::Error>((hex::encode(hasher.finalize()), size))
    })
    .await
    .map_err(|err| NodeError::Unexpected(format!("hashing task failed: {err}")))?
    .map_err(|source| NodeError::Io { what: "cannot hash a file".into(), source })
}

/// The pointer's name for a node key: keys are long and may hold any character.
fn pointer_name(key: &str) -> String {
    format!("keys/{}", hex::encode(Sha256::digest(key.as_bytes())))
}

fn object_name(name: &str) -> String {
    format!("objects/{name}")
}

/// The pointer a journal record implies (a shared journal may know an artifact this machine
/// never held).
fn pointer_of(record: &ArtifactRecord) -> Option<Pointer> {
    let name = record.path.file_name()?.to_str()?.to_owned();
    Some(Pointer { name, sha256: record.sha256.clone(), size: record.size })
}

async fn read_pointer(shared: &dyn ArtifactStore, key: &str) -> Result<Option<Pointer>, NodeError> {
    let Some(bytes) = shared.get_bytes(&pointer_name(key)).await? else { return Ok(None) };
    // A pointer this build cannot read is treated as absent: the node is made again and the
    // pointer rewritten, which costs time, never money twice (renders are journaled).
    Ok(serde_json::from_slice::<Pointer>(&bytes)
        .ok()
        .filter(|pointer| pointer.name.starts_with(&pointer.sha256) && !pointer.name.contains('/')))
}

/// Publishes the object, then its pointer. An object already there (another machine made the
/// same bytes) is not sent again.
async fn publish(
    shared: &dyn ArtifactStore,
    key: &str,
    pointer: &Pointer,
    file: &Path,
) -> Result<(), NodeError> {
    let object = object_name(&pointer.name);
    if shared.size(&object).await? != Some(pointer.size) {
        shared.put_file(&object, file).await?;
    }
    let json = serde_json::to_vec(pointer)
        .map_err(|err| NodeError::Unexpected(format!("a pointer cannot be written: {err}")))?;
    shared.put_bytes(&pointer_name(key), json).await?;
    Ok(())
}
