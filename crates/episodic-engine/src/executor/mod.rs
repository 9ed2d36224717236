//! The work of each node kind. Executors run concurrently under per-kind limits; each returns an
//! [`Output`] for the nodes that need it.
//!
//! Journal writes for renders and speech happen here, not in the dispatcher, because the request
//! id (or history item id) must be committed the moment the service answers, before anything else
//! can go wrong.

mod align;
mod artifact;
mod audio;
mod captions;
mod compose;
mod compose_queue;
mod concat;
mod download;
mod join;
mod render;
pub(crate) mod speech;
mod thumbnail;
mod upload;

use align::align;
use audio::audio;
pub(crate) use compose::Turn;
use compose::compose;
pub(crate) use compose_queue::ComposeQueue;
use concat::concat;
use download::download;
use join::join;
use render::render;
pub(crate) use render::try_keys;
use speech::speech;
use upload::upload;

use crate::events::EventKind;
use crate::journal::{Journal, Owner};
use crate::stop::{SpendBreaker, Stop, stopped};
use crate::{EngineConfig, NodeError};
use episodic_catalog::{Catalog, Usd};
use episodic_fal::FalClient;
use episodic_media::{Ffmpeg, Probe};
use episodic_plan::NodeDetail;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// What a finished node hands to the nodes that need it.
#[derive(Debug, Clone)]
pub(crate) enum Output {
    /// An uploaded file's URL; `key` is its upload node's key (a file's sha256, or derived from
    /// a voiced line's key), which render arguments name it by.
    Upload { key: String, url: String },
    /// A voiced line: its audio (and character timings, when ElevenLabs sent them) in the
    /// artifact store, and the audio's length once measured.
    Speech { audio: PathBuf, sha256: String, alignment: Option<PathBuf>, seconds: Option<f64> },
    /// A finished render, with what is needed to ask fal for its result again.
    Render {
        video_url: String,
        file_size: Option<u64>,
        /// The clip's length as fal reported (and billed) it, for checking the download.
        seconds: Option<f64>,
        key: String,
        endpoint: String,
        request_id: Option<String>,
    },
    /// A file in the artifact store.
    Artifact { path: PathBuf },
    /// The episode's MP4, written to the plan's output path.
    Episode,
}

/// How a node ended: its output, whether it was a cache hit, what it cost now (`cost`, billed)
/// and at fal's catalog price (`list_cost`: the same on fal, nothing billed on the local studio).
#[derive(Debug, Clone)]
pub(crate) struct Done {
    pub(crate) output: Output,
    pub(crate) cache_hit: bool,
    pub(crate) cost: Usd,
    pub(crate) list_cost: Usd,
    pub(crate) request_id: Option<String>,
    /// For a render with a fallback chain that a later model rendered: which, and why.
    pub(crate) fallback: Option<Fallback>,
}

/// A render made by a later model of its chain.
#[derive(Debug, Clone)]
pub(crate) struct Fallback {
    /// The model that rendered it.
    pub(crate) model: String,
    /// What happened to the models before it, for the report.
    pub(crate) note: String,
}

impl Done {
    pub(crate) fn fresh(output: Output) -> Self {
        Done {
            output,
            cache_hit: false,
            cost: Usd::ZERO,
            list_cost: Usd::ZERO,
            request_id: None,
            fallback: None,
        }
    }

    pub(crate) fn cached(output: Output) -> Self {
        Done {
            output,
            cache_hit: true,
            cost: Usd::ZERO,
            list_cost: Usd::ZERO,
            request_id: None,
            fallback: None,
        }
    }
}

