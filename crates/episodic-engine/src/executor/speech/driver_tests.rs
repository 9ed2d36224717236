//! The speech driver against an in-memory journal, a temporary artifact folder and a scripted
//! ElevenLabs: what is journaled, what is sent, and how often, for each way a line can go.

use super::*;
use crate::executor::speech::api::{ForcedTimes, HistoryItem, SpeechFuture, TimedWord};
use crate::executor::speech::stage::{HISTORY_GRACE, MAX_BUSY_ANSWERS};
use crate::journal::{Process, SpeechClaim};
use std::collections::VecDeque;
use std::sync::Mutex;

/// ElevenLabs as a script: each call takes the next scripted answer for its kind.
#[derive(Default)]
struct Script {
    speaks: Mutex<VecDeque<Result<Spoken, SpeechError>>>,
    histories: Mutex<VecDeque<Result<Vec<HistoryItem>, SpeechError>>>,
    audios: Mutex<VecDeque<Result<Vec<u8>, SpeechError>>>,
    alignments: Mutex<VecDeque<Result<ForcedTimes, SpeechError>>>,
    /// The texts forced alignment was asked to time.
    aligned: Mutex<Vec<String>>,
    sent: Mutex<Vec<SpeechRequest>>,
}

fn next<T>(queue: &Mutex<VecDeque<T>>, what: &str) -> T {
    queue.lock().expect("script").pop_front().unwrap_or_else(|| panic!("unscripted call: {what}"))
}

impl SpeechApi for Script {
    fn speak_with_timestamps<'a>(
        &'a self,
        _: &'a str,
        request: &'a SpeechRequest,
    ) -> SpeechFuture<'a, Spoken> {
        self.sent.lock().expect("script").push(request.clone());
        let answer = next(&self.speaks, "speak");
        Box::pin(async move { answer })
    }
    fn history<'a>(&'a self, _: &'a str) -> SpeechFuture<'a, Vec<HistoryItem>> {
        let answer = next(&self.histories, "history");
        Box::pin(async move { answer })
    }
    fn history_audio<'a>(&'a self, _: &'a str) -> SpeechFuture<'a, Vec<u8>> {
        let answer = next(&self.audios, "history audio");
        Box::pin(async move { answer })
    }
    fn forced_alignment<'a>(&'a self, _: &'a [u8], text: &'a str) -> SpeechFuture<'a, ForcedTimes> {
        self.aligned.lock().expect("script").push(text.to_owned());
        let answer = next(&self.alignments, "forced alignment");
        Box::pin(async move { answer })
    }
}

impl Script {
    fn speaks(self, answer: Result<Spoken, SpeechError>) -> Self {
        self.speaks.lock().expect("script").push_back(answer);
        self
    }
    fn history(self, items: Vec<HistoryItem>) -> Self {
        self.histories.lock().expect("script").push_back(Ok(items));
        self
    }
    fn audio(self, bytes: &[u8]) -> Self {
        self.audios.lock().expect("script").push_back(Ok(bytes.to_vec()));
        self
    }
    /// Forced alignment times `TEXT` a character every 50 ms.
    fn aligns(self) -> Self {
        let characters = TEXT
            .chars()
            .enumerate()
            .map(|(at, c)| TimedWord {
                text: c.to_string(),
                start: at as f64 * 0.05,
                end: (at + 1) as f64 * 0.05,
            })
            .collect();
        self.alignments.lock().expect("script").push_back(Ok(ForcedTimes { characters, words: vec![] }));
        self
    }
    fn sent(&self) -> usize {
        self.sent.lock().expect("script").len()
    }
}

const TEXT: &str = "[whispers] Hi there.";

fn voiced(history_item_id: &str) -> Spoken {
    Spoken {
        audio: b"ID3 fake mp3 bytes".to_vec(),
        alignment: Some(Alignment {
            characters: TEXT.chars().map(String::from).collect(),
            character_start_times_seconds: (0..20).map(|i| f64::from(i) * 0.05).collect(),
            character_end_times_seconds: (1..21).map(|i| f64::from(i) * 0.05).collect(),
        }),
        history_item_id: Some(history_item_id.into()),
        request_id: Some("req".into()),
        character_cost: Some(20),
    }
}

fn listed(history_item_id: &str, at: i64) -> HistoryItem {
    HistoryItem {
        history_item_id: history_item_id.into(),
        request_id: None,
        voice_id: Some("voice".into()),
        model_id: Some("eleven_v3".into()),
        text: TEXT.into(),
        date_unix: at,
    }
}

