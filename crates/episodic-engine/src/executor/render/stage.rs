//! The stages of one render and the one function that moves it on: [`step`] takes the stage and
//! what just happened and returns the next stage and the one thing to do next. It does no I/O and
//! reads no clock (times arrive inside events), so every decision about paying can be tested on
//! its own; the driver (`driver.rs`) does the effects and feeds their outcomes back in.
//!
//! ```text
//! Start ─claimed─▶ Submitting ─accepted─▶ Recording ─▶ Submitted ─result─▶ Completed
//!   │                 ▲    │ answer lost       ▲                  └─fal failed─▶ Failed
//!   │   absent past   │    ▼                   │
//!   │   the grace     └─ Searching ─found──────┘   (fal's request history, looked at repeatedly)
//!   ├─ dead run's claim, no id ─▶ Searching ─found─▶ Recording (taken over)
//!   │                                └─absent past the grace─▶ Start (forced) ─▶ Submitting
//!   ├─ another live run holds it ─▶ Busy ─pause─▶ Start
//!   └─ done earlier ─▶ Completed (reused);  failed earlier ─▶ Failed, or (retry) ─▶ Start
//! ```

use crate::NodeError;
use crate::journal::{Claim, RenderRecord, UnixSeconds};
use episodic_fal::{FalError, FalErrorKind};
use serde_json::Value;
use std::time::Duration;

/// How far fal's history timestamps and ours may disagree: the search starts this long before
/// the claim (`fal-platform-api.md` §4 uses a 60 s skew).
pub(crate) const HISTORY_SKEW: i64 = 60;

/// How many submits of one render may lose their answers before the run stops trying it. Each
/// one is settled from fal's history before the next, so a flaky link costs time, never money.
pub(crate) const MAX_LOST_ANSWERS: u32 = 4;

/// The first look in the history comes this soon; later ones back off to [`MAX_HISTORY_INTERVAL`].
const FIRST_HISTORY_CHECK: Duration = Duration::from_millis(500);

/// The longest pause between two looks in the history.
const MAX_HISTORY_INTERVAL: Duration = Duration::from_secs(30);

/// Waits for one render's outcome that may break in a row on transient trouble before the render
/// is left for the next run. Waiting costs nothing; each wait already retried 9 times.
pub(crate) const MAX_BROKEN_WAITS: u32 = 5;

/// The pause before waiting again after a broken wait; doubled each time.
const BROKEN_WAIT_PAUSE: Duration = Duration::from_secs(1);

/// The pause before asking again about a render another live process is working on.
pub(crate) const BUSY_PAUSE: Duration = Duration::from_millis(500);

/// What the user allowed for this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Policy {
    /// Claim renders that failed in an earlier run again (`--retry-failed` in the CLI).
    pub(crate) retry_failed: bool,
    /// Submit again, without waiting, what may or may not have reached fal.
    pub(crate) resubmit_ambiguous: bool,
    /// The backend forgets everything between runs and costs nothing (the in-process studio).
    pub(crate) ephemeral: bool,
    /// How long a request missing from fal's history may still show up there, in seconds.
    pub(crate) grace: i64,
}

/// Why the driver is searching fal's request history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SearchReason {
    /// This run's submit got no answer; `lost` submits of this render have lost theirs so far.
    LostAnswer {
        /// Lost answers so far, this one included.
        lost: u32,
    },
    /// A run that died (`owner`) had claimed the render and journaled no request id.
    Orphan {
        /// The dead run, for messages.
        owner: String,
    },
}

/// A search of fal's request history for a request whose id was never journaled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Search {
    /// Why.
    pub(crate) reason: SearchReason,
    /// Requests sent since then are candidates.
    pub(crate) since: UnixSeconds,
    /// Absent until then, the request is taken as never sent.
    pub(crate) deadline: UnixSeconds,
    /// Looks so far.
    pub(crate) checks: u32,
    /// When the last look was taken.
    pub(crate) last_check: Option<UnixSeconds>,
    /// Why the last look could not read the history, if it could not.
    pub(crate) last_error: Option<String>,
}

impl Search {
    /// How long to wait before the next look: soon at first, backing off, never past the deadline
    /// by more than a second (the decision is due then).
    fn next_look(&self, now: UnixSeconds) -> Duration {
        let backoff = FIRST_HISTORY_CHECK.saturating_mul(1 << self.checks.min(8)).min(MAX_HISTORY_INTERVAL);
        let to_deadline = Duration::from_secs(u64::try_from(self.deadline - now).unwrap_or(0) + 1);
        backoff.min(to_deadline)
    }

