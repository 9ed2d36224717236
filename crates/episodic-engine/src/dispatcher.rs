//! The dispatcher: the one owner of node state. It starts a node as soon as its inputs are done
//! (and it may start: see [`Dispatcher::may_start`]), hands one finished task at a time to
//! [`Dispatcher::finished`], and releases or skips what depends on it. Executors do the work;
//! only this file decides what runs.

use crate::events::{EventKind, StopReason};
use crate::executor::{self, Context, Done, Inputs, Output};
use crate::gate::{Gate, Rank, RenderUrgency, render_ranks};
use crate::journal::now;
use crate::report::{NodeReport, Span};
use crate::{NodeError, Stop, StopCause};
use episodic_plan::{NodeKind, Plan};
use petgraph::Direction;
use petgraph::graph::NodeIndex;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// A node of one of the plans: (plan, node).
pub(crate) type NodeRef = (usize, NodeIndex);

/// Where a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Waiting,
    Running,
    Done,
    Failed,
    Skipped,
}

/// What the dispatcher knows of one node.
struct NodeState {
    status: Status,
    /// Inputs not done yet.
    waiting_on: usize,
    output: Option<Output>,
    report: Option<NodeReport>,
}

/// The outcome of one unit of work, shared by every node with its key (the same file in two
/// episodes is one upload).
type Outcome = Result<Done, Arc<NodeError>>;

/// Work under way or finished, by unit (a node key; concat also by output path).
enum Shared {
    Running(Vec<NodeRef>),
    Finished(Outcome),
}

/// What a task hands back.
pub(crate) struct TaskResult {
    unit: String,
    result: Result<Done, NodeError>,
    /// When the task began (before waiting for its slot) and ended.
    began: Instant,
    ended: Instant,
}

/// The slots each kind of work waits for.
pub(crate) struct Limits {
    /// Renders in flight at fal.
    pub(crate) renders: Arc<Gate>,
    /// Lines being voiced by ElevenLabs (apart from renders, so they overlap).
    pub(crate) speech: Arc<Gate>,
    /// Uploads and downloads.
    pub(crate) transfers: Arc<Gate>,
    /// Local ffmpeg jobs.
    pub(crate) ffmpeg: Arc<Gate>,
    /// Composes waiting for an ffmpeg slot or holding one.
    pub(crate) composes: Arc<Company>,
}

/// How many composes are ready: each counts itself in when its task starts waiting for a slot and
/// out when the task ends (or is aborted). A compose that gets its slot reads it to size its
/// encoder threads for the composes it will share the cores with. The other ffmpeg jobs (the
/// episode's audio, concat's copy) are not counted: they use about one core, briefly, and a
/// compose's threads are chosen once, for the whole of it.
#[derive(Debug, Default)]
pub(crate) struct Company(AtomicUsize);

/// One compose counted in a [`Company`] while it lives.
pub(crate) struct Member(Arc<Company>);

impl Company {
    pub(crate) fn join(self: &Arc<Self>) -> Member {
        self.0.fetch_add(1, Ordering::SeqCst);
        Member(Arc::clone(self))
    }
}

impl Member {
    /// How many composes are ready now, this one included.
    pub(crate) fn count(&self) -> usize {
        self.0.0.load(Ordering::SeqCst)
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Limits {
    fn for_kind(&self, kind: NodeKind) -> &Arc<Gate> {
        match kind {
            NodeKind::Render => &self.renders,
            // Forced alignment is an ElevenLabs request too: under the same limit.
            NodeKind::Speech | NodeKind::Align => &self.speech,
            NodeKind::Upload | NodeKind::Download => &self.transfers,
            NodeKind::Compose | NodeKind::Audio | NodeKind::Concat | NodeKind::Join => &self.ffmpeg,
        }
    }
}

/// A failed node of an episode, as the run summary lists it.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The node id.
    pub node: String,
    /// Why it failed.
    pub error: Arc<NodeError>,
}

/// The dispatcher of one run.
pub(crate) struct Dispatcher<'p, E: FnMut(&str, EventKind)> {
    plans: &'p [Plan],
    ctx: Arc<Context>,
    limits: Limits,
    fail_fast: bool,
    nodes: HashMap<NodeRef, NodeState>,
    /// Each node's place in its gate's queue (see [`Rank`]).
    ranks: HashMap<NodeRef, Rank>,
    ready: VecDeque<NodeRef>,
    shared: HashMap<String, Shared>,
    /// Why the run stopped starting work, the most severe reason seen.
    stopping: Option<StopReason>,
    /// ElevenLabs said the quota is spent: no more lines are voiced (everything else goes on).
    speech_stopped: bool,
    failures: HashMap<usize, Vec<Failure>>,
    /// When the run started: node times in reports are offsets from it.
    started: Instant,
    /// Each plan's input files by hash, to journal a finished node's parts by file name.
    files: Vec<episodic_plan::FileNames>,
    emit: E,
}

