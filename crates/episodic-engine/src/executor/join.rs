//! The pieces of a long line, rendered apart, joined into its speaker clip as soon as the last
//! piece is downloaded. Compose and the episode's audio then take it as they take a whole render.

use super::{Context, Done, Inputs, Output, artifact};
use crate::NodeError;
use episodic_media::JoinPiece;
use episodic_plan::JoinSpec;
use std::path::PathBuf;

pub(crate) async fn join(
    ctx: &Context,
    key: &str,
    spec: &JoinSpec,
    inputs: &Inputs,
) -> Result<Done, NodeError> {
    if let Some(path) = artifact::existing(ctx, key).await? {
        return Ok(Done::cached(Output::Artifact { path }));
    }
    let clips: Vec<PathBuf> = spec
        .pieces
        .iter()
        .map(|piece| match inputs.get(&piece.download) {
            Some(Output::Artifact { path }) => Ok(path.clone()),
            _ => Err(NodeError::Unexpected(format!(
                "the join of `{}` is missing {}",
                spec.segment, piece.download
            ))),
        })
        .collect::<Result<_, _>>()?;
    let pieces: Vec<JoinPiece> = spec
        .pieces
        .iter()
        .zip(&clips)
        .map(|(piece, clip)| JoinPiece { clip, seconds: piece.seconds, fade: piece.fade })
        .collect();
    let part = artifact::scratch(ctx, "mov");
    tokio::select! {
        joined = episodic_media::join_pieces(&ctx.ffmpeg, &ctx.probe, &pieces, spec.fps, &part) => { joined?; }
        () = ctx.aborted() => return Err(NodeError::Interrupted),
    }
    let path = artifact::adopt(ctx, key, &part, "mov").await?;
    // Learned now: compose and the episode's audio probe it next.
    ctx.probe.probe_async(&path).await?;
    Ok(Done::fresh(Output::Artifact { path }))
}
