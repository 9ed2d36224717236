//! The journal's rules, run against every backend (`main` lists each test once per backend):
//! what a claim answers, who may move a render on, what a dead owner's claim becomes, the caches,
//! webhook outcomes, spending shared across runs, lines voiced by ElevenLabs, what episodes need
//! and each node's parts.

use std::time::Duration;

use episodic_engine::journal::{
    ArtifactRecord, Claim, EpisodeNeeds, JournalError, NeededNode, Owner, Process, RenderState, RunOutcome,
    SpeechClaim, SpeechCompletion, SpeechState, SpendDecision, UploadRecord, WebhookResult,
};
use serde_json::json;

use crate::store::Store;

const HOST: &str = "test-host";

fn run(journal: &episodic_engine::Journal, pid: u32, now: i64) -> Owner {
    journal.start_run(&Process { pid, host: HOST.to_owned() }, &["episode.yaml".to_owned()], now).unwrap()
}

fn live(journal: &episodic_engine::Journal) -> Owner {
    run(journal, std::process::id(), 100)
}

fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

fn claim(journal: &episodic_engine::Journal, key: &str, owner: &Owner) -> Claim {
    journal.claim_render(key, "fal-ai/avatar", r#"{"prompt":"hi"}"#, owner, 100).unwrap()
}

pub fn a_render_is_claimed_submitted_completed_then_reused(store: &Store) {
    let journal = store.open();
    let me = live(&journal);
    assert_eq!(journal.render("k").unwrap(), None);
    assert_eq!(claim(&journal, "k", &me), Claim::Claimed);
    let record = journal.render("k").unwrap().unwrap();
    assert_eq!(record.state, RenderState::Submitting { owner: me.clone(), claimed_at: 100 });
    journal.mark_submitted("k", &me, "req-1", 101).unwrap();
    journal.mark_submitted("k", &me, "req-1", 102).unwrap();
    assert!(matches!(
        journal.mark_submitted("k", &me, "req-2", 103),
        Err(JournalError::ConflictingRequestId { .. })
    ));
    assert_eq!(journal.renders_in_flight().unwrap().len(), 1);
    let result = json!({"video": {"url": "https://files.example/out.mp4", "file_size": 10}});
    journal.mark_completed("k", &me, &result, 5.5, 1_234_567, 104).unwrap();
    assert!(journal.renders_in_flight().unwrap().is_empty());
    let done = journal.render("k").unwrap().unwrap();
    assert_eq!(
        done.state,
        RenderState::Completed {
            request_id: "req-1".to_owned(),
            result,
            billed_seconds: 5.5,
            cost_micros: 1_234_567,
            completed_at: 104,
            completed_by: me.run_id,
        }
    );
    let later = live(&journal);
    assert_eq!(claim(&journal, "k", &later), Claim::Done(Box::new(done)));
    journal.mark_completed("k", &me, &json!({}), 9.0, 9, 105).unwrap();
    assert_eq!(journal.spent_micros(me.run_id).unwrap(), 1_234_567);
    assert!(matches!(
        journal.claim_render("k", "fal-ai/avatar", r#"{"prompt":"bye"}"#, &me, 106),
        Err(JournalError::KeyMismatch { .. })
    ));
}

pub fn only_the_owner_moves_a_render_on_and_in_order(store: &Store) {
    let journal = store.open();
    let me = live(&journal);
    let other = live(&journal);
    claim(&journal, "k", &me);
    assert!(matches!(journal.mark_submitted("k", &other, "r", 101), Err(JournalError::NotOwner { .. })));
    assert!(matches!(journal.release("k", &other), Err(JournalError::NotOwner { .. })));
    assert!(matches!(
        journal.mark_completed("k", &me, &json!({}), 1.0, 1, 101),
        Err(JournalError::WrongState { state: "submitting", .. })
    ));
    assert!(matches!(journal.mark_submitted("nope", &me, "r", 1), Err(JournalError::UnknownRender { .. })));
    journal.mark_submitted("k", &me, "r", 101).unwrap();
    assert!(matches!(journal.release("k", &me), Err(JournalError::WrongState { .. })));
}

pub fn a_live_owner_makes_others_wait_and_a_dead_one_is_reported(store: &Store) {
    let journal = store.open();
    let me = live(&journal);
    let other = live(&journal);
    claim(&journal, "k", &me);
    assert_eq!(claim(&journal, "k", &other), Claim::Busy { owner: me.clone() });
    journal.mark_submitted("k", &me, "req", 101).unwrap();
    assert_eq!(claim(&journal, "k", &other), Claim::Busy { owner: me.clone() });
    assert_eq!(claim(&journal, "k", &me), Claim::Reattach { request_id: "req".to_owned() });

    let dead = run(&journal, dead_pid(), 100);
    claim(&journal, "mid", &dead);
    assert_eq!(claim(&journal, "mid", &me), Claim::Ambiguous { owner: dead.clone(), claimed_at: 100 });
    assert_eq!(journal.force_resubmit("mid", &me, 105).unwrap(), Claim::Claimed);
    assert_eq!(journal.render("mid").unwrap().unwrap().attempts, 2);
    assert_eq!(journal.force_resubmit("mid", &other, 106).unwrap(), Claim::Busy { owner: me.clone() });

    claim(&journal, "sent", &dead);
    journal.mark_submitted("sent", &dead, "req-sent", 101).unwrap();
    assert_eq!(claim(&journal, "sent", &me), Claim::Reattach { request_id: "req-sent".to_owned() });
    assert_eq!(claim(&journal, "sent", &other), Claim::Busy { owner: me.clone() });
    journal.mark_completed("sent", &me, &json!({"ok": true}), 2.0, 50, 110).unwrap();
    assert!(matches!(journal.force_resubmit("sent", &other, 111).unwrap(), Claim::Done(_)));
}

pub fn a_lapsed_heartbeat_on_another_host_gives_its_claims_up(store: &Store) {
    let journal = store.open().with_stale_after(Duration::from_secs(30));
    // A pid on another machine says nothing here: only its heartbeat counts.
    let remote = journal.start_run(&Process { pid: 1, host: "other-host".to_owned() }, &[], 100).unwrap();
    let me = live(&journal);
    journal.claim_render("k", "e", "{}", &remote, 100).unwrap();
    journal.mark_submitted("k", &remote, "req", 101).unwrap();
    journal.heartbeat(&remote, 120).unwrap();
    assert_eq!(
        journal.claim_render("k", "e", "{}", &me, 150).unwrap(),
        Claim::Busy { owner: remote.clone() }
    );
    assert_eq!(
        journal.claim_render("k", "e", "{}", &me, 151).unwrap(),
        Claim::Reattach { request_id: "req".to_owned() }
    );
    let finished = live(&journal);
    journal.claim_render("f", "e", "{}", &finished, 100).unwrap();
    journal.finish_run(finished.run_id, RunOutcome::Failed, 101).unwrap();
    assert_eq!(
        journal.claim_render("f", "e", "{}", &me, 102).unwrap(),
        Claim::Ambiguous { owner: finished, claimed_at: 100 }
    );
}

pub fn failures_are_kept_until_a_retry_and_claims_can_be_given_back(store: &Store) {
    let journal = store.open();
    let me = live(&journal);
    claim(&journal, "broke", &me);
    journal.mark_submitted("broke", &me, "req", 101).unwrap();
    journal.mark_failed("broke", &me, "model error", 102).unwrap();
    journal.mark_failed("broke", &me, "ignored", 103).unwrap();
    assert_eq!(
        claim(&journal, "broke", &me),
        Claim::Failed { request_id: Some("req".to_owned()), error: "model error".to_owned() }
    );
    let next = live(&journal);
    assert_eq!(journal.retry_failed("broke", &next, 200).unwrap(), Claim::Claimed);
    assert_eq!(journal.retry_failed("broke", &me, 201).unwrap(), Claim::Busy { owner: next.clone() });

    claim(&journal, "given-back", &me);
    journal.release("given-back", &me).unwrap();
    journal.release("given-back", &me).unwrap();
    assert_eq!(journal.render("given-back").unwrap(), None);
    assert_eq!(claim(&journal, "given-back", &next), Claim::Claimed);

    claim(&journal, "lost", &me);
    journal.mark_submitted("lost", &me, "req-lost", 101).unwrap();
    journal.mark_completed("lost", &me, &json!({}), 1.0, 1, 102).unwrap();
    journal.lose_result("lost", "expired", 103).unwrap();
    assert!(matches!(claim(&journal, "lost", &me), Claim::Failed { .. }));
}

pub fn in_flight_renders_are_listed_oldest_first(store: &Store) {
    let journal = store.open();
    let me = live(&journal);
    for (key, at) in [("b", 105), ("a", 103), ("c", 104)] {
        claim(&journal, key, &me);
        journal.mark_submitted(key, &me, &format!("req-{key}"), at).unwrap();
    }
    claim(&journal, "pending", &me);
    let keys: Vec<String> = journal.renders_in_flight().unwrap().into_iter().map(|r| r.key).collect();
    assert_eq!(keys, ["a", "c", "b"]);
}

pub fn runs_heartbeat_finish_and_count_their_spending(store: &Store) {
    let journal = store.open();
    let manifests = vec!["a.yaml".to_owned(), "b.yaml".to_owned()];
    let owner = journal.start_run(&Process::current(), &manifests, 100).unwrap();
    journal.heartbeat(&owner, 130).unwrap();
    journal.heartbeat(&owner, 120).unwrap();
    let record = journal.run(owner.run_id).unwrap().unwrap();
    assert_eq!((record.heartbeat_at, record.manifests.clone(), record.outcome), (130, manifests, None));
    journal.finish_run(owner.run_id, RunOutcome::Interrupted, 140).unwrap();
    journal.finish_run(owner.run_id, RunOutcome::Succeeded, 150).unwrap();
    let record = journal.run(owner.run_id).unwrap().unwrap();
    assert_eq!((record.finished_at, record.outcome), (Some(140), Some(RunOutcome::Interrupted)));
    assert!(journal.finish_run(episodic_engine::journal::RunId(999_999), RunOutcome::Failed, 1).is_err());

    let second = journal.start_run(&Process::current(), &[], 200).unwrap();
    for (key, cost, at) in [("x", 1_500_000, 210), ("y", 250_000, 220)] {
        journal.claim_render(key, "e", "{}", &second, at).unwrap();
        journal.mark_submitted(key, &second, &format!("req-{key}"), at).unwrap();
        journal.mark_completed(key, &second, &json!({}), 5.0, cost, at).unwrap();
    }
    assert_eq!(journal.spent_micros(second.run_id).unwrap(), 1_750_000);
    assert_eq!(journal.spent_since(215).unwrap(), 250_000);
}

pub fn uploads_artifacts_and_webhooks_are_upserted(store: &Store) {
    let journal = store.open();
    let upload = UploadRecord {
        sha256: "aa".to_owned(),
        url: "https://files.example/aa".to_owned(),
        content_type: "image/png".to_owned(),
        size: 1234,
        uploaded_at: 1_000,
        expires_at: Some(1_000 + 3_600),
    };
    assert_eq!(journal.cached_upload("aa", 1_000).unwrap(), None);
    journal.record_upload(&upload).unwrap();
    assert_eq!(journal.cached_upload("aa", 1_000).unwrap(), Some(upload.clone()));
    assert_eq!(journal.cached_upload("aa", 4_000).unwrap(), None, "inside the expiry margin");
    let again = UploadRecord { url: "https://files.example/aa-again".to_owned(), expires_at: None, ..upload };
    journal.record_upload(&again).unwrap();
    assert_eq!(journal.cached_upload("aa", i64::MAX - 1).unwrap(), Some(again));

    let artifact = ArtifactRecord {
        key: "k1".to_owned(),
        path: "artifacts/ab12.mp4".into(),
        sha256: "ab12".to_owned(),
        size: 99,
        created_at: 7,
    };
    journal.record_artifact(&artifact).unwrap();
    journal.record_artifact(&artifact).unwrap();
    assert_eq!(journal.artifact("k1").unwrap(), Some(artifact.clone()));
    assert!(matches!(
        journal.record_artifact(&ArtifactRecord { path: "../x".into(), ..artifact }),
        Err(JournalError::ArtifactPath(_))
    ));

    let delivery = WebhookResult {
        request_id: "r1".into(),
        ok: true,
        payload: json!({"video": {"url": "u"}}),
        error: None,
        received_at: 5,
    };
    assert!(journal.record_webhook(&delivery).unwrap());
    assert!(!journal.record_webhook(&delivery).unwrap(), "a replay is not new");
    assert_eq!(journal.webhook_result("r1").unwrap(), Some(delivery));
    assert_eq!(journal.webhook_result("r2").unwrap(), None);
}

/// Two runs of one batch on two connections (two machines) share one budget; the breaker one
/// meets stops the other.
pub fn runs_of_one_batch_share_the_budget_and_the_breaker(store: &Store) {
    let (a, b) = (store.open(), store.open());
    let process = |host: &str| Process { pid: std::process::id(), host: host.to_owned() };
    let first = a.start_batch_run(&process("machine-a"), &[], Some("batch"), 100).unwrap();
    let second = b.start_batch_run(&process("machine-b"), &[], Some("batch"), 100).unwrap();
    assert_eq!(b.budget_session(second.run_id).unwrap(), Some(first.run_id));
    a.claim_render("r1", "e", "{}", &first, 101).unwrap();
    b.claim_render("r2", "e", "{}", &second, 101).unwrap();
    assert_eq!(a.reserve_spend("r1", &first, 700, Some(1_000)).unwrap(), SpendDecision::Reserved);
    assert_eq!(
        b.reserve_spend("r2", &second, 700, Some(1_000)).unwrap(),
        SpendDecision::OverBudget { committed_micros: 700 }
    );
    b.release("r2", &second).unwrap();

    a.trip_spend_breaker(&first, "out of credit", 102).unwrap();
    b.claim_render("r3", "e", "{}", &second, 103).unwrap();
    assert_eq!(
        b.reserve_spend("r3", &second, 1, None).unwrap(),
        SpendDecision::OutOfCredit { tripped_at: 102, by: first.run_id }
    );
}

/// Many threads on their own connections reserving against one cap: the reservations never add
/// up past it.
pub fn concurrent_reservations_never_pass_the_cap(store: &Store) {
    const THREADS: usize = 4;
    const PER_THREAD: usize = 10;
    let journal = store.open();
    let lead = journal.start_batch_run(&Process::current(), &[], Some("cap"), 100).unwrap();
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let journal = store.open();
            std::thread::spawn(move || {
                let me = journal.start_batch_run(&Process::current(), &[], Some("cap"), 100).unwrap();
                (0..PER_THREAD)
                    .filter(|i| {
                        let key = format!("cap-{t}-{i}");
                        journal.claim_render(&key, "e", "{}", &me, 101).unwrap();
                        journal.reserve_spend(&key, &me, 100, Some(1_500)).unwrap() == SpendDecision::Reserved
                    })
                    .count()
            })
        })
        .collect();
    let reserved: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(reserved, 15, "1500 / 100 each, across {THREADS} runs");
    assert_eq!(journal.budget_session(lead.run_id).unwrap(), Some(lead.run_id));
}

