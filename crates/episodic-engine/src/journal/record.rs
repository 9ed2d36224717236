//! The journal's records: what one row of each table means, as types that cannot hold an invalid
//! state (a submitted render always has a request id, a completed one always has its result).

use std::fmt;
use std::path::PathBuf;

/// Unix time in whole seconds, the unit of every timestamp in the journal.
pub type UnixSeconds = i64;

/// The current Unix time in seconds; the journal takes `now` as a parameter so tests control time.
pub fn now() -> UnixSeconds {
    // A clock before 1970 is a broken machine; 0 makes every claim look stale, which only ever
    // leads to reports of ambiguity, never to a second submission.
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
}

/// The id of a run (one `episodic render` invocation) in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunId(pub i64);

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A process as seen by the journal: its pid and the host it runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    /// The operating system's process id.
    pub pid: u32,
    /// The host name; claims are checked by pid only on the same host.
    pub host: String,
}

impl Process {
    /// This process: its pid and the machine's host name.
    pub fn current() -> Process {
        Process { pid: std::process::id(), host: super::liveness::host_name() }
    }
}

/// Who holds a claim: a run, and the process that runs it. Written with every claim so that a
/// later process can tell a live owner from a dead one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// The run that holds the claim.
    pub run_id: RunId,
    /// The pid of the process running it.
    pub pid: u32,
    /// The host that process runs on.
    pub host: String,
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "run {} (pid {} on {})", self.run_id, self.pid, self.host)
    }
}

/// Where a render is in its life. A render with no row is planned but not claimed yet.
#[derive(Debug, Clone, PartialEq)]
pub enum RenderState {
    /// Claimed by `owner`, who is about to POST it (or did, and crashed before journaling the id).
    Submitting {
        /// The claim's holder.
        owner: Owner,
        /// When it was claimed.
        claimed_at: UnixSeconds,
    },
    /// fal accepted it and gave `request_id`; the result is not journaled yet.
    Submitted {
        /// The claim's holder, who polls for the result.
        owner: Owner,
        /// fal's request id: enough to poll and fetch the result without paying again.
        request_id: String,
        /// When the id was journaled.
        submitted_at: UnixSeconds,
    },
    /// Done and paid for: the result is kept and reused by every later run.
    Completed {
        /// fal's request id.
        request_id: String,
        /// fal's result JSON, verbatim.
        result: serde_json::Value,
        /// The seconds fal bills for (from the result's durations).
        billed_seconds: f64,
        /// The billed cost in micro-dollars.
        cost_micros: u64,
        /// When the result was journaled.
        completed_at: UnixSeconds,
        /// The run that journaled the result (its spending includes this cost).
        completed_by: RunId,
    },
    /// fal (or the submit) failed; retried only when the user asks.
    Failed {
        /// fal's request id, if the render got that far.
        request_id: Option<String>,
        /// What went wrong, for the report.
        error: String,
        /// When the failure was journaled.
        failed_at: UnixSeconds,
    },
}

impl RenderState {
    /// The state's name as stored in the `state` column.
    pub fn name(&self) -> &'static str {
        match self {
            RenderState::Submitting { .. } => "submitting",
            RenderState::Submitted { .. } => "submitted",
            RenderState::Completed { .. } => "completed",
            RenderState::Failed { .. } => "failed",
        }
    }

    /// The owner of an unfinished render (`Submitting` or `Submitted`).
    pub fn owner(&self) -> Option<&Owner> {
        match self {
            RenderState::Submitting { owner, .. } | RenderState::Submitted { owner, .. } => Some(owner),
            RenderState::Completed { .. } | RenderState::Failed { .. } => None,
        }
    }

    /// fal's request id, once known.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            RenderState::Submitting { .. } => None,
            RenderState::Submitted { request_id, .. } | RenderState::Completed { request_id, .. } => {
                Some(request_id)
            }
            RenderState::Failed { request_id, .. } => request_id.as_deref(),
        }
    }
}

