//! Download: a render's video into the artifact store, size checked, named by content hash.

use super::{Context, Done, Inputs, Output, artifact};
use crate::NodeError;

pub(crate) async fn download(
    ctx: &Context,
    key: &str,
    render: &str,
    inputs: &Inputs,
) -> Result<Done, NodeError> {
    if let Some(path) = artifact::existing(ctx, key)? {
        return Ok(Done::cached(Output::Artifact { path }));
    }
    let Some(Output::Render { video_url, file_size, .. }) = inputs.get(render) else {
        return Err(NodeError::Unexpected(format!("the download has no result from {render}")));
    };
    let part = artifact::scratch(ctx, "mp4");
    let fetched = tokio::select! {
        fetched = ctx.client.download(video_url, &part, *file_size) => fetched,
        () = ctx.cancelled() => {
            let _ = tokio::fs::remove_file(&part).await;
            return Err(NodeError::Interrupted);
        }
    };
    fetched?;
    let path = artifact::adopt(ctx, key, &part, "mp4").await?;
    Ok(Done::fresh(Output::Artifact { path }))
}
