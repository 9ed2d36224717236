//! Concat: the segments' video and the episode's audio (made by the audio node while the segments
//! composed) joined by copying both, written beside the manifest through a temporary file, with a
//! thumbnail per segment and a contact sheet.

use super::{Context, Done, Inputs, Output, artifact, captions, compose::encoding, thumbnail};
use crate::{EventKind, NodeError};
use episodic_media::JoinedBy;
use episodic_plan::ConcatSpec;
use std::path::{Path, PathBuf};

pub(crate) async fn concat(
    ctx: &Context,
    episode: &str,
    node: &str,
    key: &str,
    spec: &ConcatSpec,
    (canvas, fps): ((u32, u32), u32),
    inputs: &Inputs,
) -> Result<Done, NodeError> {
    let segments: Vec<PathBuf> = spec
        .segments
        .iter()
        .map(|id| match inputs.get(id) {
            Some(Output::Artifact { path }) => Ok(path.clone()),
            _ => Err(NodeError::Unexpected(format!("concat is missing {id}"))),
        })
        .collect::<Result<_, _>>()?;
    let audio = match inputs.get(&spec.audio) {
        Some(Output::Artifact { path }) => path.clone(),
        _ => return Err(NodeError::Unexpected(format!("concat is missing {}", spec.audio))),
    };
    let (joined, cache_hit) = match artifact::existing(ctx, key).await? {
        Some(path) => {
            // An unchanged rerun: the episode is already there, byte for byte, with its pictures.
            if published(&path, &spec.output, segments.len()).await {
                if let Some(sidecars) = &spec.sidecars {
                    captions::write_sidecars(ctx, sidecars, &spec.output, canvas, fps, inputs).await?;
                }
                return Ok(Done::cached(Output::Episode));
            }
            pictures(ctx, &segments, &spec.output).await?;
            (path, true)
        }
        None => {
            let part = artifact::scratch(ctx, "mp4");
            let encode = encoding(ctx, canvas, fps);
            // The pictures are gathered while ffmpeg copies the streams: both are all that is
            // left after the last compose.
            let join = async {
                tokio::select! {
                    joined = episodic_media::concat(&ctx.ffmpeg, &ctx.probe, &segments, &audio, &encode, &part) => Ok(joined?),
                    () = ctx.aborted() => Err(NodeError::Interrupted),
                }
            };
            let (joined_by, ()) = tokio::try_join!(join, pictures(ctx, &segments, &spec.output))?;
            if let JoinedBy::Demuxer { why } = joined_by {
                // Same packets either way; said because it costs an ffmpeg run on the tail.
                ctx.progress(
                    episode,
                    EventKind::NodeProgress {
                        node: node.to_owned(),
                        queue_position: None,
                        log: Some(format!("joined by ffmpeg's concat demuxer: {why}")),
                        request_id: None,
                    },
                );
            }
            (artifact::adopt(ctx, key, &part, "mp4").await?, false)
        }
    };
    // Beside the episode on every run, cached or not: cheap, and an edited caption setting that
    // changes no picture (burn: false) still reaches them.
    if let Some(sidecars) = &spec.sidecars {
        captions::write_sidecars(ctx, sidecars, &spec.output, canvas, fps, inputs).await?;
    }
    let output = Output::Episode;
    // Pictures before the episode: an output that matches its artifact then always has them.
    publish(&joined, &spec.output).await?;
    Ok(if cache_hit { Done::cached(output) } else { Done::fresh(output) })
}

/// Copies the episode to its output path through a temporary file, so the path never holds a
/// half-written MP4.
async fn publish(joined: &Path, output: &Path) -> Result<(), NodeError> {
    let io = |what: String| move |source| NodeError::Io { what, source };
    if let Some(dir) = output.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(dir).await.map_err(io(format!("cannot create `{}`", dir.display())))?;
    }
    // The pid keeps two processes rendering the same episode from writing one temporary file.
    let temp = sibling(output, &format!(".{}.part", std::process::id()));
    let written = match tokio::fs::copy(joined, &temp).await {
        Ok(_) => {
            tokio::fs::rename(&temp, output).await.map_err(io(format!("cannot write `{}`", output.display())))
        }
        Err(source) => Err(NodeError::Io { what: format!("cannot write `{}`", temp.display()), source }),
    };
    if written.is_err() {
        // A full disk leaves a partial copy; the joined episode stays in the artifact store.
        let _ = tokio::fs::remove_file(&temp).await;
    }
    written
}

/// Whether `output` holds exactly the artifact `joined` (named by its sha256) and its pictures are
/// all there: then a rerun has nothing to write (re-drawing them cost most of an unchanged rerun).
async fn published(joined: &Path, output: &Path, segments: usize) -> bool {
    let Some(sha) = joined.file_stem().and_then(|stem| stem.to_str()) else { return false };
    let thumbs = sibling(output, ".thumbs");
    let pictures_there = sibling(output, ".contact.png").is_file()
        && (1..=segments).all(|index| thumbs.join(format!("{index:03}.png")).is_file());
    // Sizes first: a different episode almost always differs there, and costs no read.
    let same_size = match (tokio::fs::metadata(joined).await, tokio::fs::metadata(output).await) {
        (Ok(a), Ok(b)) => a.len() == b.len(),
        _ => false,
    };
    pictures_there && same_size && artifact::hash(output).await.is_ok_and(|(hash, _)| hash == sha)
}

/// A thumbnail per segment in `<output>.thumbs/`, and `<output>.contact.png` of them all. Compose
/// drew each segment's thumbnail already; one missing (a segment made by an older episodic) is
/// drawn here, as many at once as ffmpeg jobs are allowed.
async fn pictures(ctx: &Context, segments: &[PathBuf], output: &Path) -> Result<(), NodeError> {
    let thumbs = sibling(output, ".thumbs");
    tokio::fs::create_dir_all(&thumbs)
        .await
        .map_err(|source| NodeError::Io { what: format!("cannot create `{}`", thumbs.display()), source })?;
    let pictures: Vec<PathBuf> =
        (0..segments.len()).map(|index| thumbs.join(format!("{:03}.png", index + 1))).collect();
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(ctx.config.ffmpeg_concurrency.max(1)));
    let mut jobs = tokio::task::JoinSet::new();
    for (segment, picture) in segments.iter().cloned().zip(pictures.iter().cloned()) {
        let (ffmpeg, probe, slots) = (ctx.ffmpeg.clone(), ctx.probe.clone(), std::sync::Arc::clone(&slots));
        jobs.spawn(async move {
            let _slot = slots.acquire_owned().await;
            let drawn = thumbnail::ensure(&ffmpeg, &probe, &segment).await?;
            tokio::fs::copy(&drawn, &picture).await.map_err(|source| NodeError::Io {
                what: format!("cannot write `{}`", picture.display()),
                source,
            })?;
            Ok::<(), NodeError>(())
        });
    }
    while let Some(joined) = jobs.join_next().await {
        joined.map_err(|err| NodeError::Unexpected(format!("a thumbnail task failed: {err}")))??;
    }
    let sheet = sibling(output, ".contact.png");
    episodic_media::contact_sheet(&ctx.ffmpeg, &pictures, 4, &sheet).await?;
    Ok(())
}

/// `out/episode.mp4` + `.thumbs` → `out/episode.thumbs`.
fn sibling(output: &Path, suffix: &str) -> PathBuf {
    let stem = output
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| "episode".into());
    output.with_file_name(format!("{stem}{suffix}"))
}
