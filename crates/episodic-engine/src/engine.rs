//! [`Engine`]: runs the DAGs of one or more plans against fal (or the studio), through the
//! [`Dispatcher`](crate::dispatcher), and sums up how each episode ended.

use crate::EngineError;
use crate::config::EngineConfig;
use crate::dispatcher::{Dispatcher, Failure, Limits};
use crate::events::{Event, EventKind, StopReason};
use crate::executor::Context;
use crate::gate::Gate;
use crate::journal::{Journal, Process, RenderState, RunOutcome, now};
use crate::report::{NodeReport, Report};
use crate::stop::{SpendBreaker, Stop};
use episodic_catalog::{Catalog, Usd};
use episodic_fal::FalClient;
use episodic_media::{Ffmpeg, Probe};
use episodic_plan::{NodeKind, Plan};
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
    /// An engine over a journal, a client pointed at fal or a studio, and the media tools.
    pub fn new(
        journal: Arc<Journal>,
        client: FalClient,
        ffmpeg: Ffmpeg,
        probe: Probe,
        catalog: Catalog,
        config: EngineConfig,
    ) -> Self {
        Self { journal, client, ffmpeg, probe, catalog, config }
    }

    /// What the renders not yet completed in the journal are estimated to cost.
    pub fn estimate_to_go(&self, plans: &[Plan]) -> Result<Usd, EngineError> {
        let mut total = Usd::ZERO;
        for plan in plans {
            for node in plan.nodes().filter(|node| node.kind() == NodeKind::Render) {
                let done = matches!(self.journal.render(node.key.as_str())?, Some(record) if matches!(record.state, RenderState::Completed { .. }));
                if !done {
                    total += node.cost;
                }
            }
        }
        Ok(total)
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
        let owner = self.journal.start_run(&Process::current(), &manifests, now())?;
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
            events,
            stop: stop.clone(),
            breaker: SpendBreaker::default(),
            cap,
        });
        let limits = Limits {
            renders: Gate::new(self.config.render_concurrency),
            transfers: Gate::new(self.config.transfer_concurrency),
            ffmpeg: Gate::new(self.config.ffmpeg_concurrency),
            composes: Arc::default(),
        };
        let emit = |episode: &str, kind: EventKind| {
            on_event(Event { elapsed: started.elapsed(), episode: episode.to_owned(), kind });
        };
        let mut dispatcher = Dispatcher::new(plans, ctx, limits, self.config.fail_fast, emit);
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
