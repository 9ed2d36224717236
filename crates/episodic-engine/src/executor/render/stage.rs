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
mod tests {
    //! One test per transition of [`step`]: what a render does after each thing that can happen.

    use super::*;
    use crate::journal::{Owner, RunId};
    use episodic_fal::Operation;

    const POLICY: Policy =
        Policy { retry_failed: false, resubmit_ambiguous: false, ephemeral: false, grace: 600 };

    fn owner() -> Owner {
        Owner { run_id: RunId(7), pid: 42, host: "box".into() }
    }

    fn fal_error(kind: FalErrorKind) -> FalError {
        FalError::new(Operation::Submit, kind)
    }

    fn go(stage: &Stage, event: Event) -> (Stage, Effect) {
        go_with(stage, event, &POLICY)
    }

    fn go_with(stage: &Stage, event: Event, policy: &Policy) -> (Stage, Effect) {
        step(stage, event, policy).expect("a transition")
    }

    fn search(reason: SearchReason, since: UnixSeconds, deadline: UnixSeconds) -> Search {
        Search { reason, since, deadline, checks: 0, last_check: None, last_error: None }
    }

    /// The stage and effect of a search that starts now, announced.
    fn assert_search_starts(stage: Stage, effect: Effect, expected: &Search) {
        assert_eq!(stage, Stage::Searching(expected.clone()));
        assert!(matches!(
            effect,
            Effect::SearchHistory { search, after, announce: true } if search == *expected && after.is_zero()
        ));
    }

    fn lost(lost: u32) -> SearchReason {
        SearchReason::LostAnswer { lost }
    }

    fn orphan() -> SearchReason {
        SearchReason::Orphan { owner: owner().to_string() }
    }

    fn completed() -> Box<RenderRecord> {
        Box::new(RenderRecord {
            key: "k".into(),
            endpoint: "fal-ai/x".into(),
            args: "{}".into(),
            attempts: 1,
            state: crate::journal::RenderState::Completed {
                request_id: "req".into(),
                result: serde_json::json!({}),
                billed_seconds: 1.0,
                cost_micros: 1,
                completed_at: 1,
                completed_by: RunId(1),
            },
            updated_at: 1,
        })
    }

    // --- the journal's answers ---

    #[test]
    fn a_fresh_claim_is_submitted() {
        let (stage, effect) = go(&Stage::Start, Event::Journal(Claim::Claimed));
        assert_eq!(stage, Stage::Submitting { lost: 0 });
        assert!(matches!(effect, Effect::Submit));
    }

    #[test]
    fn a_render_done_earlier_is_reused_and_never_submitted() {
        let (stage, effect) = go(&Stage::Start, Event::Journal(Claim::Done(completed())));
        assert_eq!(stage, Stage::Completed);
        assert!(matches!(effect, Effect::Reuse(_)));
    }

    #[test]
    fn a_journaled_request_is_reattached_not_submitted() {
        let (stage, effect) = go(&Stage::Start, Event::Journal(Claim::Reattach { request_id: "req".into() }));
        assert_eq!(stage, Stage::Submitted { request_id: "req".into(), broken: 0 });
        assert!(
            matches!(effect, Effect::Await { request_id, after } if request_id == "req" && after.is_zero())
        );
    }

    #[test]
    fn a_render_another_live_run_holds_is_waited_for() {
        let (stage, effect) = go(&Stage::Start, Event::Journal(Claim::Busy { owner: owner() }));
        assert_eq!(stage, Stage::Busy);
        assert!(matches!(effect, Effect::Pause(BUSY_PAUSE)));
        let (stage, effect) = go(&Stage::Busy, Event::Paused);
        assert_eq!(stage, Stage::Start);
        assert!(matches!(effect, Effect::Claim));
        // Asked again, the journal may say it is done now.
        let (stage, _) = go(&Stage::Busy, Event::Journal(Claim::Done(completed())));
        assert_eq!(stage, Stage::Completed);
    }

    #[test]
    fn a_render_that_failed_earlier_stays_failed_without_the_users_word() {
        let claim = Claim::Failed { request_id: Some("req".into()), error: "runner died".into() };
        let (stage, effect) = go(&Stage::Start, Event::Journal(claim));
        assert_eq!(stage, Stage::Failed);
        assert!(matches!(
            effect,
            Effect::Fail { error: NodeError::FailedEarlier { message }, claim: ClaimFate::Keep } if message == "runner died"
        ));
    }