fn claim_line(journal: &episodic_engine::Journal, key: &str, owner: &Owner, now: i64) -> SpeechClaim {
    journal.claim_speech(key, "voice", "eleven_v3", r#"{"text":"hi"}"#, owner, now).unwrap()
}

const VOICED: SpeechCompletion =
    SpeechCompletion { characters: 2, credits: Some(2), cost_micros: 200, aligned: true };

pub fn a_line_is_claimed_answered_completed_then_reused(store: &Store) {
    let journal = store.open();
    let me = live(&journal);
    assert_eq!(journal.speech("k").unwrap(), None);
    assert_eq!(claim_line(&journal, "k", &me, 100), SpeechClaim::Claimed);
    assert_eq!(
        claim_line(&journal, "k", &me, 100),
        SpeechClaim::Busy { owner: me.clone() },
        "our other task"
    );
    let other = live(&journal);
    assert!(matches!(
        journal.mark_speech_answered("k", &other, "hist-1", None, false, 101),
        Err(JournalError::NotOwner { .. })
    ));
    journal.mark_speech_answered("k", &me, "hist-1", Some("req-1"), false, 101).unwrap();
    journal.mark_speech_answered("k", &me, "hist-1", Some("req-1"), false, 101).unwrap();
    assert!(matches!(
        journal.mark_speech_answered("k", &me, "hist-2", None, false, 101),
        Err(JournalError::ConflictingRequestId { .. })
    ));
    assert_eq!(claim_line(&journal, "k", &me, 101), SpeechClaim::Fetch { history_item_id: "hist-1".into() });
    journal.mark_speech_completed("k", &me, &VOICED, 102).unwrap();
    journal.mark_speech_completed("k", &me, &VOICED, 103).unwrap();
    assert_eq!(journal.spent_micros(me.run_id).unwrap(), 200, "the line's cost counts for its run");
    assert_eq!(journal.spent_since(102).unwrap(), 200);
    let later = live(&journal);
    let SpeechClaim::Done(record) = claim_line(&journal, "k", &later, 104) else { panic!("reused") };
    assert_eq!(record.attempts, 1);
    assert!(matches!(
        record.state,
        SpeechState::Completed { aligned: true, cost_micros: 200, characters: 2, credits: Some(2), .. }
    ));
    assert!(journal.history_item_taken("hist-1", "other").unwrap());
    assert!(!journal.history_item_taken("hist-1", "k").unwrap());
    assert!(matches!(
        journal.claim_speech("k", "voice", "eleven_v3", r#"{"text":"bye"}"#, &later, 105),
        Err(JournalError::KeyMismatch { .. })
    ));
}

pub fn a_dead_runs_line_is_ambiguous_fetched_or_voiced_again(store: &Store) {
    let journal = store.open();
    let dead = run(&journal, dead_pid(), 100);
    journal.finish_run(dead.run_id, RunOutcome::Failed, 100).unwrap();
    assert_eq!(claim_line(&journal, "k", &dead, 100), SpeechClaim::Claimed);
    let me = live(&journal);
    assert_eq!(
        claim_line(&journal, "k", &me, 101),
        SpeechClaim::Ambiguous { owner: dead.clone(), claimed_at: 100 }
    );
    // Found in ElevenLabs' history: taken over with its history item.
    journal.mark_speech_answered("k", &me, "hist-9", None, true, 102).unwrap();
    assert_eq!(claim_line(&journal, "k", &me, 103), SpeechClaim::Fetch { history_item_id: "hist-9".into() });
    journal.mark_speech_completed("k", &me, &VOICED, 104).unwrap();

    // Not found: voiced again, refused, retried at the user's word, given back.
    journal.claim_speech("j", "voice", "eleven_v3", "{}", &dead, 100).unwrap();
    assert_eq!(journal.force_revoice("j", &me, 105).unwrap(), SpeechClaim::Claimed);
    assert_eq!(journal.speech("j").unwrap().unwrap().attempts, 2);
    journal.mark_speech_failed("j", &me, "voice_not_found", 106).unwrap();
    assert_eq!(
        journal.claim_speech("j", "voice", "eleven_v3", "{}", &me, 107).unwrap(),
        SpeechClaim::Failed { error: "voice_not_found".into() }
    );
    assert_eq!(journal.retry_failed_speech("j", &me, 108).unwrap(), SpeechClaim::Claimed);
    journal.release_speech("j", &me).unwrap();
    assert_eq!(journal.speech("j").unwrap(), None);
    journal.release_speech("j", &me).unwrap();

    // An answered line whose holder died is fetched by the next run, which then holds it.
    let dying = run(&journal, std::process::id(), 110);
    journal.claim_speech("a", "voice", "eleven_v3", "{}", &dying, 110).unwrap();
    journal.mark_speech_answered("a", &dying, "hist-a", None, false, 111).unwrap();
    journal.finish_run(dying.run_id, RunOutcome::Interrupted, 112).unwrap();
    let next = live(&journal);
    assert_eq!(
        journal.claim_speech("a", "voice", "eleven_v3", "{}", &next, 113).unwrap(),
        SpeechClaim::Fetch { history_item_id: "hist-a".into() }
    );
    assert!(matches!(
        journal.speech("a").unwrap().unwrap().state,
        SpeechState::Answered { ref owner, .. } if owner.run_id == next.run_id
    ));
}

/// Two machines (two connections, two hosts) claim the same lines at once: each line is
/// claimed by exactly one of them.
pub fn two_machines_claim_one_line_once(store: &Store) {
    const LINES: usize = 20;
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
    let handles: Vec<_> = ["machine-a", "machine-b"]
        .into_iter()
        .map(|host| {
            let journal = store.open();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let me = journal
                    .start_run(&Process { pid: std::process::id(), host: host.to_owned() }, &[], 100)
                    .unwrap();
                barrier.wait();
                (0..LINES)
                    .filter(|i| {
                        let key = format!("line-{i}");
                        match journal.claim_speech(&key, "voice", "eleven_v3", "{}", &me, 100).unwrap() {
                            SpeechClaim::Claimed => true,
                            SpeechClaim::Busy { owner } => {
                                assert_ne!(owner.run_id, me.run_id);
                                false
                            }
                            other => panic!("{other:?}"),
                        }
                    })
                    .count()
            })
        })
        .collect();
    let claimed: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(claimed, LINES);
}

