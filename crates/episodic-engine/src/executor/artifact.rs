//! The artifact store: files named by their content hash, recorded against the node key that
//! made them, so a rerun finds them and a half-written file is never mistaken for one.

use super::Context;
use crate::NodeError;
use crate::journal::{ArtifactRecord, now};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The recorded artifact of a node, if its file is still there whole.
pub(crate) fn existing(ctx: &Context, key: &str) -> Result<Option<PathBuf>, NodeError> {
    let Some(record) = ctx.journal.artifact(key)? else { return Ok(None) };
    let Some(state_dir) = ctx.journal.state_dir() else { return Ok(None) };
    let path = state_dir.join(&record.path);
    match std::fs::metadata(&path) {
        Ok(meta) if meta.len() == record.size => Ok(Some(path)),
        _ => Ok(None),
    }
}

/// A fresh temporary path in the artifact folder, for a file about to be written.
pub(crate) fn scratch(ctx: &Context, extension: &str) -> PathBuf {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    ctx.artifacts.join(format!(".tmp-{}-{nanos}.{extension}", std::process::id()))
}

/// Moves a finished file into the store under its hash and records it for `key`.
pub(crate) async fn adopt(
    ctx: &Context,
    key: &str,
    written: &Path,
    extension: &str,
) -> Result<PathBuf, NodeError> {
    let (sha256, size) = hash(written).await?;
    let name = format!("{sha256}.{extension}");
    let target = ctx.artifacts.join(&name);
    tokio::fs::rename(written, &target).await.map_err(|source| NodeError::Io {
        what: format!("cannot move a finished file into `{}`", target.display()),
        source,
    })?;
    ctx.journal.record_artifact(&ArtifactRecord {
        key: key.to_owned(),
        path: PathBuf::from("artifacts").join(name),
        sha256,
        size,
        created_at: now(),
    })?;
    Ok(target)
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
