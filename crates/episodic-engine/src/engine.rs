//! [`Engine`]: runs the DAGs of one or more plans against fal (or the studio), through the
//! [`Dispatcher`](crate::dispatcher), and sums up how each episode ended.

use crate::EngineError;
use crate::config::EngineConfig;
use crate::dispatcher::{Dispatcher, Failure, Limits};
use crate::events::{Event, EventKind, StopReason};
use crate::executor::Context;
use crate::executor::speech::api::SpeechApi;
use crate::gate::Gate;
use crate::journal::{EpisodeNeeds, Journal, NeededNode, Process, RenderState, RunOutcome, SpeechState, now};
use crate::report::{NodeReport, Report};
use crate::stop::{SpendBreaker, Stop};
use crate::store::ArtifactStore;
use episodic_catalog::{Catalog, Usd};
use episodic_fal::FalClient;
use episodic_media::{Ffmpeg, Probe};
use episodic_plan::{NodeDetail, NodeKind, Plan, UploadSpec};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, watch};

/// Runs plans against a fal-compatible backend, journaling everything that costs money.
pub struct Engine {
    journal: Arc<Journal>,
    client: FalClient,
    ffmpeg: Ffmpeg,
    probe: Probe,
    catalog: Catalog,
    config: EngineConfig,
    speech: Option<Arc<dyn SpeechApi>>,
    shared: Option<Arc<dyn ArtifactStore>>,
}

/// How one episode of a run ended.
#[derive(Debug, Clone)]
pub struct EpisodeOutcome {
    /// The episode id.
    pub episode: String,
    /// Whether its MP4 was written.
    pub ok: bool,
    /// The MP4.
    pub output: PathBuf,
    /// Its report.
    pub report: Option<PathBuf>,
    /// Billed in this run (nothing on the local studio).
    pub spent: Usd,
    /// What this run's renders cost at fal's catalog prices: equal to `spent` on fal; on the
    /// local studio, what fal would have charged.
    pub list_cost: Usd,
    /// The plan's full estimate.
    pub estimated: Usd,
    /// Nodes in the episode.
    pub nodes: usize,
    /// Nodes that were cache hits.
    pub cache_hits: usize,
    /// Failed nodes and why, in plan order.
    pub failures: Vec<Failure>,
    /// Renders a later model of their fallback chain made: node id, that model, and what became
    /// of the models before it.
    pub fallbacks: Vec<(String, String, String)>,
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// Per episode, in the order given.
    pub episodes: Vec<EpisodeOutcome>,
    /// Why the run stopped starting work before the end, if it did.
    pub stopped: Option<StopReason>,
    /// Retries the client made, faults survived.
    pub retries: u64,
}

impl RunSummary {
    /// Whether every episode completed.
    pub fn ok(&self) -> bool {
        self.stopped.is_none() && self.episodes.iter().all(|episode| episode.ok)
    }

    /// Whether the run was stopped from outside (a signal, a closed output).
    pub fn interrupted(&self) -> bool {
        matches!(self.stopped, Some(StopReason::Interrupted | StopReason::OutputClosed))
    }
}

impl Engine {
    /// An engine over a journal, a client pointed at fal or a studio, the media tools, and
    /// ElevenLabs (`speech`) for plans that voice lines: `None` runs plans without speech nodes
    /// only ([`EngineError::NoSpeechApi`] otherwise).
    pub fn new(
        journal: Arc<Journal>,
        client: FalClient,
        ffmpeg: Ffmpeg,
        probe: Probe,
        catalog: Catalog,
        config: EngineConfig,
        speech: Option<Arc<dyn SpeechApi>>,
    ) -> Self {
        Self { journal, client, ffmpeg, probe, catalog, config, speech, shared: None }
    }

    /// Shares artifacts with other machines through `store`: each download, compose, audio and
    /// concat looks there before making its file, and publishes what it makes.
    pub fn with_shared_artifacts(mut self, store: Arc<dyn ArtifactStore>) -> Self {
        self.shared = Some(store);
        self
    }