/// Lines and renders of one batch share its budget across machines: a line's reservation and
/// its voiced cost count against renders' reservations, and the other way round.
pub fn speech_costs_and_reservations_count_against_the_shared_budget(store: &Store) {
    let (a, b) = (store.open(), store.open());
    let process = |host: &str| Process { pid: std::process::id(), host: host.to_owned() };
    let first = a.start_batch_run(&process("machine-a"), &[], Some("batch"), 100).unwrap();
    let second = b.start_batch_run(&process("machine-b"), &[], Some("batch"), 100).unwrap();
    assert_eq!(
        a.claim_speech("line", "voice", "eleven_v3", "{}", &first, 101).unwrap(),
        SpeechClaim::Claimed
    );
    assert_eq!(a.reserve_speech_spend("line", &first, 300, Some(1_000)).unwrap(), SpendDecision::Reserved);
    b.claim_render("r1", "e", "{}", &second, 101).unwrap();
    assert_eq!(
        b.reserve_spend("r1", &second, 800, Some(1_000)).unwrap(),
        SpendDecision::OverBudget { committed_micros: 300 },
        "the line's reservation counts"
    );
    // Voiced for less than reserved: the billed cost replaces the reservation.
    a.mark_speech_completed("line", &first, &VOICED, 102).unwrap();
    assert_eq!(b.reserve_spend("r1", &second, 800, Some(1_000)).unwrap(), SpendDecision::Reserved);
    b.claim_speech("line-2", "voice", "eleven_v3", "{}", &second, 103).unwrap();
    assert_eq!(
        b.reserve_speech_spend("line-2", &second, 100, Some(1_000)).unwrap(),
        SpendDecision::OverBudget { committed_micros: 1_000 },
        "200 voiced + 800 reserved"
    );
    // fal's out-of-credit answer does not stop ElevenLabs.
    a.trip_spend_breaker(&first, "out of credit", 104).unwrap();
    assert_eq!(b.reserve_speech_spend("line-2", &second, 100, None).unwrap(), SpendDecision::Reserved);
    assert_eq!(a.spent_micros(first.run_id).unwrap(), 200);
}