impl<'p, E: FnMut(&str, EventKind)> Dispatcher<'p, E> {
    pub(crate) fn new(
        plans: &'p [Plan],
        ctx: Arc<Context>,
        limits: Limits,
        fail_fast: bool,
        started: Instant,
        emit: E,
    ) -> Self {
        let mut nodes = HashMap::new();
        let mut ready = VecDeque::new();
        let mut ranks = HashMap::new();
        for (p, plan) in plans.iter().enumerate() {
            for index in plan.graph.node_indices() {
                ranks.insert((p, index), (p, index.index()));
            }
            for (index, place) in render_ranks(&render_urgencies(plan)) {
                ranks.insert((p, NodeIndex::new(index)), (p, place));
            }
            for index in plan.graph.node_indices() {
                let waiting_on = plan.graph.neighbors_directed(index, Direction::Incoming).count();
                nodes.insert(
                    (p, index),
                    NodeState { status: Status::Waiting, waiting_on, output: None, report: None },
                );
                if waiting_on == 0 {
                    ready.push_back((p, index));
                }
            }
        }
        Dispatcher {
            plans,
            ctx,
            limits,
            fail_fast,
            nodes,
            ranks,
            ready,
            shared: HashMap::new(),
            stopping: None,
            speech_stopped: false,
            failures: HashMap::new(),
            started,
            files: plans.iter().map(Plan::file_names).collect(),
            emit,
        }
    }

    /// Sends an event about `episode`.
    pub(crate) fn emit(&mut self, episode: &str, kind: EventKind) {
        (self.emit)(episode, kind);
    }

    /// Runs every node that may run, to the end; returns early (with every task killed) when
    /// told to stop at once.
    pub(crate) async fn run(
        &mut self,
        mut stop: tokio::sync::watch::Receiver<Stop>,
        mut events: tokio::sync::mpsc::UnboundedReceiver<(String, EventKind)>,
    ) {
        let mut tasks: JoinSet<TaskResult> = JoinSet::new();
        let mut heartbeat = tokio::time::interval(Duration::from_secs(10));
        self.observe_stop(*stop.borrow_and_update());
        loop {
            self.start_ready(&mut tasks);
            if tasks.is_empty() {
                break;
            }
            tokio::select! {
                joined = tasks.join_next() => {
                    // What the task reported before it ended comes before its end: its progress
                    // events are already in the channel, and select! may have picked this first.
                    while let Ok((episode, kind)) = events.try_recv() {
                        self.emit(&episode, kind);
                    }
                    // A task that panicked leaves its nodes running; they are reported skipped.
                    if let Some(Ok(task)) = joined {
                        self.finished(task);
                    }
                }
                Some((episode, kind)) = events.recv() => self.emit(&episode, kind),
                changed = stop.changed() => {
                    let now = if changed.is_err() { Stop::Running } else { *stop.borrow_and_update() };
                    if now == Stop::Abort {
                        // Dropping a task kills its ffmpeg (kill_on_drop) and its transfer.
                        tasks.abort_all();
                        while tasks.join_next().await.is_some() {}
                        break;
                    }
                    self.observe_stop(now);
                }
                _ = heartbeat.tick() => {
                    let _ = self.ctx.journal.heartbeat(&self.ctx.owner, crate::journal::now());
                }
            }
        }
        while let Ok((episode, kind)) = events.try_recv() {
            self.emit(&episode, kind);
        }
        self.skip_the_rest();
    }

    fn observe_stop(&mut self, stop: Stop) {
        match stop {
            Stop::Running | Stop::Abort => {}
            Stop::Drain(StopCause::Signal) => self.stop_starting(StopReason::Interrupted),
            Stop::Drain(StopCause::OutputClosed) => self.stop_starting(StopReason::OutputClosed),
        }
    }

    /// Stops starting work for `reason`, unless a more final reason already holds.
    fn stop_starting(&mut self, reason: StopReason) {
        let rank = |reason: StopReason| match reason {
            StopReason::OutOfCredit => 0,
            StopReason::FailFast => 1,
            StopReason::OutputClosed => 2,
            StopReason::Interrupted => 3,
        };
        if self.stopping.is_some_and(|current| rank(current) >= rank(reason)) {
            return;
        }
        self.stopping = Some(reason);
        self.emit("", EventKind::Stopping { cause: reason });
    }