    /// This search after one more look, taken at `at`, that could not read the history when
    /// `error` says so.
    fn looked(&self, at: UnixSeconds, error: Option<String>) -> Search {
        Search { checks: self.checks + 1, last_check: Some(at), last_error: error, ..self.clone() }
    }

    /// What the history showed, for a failure message.
    fn findings(&self) -> String {
        let looks = match self.checks {
            1 => "1 look".to_owned(),
            n => format!("{n} looks"),
        };
        let last = self.last_check.map(episodic_fal::timefmt::format_rfc3339).unwrap_or_default();
        match &self.last_error {
            Some(error) => {
                format!("fal's request history could not be read ({looks}, last at {last}: {error})")
            }
            None => format!("fal's request history did not show it ({looks}, last at {last})"),
        }
    }
}

/// Where one render is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Stage {
    /// Nothing asked of the journal yet.
    Start,
    /// Another live process holds the claim; asking again after a pause.
    Busy,
    /// The claim is ours: the breaker and the budget are checked, then the POST goes out.
    Submitting {
        /// Submits of this render whose answers were lost before this one.
        lost: u32,
    },
    /// A request id was found or received and is being journaled.
    Recording {
        /// fal's request id.
        request_id: String,
    },
    /// fal may have the request but its id is unknown: looking in the history.
    Searching(Search),
    /// fal has the request; waiting for its outcome.
    Submitted {
        /// fal's request id.
        request_id: String,
        /// Waits in a row that broke on transient trouble (the network, 5xx, 429).
        broken: u32,
    },
    /// Done (made now or reused).
    Completed,
    /// Ended without a result.
    Failed,
}

/// What happened: the outcome of the last effect.
#[derive(Debug)]
pub(crate) enum Event {
    /// The journal's answer to a claim, a retry or a forced resubmit.
    Journal(Claim),
    /// The pause before asking again is over.
    Paused,
    /// The submit was not sent: the budget or the spend breaker stopped it.
    NotSent(NodeError),
    /// fal queued the request.
    Accepted {
        /// fal's request id.
        request_id: String,
        /// Requests ahead of it, when fal said.
        queue_position: Option<u64>,
    },
    /// fal answered the submit with an error: nothing was queued.
    Refused(FalError),
    /// The submit's answer never came: fal may or may not have queued it.
    AnswerLost {
        /// When the answer was given up on.
        at: UnixSeconds,
    },
    /// A look in the history found the request.
    Found {
        /// Its id.
        request_id: String,
    },
    /// A look in the history did not find it.
    Absent {
        /// When the look was taken.
        at: UnixSeconds,
    },
    /// The history could not be read.
    HistoryUnreadable {
        /// When.
        at: UnixSeconds,
        /// Why.
        error: String,
    },
    /// The request id is journaled.
    Recorded,
    /// fal finished the render with a result.
    Succeeded {
        /// fal's result JSON.
        result: Value,
    },
    /// fal finished the render with an error (it is billed by fal's rules, and never retried
    /// blindly).
    RenderError {
        /// fal's message.
        message: String,
    },
    /// fal no longer knows the request (results expire; the local studio restarted).
    Forgotten(FalError),
    /// Waiting for the outcome broke after the client's own retries; the request is still fal's.
    WaitBroke {
        /// What broke.
        error: NodeError,
        /// Whether it may pass (the network, 5xx, 429), so waiting again is worth it.
        transient: bool,
    },
    /// The run is stopping.
    Cancelled,
}

/// What to do next. The driver does it and reports the outcome as an [`Event`].
#[derive(Debug)]
pub(crate) enum Effect {
    /// Claim the key in the journal.
    Claim,
    /// Claim a failed render again (the user asked).
    RetryFailed,
    /// Take over a claim whose fate is unknown, to submit it.
    ForceResubmit,
    /// Wait, then [`Effect::Claim`].
    Pause(Duration),
    /// Check the breaker and the budget, then POST the request.
    Submit,
    /// Wait `after`, then look for the request in fal's history; `announce` the wait first.
    SearchHistory {
        /// The search.
        search: Search,
        /// Wait this long before looking.
        after: Duration,
        /// Tell the user what is being waited for (at the start of a search).
        announce: bool,
    },
    /// Journal the request id (taking the claim over first when `take_over`).
    Record {
        /// fal's request id.
        request_id: String,
        /// The claim belongs to a dead run: take it over before recording.
        take_over: bool,
        /// Why the id is known, for the progress line.
        how: Recorded,
    },
    /// Wait `after`, then wait for fal's outcome of the request.
    Await {
        /// fal's request id.
        request_id: String,
        /// A pause first (after a broken wait).
        after: Duration,
    },
    /// The local studio forgot the request: journal it failed and claim it again (free there).
    Reclaim,
    /// Journal the result and its cost: the render is done.
    Complete {
        /// fal's request id.
        request_id: String,
        /// fal's result JSON.
        result: Value,
    },
    /// Hand back the result an earlier run journaled.
    Reuse(Box<RenderRecord>),
    /// End without a result, leaving the claim as `claim` says.
    Fail {
        /// Why.
        error: NodeError,
        /// What becomes of the journal's claim.
        claim: ClaimFate,
    },
}

