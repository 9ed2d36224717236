//! Upload: one per unique file, through the cache of uploaded URLs by content hash.

use super::{Context, Done, Inputs, Output, artifact};
use crate::NodeError;
use crate::journal::{UploadRecord, now};
use episodic_plan::UploadSpec;

pub(crate) async fn upload(
    ctx: &Context,
    key: &str,
    spec: &UploadSpec,
    inputs: &Inputs,
) -> Result<Done, NodeError> {
    let file = match spec {
        UploadSpec::File { file } => file,
        UploadSpec::Speech { speech } => return upload_speech(ctx, key, speech, inputs).await,
    };
    if let Some(cached) = ctx.journal.cached_upload(&file.sha256, now())? {
        // Storage may expire files on its own schedule; check before reusing the URL.
        if ctx.client.url_available(&cached.url).await? {
            let output = Output::Upload { key: key.to_owned(), url: cached.url };
            return Ok(Done::cached(output));
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
    send(ctx, key, sha256, size, bytes, file.kind.mime(), &name).await
}

/// The audio of a voiced line, through the same cache of uploaded URLs by content hash.
async fn upload_speech(ctx: &Context, key: &str, speech: &str, inputs: &Inputs) -> Result<Done, NodeError> {
    let Some(Output::Speech { audio, sha256, .. }) = inputs.get(speech) else {
        return Err(NodeError::Unexpected(format!("the upload has no audio from {speech}")));
    };
    if let Some(cached) = ctx.journal.cached_upload(sha256, now())?
        && ctx.client.url_available(&cached.url).await?
    {
        let output = Output::Upload { key: key.to_owned(), url: cached.url };
        return Ok(Done::cached(output));
    }
    let bytes = tokio::fs::read(audio)
        .await
        .map_err(|source| NodeError::Io { what: format!("cannot read `{}`", audio.display()), source })?;
    let size = bytes.len() as u64;
    let name = format!("{}.mp3", speech.replace('/', "-"));
    send(ctx, key, sha256.clone(), size, bytes, "audio/mpeg", &name).await
}

/// Sends bytes to storage and remembers their URL by hash.
async fn send(
    ctx: &Context,
    key: &str,
    sha256: String,
    size: u64,
    bytes: Vec<u8>,
    mime: &str,
    name: &str,
) -> Result<Done, NodeError> {
    let uploaded = match ctx.client.upload(bytes, mime, name, None).await {
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
    Ok(Done::fresh(Output::Upload { key: key.to_owned(), url: uploaded.url }))
}