    /// Whether a node of `kind` may start now. Out of credit, what costs nothing (downloads,
    /// composes, concat) still runs, so renders already paid for end up in episodes; no line is
    /// voiced for a render that cannot be paid.
    fn may_start(&self, kind: NodeKind) -> bool {
        match self.stopping {
            None => true,
            Some(StopReason::OutOfCredit) => {
                !matches!(kind, NodeKind::Upload | NodeKind::Render | NodeKind::Speech | NodeKind::Align)
            }
            Some(_) => false,
        }
    }

    /// Starts every ready node that may start; the others wait for the end of the run.
    fn start_ready(&mut self, tasks: &mut JoinSet<TaskResult>) {
        let mut held = VecDeque::new();
        while let Some(node_ref) = self.ready.pop_front() {
            let (p, index) = node_ref;
            let plans = self.plans;
            let plan = &plans[p];
            let node = &plan.graph[index];
            if !self.may_start(node.kind()) {
                held.push_back(node_ref);
                continue;
            }
            if matches!(node.kind(), NodeKind::Speech | NodeKind::Align) && self.speech_stopped {
                // Settled at once: the breaker skips this line and everything that needs it.
                self.set_status(node_ref, Status::Running);
                let now = self.since_start(Instant::now());
                self.settle(node_ref, Err(Arc::new(NodeError::SpeechStopped)), Span { start: now, end: now });
                continue;
            }
            let unit = match node.kind() {
                // Concat writes a path of its own; everything else is shared by key.
                NodeKind::Concat => format!("{}@{}", node.key, plan.output.display()),
                _ => node.key.to_string(),
            };
            self.set_status(node_ref, Status::Running);
            match self.shared.get_mut(&unit) {
                Some(Shared::Running(waiters)) => {
                    waiters.push(node_ref);
                    continue;
                }
                Some(Shared::Finished(outcome)) => {
                    // The model that rendered it is still the one a fallback chain ended on.
                    let reused = outcome.clone().map(|done| Done {
                        cache_hit: true,
                        fallback: done.fallback,
                        ..Done::cached(done.output)
                    });
                    let now = self.since_start(Instant::now());
                    self.settle(node_ref, reused, Span { start: now, end: now });
                    continue;
                }
                None => {}
            }
            self.shared.insert(unit.clone(), Shared::Running(vec![node_ref]));
            self.emit(&plan.episode, EventKind::NodeStarted { node: node.id.clone(), kind: node.kind() });
            let inputs: Inputs = plan
                .graph
                .neighbors_directed(index, Direction::Incoming)
                .filter_map(|dep| {
                    let output = self.nodes.get(&(p, dep))?.output.clone()?;
                    Some((plan.graph[dep].id.clone(), output))
                })
                .collect();
            let limit = Arc::clone(self.limits.for_kind(node.kind()));
            let member = (node.kind() == NodeKind::Compose).then(|| self.limits.composes.join());
            let slots = self.ctx.config.ffmpeg_concurrency.max(1);
            let ctx = Arc::clone(&self.ctx);
            let node = node.clone();
            let episode = plan.episode.clone();
            let canvas = (plan.canvas.width, plan.canvas.height);
            let fps = plan.fps;
            // Plan order is segment order: the earliest segments get the slots first (renders by
            // what waits on them, see `gate::render_ranks`).
            let rank = self.ranks.get(&node_ref).copied().unwrap_or((p, index.index()));
            tasks.spawn(async move {
                let began = Instant::now();
                // A compose waits for its slot itself: the composes waiting together run together.
                let _permit = match member {
                    None => Some(limit.acquire(rank).await),
                    Some(_) => None,
                };
                let alive = || member.as_ref().map_or(1, Member::count);
                let turn = executor::Turn { gate: &limit, rank, alive: &alive, slots };
                let result = executor::execute(&ctx, &episode, &node, canvas, fps, turn, &inputs).await;
                TaskResult { unit, result, began, ended: Instant::now() }
            });
        }
        self.ready = held;
    }