/// How a request id became known, for the progress line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recorded {
    /// fal answered the submit.
    Answered {
        /// Requests ahead of it, when fal said.
        queue_position: Option<u64>,
    },
    /// The submit's answer was lost and the history showed the request.
    FoundAfterLostAnswer,
    /// A dead run's request was found in the history.
    FoundAfterCrash,
}

/// What a failing render does with its claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ClaimFate {
    /// Leave the journal as it is (the request may be fal's; a rerun re-attaches or searches).
    Keep,
    /// Nothing was sent: give the claim back so a later run may submit.
    Release,
    /// Journal the render as failed with this message (a retry is the user's decision).
    MarkFailed(String),
}

/// The next stage and effect after `event` in `stage`. `None` when the event makes no sense in
/// the stage (a driver bug), which the driver reports instead of guessing.
pub(crate) fn step(stage: &Stage, event: Event, policy: &Policy) -> Option<(Stage, Effect)> {
    use Effect as E;
    use Stage as S;
    let fail = |error: NodeError, claim: ClaimFate| (S::Failed, E::Fail { error, claim });
    Some(match (stage, event) {
        (_, Event::Cancelled) => fail(NodeError::Interrupted, ClaimFate::Keep),

        // The journal's answer, whichever way it was asked (a take-over another run beat us to
        // arrives while recording).
        (S::Start | S::Busy | S::Recording { .. }, Event::Journal(claim)) => match claim {
            Claim::Claimed => (S::Submitting { lost: 0 }, E::Submit),
            Claim::Done(record) => (S::Completed, E::Reuse(record)),
            Claim::Reattach { request_id } => (
                S::Submitted { request_id: request_id.clone(), broken: 0 },
                E::Await { request_id, after: Duration::ZERO },
            ),
            Claim::Busy { .. } => (S::Busy, E::Pause(BUSY_PAUSE)),
            Claim::Failed { .. } if policy.retry_failed => (S::Start, E::RetryFailed),
            Claim::Failed { error, .. } => fail(NodeError::FailedEarlier { message: error }, ClaimFate::Keep),
            Claim::Ambiguous { .. } if policy.resubmit_ambiguous || policy.ephemeral => {
                (S::Start, E::ForceResubmit)
            }
            Claim::Ambiguous { owner, claimed_at } => {
                let search = Search {
                    reason: SearchReason::Orphan { owner: owner.to_string() },
                    since: claimed_at - HISTORY_SKEW,
                    deadline: claimed_at.saturating_add(policy.grace),
                    checks: 0,
                    last_check: None,
                    last_error: None,
                };
                (
                    S::Searching(search.clone()),
                    E::SearchHistory { search, after: Duration::ZERO, announce: true },
                )
            }
        },
        (S::Busy, Event::Paused) => (S::Start, E::Claim),

        // Submitting.
        (S::Submitting { .. }, Event::NotSent(error)) => fail(error, ClaimFate::Release),
        (S::Submitting { .. }, Event::Accepted { request_id, queue_position }) => (
            S::Recording { request_id: request_id.clone() },
            E::Record { request_id, take_over: false, how: Recorded::Answered { queue_position } },
        ),
        (S::Submitting { .. }, Event::Refused(error)) => {
            let claim = match &error.kind {
                // fal looked at the input and refused it: the same input is refused again.
                FalErrorKind::Validation { .. } => ClaimFate::MarkFailed(error.to_string()),
                _ => ClaimFate::Release,
            };
            let error = match error.kind {
                FalErrorKind::OutOfCredit { .. } => NodeError::OutOfCredit(error),
                _ => NodeError::Fal(error),
            };
            fail(error, claim)
        }
        (S::Submitting { lost }, Event::AnswerLost { at }) => {
            let lost = lost + 1;
            let grace = if policy.resubmit_ambiguous || policy.ephemeral { 0 } else { policy.grace };
            let search = Search {
                reason: SearchReason::LostAnswer { lost },
                since: at - HISTORY_SKEW,
                deadline: at.saturating_add(grace),
                checks: 0,
                last_check: None,
                last_error: None,
            };
            (S::Searching(search.clone()), E::SearchHistory { search, after: Duration::ZERO, announce: true })
        }

        // Searching the history.
        (S::Searching(search), Event::Found { request_id }) => {
            let (take_over, how) = match search.reason {
                SearchReason::LostAnswer { .. } => (false, Recorded::FoundAfterLostAnswer),
                SearchReason::Orphan { .. } => (true, Recorded::FoundAfterCrash),
            };
            (S::Recording { request_id: request_id.clone() }, E::Record { request_id, take_over, how })
        }
        (S::Searching(search), Event::Absent { at }) => {
            let search = search.looked(at, None);
            if let Some(again) = look_again(&search, at) {
                return Some(again);
            }
            // Absent well past the longest time fal takes to list a request: it was never sent.
            match search.reason {
                SearchReason::LostAnswer { lost } if lost >= MAX_LOST_ANSWERS => fail(
                    NodeError::LinkDropping { lost, history: search.findings() },
                    // Nothing of ours is at fal: a later run may claim it afresh.
                    ClaimFate::Release,
                ),
                // The claim is still ours: submitting again cannot pay twice.
                SearchReason::LostAnswer { lost } => (S::Submitting { lost }, E::Submit),
                SearchReason::Orphan { .. } => (S::Start, E::ForceResubmit),
            }
        }
        (S::Searching(search), Event::HistoryUnreadable { at, error }) => {
            let search = search.looked(at, Some(error));
            if let Some(again) = look_again(&search, at) {
                return Some(again);
            }
            // Without the history nothing says the request is not at fal: never submit blind.
            let error = NodeError::Ambiguous {
                owner: match &search.reason {
                    SearchReason::Orphan { owner } => owner.clone(),
                    SearchReason::LostAnswer { .. } => "this run".to_owned(),
                },
                history: search.findings(),
            };
            fail(error, ClaimFate::Keep)
        }

        // The id is journaled: wait for the outcome.
        (S::Recording { request_id }, Event::Recorded) => (
            S::Submitted { request_id: request_id.clone(), broken: 0 },
            E::Await { request_id: request_id.clone(), after: Duration::ZERO },
        ),

        // Waiting for fal.
        (S::Submitted { request_id, .. }, Event::Succeeded { result }) => {
            (S::Completed, E::Complete { request_id: request_id.clone(), result })
        }
        (S::Submitted { request_id, .. }, Event::RenderError { message }) => fail(
            NodeError::RenderFailed { request_id: request_id.clone(), message: message.clone() },
            ClaimFate::MarkFailed(message),
        ),
        (S::Submitted { .. }, Event::Forgotten(_)) if policy.ephemeral => (S::Start, E::Reclaim),
        (S::Submitted { request_id, .. }, Event::Forgotten(error)) => {
            let message = format!("fal no longer knows request {request_id}: {error}");
            fail(
                NodeError::RenderFailed { request_id: request_id.clone(), message: message.clone() },
                ClaimFate::MarkFailed(message),
            )
        }
        // Polling is free: transient trouble is waited out a few times before the render is left,
        // still submitted, for the next run to re-attach.
        (S::Submitted { request_id, broken }, Event::WaitBroke { transient: true, .. })
            if broken + 1 < MAX_BROKEN_WAITS =>
        {
            let after = BROKEN_WAIT_PAUSE.saturating_mul(1 << broken);
            (
                S::Submitted { request_id: request_id.clone(), broken: broken + 1 },
                E::Await { request_id: request_id.clone(), after },
            )
        }
        (S::Submitted { .. }, Event::WaitBroke { error, .. }) => fail(error, ClaimFate::Keep),

        _ => return None,
    })
}

/// Another look later, while the search's deadline has not come.
fn look_again(search: &Search, at: UnixSeconds) -> Option<(Stage, Effect)> {
    (at < search.deadline).then(|| {
        let after = search.next_look(at);
        (
            Stage::Searching(search.clone()),
            Effect::SearchHistory { search: search.clone(), after, announce: false },
        )
    })
}

#[cfg(test)]
#[path = "stage_tests.rs"]
mod tests;