fn needs(output: &str, nodes: &[(&str, &str)]) -> EpisodeNeeds {
    EpisodeNeeds {
        output: output.to_owned(),
        episode: "ep".to_owned(),
        manifest: "ep.yaml".to_owned(),
        nodes: nodes
            .iter()
            .map(|(id, key)| NeededNode {
                id: (*id).to_owned(),
                kind: id.split('/').next().unwrap_or("").to_owned(),
                key: (*key).to_owned(),
                render_key: id.starts_with("download").then(|| format!("r-{key}")),
                sha256: id.starts_with("upload").then(|| format!("sha-{key}")),
            })
            .collect(),
    }
}

fn artifact(key: &str) -> ArtifactRecord {
    ArtifactRecord {
        key: key.to_owned(),
        path: format!("artifacts/{key}.mp4").into(),
        sha256: key.to_owned(),
        size: 10,
        created_at: 5,
    }
}

pub fn episode_needs_are_replaced_and_gc_forgets_only_what_it_decided(store: &Store) {
    let journal = store.open();
    let me = live(&journal);
    journal
        .record_needs(&needs("/o/ep.mp4", &[("download/a", "k1"), ("compose/a", "k2")]), me.run_id, 1)
        .unwrap();
    journal
        .record_needs(&needs("/o/ep.preview.mp4", &[("compose/a", "k2"), ("upload/x", "k4")]), me.run_id, 2)
        .unwrap();
    journal.record_needs(&needs("/o/ep.mp4", &[("download/a", "k3")]), me.run_id, 3).unwrap();
    journal.claim_render("r-k3", "e", "{}", &me, 3).unwrap();
    journal.mark_submitted("r-k3", &me, "req", 3).unwrap();
    journal.mark_completed("r-k3", &me, &json!({}), 1.0, 420_000, 4).unwrap();
    for key in ["k1", "k2", "k3"] {
        journal.record_artifact(&artifact(key)).unwrap();
    }

    let snapshot = store.open().cache_snapshot().unwrap();
    let outputs: Vec<_> = snapshot.episodes.iter().map(|e| (e.output.as_str(), e.planned_at)).collect();
    assert_eq!(outputs, [("/o/ep.preview.mp4", 2), ("/o/ep.mp4", 3)]);
    assert!(!snapshot.needs.contains_key("k1"), "replaced by the later run");
    assert_eq!(snapshot.needs["k2"].len(), 1, "still needed by the preview");
    assert_eq!(snapshot.needs["k3"][0].node, "download/a");
    assert_eq!(snapshot.needs["k3"][0].output, "/o/ep.mp4");
    assert_eq!(snapshot.origins["k1"].render_key.as_deref(), Some("r-k1"), "origins outlive needs");
    assert_eq!(snapshot.origins["k4"].sha256.as_deref(), Some("sha-k4"));
    assert_eq!(snapshot.payments["r-k3"].cost_micros, 420_000);
    assert_eq!(snapshot.payments["r-k3"].completed_at, 4);
    assert_eq!(snapshot.artifacts.len(), 3);

    let moved = ArtifactRecord { path: "artifacts/elsewhere.mp4".into(), ..artifact("k2") };
    let (seen, forgotten) = store
        .open()
        .forget_artifacts(|snapshot| {
            assert_eq!(snapshot.artifacts.len(), 3);
            vec![artifact("k1"), moved.clone()]
        })
        .unwrap();
    assert_eq!(seen.artifacts.len(), 3);
    assert_eq!(forgotten, vec![artifact("k1")]);
    assert_eq!(journal.artifact("k1").unwrap(), None);
    assert_eq!(journal.artifact("k2").unwrap(), Some(artifact("k2")));
}