    #[test]
    fn a_render_that_failed_earlier_is_claimed_again_when_the_user_asks() {
        let policy = Policy { retry_failed: true, ..POLICY };
        let claim = Claim::Failed { request_id: None, error: "x".into() };
        let (stage, effect) = go_with(&Stage::Start, Event::Journal(claim), &policy);
        assert_eq!(stage, Stage::Start);
        assert!(matches!(effect, Effect::RetryFailed));
    }

    #[test]
    fn a_dead_runs_claim_is_searched_for_in_the_history_until_the_grace_ends() {
        let claim = Claim::Ambiguous { owner: owner(), claimed_at: 1_000 };
        let (stage, effect) = go(&Stage::Start, Event::Journal(claim));
        assert_search_starts(stage, effect, &search(orphan(), 1_000 - HISTORY_SKEW, 1_600));
    }

    #[test]
    fn a_dead_runs_claim_is_forced_when_the_user_asks_or_the_backend_is_free() {
        for policy in [Policy { resubmit_ambiguous: true, ..POLICY }, Policy { ephemeral: true, ..POLICY }] {
            let claim = Claim::Ambiguous { owner: owner(), claimed_at: 1_000 };
            let (stage, effect) = go_with(&Stage::Start, Event::Journal(claim), &policy);
            assert_eq!(stage, Stage::Start);
            assert!(matches!(effect, Effect::ForceResubmit));
        }
    }

    // --- submitting ---

    #[test]
    fn an_accepted_submit_is_journaled_before_anything_else() {
        let (stage, effect) = go(
            &Stage::Submitting { lost: 0 },
            Event::Accepted { request_id: "req".into(), queue_position: Some(3) },
        );
        assert_eq!(stage, Stage::Recording { request_id: "req".into() });
        assert!(matches!(
            effect,
            Effect::Record { request_id, take_over: false, how: Recorded::Answered { queue_position: Some(3) } } if request_id == "req"
        ));
        let (stage, effect) = go(&stage, Event::Recorded);
        assert_eq!(stage, Stage::Submitted { request_id: "req".into(), broken: 0 });
        assert!(matches!(effect, Effect::Await { .. }));
    }

    #[test]
    fn a_submit_not_sent_gives_the_claim_back() {
        for error in [NodeError::SpendStopped, NodeError::Interrupted] {
            let (stage, effect) = go(&Stage::Submitting { lost: 0 }, Event::NotSent(error));
            assert_eq!(stage, Stage::Failed);
            assert!(matches!(effect, Effect::Fail { claim: ClaimFate::Release, .. }));
        }
    }

    #[test]
    fn a_refused_input_is_journaled_failed() {
        let detail = episodic_fal::wire::ValidationDetail::Message("too short".into());
        let error = fal_error(FalErrorKind::Validation { status: 422, detail });
        let (stage, effect) = go(&Stage::Submitting { lost: 0 }, Event::Refused(error));
        assert_eq!(stage, Stage::Failed);
        assert!(matches!(effect, Effect::Fail { error: NodeError::Fal(_), claim: ClaimFate::MarkFailed(_) }));
    }

    #[test]
    fn out_of_credit_gives_the_claim_back_and_says_so() {
        let error = fal_error(FalErrorKind::OutOfCredit { detail: "User is locked".into() });
        let (_, effect) = go(&Stage::Submitting { lost: 0 }, Event::Refused(error));
        assert!(matches!(
            effect,
            Effect::Fail { error: NodeError::OutOfCredit(_), claim: ClaimFate::Release }
        ));
    }

    #[test]
    fn other_refusals_give_the_claim_back() {
        let error = fal_error(FalErrorKind::Unauthorized { detail: "bad key".into() });
        let (_, effect) = go(&Stage::Submitting { lost: 0 }, Event::Refused(error));
        assert!(matches!(effect, Effect::Fail { error: NodeError::Fal(_), claim: ClaimFate::Release }));
    }

    #[test]
    fn a_lost_answer_starts_a_search_of_the_history_at_once() {
        let (stage, effect) = go(&Stage::Submitting { lost: 1 }, Event::AnswerLost { at: 2_000 });
        assert_search_starts(stage, effect, &search(lost(2), 2_000 - HISTORY_SKEW, 2_600));
    }

    #[test]
    fn with_resubmit_ambiguous_a_lost_answer_is_looked_up_once() {
        let policy = Policy { resubmit_ambiguous: true, ..POLICY };
        let (stage, _) = go_with(&Stage::Submitting { lost: 0 }, Event::AnswerLost { at: 2_000 }, &policy);
        let Stage::Searching(found) = stage else { panic!("searching") };
        assert_eq!(found.deadline, 2_000);
    }

