//! Upload: one per unique file, through the cache of uploaded URLs by content hash.

use super::{Context, Done, Output, artifact};
use crate::NodeError;
use crate::journal::{UploadRecord, now};
use episodic_plan::UploadSpec;

pub(crate) async fn upload(ctx: &Context, spec: &UploadSpec) -> Result<Done, NodeError> {
    let file = &spec.file;
    if let Some(cached) = ctx.journal.cached_upload(&file.sha256, now())? {
        // Storage may expire files on its own schedule; check before reusing the URL.
        if ctx.client.url_available(&cached.url).await? {
            return Ok(Done::cached(Output::Upload { sha256: file.sha256.clone(), url: cached.url }));
        }
    }
    // The bytes sent must be the bytes planned: the key of every render that uses this file
    // names this hash.
    let (sha256, size) = artifact::hash(&file.path).await?;
    if sha256 != file.sha256 {
        return Err(NodeError::InputChanged { path: file.written.clone() });
    }
    let bytes = tokio::fs::read(&file.path)
        .await
        .map_err(|source| NodeError::Io { what: format!("cannot read `{}`", file.written), source })?;
    let name = file
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "upload.bin".into());
    let uploaded = match ctx.client.upload(bytes, file.kind.mime(), &name, None).await {
        Ok(uploaded) => uploaded,
        // fal locks storage with the account: the same breaker as a refused submit.
        Err(err) if matches!(err.kind, episodic_fal::FalErrorKind::OutOfCredit { .. }) => {
            ctx.breaker.trip();
            return Err(NodeError::OutOfCredit(err));
        }
        Err(err) => return Err(err.into()),
    };
    ctx.journal.record_upload(&UploadRecord {
        sha256: sha256.clone(),
        url: uploaded.url.clone(),
        content_type: uploaded.content_type,
        size,
        uploaded_at: now(),
        // An ephemeral backend's URLs die with it: usable in this run only.
        expires_at: ctx.config.ephemeral_backend.then(now),
    })?;
    Ok(Done::fresh(Output::Upload { sha256, url: uploaded.url }))
}
