//! The work of each node kind. Executors run concurrently under per-kind limits; each returns an
//! [`Output`] for the nodes that need it.
//!
//! Journal writes for renders happen here, not in the dispatcher, because the request id must
//! be committed the moment fal answers the submit, before anything else can go wrong.

mod artifact;
mod compose;
mod concat;
mod download;
mod render;
mod thumbnail;
mod upload;

pub(crate) use compose::compose;
pub(crate) use concat::concat;
pub(crate) use download::download;
pub(crate) use render::render;
pub(crate) use upload::upload;

use crate::EngineConfig;
use crate::events::EventKind;
use crate::journal::{Journal, Owner};
use episodic_catalog::{Catalog, Usd};
use episodic_fal::FalClient;
use episodic_media::{Ffmpeg, Probe};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// What a finished node hands to the nodes that need it.
#[derive(Debug, Clone)]
pub(crate) enum Output {
    /// An uploaded file's URL, by content hash.
    Upload { sha256: String, url: String },
    /// A finished render, with what is needed to ask fal for its result again.
    Render {
        video_url: String,
        file_size: Option<u64>,
        key: String,
        endpoint: String,
        request_id: Option<String>,
    },
    /// A file in the artifact store.
    Artifact { path: PathBuf },
    /// The episode's MP4, written to the plan's output path.
    Episode,
}

/// How a node ended: its output, whether it was a cache hit, what it cost now.
pub(crate) struct Done {
    pub(crate) output: Output,
    pub(crate) cache_hit: bool,
    pub(crate) cost: Usd,
    pub(crate) request_id: Option<String>,
}

impl Done {
    pub(crate) fn fresh(output: Output) -> Self {
        Done { output, cache_hit: false, cost: Usd::ZERO, request_id: None }
    }

    pub(crate) fn cached(output: Output) -> Self {
        Done { output, cache_hit: true, cost: Usd::ZERO, request_id: None }
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
    pub(crate) events: mpsc::UnboundedSender<(String, EventKind)>,
    pub(crate) cancel: watch::Receiver<bool>,
    /// The spending cap of the run: `--max-cost`, and the tightest manifest budget.
    pub(crate) cap: Option<Usd>,
}

/// The outputs of a node's inputs, by node id.
pub(crate) type Inputs = HashMap<String, Output>;

impl Context {
    /// Sends a progress event for a node.
    pub(crate) fn progress(&self, episode: &str, kind: EventKind) {
        let _ = self.events.send((episode.to_owned(), kind));
    }

    /// Resolves when the run is interrupted.
    pub(crate) async fn cancelled(&self) {
        let mut cancel = self.cancel.clone();
        while !*cancel.borrow_and_update() {
            if cancel.changed().await.is_err() {
                // The sender is gone: the run is over; never resolve.
                std::future::pending::<()>().await;
            }
        }
    }
}
