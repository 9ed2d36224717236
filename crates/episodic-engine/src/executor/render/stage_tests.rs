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
    assert!(matches!(effect, Effect::Await { request_id, after } if request_id == "req" && after.is_zero()));
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
    assert!(matches!(effect, Effect::Fail { error: NodeError::OutOfCredit(_), claim: ClaimFate::Release }));
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
    assert!(matches!(effect, Effect::Record { take_over: false, how: Recorded::FoundAfterLostAnswer, .. }));
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
    let Effect::SearchHistory { after: first, announce: false, .. } = effect else { panic!("look again") };
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
    let Effect::Fail { error: NodeError::LinkDropping { lost, history }, claim: ClaimFate::Release } = effect
    else {
        panic!("the render stops")
    };
    assert_eq!(lost, MAX_LOST_ANSWERS);
    assert_eq!(history, "fal's request history did not show it (3 looks, last at 1970-01-01T00:01:40+00:00)");
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
    let Effect::Fail { error: NodeError::Ambiguous { history, .. }, claim: ClaimFate::Keep } = effect else {
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
    let broke = || Event::WaitBroke { error: NodeError::Unexpected("bad answer".into()), transient: false };
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
