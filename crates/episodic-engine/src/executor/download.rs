//! Download: a render's video into the artifact store, size checked, probed, named by content
//! hash. A clip counts as downloaded only when it holds a video stream as long as fal said (to
//! within two frames); a broken one turns its render into a failure instead of being composed.
//! An output whose URL no longer answers is asked for again at the result endpoint; one that is
//! gone for good turns its render back into a failure that only a retry pays for again.

use super::{Context, Done, Inputs, Output, artifact};
use crate::NodeError;
use crate::journal::now;
use episodic_fal::{EndpointId, FalErrorKind, RequestHandle};
use episodic_media::MediaInfo;
use std::path::Path;

/// Frames a clip may be short of (or past) the length fal reported: encoders round the last frame.
const FRAMES_OF_SLACK: f64 = 2.0;

/// The frame rate assumed for that slack when the clip does not say.
const FALLBACK_FPS: f64 = 24.0;

pub(crate) async fn download(
    ctx: &Context,
    key: &str,
    render: &str,
    inputs: &Inputs,
) -> Result<Done, NodeError> {
    if let Some(path) = artifact::existing(ctx, key).await? {
        return Ok(Done::cached(Output::Artifact { path }));
    }
    let Some(Output::Render { video_url, file_size, seconds, key: render_key, endpoint, request_id }) =
        inputs.get(render)
    else {
        return Err(NodeError::Unexpected(format!("the download has no result from {render}")));
    };
    let request = request_id.clone().unwrap_or_else(|| "unknown".into());
    let part = match fetch(ctx, video_url, *file_size).await {
        Err(NodeError::Fal(err)) if matches!(err.kind, FalErrorKind::NotFound { .. }) => {
            // The URL expired; the result endpoint may hand out a fresh one.
            match refetch(ctx, endpoint, request_id.as_deref()).await {
                Some(fresh) if fresh.0 != *video_url => fetch(ctx, &fresh.0, fresh.1).await?,
                _ => {
                    let error = NodeError::OutputExpired { request_id: request };
                    ctx.journal.lose_result(render_key, &error.to_string(), now())?;
                    return Err(error);
                }
            }
        }
        other => other?,
    };
    let info = match verify(ctx, &part, *seconds).await {
        Ok(info) => info,
        Err(detail) => {
            let _ = tokio::fs::remove_file(&part).await;
            let error = NodeError::BrokenClip { render: render.to_owned(), request_id: request, detail };
            // Paid for and unusable: a failure the user may choose to pay for again, never a clip
            // composed as if it were whole.
            ctx.journal.lose_result(render_key, &error.to_string(), now())?;
            return Err(error);
        }
    };
    let path = artifact::adopt(ctx, key, &part, "mp4").await?;
    // The compose asks what the clip holds; it was just read, under the scratch name.
    ctx.probe.remember(&path, info);
    Ok(Done::fresh(Output::Artifact { path }))
}

/// Fetches `url` into a scratch file of the artifact store.
async fn fetch(ctx: &Context, url: &str, size: Option<u64>) -> Result<std::path::PathBuf, NodeError> {
    let part = artifact::scratch(ctx, "mp4");
    let fetched = tokio::select! {
        fetched = ctx.client.download(url, &part, size) => fetched.map_err(NodeError::from),
        () = ctx.aborted() => Err(NodeError::Interrupted),
    };
    match fetched {
        Ok(_) => Ok(part),
        Err(err) => {
            let _ = tokio::fs::remove_file(&part).await;
            Err(err)
        }
    }
}

/// What the clip at `path` holds when it is the whole video fal described; else why it is not.
async fn verify(ctx: &Context, path: &Path, expected: Option<f64>) -> Result<MediaInfo, String> {
    let (probe, owned) = (ctx.probe.clone(), path.to_path_buf());
    let probed = tokio::task::spawn_blocking(move || probe.probe_clip(&owned))
        .await
        .map_err(|err| format!("the probe did not finish: {err}"))?;
    let (info, end) = probed.map_err(|err| format!("ffprobe cannot read it ({err})"))?;
    let Some(video) = info.video() else {
        return Err("it has no video stream".into());
    };
    let Some(end) = end else {
        return Err("its video stream holds no frames".into());
    };
    if let Some(expected) = expected {
        let frame = 1.0 / video.fps.filter(|fps| *fps > 0.0).unwrap_or(FALLBACK_FPS);
        if (end - expected).abs() > FRAMES_OF_SLACK * frame {
            return Err(format!("its video holds {end:.3} s, fal reported {expected:.3} s"));
        }
    }
    Ok(info)
}

/// The video URL and size the result endpoint gives now, if it still has the result.
async fn refetch(ctx: &Context, endpoint: &str, request_id: Option<&str>) -> Option<(String, Option<u64>)> {
    let endpoint = EndpointId::parse(endpoint).ok()?;
    let handle = RequestHandle::reattach(ctx.client.config(), &endpoint, request_id?).ok()?;
    let result = ctx.client.result(&handle).await.ok()?;
    super::render::video(&result).ok().map(|(url, size, _)| (url, size))
}