fn request() -> SpeechRequest {
    SpeechRequest {
        text: TEXT.into(),
        model_id: "eleven_v3".into(),
        voice_settings: episodic_manifest::VoiceSettings { stability: Some(0.5), ..Default::default() },
        output_format: "mp3_44100_128".into(),
    }
}

fn canonical() -> String {
    serde_json::to_string(&request()).expect("json")
}

fn lost() -> SpeechError {
    SpeechError::AnswerLost { message: "connection reset".into() }
}

struct Setup {
    journal: Journal,
    owner: Owner,
    artifacts: tempfile::TempDir,
    breaker: SpendBreaker,
    stop: (watch::Sender<Stop>, watch::Receiver<Stop>),
    events: Mutex<Vec<EventKind>>,
}

const POLICY: Policy = Policy { retry_failed: false, resubmit_ambiguous: false, grace: HISTORY_GRACE };

impl Setup {
    fn new() -> Setup {
        let journal = Journal::open_in_memory().expect("journal");
        let owner = journal.start_run(&Process::current(), &[], now()).expect("run");
        Setup {
            journal,
            owner,
            artifacts: tempfile::tempdir().expect("artifacts"),
            breaker: SpendBreaker::default(),
            stop: watch::channel(Stop::Running),
            events: Mutex::default(),
        }
    }

    async fn run_with(&self, api: &Script, policy: Policy, cap: Option<Usd>) -> Result<Done, NodeError> {
        self.run_on(api, policy, cap, false).await
    }

    async fn run_on(
        &self,
        api: &Script,
        policy: Policy,
        cap: Option<Usd>,
        free: bool,
    ) -> Result<Done, NodeError> {
        let progress = |kind| self.events.lock().expect("events").push(kind);
        let driver = Driver {
            api,
            journal: &self.journal,
            owner: &self.owner,
            artifacts: Artifacts { journal: &self.journal, folder: self.artifacts.path(), shared: None },
            policy,
            cap,
            breaker: &self.breaker,
            free,
            stop: self.stop.1.clone(),
            progress: &progress,
        };
        let job = Job {
            node: "speech/intro",
            key: "key",
            voice_id: "voice",
            canonical: canonical(),
            request: request(),
            characters: 20,
            cost: Usd::from_micros(2_000),
        };
        driver.run(&job).await
    }

    async fn run(&self, api: &Script) -> Result<Done, NodeError> {
        self.run_with(api, POLICY, None).await
    }

    /// A run that died (its row finished, its pid not ours).
    fn dead_run(&self) -> Owner {
        let dead = self.journal.start_run(&Process { pid: 1, host: "gone".into() }, &[], now()).expect("run");
        self.journal.finish_run(dead.run_id, crate::journal::RunOutcome::Failed, now()).expect("finish");
        dead
    }

    fn state(&self) -> Option<SpeechState> {
        self.journal.speech("key").expect("journal").map(|record| record.state)
    }
}

#[tokio::test(start_paused = true)]
async fn a_line_is_voiced_once_kept_with_its_alignment_and_reused() {
    let setup = Setup::new();
    let api = Script::default().speaks(Ok(voiced("hist-1")));
    let done = setup.run(&api).await.expect("voiced");
    assert_eq!(api.sent(), 1);
    assert_eq!(done.cost, Usd::from_micros(2_000));
    assert_eq!(done.request_id.as_deref(), Some("hist-1"));
    let Output::Speech { audio, alignment, .. } = &done.output else { panic!("{:?}", done.output) };
    assert_eq!(std::fs::read(audio).expect("audio"), b"ID3 fake mp3 bytes");
    let kept: Alignment =
        serde_json::from_slice(&std::fs::read(alignment.as_ref().expect("aligned")).expect("json"))
            .expect("alignment");
    assert_eq!(kept.characters.concat(), TEXT);
    assert!(matches!(
        setup.state(),
        Some(SpeechState::Completed { history_item_id: Some(ref id), aligned: true, credits: Some(20), .. }) if id == "hist-1"
    ));
    assert_eq!(setup.journal.spent_micros(setup.owner.run_id).expect("spent"), 2_000);

    // A rerun voices nothing.
    let again = Script::default();
    let reused = setup.run(&again).await.expect("reused");
    assert!(reused.cache_hit);
    assert_eq!(again.sent(), 0);
    assert!(matches!(reused.output, Output::Speech { alignment: Some(_), .. }));
}