    /// What the renders and lines not yet completed in the journal are estimated to cost.
    pub fn estimate_to_go(&self, plans: &[Plan]) -> Result<Usd, EngineError> {
        let mut total = Usd::ZERO;
        for plan in plans {
            for node in plan.nodes() {
                let done = match node.kind() {
                    NodeKind::Render => {
                        matches!(self.journal.render(node.key.as_str())?, Some(record) if matches!(record.state, RenderState::Completed { .. }))
                    }
                    NodeKind::Speech => self.voiced(node.key.as_str())?,
                    _ => continue,
                };
                if !done {
                    total += node.cost;
                }
            }
        }
        Ok(total)
    }

    /// Whether the journal has this line voiced (or answered, so its audio is fetched free).
    fn voiced(&self, key: &str) -> Result<bool, EngineError> {
        Ok(matches!(
            self.journal.speech(key)?.map(|record| record.state),
            Some(SpeechState::Completed { .. } | SpeechState::Answered { .. })
        ))
    }

    /// The lines the plans would voice, when no ElevenLabs client was given.
    fn lines_without_a_voice(&self, plans: &[Plan]) -> Result<usize, EngineError> {
        if self.speech.is_some() {
            return Ok(0);
        }
        let mut lines = 0;
        for node in plans.iter().flat_map(Plan::nodes).filter(|node| node.kind() == NodeKind::Speech) {
            if !self.voiced(node.key.as_str())? {
                lines += 1;
            }
        }
        Ok(lines)
    }

    /// Runs every plan to the end, or until `stop` says otherwise (see [`Stop`]).
    pub async fn run(
        &self,
        plans: &[Plan],
        manifests: Vec<String>,
        cap: Option<Usd>,
        stop: watch::Receiver<Stop>,
        mut on_event: impl FnMut(Event),
    ) -> Result<RunSummary, EngineError> {
        let started = Instant::now();
        let lines = self.lines_without_a_voice(plans)?;
        if lines > 0 {
            return Err(EngineError::NoSpeechApi { lines });
        }
        let started_at = now();
        let owner = self.journal.start_batch_run(
            &Process::current(),
            &manifests,
            Some(&batch_of(plans)),
            started_at,
        )?;
        // Before any node starts: `cache gc` then never takes a file this run is about to reuse.
        for plan in plans {
            self.journal.record_needs(&needs_of(plan), owner.run_id, started_at)?;
        }
        let artifacts = self.journal.artifacts_dir().map(PathBuf::from).ok_or(EngineError::NoStateDir)?;
        let (events, events_rx) = mpsc::unbounded_channel();
        let ctx = Arc::new(Context {
            journal: Arc::clone(&self.journal),
            owner: owner.clone(),
            client: self.client.clone(),
            ffmpeg: self.ffmpeg.clone(),
            probe: self.probe.clone(),
            catalog: self.catalog.clone(),
            config: self.config.clone(),
            artifacts,
            shared: self.shared.clone(),
            events,
            stop: stop.clone(),
            breaker: SpendBreaker::default(),
            speech: self.speech.clone(),
            speech_breaker: SpendBreaker::default(),
            cap,
            composes: crate::executor::ComposeQueue::default(),
        });
        let limits = Limits {
            renders: Gate::new(self.config.render_concurrency),
            speech: Gate::new(self.config.speech_concurrency),
            transfers: Gate::new(self.config.transfer_concurrency),
            ffmpeg: Gate::new(self.config.ffmpeg_concurrency),
            composes: Arc::default(),
        };
        let emit = |episode: &str, kind: EventKind| {
            on_event(Event { elapsed: started.elapsed(), episode: episode.to_owned(), kind });
        };
        let mut dispatcher = Dispatcher::new(plans, ctx, limits, self.config.fail_fast, started, emit);
        let nodes: usize = plans.iter().map(|plan| plan.graph.node_count()).sum();
        dispatcher.emit("", EventKind::RunStarted { nodes, estimate_to_go: self.estimate_to_go(plans)? });
        dispatcher.run(stop, events_rx).await;
        let stopped = dispatcher.stopping();

        let mut episodes = Vec::with_capacity(plans.len());
        for (p, plan) in plans.iter().enumerate() {
            let nodes = dispatcher.reports(p);
            let ok = dispatcher.all_done(p);
            let interrupted = matches!(stopped, Some(StopReason::Interrupted | StopReason::OutputClosed));
            let report = Report::new(
                plan,
                &self.config.backend,
                &nodes,
                ok,
                interrupted,
                started_at,
                started.elapsed(),
                self.client.retries(),
            );
            let report_path = report.write(&plan.output).await.ok();
            let spent: Usd = nodes.iter().map(NodeReport::billed).sum();
            let list_cost: Usd = nodes.iter().map(NodeReport::list_cost).sum();
            dispatcher.emit(
                &plan.episode,
                EventKind::EpisodeFinished {
                    ok,
                    output: ok.then(|| plan.output.display().to_string()),
                    spent,
                },
            );
            episodes.push(EpisodeOutcome {
                episode: plan.episode.clone(),
                ok,
                output: plan.output.clone(),
                report: report_path,
                spent,
                list_cost,
                estimated: plan.total_cost(),
                nodes: nodes.len(),
                cache_hits: nodes.iter().filter(|node| node.cache_hit).count(),
                failures: dispatcher.failures(p),
                fallbacks: nodes
                    .iter()
                    .filter_map(|node| {
                        let note = node.fallback.clone()?;
                        Some((node.id.clone(), node.model.clone().unwrap_or_default(), note))
                    })
                    .collect(),
            });
        }
        let outcome = match stopped {
            Some(StopReason::Interrupted | StopReason::OutputClosed) => RunOutcome::Interrupted,
            None if episodes.iter().all(|episode| episode.ok) => RunOutcome::Succeeded,
            _ => RunOutcome::Failed,
        };
        self.journal.finish_run(owner.run_id, outcome, now())?;
        Ok(RunSummary { episodes, stopped, retries: self.client.retries() })
    }
}