/// Everything an executor may use, shared by all nodes of a run.
pub(crate) struct Context {
    pub(crate) journal: Arc<Journal>,
    pub(crate) owner: Owner,
    pub(crate) client: FalClient,
    pub(crate) ffmpeg: Ffmpeg,
    pub(crate) probe: Probe,
    pub(crate) catalog: Catalog,
    pub(crate) config: EngineConfig,
    pub(crate) artifacts: PathBuf,
    /// The store shared with other machines (`--artifacts`), behind the local artifact folder.
    pub(crate) shared: Option<Arc<dyn crate::store::ArtifactStore>>,
    pub(crate) events: mpsc::UnboundedSender<(String, EventKind)>,
    /// Whether, and how urgently, the run is stopping.
    pub(crate) stop: watch::Receiver<Stop>,
    /// Trips on fal's first out-of-credit answer; no render is submitted after.
    pub(crate) breaker: SpendBreaker,
    /// ElevenLabs, when the caller configured it (lines cannot be voiced without).
    pub(crate) speech: Option<Arc<dyn speech::api::SpeechApi>>,
    /// Trips on ElevenLabs' first `quota_exceeded`; no line is voiced after.
    pub(crate) speech_breaker: SpendBreaker,
    /// The spending cap of the run: `--max-cost`, and the tightest manifest budget.
    pub(crate) cap: Option<Usd>,
    /// Composes waiting for ffmpeg, to be run together.
    pub(crate) composes: ComposeQueue,
}

/// The outputs of a node's inputs, by node id.
pub(crate) type Inputs = HashMap<String, Output>;

/// The real length of a voiced line among `inputs`, when `speech` names one: it replaces the
/// plan's estimate of the segment's length.
pub(crate) fn spoken_seconds(inputs: &Inputs, speech: Option<&str>, planned: f64) -> Result<f64, NodeError> {
    let Some(speech) = speech else { return Ok(planned) };
    match inputs.get(speech) {
        Some(Output::Speech { seconds: Some(seconds), .. }) => Ok(*seconds),
        _ => Err(NodeError::Unexpected(format!("the length of {speech}'s audio is not known"))),
    }
}

impl Context {
    /// Sends a progress event for a node.
    pub(crate) fn progress(&self, episode: &str, kind: EventKind) {
        let _ = self.events.send((episode.to_owned(), kind));
    }

    /// Resolves when the run must stop at once (a second interrupt): ffmpeg jobs and transfers
    /// are abandoned (their processes killed), never left running.
    pub(crate) async fn aborted(&self) {
        stopped(self.stop.clone(), Stop::Abort).await;
    }
}

/// Runs one node's executor, once its slot is held; a compose waits for its own (`turn`), since
/// the composes waiting together run together.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn execute(
    ctx: &Context,
    episode: &str,
    node: &episodic_plan::Node,
    canvas: (u32, u32),
    fps: u32,
    turn: Turn<'_>,
    inputs: &Inputs,
) -> Result<Done, NodeError> {
    let key = node.key.as_str();
    match &node.detail {
        NodeDetail::Speech(spec) => speech(ctx, episode, &node.id, key, spec, node.cost).await,
        NodeDetail::Align(spec) => align(ctx, key, spec).await,
        NodeDetail::Upload(spec) => upload(ctx, key, spec, inputs).await,
        NodeDetail::Render(spec) => render(ctx, episode, &node.id, key, spec, node.cost, inputs).await,
        NodeDetail::Download { render } => download(ctx, key, render, inputs).await,
        NodeDetail::Compose(spec) => compose(ctx, key, spec, turn, inputs).await,
        NodeDetail::Audio(spec) => audio(ctx, key, spec, canvas, inputs).await,
        NodeDetail::Concat(spec) => concat(ctx, episode, &node.id, key, spec, (canvas, fps), inputs).await,
        NodeDetail::Join(spec) => join(ctx, key, spec, inputs).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lines_segment_lasts_as_long_as_its_voiced_audio() {
        let mut inputs = Inputs::new();
        assert_eq!(
            spoken_seconds(&inputs, None, 4.0).ok(),
            Some(4.0),
            "a recorded file keeps its measured length"
        );
        assert!(spoken_seconds(&inputs, Some("speech/intro"), 4.0).is_err(), "never the estimate");
        inputs.insert(
            "speech/intro".into(),
            Output::Speech {
                audio: PathBuf::from("a.mp3"),
                sha256: "s".into(),
                alignment: None,
                seconds: Some(5.25),
            },
        );
        assert_eq!(spoken_seconds(&inputs, Some("speech/intro"), 4.0).ok(), Some(5.25));
    }
}