#[tokio::test(start_paused = true)]
async fn a_lost_answer_found_in_the_history_is_fetched_not_voiced_again() {
    let setup = Setup::new();
    let api = Script::default()
        .speaks(Err(lost()))
        .history(vec![])
        .history(vec![listed("hist-late", now())])
        .audio(b"from the history")
        .aligns();
    let done = setup.run(&api).await.expect("fetched");
    assert_eq!(api.sent(), 1, "found in the history: never voiced twice");
    let Output::Speech { audio, alignment, .. } = &done.output else { panic!() };
    assert_eq!(std::fs::read(audio).expect("audio"), b"from the history");
    // The history has audio, not timings: the exact text is timed against it again.
    assert_eq!(*api.aligned.lock().expect("script"), vec![TEXT.to_owned()]);
    let alignment: Alignment =
        serde_json::from_slice(&std::fs::read(alignment.as_ref().expect("timed again")).expect("read"))
            .expect("an alignment");
    assert_eq!(alignment.characters.concat(), TEXT);
    assert!(matches!(setup.state(), Some(SpeechState::Completed { aligned: true, .. })));
    let events = setup.events.lock().expect("events");
    assert!(events.iter().any(|event| matches!(
        event,
        EventKind::AwaitingHistory { reason: HistoryWait::SpeechAnswerLost { lost: 1 }, .. }
    )));
}

#[tokio::test(start_paused = true)]
async fn a_lost_answer_absent_past_the_grace_is_voiced_again() {
    let setup = Setup::new();
    let api = Script::default().speaks(Err(lost())).history(vec![]).speaks(Ok(voiced("hist-2")));
    let done = setup.run_with(&api, Policy { grace: 0, ..POLICY }, None).await.expect("voiced");
    assert_eq!(api.sent(), 2);
    assert_eq!(done.request_id.as_deref(), Some("hist-2"));
}

#[tokio::test(start_paused = true)]
async fn busy_answers_are_retried_and_never_billed() {
    let setup = Setup::new();
    let busy = || Err(SpeechError::TooManyConcurrent { message: "too_many_concurrent_requests".into() });
    let api = Script::default().speaks(busy()).speaks(busy()).speaks(Ok(voiced("hist-3")));
    setup.run(&api).await.expect("voiced");
    assert_eq!(api.sent(), 3);

    let setup = Setup::new();
    let mut api = Script::default();
    for _ in 0..MAX_BUSY_ANSWERS {
        api = api.speaks(busy());
    }
    let error = setup.run(&api).await.expect_err("gives up");
    assert!(
        matches!(error, NodeError::Speech { error: SpeechError::TooManyConcurrent { .. }, .. }),
        "{error}"
    );
    assert_eq!(setup.state(), None, "nothing voiced: the claim is given back");
}

