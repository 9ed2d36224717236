//! The dispatcher: runs the DAGs of one or more plans under per-kind limits. It alone decides what
//! starts and what is skipped; a node starts as soon as its inputs are done, and one failure stops
//! only the nodes that need it (or everything, with `fail_fast`).

use crate::config::EngineConfig;
use crate::events::{Event, EventKind};
use crate::executor::{self, Context, Done, Inputs, Output};
use crate::gate::Gate;
use crate::journal::{Journal, Process, RenderState, RunOutcome, now};
use crate::report::{NodeReport, Report};
use crate::{EngineError, NodeError};
use episodic_catalog::{Catalog, Usd};
use episodic_fal::FalClient;
use episodic_media::{Ffmpeg, Probe};
use episodic_plan::{NodeDetail, NodeKind, Plan};
use petgraph::Direction;
use petgraph::graph::NodeIndex;
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

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
    /// Billed in this run.
    pub spent: Usd,
    /// The plan's full estimate.
    pub estimated: Usd,
    /// Nodes, and how many came from the journal or cache.
    pub nodes: usize,
    /// Nodes that were cache hits.
    pub cache_hits: usize,
    /// Failed nodes and why.
    pub failures: Vec<(String, String)>,
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// Per episode, in the order given.
    pub episodes: Vec<EpisodeOutcome>,
    /// Whether the run was stopped before the end.
    pub interrupted: bool,
    /// Retries the client made, faults survived.
    pub retries: u64,
}

impl RunSummary {
    /// Whether every episode completed.
    pub fn ok(&self) -> bool {
        !self.interrupted && self.episodes.iter().all(|episode| episode.ok)
    }
}

/// Where a node is.
#[derive(Debug, Clone, PartialEq)]
enum Status {
    Waiting,
    Running,
    Done,
    Failed,
    Skipped,
}

/// A node of one of the plans.
type NodeRef = (usize, NodeIndex);

/// What several nodes with the same key share (the same file in two episodes is one upload).
enum Shared {
    Running(Vec<NodeRef>),
    Finished(Result<(Output, bool), String>),
}

struct TaskResult {
    unit: String,
    result: Result<Done, NodeError>,
    wall: Duration,
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

