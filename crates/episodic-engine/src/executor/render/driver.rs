//! The render driver: does what [`step`] decides, one effect at a time, against the journal and
//! fal, and feeds each outcome back in as an event. Every decision lives in `stage.rs`; this file
//! only performs them.

use super::fal::{FalApi, Queued, find_request};
use super::stage::{ClaimFate, Effect, Event, Policy, Recorded, Search, SearchReason, Stage, step};
use crate::NodeError;
use crate::events::{EventKind, HistoryWait};
use crate::executor::{Done, Output};
use crate::journal::{Journal, Owner, RenderState, SpendDecision, now};
use crate::stop::{SpendBreaker, Stop, draining};
use episodic_catalog::{Catalog, Usd};
use episodic_fal::wire::QueueStatus;
use episodic_fal::{EndpointId, FalErrorKind, PollEvent, PollOptions, SubmitOptions};
use episodic_plan::RenderSpec;
use serde_json::Value;
use std::time::Duration;
use tokio::sync::watch;

/// One render to drive: what to send, and what identifies it in the journal.
pub(crate) struct Job<'a> {
    /// The node id, for events.
    pub(crate) node: &'a str,
    /// The render's key in the journal.
    pub(crate) key: &'a str,
    /// The plan's render.
    pub(crate) spec: &'a RenderSpec,
    /// Where it is sent.
    pub(crate) endpoint: EndpointId,
    /// The arguments the key was computed from (files by hash): what the journal keeps.
    pub(crate) canonical: String,
    /// The arguments as sent (files by URL): what fal's history is matched against.
    pub(crate) input: Value,
    /// The plan's estimate, for the budget.
    pub(crate) estimate: Usd,
}

/// What a driver works with, shared by every render of a run.
pub(crate) struct Driver<'a, A: FalApi> {
    /// fal, or a script of it.
    pub(crate) fal: &'a A,
    /// The journal.
    pub(crate) journal: &'a Journal,
    /// This run.
    pub(crate) owner: &'a Owner,
    /// What the user allowed.
    pub(crate) policy: Policy,
    /// How results are waited for.
    pub(crate) poll: &'a PollOptions,
    /// Where fal posts outcomes, when the run waits for webhooks instead of polling.
    pub(crate) webhook_url: Option<&'a url::Url>,
    /// Prices, for what a completed render cost.
    pub(crate) catalog: &'a Catalog,
    /// The run's spending cap.
    pub(crate) cap: Option<Usd>,
    /// The spend breaker of the run.
    pub(crate) breaker: &'a SpendBreaker,
    /// Whether (and how urgently) the run is stopping.
    pub(crate) stop: watch::Receiver<Stop>,
    /// Sends a progress event for this render's node.
    pub(crate) progress: &'a (dyn Fn(EventKind) + Send + Sync),
}