    // --- searching the history ---

    #[test]
    fn a_lost_answer_found_in_the_history_is_reattached() {
        let stage = Stage::Searching(search(lost(1), 0, 100));
        let (stage, effect) = go(&stage, Event::Found { request_id: "req".into() });
        assert_eq!(stage, Stage::Recording { request_id: "req".into() });
        assert!(matches!(
            effect,
            Effect::Record { take_over: false, how: Recorded::FoundAfterLostAnswer, .. }
        ));
    }

    #[test]
    fn a_dead_runs_request_found_in_the_history_is_taken_over() {
        let stage = Stage::Searching(search(orphan(), 0, 100));
        let (_, effect) = go(&stage, Event::Found { request_id: "req".into() });
        assert!(matches!(effect, Effect::Record { take_over: true, how: Recorded::FoundAfterCrash, .. }));
    }

    #[test]
    fn absent_before_the_deadline_means_look_again_later_with_backoff() {
        let stage = Stage::Searching(search(lost(1), 0, 1_000));
        let (stage, effect) = go(&stage, Event::Absent { at: 10 });
        let Effect::SearchHistory { after: first, announce: false, .. } = effect else {
            panic!("look again")
        };
        let (_, effect) = go(&stage, Event::Absent { at: 11 });
        let Effect::SearchHistory { after: second, search, .. } = effect else { panic!("look again") };
        assert_eq!(first, FIRST_HISTORY_CHECK * 2);
        assert!(second > first);
        assert_eq!(search.checks, 2);
        assert_eq!(search.last_check, Some(11));
        // Never more than the cap, and never far past the deadline.
        let late = Search { checks: 30, ..search.clone() };
        assert_eq!(late.next_look(0), MAX_HISTORY_INTERVAL);
        assert_eq!(late.next_look(999), Duration::from_secs(2));
    }

    #[test]
    fn absent_past_the_deadline_a_lost_answer_is_submitted_again_on_the_same_claim() {
        let stage = Stage::Searching(search(lost(1), 0, 100));
        let (stage, effect) = go(&stage, Event::Absent { at: 100 });
        assert_eq!(stage, Stage::Submitting { lost: 1 });
        assert!(matches!(effect, Effect::Submit));
    }

    #[test]
    fn absent_past_the_deadline_a_dead_runs_claim_is_forced() {
        let stage = Stage::Searching(search(orphan(), 0, 100));
        let (stage, effect) = go(&stage, Event::Absent { at: 101 });
        assert_eq!(stage, Stage::Start);
        assert!(matches!(effect, Effect::ForceResubmit));
    }

    #[test]
    fn too_many_lost_answers_stop_the_render_saying_what_the_history_showed() {
        let stage = Stage::Searching(Search { checks: 2, ..search(lost(MAX_LOST_ANSWERS), 0, 100) });
        let (stage, effect) = go(&stage, Event::Absent { at: 100 });
        assert_eq!(stage, Stage::Failed);
        let Effect::Fail { error: NodeError::LinkDropping { lost, history }, claim: ClaimFate::Release } =
            effect
        else {
            panic!("the render stops")
        };
        assert_eq!(lost, MAX_LOST_ANSWERS);
        assert_eq!(
            history,
            "fal's request history did not show it (3 looks, last at 1970-01-01T00:01:40+00:00)"
        );
    }

    #[test]
    fn an_unreadable_history_is_asked_again_before_the_deadline() {
        let stage = Stage::Searching(search(orphan(), 0, 100));
        let (stage, effect) = go(&stage, Event::HistoryUnreadable { at: 5, error: "503".into() });
        assert!(matches!(effect, Effect::SearchHistory { .. }));
        let Stage::Searching(found) = stage else { panic!("searching") };
        assert_eq!(found.last_error.as_deref(), Some("503"));
    }

    #[test]
    fn an_unreadable_history_at_the_deadline_keeps_the_claim_and_never_submits_blind() {
        let stage = Stage::Searching(search(orphan(), 0, 100));
        let (stage, effect) = go(&stage, Event::HistoryUnreadable { at: 100, error: "503".into() });
        assert_eq!(stage, Stage::Failed);
        let Effect::Fail { error: NodeError::Ambiguous { history, .. }, claim: ClaimFate::Keep } = effect
        else {
            panic!("ambiguous")
        };
        assert!(history.contains("could not be read") && history.contains("503"), "{history}");
    }