/// The batch a run renders: a hash of its plans' render and speech keys, so every machine given the same
/// manifests names the same batch and shares its budget (`journal/spend.rs`).
fn batch_of(plans: &[Plan]) -> String {
    use sha2::{Digest, Sha256};
    let mut keys: Vec<&str> = plans
        .iter()
        .flat_map(|plan| {
            plan.nodes()
                .filter(|node| matches!(node.kind(), NodeKind::Render | NodeKind::Speech))
                .map(|node| node.key.as_str())
        })
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let mut hasher = Sha256::new();
    for key in keys {
        hasher.update(key.as_bytes());
        hasher.update(b"\n");
    }
    hex::encode(hasher.finalize())
}

/// What `plan`'s episode needs, for the journal (see [`crate::disk`]).
fn needs_of(plan: &Plan) -> EpisodeNeeds {
    let key_of = |id: &str| plan.nodes().find(|node| node.id == id).map(|node| node.key.to_string());
    let nodes = plan
        .nodes()
        .map(|node| NeededNode {
            id: node.id.clone(),
            kind: node.kind().as_str().to_owned(),
            key: node.key.to_string(),
            render_key: match &node.detail {
                NodeDetail::Download { render } => key_of(render),
                _ => None,
            },
            sha256: match &node.detail {
                NodeDetail::Upload(UploadSpec::File { file }) => Some(file.sha256.clone()),
                // Voiced audio is kept under its speech node's key, which `key` records.
                NodeDetail::Upload(UploadSpec::Speech { .. }) => None,
                _ => None,
            },
        })
        .collect();
    let output = std::path::absolute(&plan.output).unwrap_or_else(|_| plan.output.clone());
    EpisodeNeeds {
        output: output.display().to_string(),
        episode: plan.episode.clone(),
        manifest: plan.manifest.display().to_string(),
        nodes,
    }
}
