//! Compose: one segment laid onto the episode's canvas, encoded as every segment is.

use super::compose_queue::QueuedJob;
use super::{Context, Done, Inputs, Output, artifact, captions, spoken_seconds, thumbnail};
use crate::NodeError;
use episodic_manifest::{Layout, Seat};
use episodic_media::captions::CaptionFont;
use episodic_media::{EncodeSettings, Fill};
use episodic_plan::{ComposeSpec, ListenerFill};

/// The encoding every segment of an episode shares, so concat can copy the video.
pub(crate) fn encoding(ctx: &Context, canvas: (u32, u32), fps: u32) -> EncodeSettings {
    let mut settings = EncodeSettings::new(canvas.0, canvas.1, fps);
    settings.preset = ctx.config.preset.clone();
    settings
}

/// The encoder threads (`-threads`, and ffmpeg's filter threads) for a compose that starts with
/// `at_once` composes sharing `cores`, itself included: ffmpeg's own choice (`None`) for a lone
/// compose, which has the cores to itself; else the cores split between them. Two composes at
/// once on two cores took 10 % less wall with one thread each than with ffmpeg's default (one
/// x264 thread pool per core in each, fighting over the same two): BENCHMARKS.md, section 6.
pub(crate) fn threads_for(at_once: usize, cores: usize) -> Option<u32> {
    if at_once <= 1 {
        return None;
    }
    u32::try_from((cores / at_once).max(1)).ok()
}

/// What a compose needs to get its turn at ffmpeg: the slots it waits for (at its rank) and the
/// composes it shares them with.
pub(crate) struct Turn<'a> {
    pub(crate) gate: &'a std::sync::Arc<crate::gate::Gate>,
    pub(crate) rank: crate::gate::Rank,
    /// How many composes of the run are not finished, this one included.
    pub(crate) alive: &'a (dyn Fn() -> usize + Send + Sync),
    /// How many ffmpeg jobs may run at once.
    pub(crate) slots: usize,
}

pub(crate) async fn compose(
    ctx: &Context,
    key: &str,
    spec: &ComposeSpec,
    turn: Turn<'_>,
    inputs: &Inputs,
) -> Result<Done, NodeError> {
    if let Some(path) = artifact::existing(ctx, key).await? {
        return Ok(Done::cached(Output::Artifact { path }));
    }
    let path_of = |id: &str| match inputs.get(id) {
        Some(Output::Artifact { path }) => Ok(path.clone()),
        _ => Err(NodeError::Unexpected(format!("compose of `{}` is missing {id}", spec.segment))),
    };
    let main = path_of(&spec.main)?;
    let listener = spec.listener.as_deref().map(path_of).transpose()?;
    let canvas = (spec.canvas.width, spec.canvas.height);
    let encode = encoding(ctx, canvas, spec.fps);
    let fill = match spec.listener_fill {
        Some(ListenerFill::Loop) => Fill::Loop,
        _ => Fill::Trim,
    };
    let seconds = spoken_seconds(inputs, spec.speech.as_deref(), spec.seconds)?;
    // Burned in by the same encode: captions cost no pass of their own.
    let script = match &spec.burn {
        Some(burn) => match captions::segment_words(inputs, spec.speech.as_deref(), spec.align.as_deref())? {
            Some(words) => Some(captions::burn_script(&words, seconds, canvas, *burn)?),
            None => None,
        },
        None => None,
    };
    let captions = match script {
        Some(script) => Some((script, CaptionFont::find()?)),
        None => None,
    };
    let part = artifact::scratch(ctx, "mp4");
    // The thumbnail now rather than at concat: after the last render, concat is all that should
    // be left.
    let picture = thumbnail::path_of(&part);
    let job = QueuedJob {
        layout: match spec.layout {
            Layout::SideBySide => episodic_media::Layout::SideBySide,
            Layout::Stacked => episodic_media::Layout::Stacked,
            Layout::Solo => episodic_media::Layout::Solo,
        },
        canvas,
        fps: spec.fps,
        seconds,
        main,
        main_seat: match spec.speaker_seat {
            Some(Seat::Right) => episodic_media::Seat::Second,
            _ => episodic_media::Seat::First,
        },
        listener: listener.map(|path| (path, fill)),
        encode,
        out: part.clone(),
        thumbnail: Some((picture.clone(), thumbnail::WIDTH)),
        captions,
    };
    composed(ctx, job, &turn).await?;
    let path = artifact::adopt(ctx, key, &part, "mp4").await?;
    // Named after the segment's bytes like the segment; lost, concat draws it again.
    let _ = tokio::fs::rename(&picture, thumbnail::path_of(&path)).await;
    // Learned while other renders are still out, so concat recalls it instead of probing.
    ctx.probe.probe_async(&path).await?;
    Ok(Done::fresh(Output::Artifact { path }))
}

/// Composes `job`: in a run of its own or with the other composes waiting (see
/// [`super::compose_queue`]), whichever compose gets an ffmpeg slot first running them.
async fn composed(ctx: &Context, job: QueuedJob, turn: &Turn<'_>) -> Result<(), NodeError> {
    let mut ticket = ctx.composes.add(turn.rank, job.clone());
    let outcome = tokio::select! {
        // Run by another compose's slot: this one never needed one.
        reply = &mut ticket.reply => reply,
        permit = turn.gate.acquire(turn.rank) => {
            if let Some(batch) = ctx.composes.take(&ticket, turn.slots).await {
                // Counted once the slot is ours: the composes this run shares the cores with,
                // itself included, at most as many as may run at once.
                let at_once = (turn.alive)().min(turn.slots);
                batch.run(ctx, &ffmpeg_for(ctx, at_once)).await;
            }
            drop(permit);
            (&mut ticket.reply).await
        }
    };
    match outcome {
        Ok(result) => result,
        // The compose running this job ended before it answered (its task was stopped): compose
        // it alone.
        Err(_) => {
            drop(ticket);
            let _permit = turn.gate.acquire(turn.rank).await;
            let lone = job.job();
            let ffmpeg = ffmpeg_for(ctx, (turn.alive)().min(turn.slots));
            tokio::select! {
                composed = episodic_media::compose_with(&ffmpeg, &ctx.probe, &lone.composition, lone.out, lone.extras) => {
                    composed.map_err(NodeError::from)
                }
                () = ctx.aborted() => Err(NodeError::Interrupted),
            }
        }
    }
}

/// ffmpeg with its threads split between `at_once` composes; a thread limit set for every run
/// (none today) is kept.
fn ffmpeg_for(ctx: &Context, at_once: usize) -> episodic_media::Ffmpeg {
    let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
    match (ctx.ffmpeg.threads(), threads_for(at_once, cores)) {
        (None, Some(threads)) => ctx.ffmpeg.clone().with_threads(threads),
        _ => ctx.ffmpeg.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::threads_for;

    #[test]
    fn a_lone_compose_keeps_ffmpegs_threads_and_company_splits_the_cores() {
        assert_eq!(threads_for(0, 2), None);
        assert_eq!(threads_for(1, 2), None, "alone: ffmpeg's own choice");
        assert_eq!(threads_for(2, 2), Some(1), "two on two cores: one each, as measured");
        assert_eq!(threads_for(3, 2), Some(1), "never below one");
        assert_eq!(threads_for(2, 8), Some(4));
        assert_eq!(threads_for(3, 8), Some(2));
        assert_eq!(threads_for(2, 1), Some(1));
    }
}