pub fn node_parts_are_kept_per_node_and_read_without_writing(store: &Store) {
    {
        let journal = store.open();
        let me = live(&journal);
        journal.record_parts("ep", "render/a/speaker", "k1", r#"{"prompt":"a"}"#, 1).unwrap();
        journal.record_parts("ep", "render/a/speaker", "k2", r#"{"prompt":"b"}"#, 2).unwrap();
        journal.record_parts("other", "render/a/speaker", "k9", "{}", 2).unwrap();
        journal.claim_render("r", "e", "{}", &me, 100).unwrap();
        journal.mark_submitted("r", &me, "req", 101).unwrap();
        assert_eq!(journal.render_seconds("r").unwrap(), None, "not completed");
        journal.mark_completed("r", &me, &json!({}), 1.0, 0, 142).unwrap();
        journal
            .record_upload(&UploadRecord {
                sha256: "aa".to_owned(),
                url: "https://files.example/aa".to_owned(),
                content_type: "image/png".to_owned(),
                size: 1,
                uploaded_at: 1,
                expires_at: Some(2),
            })
            .unwrap();
    }
    let journal = store.open_read_only();
    assert_eq!(
        journal.last_parts("ep", "render/a/speaker").unwrap(),
        Some(("k2".to_owned(), r#"{"prompt":"b"}"#.to_owned()))
    );
    assert_eq!(journal.last_parts("ep", "render/b/speaker").unwrap(), None);
    assert_eq!(journal.render_seconds("r").unwrap(), Some(42));
    assert!(journal.ever_uploaded("aa").unwrap(), "expired, but uploaded once");
    assert!(!journal.ever_uploaded("bb").unwrap());
    if store.database.is_none() {
        assert!(
            journal.record_parts("ep", "x", "k", "{}", 3).is_err(),
            "a read-only SQLite journal refuses writes"
        );
    }
}
