//! A render's fallback chain (`model: [first, second, …]` in the manifest; the plan carries each
//! member's request). The stages of one request are `stage.rs`'s; this is the level above: which
//! model's request runs next, decided by [`step`] from how the last one ended. Pure, like
//! [`super::stage::step`]: the driver runs each member's request to its end and feeds the ending in.
//!
//! ```text
//! member 0, attempt 0 ─rendered─▶ done
//!   ├─ 404 (the endpoint is withdrawn) ──────────────▶ member 1, attempt 0
//!   ├─ 422 outside the model's limits ───────────────▶ member 1, attempt 0
//!   ├─ the runner failed it ─▶ attempt 1 … attempt `fallback_after` − 1 ─failed─▶ member 1
//!   └─ anything else (budget, breaker, stopping, an unsettled submit) ─▶ the render fails
//! ```
//!
//! Each attempt has its own key in the journal (attempt 0 is the member's request key), so a
//! failure counts on every rerun and a member that rendered is found again: nothing is paid twice.

use crate::NodeError;
pub(crate) use crate::events::FallbackReason;
use crate::journal::RenderState;
use episodic_fal::{FalErrorKind, wire::ValidationDetail};
use episodic_plan::{NodeKey, RenderSpec};
use serde_json::json;

/// The journal key of try `attempt` on the chain member whose request key is `member_key`: the
/// request key itself for the first try, one derived from it for each later try.
pub(crate) fn attempt_key(member_key: &str, attempt: u32) -> String {
    match attempt {
        0 => member_key.to_owned(),
        attempt => NodeKey::of_json(&json!({"retry_of": member_key, "attempt": attempt})).to_string(),
    }
}

/// Every try's journal key of a render with a fallback chain (its node key is `key`), in the
/// order the chain runs them: each member's tries before the next member's.
pub(crate) fn try_keys(key: &str, spec: &RenderSpec) -> Vec<String> {
    let tries = spec.fallback_after.max(1);
    std::iter::once(key.to_owned())
        .chain(spec.fallbacks.iter().map(|fallback| fallback.key.to_string()))
        .flat_map(|member| (0..tries).map(move |attempt| attempt_key(&member, attempt)))
        .collect()
}

/// Where a render stands in its chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position {
    /// The model of the chain (0 = the first).
    pub(crate) member: usize,
    /// Which try on that model (0 = the first).
    pub(crate) attempt: u32,
}

/// How one member's request ended, as far as the chain cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ending {
    /// 404 for the endpoint.
    Gone,
    /// 422: the input is outside the model's limits.
    OutsideLimits,
    /// The runner failed it (now, or in an earlier run).
    RunnerFailed,
    /// Anything a fallback cannot fix (the budget, the breaker, stopping, an unsettled submit).
    Other,
}

/// What to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Next {
    /// Run the request at this position.
    Run(Position),
    /// The next model takes over, for this reason.
    FallBack {
        /// Where.
        to: Position,
        /// Why.
        reason: FallbackReason,
    },
    /// The render fails with its last error.
    GiveUp,
}

/// The next request after the one at `at` ended as `ending`, in a chain of `members` models
/// where `fallback_after` runner failures on one model hand over to the next.
pub(crate) fn step(at: Position, ending: &Ending, members: usize, fallback_after: u32) -> Next {
    let next_member = |reason| match at.member + 1 < members {
        true => Next::FallBack { to: Position { member: at.member + 1, attempt: 0 }, reason },
        false => Next::GiveUp,
    };
    match ending {
        Ending::Gone => next_member(FallbackReason::Withdrawn),
        Ending::OutsideLimits => next_member(FallbackReason::OutsideLimits),
        Ending::RunnerFailed if at.attempt + 1 < fallback_after.max(1) => {
            Next::Run(Position { member: at.member, attempt: at.attempt + 1 })
        }
        Ending::RunnerFailed => next_member(FallbackReason::FailedRepeatedly { times: at.attempt + 1 }),
        Ending::Other => Next::GiveUp,
    }
}

/// What a failed request means for its chain.
pub(crate) fn ending(error: &NodeError) -> Ending {
    match error {
        NodeError::Fal(error) => match &error.kind {
            FalErrorKind::NotFound { .. } => Ending::Gone,
            FalErrorKind::Validation { detail, .. } if outside_limits(&detail.to_string(), Some(detail)) => {
                Ending::OutsideLimits
            }
            _ => Ending::Other,
        },
        NodeError::RenderFailed { message, .. } | NodeError::FailedEarlier { message } => {
            if message.contains("(HTTP 422)") && outside_limits(message, None) {
                Ending::OutsideLimits
            } else {
                Ending::RunnerFailed
            }
        }
        _ => Ending::Other,
    }
}

