//! What the engine reports while it runs. The engine never prints: the CLI's reporters turn
//! these into terminal bars, plain lines or JSON lines.

use episodic_catalog::Usd;
use episodic_plan::NodeKind;
use serde::Serialize;
use std::time::Duration;

/// One thing that happened.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// Time since the run started.
    #[serde(serialize_with = "seconds")]
    pub elapsed: Duration,
    /// The episode the node belongs to.
    pub episode: String,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// The kinds of event, one per line of `--json` output (`"event": "node_started"`, …).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// A run began with these episodes and this many nodes.
    RunStarted {
        /// Nodes across all episodes.
        nodes: usize,
        /// What the renders not yet in the journal are estimated to cost.
        #[serde(serialize_with = "usd")]
        estimate_to_go: Usd,
    },
    /// A node began (after its inputs were done and a slot was free).
    NodeStarted {
        /// The node id.
        node: String,
        /// Its kind.
        kind: NodeKind,
    },
    /// A render moved in fal's queue or logged a line.
    NodeProgress {
        /// The node id.
        node: String,
        /// Requests ahead of this one, while queued.
        queue_position: Option<u64>,
        /// A new log line from the runner.
        log: Option<String>,
        /// fal's request id, once known.
        request_id: Option<String>,
    },
    /// A render's submit may have reached fal without its id being known: fal's request history
    /// is being searched, repeatedly, until `until_unix`. Found, the render re-attaches; still
    /// absent then, it is submitted again (a run that stops first leaves the claim for the next
    /// run to settle the same way).
    AwaitingHistory {
        /// The node id.
        node: String,
        /// Why the id is unknown.
        reason: HistoryWait,
        /// When the search gives up (Unix seconds): a request fal has not listed by then was
        /// never queued.
        until_unix: i64,
    },
    /// The next model of a render's fallback chain takes over.
    FellBack {
        /// The node id.
        node: String,
        /// The model given up on.
        from: String,
        /// The model that takes over.
        to: String,
        /// Why.
        #[serde(flatten)]
        reason: FallbackReason,
    },
    /// The run stops starting work.
    Stopping {
        /// Why.
        cause: StopReason,
    },
    /// A node finished.
    NodeFinished {
        /// The node id.
        node: String,
        /// Its kind.
        kind: NodeKind,
        /// Whether the result came from the journal or cache instead of being made now.
        cache_hit: bool,
        /// Wall time of the node.
        #[serde(serialize_with = "seconds")]
        wall: Duration,
        /// What this node cost now (renders billed in this run; zero for a cache hit, and on
        /// the local studio, which bills nothing).
        #[serde(serialize_with = "usd")]
        cost: Usd,
        /// What fal charges for it at catalog prices (equal to `cost` on fal; on the local
        /// studio, what the same render would have cost there).
        #[serde(serialize_with = "usd")]
        list_cost: Usd,
        /// fal's request id, for renders.
        request_id: Option<String>,
    },
    /// A node failed; its dependents will not run.
    NodeFailed {
        /// The node id.
        node: String,
        /// Its kind.
        kind: NodeKind,
        /// What went wrong and what to do.
        error: String,
    },
    /// A node was not run because an input failed or the run stopped.
    NodeSkipped {
        /// The node id.
        node: String,
        /// Why.
        reason: String,
    },
    /// An episode ended.
    EpisodeFinished {
        /// Whether its MP4 was written.
        ok: bool,
        /// The MP4, when written.
        output: Option<String>,
        /// Billed in this run for this episode.
        #[serde(serialize_with = "usd")]
        spent: Usd,
    },
}

/// Why a render waits on fal's request history, or a line on ElevenLabs' history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum HistoryWait {
    /// This run's submit lost its answer (the connection broke after sending).
    LostAnswer {
        /// Lost answers for this render so far.
        lost: u32,
    },
    /// A run that died had claimed it and journaled no request id.
    Crashed {
        /// The dead run.
        owner: String,
    },
    /// This run's request to ElevenLabs lost its answer: its history is searched for the line.
    SpeechAnswerLost {
        /// Lost answers for this line so far.
        lost: u32,
    },
    /// A run that died had claimed the line and journaled no answer.
    SpeechCrashed {
        /// The dead run.
        owner: String,
    },
}

/// Why a run stops starting work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// Ctrl-C or SIGTERM.
    Interrupted,
    /// Whoever read the output went away.
    OutputClosed,
    /// fal answered that the account is out of credit: nothing more is submitted; renders already
    /// at fal finish and are journaled.
    OutOfCredit,
    /// A node failed and the run was told to stop at the first failure.
    FailFast,
}

fn seconds<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64((duration.as_secs_f64() * 1000.0).round() / 1000.0)
}

fn usd<S: serde::Serializer>(amount: &Usd, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(amount.dollars())
}

/// Why the next model of a chain took over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum FallbackReason {
    /// fal answered 404 for the endpoint: the model is withdrawn.
    Withdrawn,
    /// fal refused the input (422) as outside the model's limits.
    OutsideLimits,
    /// The runner failed the render this many times on the model.
    FailedRepeatedly {
        /// Failures on the model.
        times: u32,
    },
}

impl std::fmt::Display for FallbackReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FallbackReason::Withdrawn => f.write_str("fal answered 404: the endpoint is withdrawn"),
            FallbackReason::OutsideLimits => {
                f.write_str("fal refused the input as outside the model's limits (422)")
            }
            FallbackReason::FailedRepeatedly { times } => {
                write!(f, "the runner failed the render {times} times")
            }
        }
    }
}
