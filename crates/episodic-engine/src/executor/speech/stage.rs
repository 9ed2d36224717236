//! The stages of one line and the one function that moves it on: [`step`] takes the stage and
//! what just happened and returns the next stage and the one thing to do next. No I/O, no clock
//! (times arrive inside events), so every decision about paying is tested on its own; the driver
//! (`driver.rs`) does the effects and feeds their outcomes back in.
//!
//! ```text
//! Start ─claimed─▶ Speaking ─answered─▶ Keep (history item journaled, audio kept) ─▶ Completed
//!   │               │  ▲ 429: pause, again        (ElevenLabs has no idempotency key:)
//!   │               ▼  │ absent past the grace
//!   │            Searching ─found─▶ Fetch (history item journaled, audio from the history)
//!   ├─ answered earlier, audio not kept ─▶ Fetch
//!   ├─ dead run's claim ─▶ Searching ─found─▶ Fetch (taken over) / absent ─▶ Start (forced)
//!   ├─ another live run holds it ─▶ Busy ─pause─▶ Start
//!   └─ done earlier ─▶ Completed (reused);  refused earlier ─▶ Failed, or (retry) ─▶ Start
//! ```

use super::api::{SpeechError, Spoken};
use crate::NodeError;
use crate::journal::{SpeechClaim, SpeechRecord, UnixSeconds};
use std::time::Duration;

/// How far ElevenLabs' history dates and ours may disagree: the search starts this long before
/// the request.
pub(crate) const HISTORY_SKEW: i64 = 60;

/// How long a line whose answer was lost may still appear in the history. ElevenLabs voices
/// synchronously (about 2 s for a short line, `elevenlabs-tts.md` §6) and lists the item when it
/// is made; two minutes covers a 5,000-character line with room to spare. Absent after that, the
/// request never reached it.
pub(crate) const HISTORY_GRACE: i64 = 120;

/// Lost answers of one line before the run stops trying it (each settled from the history first).
pub(crate) const MAX_LOST_ANSWERS: u32 = 4;

/// 429 answers of one line in a row before it is left for a later run (they are not billed).
pub(crate) const MAX_BUSY_ANSWERS: u32 = 8;

/// The pause after the first 429; doubled each time, at most [`MAX_BUSY_PAUSE`].
const FIRST_BUSY_PAUSE: Duration = Duration::from_secs(1);
const MAX_BUSY_PAUSE: Duration = Duration::from_secs(30);

/// The first look in the history comes this soon; later ones back off to 10 s.
const FIRST_HISTORY_CHECK: Duration = Duration::from_millis(500);
const MAX_HISTORY_INTERVAL: Duration = Duration::from_secs(10);

/// The pause before asking again about a line another live process is voicing.
pub(crate) const BUSY_PAUSE: Duration = Duration::from_millis(500);

/// What the user allowed for this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Policy {
    /// Claim lines refused in an earlier run again (`--retry-failed`).
    pub(crate) retry_failed: bool,
    /// Voice again, without searching the history, what may or may not have been voiced.
    pub(crate) resubmit_ambiguous: bool,
    /// How long a lost request may still show up in the history, in seconds.
    pub(crate) grace: i64,
}

/// Why the history is searched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SearchReason {
    /// This run's request lost its answer; `lost` so far, this one included.
    LostAnswer {
        /// Lost answers so far.
        lost: u32,
    },
    /// A run that died (`owner`) had claimed the line and journaled no answer.
    Orphan {
        /// The dead run, for messages.
        owner: String,
    },
}

/// A search of the history for a request whose answer was never journaled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Search {
    /// Why.
    pub(crate) reason: SearchReason,
    /// Items made since then are candidates.
    pub(crate) since: UnixSeconds,
    /// Absent until then, the request is taken as never voiced.
    pub(crate) deadline: UnixSeconds,
    /// Looks so far.
    pub(crate) checks: u32,
    /// Why the last look could not read the history, if it could not.
    pub(crate) last_error: Option<String>,
}

impl Search {
    fn next_look(&self, now: UnixSeconds) -> Duration {
        let backoff = FIRST_HISTORY_CHECK.saturating_mul(1 << self.checks.min(8)).min(MAX_HISTORY_INTERVAL);
        let to_deadline = Duration::from_secs(u64::try_from(self.deadline - now).unwrap_or(0) + 1);
        backoff.min(to_deadline)
    }