    /// Handles one finished task: settles every node that was waiting on its unit.
    fn finished(&mut self, task: TaskResult) {
        let Some(Shared::Running(waiters)) = self.shared.remove(&task.unit) else { return };
        let outcome: Outcome = task.result.map_err(Arc::new);
        if let Err(error) = &outcome
            && matches!(**error, NodeError::OutOfCredit(_))
        {
            self.stop_starting(StopReason::OutOfCredit);
        }
        if let Err(error) = &outcome
            && matches!(**error, NodeError::SpeechQuota(_))
        {
            self.speech_stopped = true;
        }
        self.shared.insert(task.unit, Shared::Finished(outcome.clone()));
        let span = Span { start: self.since_start(task.began), end: self.since_start(task.ended) };
        for (position, node_ref) in waiters.into_iter().enumerate() {
            // The first node did the work and carries its cost; the others reused it.
            let outcome = match (&outcome, position) {
                (Ok(done), 0) => Ok(done.clone()),
                (Ok(done), _) => Ok(Done::cached(done.output.clone())),
                (Err(error), _) => Err(Arc::clone(error)),
            };
            self.settle(node_ref, outcome, span);
        }
    }

    /// `at` as an offset from the start of the run.
    fn since_start(&self, at: Instant) -> Duration {
        at.saturating_duration_since(self.started)
    }

    /// Records how a node ended, and releases or skips its dependents.
    fn settle(&mut self, node_ref: NodeRef, outcome: Outcome, span: Span) {
        let (p, index) = node_ref;
        let plans = self.plans;
        let plan = &plans[p];
        let node = &plan.graph[index];
        match outcome {
            Ok(done) => {
                let report = NodeReport::done(node, &done, span);
                self.emit(
                    &plan.episode,
                    EventKind::NodeFinished {
                        node: node.id.clone(),
                        kind: node.kind(),
                        cache_hit: done.cache_hit,
                        wall: span.wall(),
                        cost: done.cost,
                        list_cost: done.list_cost,
                        request_id: done.request_id.clone(),
                    },
                );
                if !done.cache_hit {
                    let parts = plan.parts(index, &self.files[p]).to_json();
                    // Bookkeeping for `plan`'s reasons only: losing it costs a vaguer reason
                    // ("new" instead of "prompt changed"), never a render, so it cannot fail a node.
                    let _ = self.ctx.journal.record_parts(
                        &plan.episode,
                        &node.id,
                        node.key.as_str(),
                        &parts,
                        now(),
                    );
                }
                if let Some(state) = self.nodes.get_mut(&node_ref) {
                    state.status = Status::Done;
                    state.output = Some(done.output);
                    state.report = Some(report);
                }
                for dependent in plan.graph.neighbors_directed(index, Direction::Outgoing) {
                    if let Some(state) = self.nodes.get_mut(&(p, dependent)) {
                        state.waiting_on = state.waiting_on.saturating_sub(1);
                        if state.waiting_on == 0 && state.status == Status::Waiting {
                            self.ready.push_back((p, dependent));
                        }
                    }
                }
            }
            Err(error) => {
                let why = match &*error {
                    NodeError::Interrupted => Some("the run was interrupted"),
                    NodeError::SpendStopped => Some("not submitted: fal said the account is out of credit"),
                    NodeError::SpeechStopped => Some("not voiced: ElevenLabs said the quota is exceeded"),
                    _ => None,
                };
                if let Some(why) = why {
                    self.skip(node_ref, why.to_owned());
                } else {
                    self.set_status(node_ref, Status::Failed);
                    if let Some(state) = self.nodes.get_mut(&node_ref) {
                        state.report = Some(NodeReport::failed(node, span, &error.to_string()));
                    }
                    self.failures
                        .entry(p)
                        .or_default()
                        .push(Failure { node: node.id.clone(), error: Arc::clone(&error) });
                    self.emit(
                        &plan.episode,
                        EventKind::NodeFailed {
                            node: node.id.clone(),
                            kind: node.kind(),
                            error: error.to_string(),
                        },
                    );
                    if self.fail_fast {
                        self.stop_starting(StopReason::FailFast);
                    }
                }
                let mut stack: Vec<NodeIndex> =
                    plan.graph.neighbors_directed(index, Direction::Outgoing).collect();
                while let Some(dependent) = stack.pop() {
                    if self.nodes.get(&(p, dependent)).map(|state| state.status) != Some(Status::Waiting) {
                        continue;
                    }
                    self.skip((p, dependent), format!("needs {}, which did not finish", node.id));
                    stack.extend(plan.graph.neighbors_directed(dependent, Direction::Outgoing));
                }
            }
        }
    }

