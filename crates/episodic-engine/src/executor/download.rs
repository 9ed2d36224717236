//! Download: a render's video into the artifact store, size checked, named by content hash. An
//! output whose URL no longer answers is asked for again at the result endpoint; one that is gone
//! for good turns its render back into a failure that only `--retry-failed` pays for again.

use super::{Context, Done, Inputs, Output, artifact};
use crate::NodeError;
use crate::journal::now;
use episodic_fal::{EndpointId, FalErrorKind, RequestHandle};

pub(crate) async fn download(
    ctx: &Context,
    key: &str,
    render: &str,
    inputs: &Inputs,
) -> Result<Done, NodeError> {
    if let Some(path) = artifact::existing(ctx, key)? {
        return Ok(Done::cached(Output::Artifact { path }));
    }
    let Some(Output::Render { video_url, file_size, key: render_key, endpoint, request_id }) =
        inputs.get(render)
    else {
        return Err(NodeError::Unexpected(format!("the download has no result from {render}")));
    };
    match fetch(ctx, key, video_url, *file_size).await {
        Err(NodeError::Fal(err)) if matches!(err.kind, FalErrorKind::NotFound { .. }) => {
            // The URL expired; the result endpoint may hand out a fresh one.
            if let Some(fresh) = refetch(ctx, endpoint, request_id.as_deref()).await
                && fresh.0 != *video_url
            {
                return fetch(ctx, key, &fresh.0, fresh.1).await;
            }
            let message = "the output expired at fal before it was downloaded; rerun with --retry-failed to render it again (it will be billed again)";
            ctx.journal.lose_result(render_key, message, now())?;
            Err(NodeError::Unexpected(format!("{render}: {message}")))
        }
        other => other,
    }
}

async fn fetch(ctx: &Context, key: &str, url: &str, size: Option<u64>) -> Result<Done, NodeError> {
    let part = artifact::scratch(ctx, "mp4");
    let fetched = tokio::select! {
        fetched = ctx.client.download(url, &part, size) => fetched,
        () = ctx.cancelled() => {
            let _ = tokio::fs::remove_file(&part).await;
            return Err(NodeError::Interrupted);
        }
    };
    fetched?;
    let path = artifact::adopt(ctx, key, &part, "mp4").await?;
    Ok(Done::fresh(Output::Artifact { path }))
}

/// The video URL and size the result endpoint gives now, if it still has the result.
async fn refetch(ctx: &Context, endpoint: &str, request_id: Option<&str>) -> Option<(String, Option<u64>)> {
    let endpoint = EndpointId::parse(endpoint).ok()?;
    let handle = RequestHandle::reattach(ctx.client.config(), &endpoint, request_id?).ok()?;
    let result = ctx.client.result(&handle).await.ok()?;
    super::render::video(&result).ok()
}