/// Whether a refusal says the input is outside the model's limits (a length, a size, a range),
/// rather than malformed: pydantic's bound errors, or a message about a limit.
fn outside_limits(message: &str, detail: Option<&ValidationDetail>) -> bool {
    const BOUNDS: [&str; 6] =
        ["less_than_equal", "greater_than_equal", "less_than", "greater_than", "too_long", "too_short"];
    if let Some(ValidationDetail::Items(items)) = detail
        && items.iter().any(|item| BOUNDS.iter().any(|bound| item.kind.contains(bound)))
    {
        return true;
    }
    let message = message.to_lowercase();
    [
        "larger than",
        "longer than",
        "too long",
        "too large",
        "too short",
        "too small",
        "at most",
        "exceeds",
        "maximum",
        "duration",
    ]
    .iter()
    .any(|word| message.contains(word))
}

/// Whether a journaled request rendered (an earlier run's fallback is found this way).
pub(crate) fn rendered(state: &RenderState) -> bool {
    matches!(state, RenderState::Completed { .. })
}

#[cfg(test)]
mod tests {
    use super::*;
    use episodic_fal::{FalError, Operation};

    const START: Position = Position { member: 0, attempt: 0 };

    #[test]
    fn a_withdrawn_endpoint_hands_over_at_once() {
        assert_eq!(
            step(START, &Ending::Gone, 2, 2),
            Next::FallBack { to: Position { member: 1, attempt: 0 }, reason: FallbackReason::Withdrawn }
        );
        assert_eq!(step(Position { member: 1, attempt: 0 }, &Ending::Gone, 2, 2), Next::GiveUp);
    }

    #[test]
    fn a_refusal_outside_the_limits_hands_over_at_once() {
        assert_eq!(
            step(START, &Ending::OutsideLimits, 3, 2),
            Next::FallBack { to: Position { member: 1, attempt: 0 }, reason: FallbackReason::OutsideLimits }
        );
    }

    #[test]
    fn runner_failures_hand_over_after_fallback_after() {
        assert_eq!(step(START, &Ending::RunnerFailed, 2, 2), Next::Run(Position { member: 0, attempt: 1 }));
        assert_eq!(
            step(Position { member: 0, attempt: 1 }, &Ending::RunnerFailed, 2, 2),
            Next::FallBack {
                to: Position { member: 1, attempt: 0 },
                reason: FallbackReason::FailedRepeatedly { times: 2 }
            }
        );
        assert_eq!(
            step(START, &Ending::RunnerFailed, 2, 1),
            Next::FallBack {
                to: Position { member: 1, attempt: 0 },
                reason: FallbackReason::FailedRepeatedly { times: 1 }
            }
        );
        // The last model fails like a render without a chain.
        assert_eq!(step(Position { member: 1, attempt: 1 }, &Ending::RunnerFailed, 2, 2), Next::GiveUp);
    }

    #[test]
    fn what_a_fallback_cannot_fix_fails_the_render() {
        assert_eq!(step(START, &Ending::Other, 3, 2), Next::GiveUp);
    }

    #[test]
    fn endings_from_errors() {
        let fal = |kind| NodeError::Fal(FalError::new(Operation::Submit, kind));
        assert_eq!(
            ending(&fal(FalErrorKind::NotFound {
                what: "endpoint or request",
                detail: "Application 'x' not found".into()
            })),
            Ending::Gone
        );
        let limit = ValidationDetail::Message("audio duration must be at most 30 seconds".into());
        assert_eq!(
            ending(&fal(FalErrorKind::Validation { status: 422, detail: limit })),
            Ending::OutsideLimits
        );
        let malformed = ValidationDetail::Message("field required".into());
        assert_eq!(ending(&fal(FalErrorKind::Validation { status: 422, detail: malformed })), Ending::Other);
        let failed = NodeError::RenderFailed { request_id: "r".into(), message: "CUDA out of memory".into() };
        assert_eq!(ending(&failed), Ending::RunnerFailed);
        let at_run_time = NodeError::RenderFailed {
            request_id: "r".into(),
            message: "fal refused the input (HTTP 422): Audio file is larger than 5000000 bytes".into(),
        };
        assert_eq!(ending(&at_run_time), Ending::OutsideLimits);
        assert_eq!(ending(&NodeError::FailedEarlier { message: "boom".into() }), Ending::RunnerFailed);
        assert_eq!(ending(&NodeError::Interrupted), Ending::Other);
    }
}