    #[test]
    fn a_take_over_beaten_by_another_run_follows_the_journal() {
        let stage = Stage::Recording { request_id: "req".into() };
        let (stage, effect) = go(&stage, Event::Journal(Claim::Busy { owner: owner() }));
        assert_eq!(stage, Stage::Busy);
        assert!(matches!(effect, Effect::Pause(_)));
    }

    // --- waiting for fal ---

    #[test]
    fn a_result_completes_the_render() {
        let stage = Stage::Submitted { request_id: "req".into(), broken: 0 };
        let (stage, effect) = go(&stage, Event::Succeeded { result: serde_json::json!({"video": {}}) });
        assert_eq!(stage, Stage::Completed);
        assert!(matches!(effect, Effect::Complete { request_id, .. } if request_id == "req"));
    }

    #[test]
    fn a_render_fal_failed_is_journaled_failed_with_its_request_id() {
        let stage = Stage::Submitted { request_id: "req".into(), broken: 0 };
        let (stage, effect) = go(&stage, Event::RenderError { message: "Runner disconnected".into() });
        assert_eq!(stage, Stage::Failed);
        assert!(matches!(
            effect,
            Effect::Fail { error: NodeError::RenderFailed { request_id, .. }, claim: ClaimFate::MarkFailed(_) } if request_id == "req"
        ));
    }

    #[test]
    fn a_request_fal_forgot_is_failed_on_fal_and_rendered_again_on_the_studio() {
        let stage = Stage::Submitted { request_id: "req".into(), broken: 0 };
        let forgotten =
            || Event::Forgotten(fal_error(FalErrorKind::NotFound { what: "request", detail: "gone".into() }));
        let (_, effect) = go(&stage, forgotten());
        assert!(matches!(effect, Effect::Fail { claim: ClaimFate::MarkFailed(_), .. }));
        let (stage, effect) = go_with(&stage, forgotten(), &Policy { ephemeral: true, ..POLICY });
        assert_eq!(stage, Stage::Start);
        assert!(matches!(effect, Effect::Reclaim));
    }

    #[test]
    fn a_wait_broken_by_lasting_trouble_leaves_the_request_for_the_next_run() {
        let stage = Stage::Submitted { request_id: "req".into(), broken: 0 };
        let broke =
            || Event::WaitBroke { error: NodeError::Unexpected("bad answer".into()), transient: false };
        let (_, effect) = go(&stage, broke());
        assert!(matches!(effect, Effect::Fail { claim: ClaimFate::Keep, .. }));
    }

    #[test]
    fn a_wait_broken_by_transient_trouble_is_waited_again_a_few_times() {
        let broke = || Event::WaitBroke { error: NodeError::Unexpected("503".into()), transient: true };
        let mut stage = Stage::Submitted { request_id: "req".into(), broken: 0 };
        let mut pauses = Vec::new();
        for _ in 1..MAX_BROKEN_WAITS {
            let (next, effect) = go(&stage, broke());
            let Effect::Await { after, .. } = effect else { panic!("waits again") };
            pauses.push(after);
            stage = next;
        }
        assert_eq!(pauses.first(), Some(&BROKEN_WAIT_PAUSE));
        assert!(pauses.windows(2).all(|pair| pair[1] > pair[0]), "backs off: {pauses:?}");
        let (stage, effect) = go(&stage, broke());
        assert_eq!(stage, Stage::Failed);
        assert!(matches!(effect, Effect::Fail { claim: ClaimFate::Keep, .. }), "then left, still submitted");
    }

    #[test]
    fn stopping_keeps_every_claim_as_it_is() {
        let stages = [
            Stage::Start,
            Stage::Busy,
            Stage::Searching(search(lost(1), 0, 100)),
            Stage::Submitted { request_id: "req".into(), broken: 0 },
        ];
        for stage in stages {
            let (next, effect) = go(&stage, Event::Cancelled);
            assert_eq!(next, Stage::Failed);
            assert!(matches!(effect, Effect::Fail { error: NodeError::Interrupted, claim: ClaimFate::Keep }));
        }
    }

    #[test]
    fn events_that_make_no_sense_in_a_stage_are_refused() {
        assert!(step(&Stage::Start, Event::Recorded, &POLICY).is_none());
        assert!(
            step(
                &Stage::Submitted { request_id: "r".into(), broken: 0 },
                Event::Accepted { request_id: "s".into(), queue_position: None },
                &POLICY
            )
            .is_none()
        );
        assert!(step(&Stage::Completed, Event::Paused, &POLICY).is_none());
    }
}