    /// Runs every plan to the end, or until `cancel` turns true.
    pub async fn run(
        &self,
        plans: &[Plan],
        manifests: Vec<String>,
        cap: Option<Usd>,
        cancel: watch::Receiver<bool>,
        mut on_event: impl FnMut(Event),
    ) -> Result<RunSummary, EngineError> {
        let started = Instant::now();
        let owner = self.journal.start_run(&Process::current(), &manifests, now())?;
        let artifacts = self.journal.artifacts_dir().map(PathBuf::from).ok_or(EngineError::NoStateDir)?;
        let (events, mut events_rx) = mpsc::unbounded_channel();
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
            cancel: cancel.clone(),
            cap,
        });
        let limits = [
            Gate::new(self.config.render_concurrency),
            Gate::new(self.config.transfer_concurrency),
            Gate::new(self.config.ffmpeg_concurrency),
        ];
        let mut emit = |episode: &str, kind: EventKind| {
            on_event(Event { elapsed: started.elapsed(), episode: episode.to_owned(), kind });
        };
        let nodes: usize = plans.iter().map(|plan| plan.graph.node_count()).sum();
        emit("", EventKind::RunStarted { nodes, estimate_to_go: self.estimate_to_go(plans)? });

        let mut status: HashMap<NodeRef, Status> = HashMap::new();
        let mut waiting_on: HashMap<NodeRef, usize> = HashMap::new();
        let mut ready: VecDeque<NodeRef> = VecDeque::new();
        for (p, plan) in plans.iter().enumerate() {
            for index in plan.graph.node_indices() {
                let deps = plan.graph.neighbors_directed(index, Direction::Incoming).count();
                status.insert((p, index), Status::Waiting);
                waiting_on.insert((p, index), deps);
                if deps == 0 {
                    ready.push_back((p, index));
                }
            }
        }
        let mut outputs: HashMap<NodeRef, Output> = HashMap::new();
        let mut reports: HashMap<NodeRef, NodeReport> = HashMap::new();
        let mut shared: HashMap<String, Shared> = HashMap::new();
        let mut tasks: JoinSet<TaskResult> = JoinSet::new();
        let mut cancel_rx = cancel.clone();
        let mut stopping = *cancel.borrow();
        let mut interrupted = stopping;
        let mut heartbeat = tokio::time::interval(Duration::from_secs(10));

        loop {
            while !stopping && let Some(node_ref) = ready.pop_front() {
                let (p, index) = node_ref;
                let plan = &plans[p];
                let node = &plan.graph[index];
                let unit = match node.kind() {
                    // Concat writes a path of its own; everything else is shared by key.
                    NodeKind::Concat => format!("{}@{}", node.key, plan.output.display()),
                    _ => node.key.to_string(),
                };
                match shared.get_mut(&unit) {
                    Some(Shared::Running(waiters)) => {
                        waiters.push(node_ref);
                        status.insert(node_ref, Status::Running);
                        continue;
                    }
                    Some(Shared::Finished(result)) => {
                        let result = result.clone();
                        status.insert(node_ref, Status::Running);
                        let finished = self.settle(
                            plans,
                            node_ref,
                            result.map(|(output, _)| (output, true)),
                            Duration::ZERO,
                            Usd::ZERO,
                            None,
                            &mut status,
                            &mut outputs,
                            &mut reports,
                            &mut waiting_on,
                            &mut ready,
                            &mut emit,
                        );
                        if !finished && self.config.fail_fast {
                            stopping = true;
                        }
                        continue;
                    }
                    None => {}
                }
                shared.insert(unit.clone(), Shared::Running(vec![node_ref]));
                status.insert(node_ref, Status::Running);
                emit(&plan.episode, EventKind::NodeStarted { node: node.id.clone(), kind: node.kind() });
                let inputs: Inputs = plan
                    .graph
                    .neighbors_directed(index, Direction::Incoming)
                    .filter_map(|dep| {
                        outputs.get(&(p, dep)).map(|output| (plan.graph[dep].id.clone(), output.clone()))
                    })
                    .collect();
                let limit = Arc::clone(
                    &limits[match node.kind() {
                        NodeKind::Render => 0,
                        NodeKind::Upload | NodeKind::Download => 1,
                        NodeKind::Compose | NodeKind::Concat => 2,
                    }],
                );
                let ctx = Arc::clone(&ctx);
                let node = node.clone();
                let episode = plan.episode.clone();
                let canvas = (plan.canvas.width, plan.canvas.height);
                let fps = plan.fps;
                // Plan order is segment order: the earliest segments get the slots first.
                let rank = (p, index.index());
                tasks.spawn(async move {
                    let began = Instant::now();
                    let _permit = limit.acquire(rank).await;
                    let result = execute(&ctx, &episode, &node, canvas, fps, &inputs).await;
                    TaskResult { unit, result, wall: began.elapsed() }
                });
            }
            if tasks.is_empty() {
                break;
            }
            tokio::select! {
                joined = tasks.join_next() => {
                    let Some(joined) = joined else { continue };
                    let task = joined.map_err(|err| EngineError::Task(err.to_string()))?;
                    let Some(Shared::Running(waiters)) = shared.remove(&task.unit) else { continue };
                    let (result, cost, request_id) = match task.result {
                        Ok(done) => (Ok((done.output, done.cache_hit)), done.cost, done.request_id),
                        Err(NodeError::Interrupted) => {
                            interrupted = true;
                            (Err("interrupted".to_owned()), Usd::ZERO, None)
                        }
                        Err(err) => (Err(err.to_string()), Usd::ZERO, None),
                    };
                    shared.insert(task.unit, Shared::Finished(result.clone()));
                    for (position, node_ref) in waiters.into_iter().enumerate() {
                        // The first node did the work and carries its cost; the others reused it.
                        let (result, cost) = match (&result, position) {
                            (Ok((output, hit)), 0) => (Ok((output.clone(), *hit)), cost),
                            (Ok((output, _)), _) => (Ok((output.clone(), true)), Usd::ZERO),
                            (Err(err), _) => (Err(err.clone()), Usd::ZERO),
                        };
                        let finished = self.settle(plans, node_ref, result, task.wall, cost, request_id.clone(), &mut status, &mut outputs, &mut reports, &mut waiting_on, &mut ready, &mut emit);
                        if !finished && self.config.fail_fast {
                            stopping = true;
                        }
                    }
                }
                Some((episode, kind)) = events_rx.recv() => emit(&episode, kind),
                changed = cancel_rx.changed(), if !stopping => {
                    if changed.is_err() || *cancel_rx.borrow() {
                        stopping = true;
                        interrupted = true;
                    }
                }
                _ = heartbeat.tick() => {
                    let _ = self.journal.heartbeat(&owner, now());
                }
            }
        }
        while let Ok((episode, kind)) = events_rx.try_recv() {
            emit(&episode, kind);
        }
        // Whatever never started was skipped: by the interruption, or by fail-fast.
        for (node_ref, state) in status.iter_mut() {
            if *state == Status::Waiting {
                *state = Status::Skipped;
                let (p, index) = *node_ref;
                let reason = if interrupted {
                    "the run was interrupted"
                } else {
                    "the run stopped at the first failure"
                };
                reports.insert(*node_ref, NodeReport::skipped(&plans[p].graph[index], reason));
            }
        }

        let mut episodes = Vec::with_capacity(plans.len());
        for (p, plan) in plans.iter().enumerate() {
            let mut nodes: Vec<NodeReport> =
                plan.order.iter().filter_map(|index| reports.remove(&(p, *index))).collect();
            nodes
                .sort_by_key(|report| plan.order.iter().position(|index| plan.graph[*index].id == report.id));
            let ok = plan.order.iter().all(|index| status.get(&(p, *index)) == Some(&Status::Done));
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
            let spent: Usd = nodes.iter().map(|node| node.billed()).sum();
            emit(
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
                estimated: plan.total_cost(),
                nodes: nodes.len(),
                cache_hits: nodes.iter().filter(|node| node.cache_hit).count(),
                failures: nodes
                    .iter()
                    .filter_map(|node| node.error.clone().map(|error| (node.id.clone(), error)))
                    .collect(),
            });
        }
        let outcome = if interrupted {
            RunOutcome::Interrupted
        } else if episodes.iter().all(|episode| episode.ok) {
            RunOutcome::Succeeded
        } else {
            RunOutcome::Failed
        };
        self.journal.finish_run(owner.run_id, outcome, now())?;
        Ok(RunSummary { episodes, interrupted, retries: self.client.retries() })
    }

    /// Records how a node ended, releases or skips its dependents; true if it succeeded.
    #[allow(clippy::too_many_arguments)]
    fn settle(
        &self,
        plans: &[Plan],
        node_ref: NodeRef,
        result: Result<(Output, bool), String>,
        wall: Duration,
        cost: Usd,
        request_id: Option<String>,
        status: &mut HashMap<NodeRef, Status>,
        outputs: &mut HashMap<NodeRef, Output>,
        reports: &mut HashMap<NodeRef, NodeReport>,
        waiting_on: &mut HashMap<NodeRef, usize>,
        ready: &mut VecDeque<NodeRef>,
        emit: &mut impl FnMut(&str, EventKind),
    ) -> bool {
        let (p, index) = node_ref;
        let plan = &plans[p];
        let node = &plan.graph[index];
        match result {
            Ok((output, cache_hit)) => {
                status.insert(node_ref, Status::Done);
                outputs.insert(node_ref, output);
                reports.insert(node_ref, NodeReport::done(node, cache_hit, wall, cost, request_id.clone()));
                emit(
                    &plan.episode,
                    EventKind::NodeFinished {
                        node: node.id.clone(),
                        kind: node.kind(),
                        cache_hit,
                        wall,
                        cost,
                        request_id,
                    },
                );
                for dependent in plan.graph.neighbors_directed(index, Direction::Outgoing) {
                    let left = waiting_on.entry((p, dependent)).or_insert(1);
                    *left = left.saturating_sub(1);
                    if *left == 0 && status.get(&(p, dependent)) == Some(&Status::Waiting) {
                        ready.push_back((p, dependent));
                    }
                }
                true
            }
            Err(error) => {
                let interrupted = error == "interrupted";
                status.insert(node_ref, if interrupted { Status::Skipped } else { Status::Failed });
                if interrupted {
                    reports.insert(node_ref, NodeReport::skipped(node, "the run was interrupted"));
                    emit(
                        &plan.episode,
                        EventKind::NodeSkipped {
                            node: node.id.clone(),
                            reason: "the run was interrupted".into(),
                        },
                    );
                } else {
                    reports.insert(node_ref, NodeReport::failed(node, wall, &error));
                    emit(
                        &plan.episode,
                        EventKind::NodeFailed { node: node.id.clone(), kind: node.kind(), error },
                    );
                }
                let mut stack: Vec<NodeIndex> =
                    plan.graph.neighbors_directed(index, Direction::Outgoing).collect();
                while let Some(dependent) = stack.pop() {
                    if status.get(&(p, dependent)) != Some(&Status::Waiting) {
                        continue;
                    }
                    status.insert((p, dependent), Status::Skipped);
                    let reason = format!("needs {}, which did not finish", node.id);
                    reports.insert((p, dependent), NodeReport::skipped(&plan.graph[dependent], &reason));
                    emit(
                        &plan.episode,
                        EventKind::NodeSkipped { node: plan.graph[dependent].id.clone(), reason },
                    );
                    stack.extend(plan.graph.neighbors_directed(dependent, Direction::Outgoing));
                }
                false
            }
        }
    }
}

async fn execute(
    ctx: &Context,
    episode: &str,
    node: &episodic_plan::Node,
    canvas: (u32, u32),
    fps: u32,
    inputs: &Inputs,
) -> Result<Done, NodeError> {
    let key = node.key.as_str();
    match &node.detail {
        NodeDetail::Upload(spec) => executor::upload(ctx, spec).await,
        NodeDetail::Render(spec) => {
            executor::render(ctx, episode, &node.id, key, spec, node.cost, inputs).await
        }
        NodeDetail::Download { render } => executor::download(ctx, key, render, inputs).await,
        NodeDetail::Compose(spec) => executor::compose(ctx, key, spec, inputs).await,
        NodeDetail::Concat(spec) => executor::concat(ctx, key, spec, canvas, fps, inputs).await,
    }
}