    fn skip(&mut self, node_ref: NodeRef, reason: String) {
        let (p, index) = node_ref;
        let plans = self.plans;
        let plan = &plans[p];
        let node = &plan.graph[index];
        self.set_status(node_ref, Status::Skipped);
        if let Some(state) = self.nodes.get_mut(&node_ref) {
            state.report = Some(NodeReport::skipped(node, &reason));
        }
        self.emit(&plan.episode, EventKind::NodeSkipped { node: node.id.clone(), reason });
    }

    fn set_status(&mut self, node_ref: NodeRef, status: Status) {
        if let Some(state) = self.nodes.get_mut(&node_ref) {
            state.status = status;
        }
    }

    /// Whatever never ran (or was killed) is skipped, with the reason the run stopped.
    fn skip_the_rest(&mut self) {
        let reason = match self.stopping {
            Some(StopReason::Interrupted) | None => "the run was interrupted",
            Some(StopReason::OutputClosed) => "the run stopped: its output was closed",
            Some(StopReason::OutOfCredit) => "not started: fal said the account is out of credit",
            Some(StopReason::FailFast) => "the run stopped at the first failure",
        };
        let unfinished: Vec<NodeRef> = self
            .nodes
            .iter()
            .filter(|(_, state)| matches!(state.status, Status::Waiting | Status::Running))
            .map(|(node_ref, _)| *node_ref)
            .collect();
        for node_ref in unfinished {
            let (p, index) = node_ref;
            let node = &self.plans[p].graph[index];
            if let Some(state) = self.nodes.get_mut(&node_ref) {
                state.status = Status::Skipped;
                state.report = Some(NodeReport::skipped(node, reason));
            }
        }
    }

    /// Why the run stopped starting work, if it did.
    pub(crate) fn stopping(&self) -> Option<StopReason> {
        self.stopping
    }

    /// Whether every node of plan `p` is done.
    pub(crate) fn all_done(&self, p: usize) -> bool {
        self.plans[p]
            .order
            .iter()
            .all(|index| self.nodes.get(&(p, *index)).map(|state| state.status) == Some(Status::Done))
    }

    /// The reports of plan `p`'s nodes, in plan order.
    pub(crate) fn reports(&mut self, p: usize) -> Vec<NodeReport> {
        let plan = &self.plans[p];
        plan.order
            .iter()
            .filter_map(|index| self.nodes.get_mut(&(p, *index)).and_then(|state| state.report.take()))
            .collect()
    }

    /// The failed nodes of plan `p`.
    pub(crate) fn failures(&mut self, p: usize) -> Vec<Failure> {
        self.failures.remove(&p).unwrap_or_default()
    }
}

/// What ranks each render of `plan`: the composes its clip's download feeds, the earliest of them,
/// and the clip's length.
fn render_urgencies(plan: &Plan) -> Vec<RenderUrgency> {
    let graph = &plan.graph;
    graph
        .node_indices()
        .filter_map(|index| {
            let spec = graph[index].render()?;
            let composes: Vec<usize> = graph
                .neighbors_directed(index, Direction::Outgoing)
                .flat_map(|download| graph.neighbors_directed(download, Direction::Outgoing))
                .filter(|dependent| graph[*dependent].kind() == NodeKind::Compose)
                .map(NodeIndex::index)
                .collect();
            Some(RenderUrgency {
                index: index.index(),
                composes: composes.len(),
                first_compose: composes.iter().copied().min().unwrap_or(usize::MAX),
                seconds: spec.seconds,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Segment 1 renders while segment 5 is voiced: a line never waits for a render slot.
    #[tokio::test(flavor = "current_thread")]
    async fn lines_are_voiced_while_every_render_slot_is_taken() {
        let limits = Limits {
            renders: Gate::new(1),
            speech: Gate::new(1),
            transfers: Gate::new(1),
            ffmpeg: Gate::new(1),
            composes: Arc::default(),
        };
        let _rendering = limits.for_kind(NodeKind::Render).acquire((0, 1)).await;
        let voicing = limits.for_kind(NodeKind::Speech).acquire((0, 5));
        let voiced = tokio::time::timeout(Duration::from_secs(1), voicing).await;
        assert!(voiced.is_ok(), "the line waited for a render slot");
        assert!(Arc::ptr_eq(limits.for_kind(NodeKind::Speech), &limits.speech));
    }

    #[test]
    fn a_company_counts_the_composes_alive() {
        let company = Arc::new(Company::default());
        let first = company.join();
        assert_eq!(first.count(), 1, "alone");
        let second = company.join();
        assert_eq!((first.count(), second.count()), (2, 2));
        drop(first);
        assert_eq!(second.count(), 1, "a finished (or aborted) compose leaves the company");
    }
}