impl<A: FalApi> Driver<'_, A> {
    /// Drives `job` from its claim to its end.
    pub(crate) async fn run(&self, job: &Job<'_>) -> Result<Done, NodeError> {
        let mut stage = Stage::Start;
        let mut effect = Effect::Claim;
        loop {
            let event = match effect {
                Effect::Reuse(record) => return reuse(job, &record.state),
                Effect::Complete { request_id, result } => return self.complete(job, request_id, result),
                Effect::Fail { error, claim } => {
                    self.settle_claim(job, &claim)?;
                    return Err(error);
                }
                effect => self.perform(job, effect).await?,
            };
            let Some((next, next_effect)) = step(&stage, event, &self.policy) else {
                return Err(NodeError::Unexpected(format!(
                    "the render driver has no way on from {stage:?} for {}",
                    job.node
                )));
            };
            stage = next;
            effect = next_effect;
        }
    }

    /// Does one effect and says what came of it.
    async fn perform(&self, job: &Job<'_>, effect: Effect) -> Result<Event, NodeError> {
        let Job { key, .. } = *job;
        Ok(match effect {
            Effect::Claim => Event::Journal(self.journal.claim_render(
                key,
                &job.spec.endpoint,
                &job.canonical,
                self.owner,
                now(),
            )?),
            Effect::RetryFailed => Event::Journal(self.journal.retry_failed(key, self.owner, now())?),
            Effect::ForceResubmit => Event::Journal(self.journal.force_resubmit(key, self.owner, now())?),
            Effect::Reclaim => {
                self.journal.mark_failed(key, self.owner, "the local studio restarted", now())?;
                Event::Journal(self.journal.retry_failed(key, self.owner, now())?)
            }
            Effect::Pause(pause) => match self.wait(pause).await {
                true => Event::Paused,
                false => Event::Cancelled,
            },
            Effect::Submit => self.submit(job).await?,
            Effect::SearchHistory { search, after, announce } => {
                if announce {
                    self.announce(job, &search);
                }
                if !self.wait(after).await {
                    return Ok(Event::Cancelled);
                }
                match self.fal.history(&job.spec.endpoint, search.since).await {
                    Ok(items) => match find_request(&items, &job.input) {
                        Some(request_id) => Event::Found { request_id },
                        None => Event::Absent { at: now() },
                    },
                    Err(err) => Event::HistoryUnreadable { at: now(), error: err.to_string() },
                }
            }
            Effect::Record { request_id, take_over, how } => {
                if take_over {
                    let claim = self.journal.force_resubmit(key, self.owner, now())?;
                    if claim != crate::journal::Claim::Claimed {
                        // Another process settled it first: follow what the journal says now.
                        return Ok(Event::Journal(claim));
                    }
                }
                self.journal.mark_submitted(key, self.owner, &request_id, now())?;
                let (log, queue_position) = match how {
                    Recorded::Answered { queue_position } => (None, queue_position),
                    Recorded::FoundAfterLostAnswer => (
                        Some(
                            "the submit's answer was lost; found the request in fal's history: re-attached"
                                .into(),
                        ),
                        None,
                    ),
                    Recorded::FoundAfterCrash => {
                        (Some("found in fal's request history after a crash: re-attached".into()), None)
                    }
                };
                (self.progress)(EventKind::NodeProgress {
                    node: job.node.to_owned(),
                    queue_position,
                    log,
                    request_id: Some(request_id),
                });
                Event::Recorded
            }
            Effect::Await { request_id, after } => {
                if !self.wait(after).await {
                    return Ok(Event::Cancelled);
                }
                self.outcome(job, &request_id).await?
            }
            Effect::Reuse(_) | Effect::Complete { .. } | Effect::Fail { .. } => {
                return Err(NodeError::Unexpected("a final effect reached perform".into()));
            }
        })
    }

    /// Checks what may stop a submit, then POSTs it.
    async fn submit(&self, job: &Job<'_>) -> Result<Event, NodeError> {
        if self.stop.borrow().is_stopping() {
            return Ok(Event::NotSent(NodeError::Interrupted));
        }
        if self.breaker.is_tripped() {
            return Ok(Event::NotSent(NodeError::SpendStopped));
        }
        // The journal's word counts across machines: another run of the batch may have spent the
        // budget, or met fal's out-of-credit answer.
        let cap = self.cap.map(Usd::micros);
        match self.journal.reserve_spend(job.key, self.owner, job.estimate.micros(), cap)? {
            SpendDecision::Reserved => {}
            SpendDecision::OverBudget { committed_micros } => {
                let (spent, cap) = (Usd::from_micros(committed_micros), self.cap.unwrap_or(Usd::ZERO));
                return Ok(Event::NotSent(NodeError::OverBudget { estimate: job.estimate, spent, cap }));
            }
            SpendDecision::OutOfCredit { .. } => {
                self.breaker.trip();
                return Ok(Event::NotSent(NodeError::SpendStopped));
            }
        }
        let options = SubmitOptions { webhook_url: self.webhook_url.cloned(), ..SubmitOptions::default() };
        // Not raced with the stop signal: an answer in flight is journaled before the run ends.
        Ok(match self.fal.submit(&job.endpoint, &job.input, &options).await {
            Ok(Queued { request_id, queue_position }) => Event::Accepted { request_id, queue_position },
            Err(error) if error.maybe_submitted => Event::AnswerLost { at: now() },
            Err(error) => {
                if matches!(error.kind, FalErrorKind::OutOfCredit { .. }) {
                    self.breaker.trip();
                    // Every other run sees it at its next submit; the refusal stands either way.
                    let _ = self.journal.trip_spend_breaker(self.owner, "fal: out of credit", now());
                }
                Event::Refused(error)
            }
        })
    }

    /// Waits for fal's outcome: by polling, or for the webhook's record in the journal.
    async fn outcome(&self, job: &Job<'_>, request_id: &str) -> Result<Event, NodeError> {
        let endpoint = &job.endpoint;
        if self.webhook_url.is_some() {
            return tokio::select! {
                outcome = self.webhook_outcome(job, request_id) => outcome,
                () = draining(self.stop.clone()) => Ok(Event::Cancelled),
            };
        }
        let completion = {
            let node = job.node;
            let poll = self.fal.poll(endpoint, request_id, self.poll, |event| {
                let (queue_position, log) = match event {
                    PollEvent::Queued { position } => (position, None),
                    PollEvent::Log(entry) => (None, entry.message),
                    PollEvent::Started | PollEvent::Completed { .. } => return,
                };
                (self.progress)(EventKind::NodeProgress {
                    node: node.to_owned(),
                    queue_position,
                    log,
                    request_id: None,
                });
            });
            tokio::select! {
                polled = poll => polled,
                // Left as submitted: the next run re-attaches.
                () = draining(self.stop.clone()) => return Ok(Event::Cancelled),
            }
        };
        let completion = match completion {
            Ok(completion) => completion,
            Err(err) if matches!(err.kind, FalErrorKind::NotFound { .. }) => {
                return Ok(Event::Forgotten(err));
            }
            Err(err) => return Ok(broke(err)),
        };
        Ok(match (completion.error, self.fal.result(endpoint, request_id).await) {
            // fal says the request itself failed (or was cancelled): never retried blindly.
            (Some(error), Err(err)) => Event::RenderError { message: format!("{error}: {err}") },
            (Some(error), Ok(_)) => Event::RenderError { message: error },
            (None, Ok(result)) => Event::Succeeded { result },
            (None, Err(err)) if matches!(err.kind, FalErrorKind::Validation { .. }) => {
                Event::RenderError { message: err.to_string() }
            }
            (None, Err(err)) if matches!(err.kind, FalErrorKind::NotFound { .. }) => Event::Forgotten(err),
            // The network or a timeout: the request is still fal's, and a rerun re-attaches.
            (None, Err(err)) => broke(err),
        })
    }

    /// Waits for the outcome `episodic webhooks serve` journals; asks fal's status every half
    /// minute in case a delivery is lost.
    async fn webhook_outcome(&self, job: &Job<'_>, request_id: &str) -> Result<Event, NodeError> {
        let mut last_status = std::time::Instant::now();
        loop {
            if let Some(delivered) = self.journal.webhook_result(request_id)? {
                if !delivered.ok {
                    let message = delivered.error.unwrap_or_else(|| "fal reported an error".into());
                    return Ok(Event::RenderError { message: format!("{message}: {}", delivered.payload) });
                }
                return Ok(Event::Succeeded { result: delivered.payload });
            }
            if last_status.elapsed() >= Duration::from_secs(30) {
                last_status = std::time::Instant::now();
                if let QueueStatus::Completed { .. } = self.fal.status(&job.endpoint, request_id).await? {
                    return Ok(match self.fal.result(&job.endpoint, request_id).await {
                        Ok(result) => Event::Succeeded { result },
                        Err(err) => broke(err),
                    });
                }
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Sleeps unless the run starts stopping first; false if it did.
    async fn wait(&self, pause: Duration) -> bool {
        if self.stop.borrow().is_stopping() {
            return false;
        }
        if pause.is_zero() {
            return true;
        }
        tokio::select! {
            () = tokio::time::sleep(pause) => true,
            () = draining(self.stop.clone()) => false,
        }
    }

    /// Tells the user what the render waits for, until when, and why.
    fn announce(&self, job: &Job<'_>, search: &Search) {
        let reason = match &search.reason {
            SearchReason::LostAnswer { lost } => HistoryWait::LostAnswer { lost: *lost },
            SearchReason::Orphan { owner } => HistoryWait::Crashed { owner: owner.clone() },
        };
        (self.progress)(EventKind::AwaitingHistory {
            node: job.node.to_owned(),
            reason,
            until_unix: search.deadline,
        });
    }

    /// Journals a finished render's result and what it cost.
    fn complete(&self, job: &Job<'_>, request_id: String, result: Value) -> Result<Done, NodeError> {
        let (video_url, file_size, seconds) = video(&result)?;
        let billed = seconds.unwrap_or(job.spec.seconds);
        let cost = self
            .catalog
            .get(&job.spec.model)
            .map(|model| model.cost(billed, job.spec.generate_audio))
            .unwrap_or_default();
        self.journal.mark_completed(job.key, self.owner, &result, billed, cost.micros(), now())?;
        let output = Output::Render {
            video_url,
            file_size,
            seconds: Some(billed),
            key: job.key.to_owned(),
            endpoint: job.spec.endpoint.clone(),
            request_id: Some(request_id.clone()),
        };
        // The ephemeral studio bills nothing; what fal would have charged is reported apart.
        let billed_now = if self.policy.ephemeral { Usd::ZERO } else { cost };
        Ok(Done {
            output,
            cache_hit: false,
            cost: billed_now,
            list_cost: cost,
            request_id: Some(request_id),
            fallback: None,
        })
    }

    /// Leaves the claim as a failing render must.
    fn settle_claim(&self, job: &Job<'_>, claim: &ClaimFate) -> Result<(), NodeError> {
        match claim {
            ClaimFate::Keep => {}
            ClaimFate::Release => self.journal.release(job.key, self.owner)?,
            ClaimFate::MarkFailed(message) => {
                self.journal.mark_failed(job.key, self.owner, message, now())?
            }
        }
        Ok(())
    }
}

/// A wait that broke on `error`, and whether the trouble may pass.
fn broke(error: episodic_fal::FalError) -> Event {
    let transient = matches!(
        error.kind,
        FalErrorKind::RateLimited { .. }
            | FalErrorKind::Server { .. }
            | FalErrorKind::Timeout
            | FalErrorKind::Transport { .. }
    );
    Event::WaitBroke { error: error.into(), transient }
}

/// A completed render from the journal.
fn reuse(job: &Job<'_>, state: &RenderState) -> Result<Done, NodeError> {
    let RenderState::Completed { request_id, result, billed_seconds, .. } = state else {
        return Err(NodeError::Unexpected("the journal called a render done without its result".into()));
    };
    let (video_url, file_size, _) = video(result)?;
    let mut done = Done::cached(Output::Render {
        video_url,
        file_size,
        seconds: Some(*billed_seconds),
        key: job.key.to_owned(),
        endpoint: job.spec.endpoint.clone(),
        request_id: Some(request_id.clone()),
    });
    done.request_id = Some(request_id.clone());
    Ok(done)
}

/// `video.url`, `video.file_size` and the `duration` fal reports (and bills) of a model's output.
pub(crate) fn video(result: &Value) -> Result<(String, Option<u64>, Option<f64>), NodeError> {
    let video =
        result.get("video").ok_or_else(|| NodeError::Unexpected("the result has no `video`".into()))?;
    let url = video
        .get("url")
        .and_then(Value::as_str)
        .ok_or_else(|| NodeError::Unexpected("the result's video has no `url`".into()))?;
    let seconds = result.get("duration").and_then(Value::as_f64);
    Ok((url.to_owned(), video.get("file_size").and_then(Value::as_u64), seconds))
}

#[cfg(test)]
mod tests {
    //! The driver against an in-memory journal and a scripted fal: what is journaled, what is
    //! sent, and how often, for each way a render can go.

    use super::*;
    use crate::executor::render::stage::MAX_LOST_ANSWERS;
    use crate::journal::{Claim, Process};
    use episodic_fal::wire::RequestHistoryItem;
    use episodic_fal::{Completion, FalError, Operation};
    use std::collections::VecDeque;
    use std::sync::Mutex;

    /// fal as a script: each call takes the next scripted answer for its kind.
    #[derive(Default)]
    struct Script {
        submits: Mutex<VecDeque<Result<Queued, FalError>>>,
        histories: Mutex<VecDeque<Result<Vec<RequestHistoryItem>, FalError>>>,
        completions: Mutex<VecDeque<Result<Completion, FalError>>>,
        results: Mutex<VecDeque<Result<Value, FalError>>>,
        sent: Mutex<Vec<Value>>,
    }

    fn next<T>(queue: &Mutex<VecDeque<T>>, what: &str) -> T {
        queue.lock().expect("script").pop_front().unwrap_or_else(|| panic!("unscripted call: {what}"))
    }

    impl FalApi for Script {
        async fn submit(&self, _: &EndpointId, input: &Value, _: &SubmitOptions) -> Result<Queued, FalError> {
            self.sent.lock().expect("script").push(input.clone());
            next(&self.submits, "submit")
        }
        async fn status(&self, _: &EndpointId, _: &str) -> Result<QueueStatus, FalError> {
            panic!("status is only for webhook mode")
        }
        async fn poll(
            &self,
            _: &EndpointId,
            _: &str,
            _: &PollOptions,
            _: impl FnMut(PollEvent) + Send,
        ) -> Result<Completion, FalError> {
            next(&self.completions, "poll")
        }
        async fn result(&self, _: &EndpointId, _: &str) -> Result<Value, FalError> {
            next(&self.results, "result")
        }
        async fn history(&self, _: &str, _: i64) -> Result<Vec<RequestHistoryItem>, FalError> {
            next(&self.histories, "history")
        }
    }

    impl Script {
        fn submit(self, answer: Result<&str, FalError>) -> Self {
            let queued = answer.map(|id| Queued { request_id: id.to_owned(), queue_position: Some(0) });
            self.submits.lock().expect("script").push_back(queued);
            self
        }
        fn history(self, items: Vec<RequestHistoryItem>) -> Self {
            self.histories.lock().expect("script").push_back(Ok(items));
            self
        }
        fn finishes(self) -> Self {
            let done = Completion { error: None, error_type: None, metrics: Default::default(), polls: 1 };
            self.completions.lock().expect("script").push_back(Ok(done));
            self.results.lock().expect("script").push_back(Ok(serde_json::json!({
                "video": {"url": "http://127.0.0.1:1/v.mp4", "file_size": 10}, "duration": 2.0
            })));
            self
        }
        fn sent(&self) -> usize {
            self.sent.lock().expect("script").len()
        }
    }

    fn lost_answer() -> FalError {
        let mut error = FalError::new(Operation::Submit, FalErrorKind::Timeout);
        error.maybe_submitted = true;
        error
    }

    fn listed(request_id: &str, input: &Value) -> RequestHistoryItem {
        RequestHistoryItem {
            request_id: request_id.into(),
            endpoint_id: "fal-ai/kling-video/ai-avatar/v2/pro".into(),
            sent_at: None,
            started_at: None,
            ended_at: None,
            status_code: None,
            json_input: Some(input.clone()),
        }
    }

    struct Setup {
        journal: Journal,
        owner: Owner,
        spec: RenderSpec,
        catalog: Catalog,
        breaker: SpendBreaker,
        poll: PollOptions,
        stop: (watch::Sender<Stop>, watch::Receiver<Stop>),
        events: Mutex<Vec<EventKind>>,
    }

    impl Setup {
        fn new() -> Setup {
            let journal = Journal::open_in_memory().expect("journal");
            let owner = journal.start_run(&Process::current(), &[], now()).expect("run");
            let spec = RenderSpec {
                segment: "s".into(),
                role: episodic_plan::RenderRole::Speaker,
                model: "kling-avatar-v2-pro".into(),
                endpoint: "fal-ai/kling-video/ai-avatar/v2/pro".into(),
                args: serde_json::json!({"prompt": "hi"}),
                seconds: 2.0,
                generate_audio: false,
                estimated: false,
                fallbacks: Vec::new(),
                fallback_after: 2,
            };
            Setup {
                journal,
                owner,
                spec,
                catalog: Catalog::builtin(),
                breaker: SpendBreaker::default(),
                poll: PollOptions::default(),
                stop: watch::channel(Stop::Running),
                events: Mutex::default(),
            }
        }

        async fn run(&self, fal: &Script, policy: Policy) -> Result<Done, NodeError> {
            let progress = |kind| self.events.lock().expect("events").push(kind);
            let driver = Driver {
                fal,
                journal: &self.journal,
                owner: &self.owner,
                policy,
                poll: &self.poll,
                webhook_url: None,
                catalog: &self.catalog,
                cap: None,
                breaker: &self.breaker,
                stop: self.stop.1.clone(),
                progress: &progress,
            };
            let job = Job {
                node: "s/speaker",
                key: "key",
                spec: &self.spec,
                endpoint: EndpointId::parse(&self.spec.endpoint).expect("endpoint"),
                canonical: self.spec.args.to_string(),
                input: self.spec.args.clone(),
                estimate: Usd::from_micros(1),
            };
            driver.run(&job).await
        }

        fn state(&self) -> Option<RenderState> {
            self.journal.render("key").expect("journal").map(|record| record.state)
        }
    }

    const POLICY: Policy =
        Policy { retry_failed: false, resubmit_ambiguous: false, ephemeral: false, grace: 3_600 };

    #[tokio::test(start_paused = true)]
    async fn a_render_is_claimed_submitted_journaled_and_completed_once() {
        let setup = Setup::new();
        let fal = Script::default().submit(Ok("req-1")).finishes();
        let done = setup.run(&fal, POLICY).await.expect("done");
        assert_eq!(fal.sent(), 1);
        assert_eq!(done.request_id.as_deref(), Some("req-1"));
        assert!(done.cost > Usd::ZERO);
        assert!(
            matches!(setup.state(), Some(RenderState::Completed { request_id, .. }) if request_id == "req-1")
        );
        // A second run of the same key reuses it and sends nothing.
        let again = Script::default();
        let reused = setup.run(&again, POLICY).await.expect("reused");
        assert!(reused.cache_hit);
        assert_eq!(again.sent(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_answer_found_in_the_history_is_reattached_without_a_second_submit() {
        let setup = Setup::new();
        let input = setup.spec.args.clone();
        let fal = Script::default()
            .submit(Err(lost_answer()))
            .history(vec![])
            .history(vec![listed("req-late", &input)])
            .finishes();
        let done = setup.run(&fal, POLICY).await.expect("done");
        assert_eq!(fal.sent(), 1, "found in the history: never submitted twice");
        assert_eq!(done.request_id.as_deref(), Some("req-late"));
        let events = setup.events.lock().expect("events");
        assert!(
            events.iter().any(|event| matches!(
                event,
                EventKind::AwaitingHistory { reason: crate::events::HistoryWait::LostAnswer { lost: 1 }, .. }
            )),
            "the wait is announced: {events:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_answer_absent_past_the_grace_is_submitted_again() {
        let setup = Setup::new();
        let fal = Script::default().submit(Err(lost_answer())).history(vec![]).submit(Ok("req-2")).finishes();
        let done = setup.run(&fal, Policy { grace: 0, ..POLICY }).await.expect("done");
        assert_eq!(fal.sent(), 2);
        assert_eq!(done.request_id.as_deref(), Some("req-2"));
    }

    #[tokio::test(start_paused = true)]
    async fn lost_answers_past_the_budget_stop_the_render_and_release_its_claim() {
        let setup = Setup::new();
        let mut fal = Script::default();
        for _ in 0..MAX_LOST_ANSWERS {
            fal = fal.submit(Err(lost_answer())).history(vec![]);
        }
        let error = setup.run(&fal, Policy { grace: 0, ..POLICY }).await.expect_err("stops");
        assert!(matches!(error, NodeError::LinkDropping { lost: MAX_LOST_ANSWERS, .. }), "{error}");
        assert_eq!(fal.sent(), MAX_LOST_ANSWERS as usize);
        assert_eq!(setup.state(), None, "nothing of ours is at fal: the claim is given back");
    }

    #[tokio::test(start_paused = true)]
    async fn out_of_credit_trips_the_breaker_and_later_renders_send_nothing() {
        let setup = Setup::new();
        let locked =
            FalError::new(Operation::Submit, FalErrorKind::OutOfCredit { detail: "User is locked".into() });
        let fal = Script::default().submit(Err(locked));
        let error = setup.run(&fal, POLICY).await.expect_err("refused");
        assert!(matches!(error, NodeError::OutOfCredit(_)));
        assert!(setup.breaker.is_tripped());
        assert_eq!(setup.state(), None);
        let later = Script::default();
        let error = setup.run(&later, POLICY).await.expect_err("not sent");
        assert!(matches!(error, NodeError::SpendStopped));
        assert_eq!(later.sent(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_dead_runs_claim_found_in_the_history_is_taken_over_and_polled() {
        let setup = Setup::new();
        let dead =
            setup.journal.start_run(&Process { pid: 1, host: "gone".into() }, &[], now()).expect("run");
        setup.journal.finish_run(dead.run_id, crate::journal::RunOutcome::Failed, now()).expect("finish");
        let claim = setup.journal.claim_render(
            "key",
            &setup.spec.endpoint,
            &setup.spec.args.to_string(),
            &dead,
            now(),
        );
        assert_eq!(claim.expect("claim"), Claim::Claimed);
        let input = setup.spec.args.clone();
        let fal = Script::default().history(vec![listed("req-orphan", &input)]).finishes();
        let done = setup.run(&fal, POLICY).await.expect("done");
        assert_eq!(fal.sent(), 0);
        assert_eq!(done.request_id.as_deref(), Some("req-orphan"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stopping_run_sends_nothing_and_gives_the_claim_back() {
        let setup = Setup::new();
        setup.stop.0.send_replace(Stop::Drain(crate::StopCause::Signal));
        let fal = Script::default();
        let error = setup.run(&fal, POLICY).await.expect_err("stopped");
        assert!(matches!(error, NodeError::Interrupted));
        assert_eq!(fal.sent(), 0);
        assert_eq!(setup.state(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_render_fal_failed_is_journaled_failed() {
        let setup = Setup::new();
        let fal = Script::default().submit(Ok("req-f"));
        let failed = Completion {
            error: Some("Runner disconnected".into()),
            error_type: None,
            metrics: Default::default(),
            polls: 1,
        };
        fal.completions.lock().expect("script").push_back(Ok(failed));
        fal.results.lock().expect("script").push_back(Ok(serde_json::json!({})));
        let error = setup.run(&fal, POLICY).await.expect_err("failed");
        assert!(matches!(error, NodeError::RenderFailed { .. }));
        assert!(matches!(setup.state(), Some(RenderState::Failed { .. })));
    }
}