#[tokio::test(start_paused = true)]
async fn the_quota_trips_the_breaker_and_later_lines_send_nothing() {
    let setup = Setup::new();
    let quota = SpeechError::QuotaExceeded { message: "You have 0 credits remaining".into() };
    let api = Script::default().speaks(Err(quota));
    let error = setup.run(&api).await.expect_err("refused");
    assert!(matches!(error, NodeError::SpeechQuota(_)));
    assert!(setup.breaker.is_tripped());
    assert_eq!(setup.state(), None);
    let later = Script::default();
    let error = setup.run(&later).await.expect_err("not sent");
    assert!(matches!(error, NodeError::SpeechStopped));
    assert_eq!(later.sent(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_refusal_names_the_line_and_the_voice_and_is_journaled_failed() {
    let setup = Setup::new();
    let refused =
        SpeechError::VoiceNotFound { message: "A voice with the voice_id voice was not found.".into() };
    let api = Script::default().speaks(Err(refused));
    let error = setup.run(&api).await.expect_err("refused");
    let message = error.to_string();
    assert!(message.contains("voice voice") && message.contains(TEXT), "{message}");
    assert!(matches!(setup.state(), Some(SpeechState::Failed { .. })));
    let error = setup.run(&Script::default()).await.expect_err("failed earlier");
    assert!(matches!(error, NodeError::SpeechFailedEarlier { .. }));
}

#[tokio::test(start_paused = true)]
async fn over_the_cap_nothing_is_sent() {
    let setup = Setup::new();
    let api = Script::default();
    let error = setup.run_with(&api, POLICY, Some(Usd::from_micros(1_000))).await.expect_err("over");
    assert!(matches!(error, NodeError::SpeechOverBudget { .. }));
    assert_eq!(api.sent(), 0);
    assert_eq!(setup.state(), None);
}

#[tokio::test(start_paused = true)]
async fn a_crash_between_claim_and_answer_is_settled_from_the_history() {
    let setup = Setup::new();
    let dead = setup.dead_run();
    let claim = setup.journal.claim_speech("key", "voice", "eleven_v3", &canonical(), &dead, now());
    assert_eq!(claim.expect("claim"), SpeechClaim::Claimed);
    let api = Script::default()
        .history(vec![listed("hist-orphan", now())])
        .audio(b"voiced by the dead run")
        .aligns();
    let done = setup.run(&api).await.expect("settled");
    assert_eq!(api.sent(), 0, "found in the history: nothing voiced");
    assert_eq!(done.request_id.as_deref(), Some("hist-orphan"));
    assert!(matches!(setup.state(), Some(SpeechState::Completed { .. })));
}

#[tokio::test(start_paused = true)]
async fn a_crash_between_claim_and_answer_absent_from_the_history_is_voiced_after_the_grace() {
    let setup = Setup::new();
    let dead = setup.dead_run();
    setup.journal.claim_speech("key", "voice", "eleven_v3", &canonical(), &dead, now()).expect("claim");
    let api = Script::default().history(vec![]).speaks(Ok(voiced("hist-new")));
    let done = setup.run_with(&api, Policy { grace: 0, ..POLICY }, None).await.expect("voiced");
    assert_eq!(api.sent(), 1);
    assert_eq!(done.request_id.as_deref(), Some("hist-new"));
}

#[tokio::test(start_paused = true)]
async fn an_answer_journaled_before_a_crash_is_fetched_from_the_history() {
    let setup = Setup::new();
    let dead = setup.dead_run();
    setup.journal.claim_speech("key", "voice", "eleven_v3", &canonical(), &dead, now()).expect("claim");
    setup.journal.mark_speech_answered("key", &dead, "hist-kept", None, false, now()).expect("answered");
    let api = Script::default().audio(b"kept by ElevenLabs");
    api.alignments.lock().expect("script").push_back(Err(SpeechError::Other { message: "503".into() }));
    let done = setup.run(&api).await.expect("fetched");
    assert_eq!(api.sent(), 0);
    assert_eq!(done.request_id.as_deref(), Some("hist-kept"));
    // Alignment refused: the line keeps its audio (paid for) and goes without captions, saying so.
    assert!(matches!(done.output, Output::Speech { alignment: None, .. }));
    assert!(matches!(setup.state(), Some(SpeechState::Completed { aligned: false, .. })));
    let events = setup.events.lock().expect("events");
    assert!(events.iter().any(|event| matches!(
        event,
        EventKind::NodeProgress { log: Some(log), .. } if log.contains("no captions")
    )));
}

#[tokio::test(start_paused = true)]
async fn on_the_local_studio_a_forgotten_history_item_is_voiced_again_for_free() {
    let setup = Setup::new();
    let dead = setup.dead_run();
    setup.journal.claim_speech("key", "voice", "eleven_v3", &canonical(), &dead, now()).expect("claim");
    setup.journal.mark_speech_answered("key", &dead, "hist-gone", None, false, now()).expect("answered");
    let api = Script::default().speaks(Ok(voiced("hist-fresh")));
    api.audios.lock().expect("script").push_back(Err(SpeechError::Other { message: "404".into() }));
    let done = setup.run_on(&api, POLICY, None, true).await.expect("voiced again");
    assert_eq!(api.sent(), 1);
    assert_eq!((done.cost, done.list_cost), (Usd::ZERO, Usd::from_micros(2_000)), "the studio bills nothing");
    // On ElevenLabs the same failure keeps the answered claim for the next run: never voiced twice.
    let setup = Setup::new();
    let dead = setup.dead_run();
    setup.journal.claim_speech("key", "voice", "eleven_v3", &canonical(), &dead, now()).expect("claim");
    setup.journal.mark_speech_answered("key", &dead, "hist-kept", None, false, now()).expect("answered");
    let api = Script::default();
    api.audios.lock().expect("script").push_back(Err(SpeechError::Other { message: "503".into() }));
    setup.run(&api).await.expect_err("left for the next run");
    assert_eq!(api.sent(), 0);
    assert!(matches!(setup.state(), Some(SpeechState::Answered { .. })));
}

#[tokio::test(start_paused = true)]
async fn a_stopping_run_voices_nothing_and_gives_the_claim_back() {
    let setup = Setup::new();
    setup.stop.0.send_replace(Stop::Drain(crate::StopCause::Signal));
    let api = Script::default();
    let error = setup.run(&api).await.expect_err("stopped");
    assert!(matches!(error, NodeError::Interrupted));
    assert_eq!(api.sent(), 0);
    assert_eq!(setup.state(), None);
}