/// One render in the journal.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderRecord {
    /// The render's key: a hash of endpoint and canonical arguments.
    pub key: String,
    /// The fal endpoint id.
    pub endpoint: String,
    /// The canonical JSON arguments the key was computed from.
    pub args: String,
    /// Where the render is.
    pub state: RenderState,
    /// How many times it was submitted or claimed for submission (more than 1 only by an explicit
    /// `retry_failed` or `force_resubmit`).
    pub attempts: u32,
    /// When the row last changed.
    pub updated_at: UnixSeconds,
}

/// What `claim_render` decided; each variant says what the caller must do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// The render is now `Submitting`, owned by the caller: submit it, then `mark_submitted` (or
    /// `release` if the request certainly was not sent, `mark_failed` if fal refused it).
    Claimed,
    /// Already completed: reuse the result, submit nothing.
    Done(Box<RenderRecord>),
    /// Submitted earlier and the result is not journaled: poll this request, do not submit. The
    /// caller now owns the render.
    Reattach {
        /// fal's request id to poll.
        request_id: String,
    },
    /// Another live process owns the render: wait for it or skip it; never submit.
    Busy {
        /// The live owner.
        owner: Owner,
    },
    /// A `Submitting` claim whose process is gone: the POST may or may not have reached fal.
    /// Report it; only an explicit user decision (`force_resubmit`) submits it again.
    Ambiguous {
        /// The dead owner.
        owner: Owner,
        /// When it claimed the render: fal's history is searched from shortly before.
        claimed_at: UnixSeconds,
    },
    /// Failed earlier; `retry_failed` claims it again if the user asked (`--retry-failed`).
    Failed {
        /// fal's request id, if the render got that far.
        request_id: Option<String>,
        /// What went wrong.
        error: String,
    },
}

/// A file uploaded to fal's storage, cached by content hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRecord {
    /// Hex sha256 of the file's bytes.
    pub sha256: String,
    /// The URL fal's storage serves it at.
    pub url: String,
    /// The MIME type it was uploaded with.
    pub content_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was uploaded.
    pub uploaded_at: UnixSeconds,
    /// When the URL stops working, if fal said.
    pub expires_at: Option<UnixSeconds>,
}

/// A file in `artifacts/` produced for a node (a downloaded render, a composed segment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactRecord {
    /// The node key that produced it.
    pub key: String,
    /// Its path relative to the state directory (`artifacts/<sha256>.<ext>`).
    pub path: PathBuf,
    /// Hex sha256 of its bytes.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was recorded.
    pub created_at: UnixSeconds,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    /// Every episode rendered.
    Succeeded,
    /// At least one episode failed.
    Failed,
    /// Stopped by a signal or by the user before the end.
    Interrupted,
}

impl RunOutcome {
    /// The outcome as stored in the `outcome` column.
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Succeeded => "succeeded",
            RunOutcome::Failed => "failed",
            RunOutcome::Interrupted => "interrupted",
        }
    }

    /// Parses the stored form.
    pub fn parse(text: &str) -> Option<RunOutcome> {
        match text {
            "succeeded" => Some(RunOutcome::Succeeded),
            "failed" => Some(RunOutcome::Failed),
            "interrupted" => Some(RunOutcome::Interrupted),
            _ => None,
        }
    }
}

/// One run (one `episodic render` invocation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    /// Its id.
    pub id: RunId,
    /// When it started.
    pub started_at: UnixSeconds,
    /// When it finished, if it did (a crashed run never finishes).
    pub finished_at: Option<UnixSeconds>,
    /// The pid of its process.
    pub pid: u32,
    /// The host it ran on.
    pub host: String,
    /// The manifests it was given.
    pub manifests: Vec<String>,
    /// How it ended, if it did.
    pub outcome: Option<RunOutcome>,
    /// Its last sign of life.
    pub heartbeat_at: UnixSeconds,
}

impl RunRecord {
    /// The owner that claims made by this run carry.
    pub fn owner(&self) -> Owner {
        Owner { run_id: self.id, pid: self.pid, host: self.host.clone() }
    }
}
