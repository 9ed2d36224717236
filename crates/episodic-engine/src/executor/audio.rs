//! The episode's audio: every segment's main clip cut to the segment's whole frames, joined and
//! encoded once, as soon as the main clips are downloaded. It runs beside the composes, so after the
//! last render only one compose and the concat's stream copy remain.

use super::{Context, Done, Inputs, Output, artifact, compose::encoding, spoken_seconds};
use crate::NodeError;
use episodic_media::AudioPart;
use episodic_plan::AudioSpec;
use std::path::PathBuf;

pub(crate) async fn audio(
    ctx: &Context,
    key: &str,
    spec: &AudioSpec,
    canvas: (u32, u32),
    inputs: &Inputs,
) -> Result<Done, NodeError> {
    if let Some(path) = artifact::existing(ctx, key)? {
        return Ok(Done::cached(Output::Artifact { path }));
    }
    let mains: Vec<PathBuf> = spec
        .segments
        .iter()
        .map(|segment| match inputs.get(&segment.main) {
            Some(Output::Artifact { path }) => Ok(path.clone()),
            _ => Err(NodeError::Unexpected(format!("the episode's audio is missing {}", segment.main))),
        })
        .collect::<Result<_, _>>()?;
    let parts: Vec<AudioPart> = spec
        .segments
        .iter()
        .zip(&mains)
        .map(|(segment, main)| {
            let seconds = spoken_seconds(inputs, segment.speech.as_deref(), segment.seconds)?;
            Ok(AudioPart { main, seconds })
        })
        .collect::<Result<_, NodeError>>()?;
    // The plan's audio settings, so the node's key names exactly what is encoded.
    let mut encode = encoding(ctx, canvas, spec.fps);
    encode.audio_rate = spec.sample_rate;
    encode.audio_channels = spec.channels;
    encode.audio_bitrate = spec.bitrate.clone();
    let part = artifact::scratch(ctx, "m4a");
    tokio::select! {
        built = episodic_media::episode_audio(&ctx.ffmpeg, &ctx.probe, &parts, &encode, &part) => built?,
        () = ctx.aborted() => return Err(NodeError::Interrupted),
    }
    let path = artifact::adopt(ctx, key, &part, "m4a").await?;
    // Learned now, so concat recalls it instead of probing after the last compose.
    ctx.probe.probe_async(&path).await?;
    Ok(Done::fresh(Output::Artifact { path }))
}