    fn looked(&self, error: Option<String>) -> Search {
        Search { checks: self.checks + 1, last_error: error, ..self.clone() }
    }

    /// What the history showed, for a failure message.
    pub(crate) fn findings(&self) -> String {
        match &self.last_error {
            Some(error) => format!("ElevenLabs' history could not be read ({} looks: {error})", self.checks),
            None => format!("ElevenLabs' history did not show it ({} looks)", self.checks),
        }
    }
}

/// Where one line is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Stage {
    /// Nothing asked of the journal yet.
    Start,
    /// Another live process holds the claim.
    Busy,
    /// The claim is ours: the breaker and the budget are checked, then the request goes out.
    Speaking {
        /// Requests of this line whose answers were lost before this one.
        lost: u32,
        /// 429 answers in a row so far.
        refused_busy: u32,
    },
    /// ElevenLabs may have voiced it but its answer is unknown: looking in the history.
    Searching(Search),
    /// Keeping the answer (history item journaled first) or fetching it from the history.
    Keeping,
    /// Done.
    Completed,
    /// Ended without audio.
    Failed,
}

/// What happened: the outcome of the last effect.
#[derive(Debug)]
pub(crate) enum Event {
    /// The journal's answer to a claim, a retry or a forced revoice.
    Journal(SpeechClaim),
    /// The pause is over.
    Paused,
    /// Not sent: the budget, the breaker or a stopping run.
    NotSent(NodeError),
    /// ElevenLabs voiced it.
    Answered(Box<Spoken>),
    /// ElevenLabs refused it (nothing voiced).
    Refused(SpeechError),
    /// The answer never came.
    AnswerLost {
        /// When it was given up on.
        at: UnixSeconds,
    },
    /// The history shows it.
    Found {
        /// Its history item.
        history_item_id: String,
    },
    /// The history does not show it.
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
    /// The run is stopping.
    Cancelled,
}

/// What to do next.
#[derive(Debug)]
pub(crate) enum Effect {
    /// Claim the key.
    Claim,
    /// Claim a refused line again (the user asked).
    RetryFailed,
    /// Take over a claim whose fate is unknown, to voice it.
    ForceRevoice,
    /// Wait, then claim again.
    Pause(Duration),
    /// Wait `after`, check the breaker and the budget, then send the request.
    Speak {
        /// A pause first (after a 429).
        after: Duration,
    },
    /// Wait `after`, then look in the history; `announce` the wait first.
    SearchHistory {
        /// The search.
        search: Search,
        /// Wait this long first.
        after: Duration,
        /// Tell the user (at the start of a search).
        announce: bool,
    },
    /// Journal the history item, keep audio and alignment, journal the line done. Final.
    Keep(Box<Spoken>),
    /// Journal the history item (taking a dead run's claim over when `take_over`), fetch its
    /// audio from the history, keep it, journal the line done. Final.
    Fetch {
        /// The history item.
        history_item_id: String,
        /// The claim is a dead run's.
        take_over: bool,
    },
    /// Hand back what an earlier run kept. Final.
    Reuse(Box<SpeechRecord>),
    /// End without audio, leaving the claim as `claim` says. Final.
    Fail {
        /// Why.
        error: NodeError,
        /// What becomes of the claim.
        claim: ClaimFate,
    },
}

/// What a failing line does with its claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ClaimFate {
    /// Leave it (ElevenLabs may have voiced it; a rerun settles it from the history).
    Keep,
    /// Nothing was voiced: give it back.
    Release,
    /// Journal it failed with this message (a retry is the user's decision).
    MarkFailed(String),
}

