//! The episode's audio: every segment's sound cut to the segment's whole frames, joined and encoded
//! once. A speaker's sound is the speech its avatar was driven by, read from that file (the clip
//! carries the same audio), so an episode of dialogue has its audio encoded while the renders are
//! still out; a b-roll's sound waits for its clip. After the last render only its compose and the
//! concat's stream copy remain.

use super::{Context, Done, Inputs, Output, artifact, compose::encoding, spoken_seconds};
use crate::NodeError;
use episodic_manifest::MediaFile;
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
    if let Some(path) = artifact::existing(ctx, key).await? {
        return Ok(Done::cached(Output::Artifact { path }));
    }
    let mut mains: Vec<PathBuf> = Vec::with_capacity(spec.segments.len());
    for segment in &spec.segments {
        let voiced = segment.speech.as_deref().filter(|_| segment.voiced).and_then(|id| inputs.get(id));
        mains.push(match (&segment.speech_file, voiced, inputs.get(&segment.main)) {
            (Some(file), _, _) => planned_bytes(ctx, file).await?,
            (None, Some(Output::Speech { audio, .. }), _) => audio.clone(),
            (None, _, Some(Output::Artifact { path })) => path.clone(),
            _ => {
                return Err(NodeError::Unexpected(format!(
                    "the episode's audio is missing {}",
                    segment.main
                )));
            }
        });
    }
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

/// The speech file, if it still holds the bytes that were planned: the node's key names that hash,
/// so audio made from a file changed since would be kept under the wrong name. (The file's upload
/// checks the same, as the render is sent; this node may read it first.)
async fn planned_bytes(ctx: &Context, speech: &MediaFile) -> Result<PathBuf, NodeError> {
    let (probe, path) = (ctx.probe.clone(), speech.path.clone());
    let hashed = tokio::task::spawn_blocking(move || probe.hash(&path)).await.map_err(|err| {
        NodeError::Unexpected(format!("hashing `{}` did not finish: {err}", speech.written))
    })?;
    let (sha256, _) = hashed
        .map_err(|source| NodeError::Io { what: format!("cannot read `{}`", speech.written), source })?;
    if sha256 != speech.sha256 {
        return Err(NodeError::InputChanged { path: speech.written.clone() });
    }
    Ok(speech.path.clone())
}
