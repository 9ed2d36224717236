//! The journal's rules, run against every backend (`main` lists each test once per backend):
//! what a claim answers, who may move a render on, what a dead owner's claim becomes, the caches,
//! webhook outcomes, and spending shared across runs.

use std::time::Duration;

use episodic_engine::journal::{
    ArtifactRecord, Claim, JournalError, Owner, Process, RenderState, RunOutcome, SpendDecision,
    UploadRecord, WebhookResult,
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