/// The next stage and effect after `event` in `stage`; `None` when the event makes no sense there
/// (a driver bug, reported instead of guessed).
pub(crate) fn step(stage: &Stage, event: Event, policy: &Policy) -> Option<(Stage, Effect)> {
    use Effect as E;
    use Stage as S;
    let fail = |error: NodeError, claim: ClaimFate| (S::Failed, E::Fail { error, claim });
    let speak = |lost: u32| (S::Speaking { lost, refused_busy: 0 }, E::Speak { after: Duration::ZERO });
    Some(match (stage, event) {
        (_, Event::Cancelled) => fail(NodeError::Interrupted, ClaimFate::Keep),

        (S::Start | S::Busy | S::Keeping, Event::Journal(claim)) => match claim {
            SpeechClaim::Claimed => speak(0),
            SpeechClaim::Done(record) => (S::Completed, E::Reuse(record)),
            SpeechClaim::Fetch { history_item_id } => {
                (S::Keeping, E::Fetch { history_item_id, take_over: false })
            }
            SpeechClaim::Busy { .. } => (S::Busy, E::Pause(BUSY_PAUSE)),
            SpeechClaim::Failed { .. } if policy.retry_failed => (S::Start, E::RetryFailed),
            SpeechClaim::Failed { error } => {
                fail(NodeError::SpeechFailedEarlier { message: error }, ClaimFate::Keep)
            }
            SpeechClaim::Ambiguous { .. } if policy.resubmit_ambiguous => (S::Start, E::ForceRevoice),
            SpeechClaim::Ambiguous { owner, claimed_at } => {
                let search = Search {
                    reason: SearchReason::Orphan { owner: owner.to_string() },
                    since: claimed_at - HISTORY_SKEW,
                    deadline: claimed_at.saturating_add(policy.grace),
                    checks: 0,
                    last_error: None,
                };
                (
                    S::Searching(search.clone()),
                    E::SearchHistory { search, after: Duration::ZERO, announce: true },
                )
            }
        },
        (S::Busy, Event::Paused) => (S::Start, E::Claim),

        (S::Speaking { .. }, Event::NotSent(error)) => fail(error, ClaimFate::Release),
        (S::Speaking { .. }, Event::Answered(spoken)) => (S::Keeping, E::Keep(spoken)),
        (S::Speaking { lost, refused_busy }, Event::Refused(SpeechError::TooManyConcurrent { .. }))
            if refused_busy + 1 < MAX_BUSY_ANSWERS =>
        {
            let after = FIRST_BUSY_PAUSE.saturating_mul(1 << refused_busy).min(MAX_BUSY_PAUSE);
            (S::Speaking { lost: *lost, refused_busy: refused_busy + 1 }, E::Speak { after })
        }
        (S::Speaking { .. }, Event::Refused(error)) => {
            let claim = if error.refuses_the_request() {
                ClaimFate::MarkFailed(error.to_string())
            } else {
                // Refused unbilled (quota, key, busy, a server error): a later run may voice it.
                ClaimFate::Release
            };
            let error = match error {
                SpeechError::QuotaExceeded { .. } => NodeError::SpeechQuota(error),
                // The driver names the line and the voice (`step` sees neither).
                other => NodeError::Speech { error: other, voice_id: String::new(), line: String::new() },
            };
            fail(error, claim)
        }
        (S::Speaking { lost, .. }, Event::AnswerLost { at }) => {
            let lost = lost + 1;
            let grace = if policy.resubmit_ambiguous { 0 } else { policy.grace };
            let search = Search {
                reason: SearchReason::LostAnswer { lost },
                since: at - HISTORY_SKEW,
                deadline: at.saturating_add(grace),
                checks: 0,
                last_error: None,
            };
            (S::Searching(search.clone()), E::SearchHistory { search, after: Duration::ZERO, announce: true })
        }

        (S::Searching(search), Event::Found { history_item_id }) => {
            let take_over = matches!(search.reason, SearchReason::Orphan { .. });
            (S::Keeping, E::Fetch { history_item_id, take_over })
        }
        (S::Searching(search), Event::Absent { at }) => {
            let search = search.looked(None);
            if let Some(again) = look_again(&search, at) {
                return Some(again);
            }
            match search.reason {
                SearchReason::LostAnswer { lost } if lost >= MAX_LOST_ANSWERS => fail(
                    NodeError::SpeechLinkDropping { lost, history: search.findings() },
                    ClaimFate::Release,
                ),
                // The claim is still ours: voicing again cannot pay twice.
                SearchReason::LostAnswer { lost } => speak(lost),
                SearchReason::Orphan { .. } => (S::Start, E::ForceRevoice),
            }
        }
        (S::Searching(search), Event::HistoryUnreadable { at, error }) => {
            let search = search.looked(Some(error));
            if let Some(again) = look_again(&search, at) {
                return Some(again);
            }
            // Without the history nothing says the line was not voiced: never voice it blind.
            let owner = match &search.reason {
                SearchReason::Orphan { owner } => owner.clone(),
                SearchReason::LostAnswer { .. } => "this run".to_owned(),
            };
            fail(NodeError::SpeechAmbiguous { owner, history: search.findings() }, ClaimFate::Keep)
        }

        _ => return None,
    })
}

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
    use super::*;
    use crate::journal::{Owner, RunId};

    const POLICY: Policy = Policy { retry_failed: false, resubmit_ambiguous: false, grace: 120 };

    fn spoken() -> Box<Spoken> {
        Box::new(Spoken {
            audio: vec![1, 2, 3],
            alignment: None,
            history_item_id: Some("hist".into()),
            request_id: None,
            character_cost: Some(3),
        })
    }

    fn owner() -> Owner {
        Owner { run_id: RunId(7), pid: 1, host: "h".into() }
    }

    fn speaking() -> Stage {
        Stage::Speaking { lost: 0, refused_busy: 0 }
    }

    #[test]
    fn a_claim_speaks_and_an_answer_is_kept() {
        let (stage, effect) = step(&Stage::Start, Event::Journal(SpeechClaim::Claimed), &POLICY).unwrap();
        assert_eq!(stage, speaking());
        assert!(matches!(effect, Effect::Speak { after } if after.is_zero()));
        let (stage, effect) = step(&stage, Event::Answered(spoken()), &POLICY).unwrap();
        assert_eq!(stage, Stage::Keeping);
        assert!(matches!(effect, Effect::Keep(_)));
    }

    #[test]
    fn an_answered_line_is_fetched_from_the_history_not_voiced() {
        let claim = SpeechClaim::Fetch { history_item_id: "h1".into() };
        let (_, effect) = step(&Stage::Start, Event::Journal(claim), &POLICY).unwrap();
        assert!(
            matches!(effect, Effect::Fetch { ref history_item_id, take_over: false } if history_item_id == "h1")
        );
    }

    #[test]
    fn busy_answers_are_retried_with_backoff_then_given_back() {
        let busy = || Event::Refused(SpeechError::TooManyConcurrent { message: "busy".into() });
        let (stage, effect) = step(&speaking(), busy(), &POLICY).unwrap();
        assert!(matches!(effect, Effect::Speak { after } if after == Duration::from_secs(1)));
        let (_, effect) = step(&stage, busy(), &POLICY).unwrap();
        assert!(matches!(effect, Effect::Speak { after } if after == Duration::from_secs(2)));
        let last = Stage::Speaking { lost: 0, refused_busy: MAX_BUSY_ANSWERS - 1 };
        let (stage, effect) = step(&last, busy(), &POLICY).unwrap();
        assert_eq!(stage, Stage::Failed);
        assert!(matches!(effect, Effect::Fail { claim: ClaimFate::Release, .. }));
    }

    #[test]
    fn the_quota_is_a_quota_error_and_gives_the_claim_back() {
        let quota = Event::Refused(SpeechError::QuotaExceeded { message: "0 credits".into() });
        let (_, effect) = step(&speaking(), quota, &POLICY).unwrap();
        assert!(matches!(
            effect,
            Effect::Fail { error: NodeError::SpeechQuota(_), claim: ClaimFate::Release }
        ));
    }

    #[test]
    fn a_refused_request_is_journaled_failed() {
        for error in [
            SpeechError::VoiceNotFound { message: "no voice".into() },
            SpeechError::TextTooLong { message: "long".into() },
            SpeechError::UnsupportedModel { message: "v3".into() },
            SpeechError::Invalid { field: "voice_settings.stability".into(), message: "number".into() },
        ] {
            let (_, effect) = step(&speaking(), Event::Refused(error), &POLICY).unwrap();
            assert!(matches!(effect, Effect::Fail { claim: ClaimFate::MarkFailed(_), .. }), "{effect:?}");
        }
        let (_, effect) =
            step(&Stage::Start, Event::Journal(SpeechClaim::Failed { error: "x".into() }), &POLICY).unwrap();
        assert!(matches!(
            effect,
            Effect::Fail { error: NodeError::SpeechFailedEarlier { .. }, claim: ClaimFate::Keep }
        ));
        let retry = Policy { retry_failed: true, ..POLICY };
        let (_, effect) =
            step(&Stage::Start, Event::Journal(SpeechClaim::Failed { error: "x".into() }), &retry).unwrap();
        assert!(matches!(effect, Effect::RetryFailed));
    }

    #[test]
    fn a_lost_answer_is_searched_for_and_found_or_voiced_again_after_the_grace() {
        let (stage, effect) = step(&speaking(), Event::AnswerLost { at: 1_000 }, &POLICY).unwrap();
        let Effect::SearchHistory { search, announce: true, .. } = effect else { panic!("{effect:?}") };
        assert_eq!((search.since, search.deadline), (1_000 - HISTORY_SKEW, 1_120));
        let (next, effect) = step(&stage, Event::Absent { at: 1_001 }, &POLICY).unwrap();
        assert!(
            matches!(effect, Effect::SearchHistory { announce: false, .. }),
            "looks again before the deadline"
        );
        let (_, effect) = step(&next, Event::Found { history_item_id: "h".into() }, &POLICY).unwrap();
        assert!(matches!(effect, Effect::Fetch { take_over: false, .. }));
        let (stage, effect) = step(&next, Event::Absent { at: 1_120 }, &POLICY).unwrap();
        assert_eq!(stage, Stage::Speaking { lost: 1, refused_busy: 0 });
        assert!(matches!(effect, Effect::Speak { .. }));
    }

    #[test]
    fn lost_answers_past_the_limit_stop_and_an_unreadable_history_keeps_the_claim() {
        let search = |reason| Search { reason, since: 0, deadline: 10, checks: 3, last_error: None };
        let stage = Stage::Searching(search(SearchReason::LostAnswer { lost: MAX_LOST_ANSWERS }));
        let (_, effect) = step(&stage, Event::Absent { at: 10 }, &POLICY).unwrap();
        assert!(matches!(
            effect,
            Effect::Fail { error: NodeError::SpeechLinkDropping { .. }, claim: ClaimFate::Release }
        ));
        let unreadable = Event::HistoryUnreadable { at: 10, error: "503".into() };
        let (_, effect) = step(&stage, unreadable, &POLICY).unwrap();
        assert!(matches!(
            effect,
            Effect::Fail { error: NodeError::SpeechAmbiguous { .. }, claim: ClaimFate::Keep }
        ));
    }

    #[test]
    fn a_dead_runs_claim_is_searched_then_taken_over_or_forced() {
        let claim = SpeechClaim::Ambiguous { owner: owner(), claimed_at: 500 };
        let (stage, effect) = step(&Stage::Start, Event::Journal(claim.clone()), &POLICY).unwrap();
        assert!(matches!(effect, Effect::SearchHistory { .. }));
        let (_, effect) = step(&stage, Event::Found { history_item_id: "h".into() }, &POLICY).unwrap();
        assert!(matches!(effect, Effect::Fetch { take_over: true, .. }));
        let (stage, effect) = step(&stage, Event::Absent { at: 620 }, &POLICY).unwrap();
        assert_eq!(stage, Stage::Start);
        assert!(matches!(effect, Effect::ForceRevoice));
        let forced = Policy { resubmit_ambiguous: true, ..POLICY };
        let (_, effect) = step(&Stage::Start, Event::Journal(claim), &forced).unwrap();
        assert!(matches!(effect, Effect::ForceRevoice));
    }

    #[test]
    fn not_sent_gives_the_claim_back_and_nonsense_is_refused() {
        let (_, effect) = step(&speaking(), Event::NotSent(NodeError::SpeechStopped), &POLICY).unwrap();
        assert!(matches!(effect, Effect::Fail { claim: ClaimFate::Release, .. }));
        assert!(step(&Stage::Completed, Event::Paused, &POLICY).is_none());
        let (_, effect) = step(&Stage::Busy, Event::Cancelled, &POLICY).unwrap();
        assert!(matches!(effect, Effect::Fail { error: NodeError::Interrupted, claim: ClaimFate::Keep }));
    }
}
