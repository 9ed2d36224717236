//! The journal on real files and across processes: crashes, races, old databases, bad state
//! directories. A "crash" is a real process exiting without finishing its work.
//!
//! Child processes are this test binary run again with `JOURNAL_CHILD` set. The binary is built
//! with `harness = false` so that `main` can send such a run to [`child`] before any test runner
//! starts: the helper is then not a test (a `#[test]` that does nothing without the variable would
//! count as a passing test in every run), it needs no second build target to find at run time
//! (`current_exe` is the helper), and a child cannot accidentally run the tests. The price is the
//! small runner in `harness.rs`; the tests are listed in [`main`].

// clippy allows `unwrap` in `#[test]` functions only; these are tests run by `harness.rs`.
#![expect(clippy::unwrap_used, reason = "tests: a failed unwrap is a failed test")]

#[macro_use]
mod harness;
mod store;
mod suite;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::{Arc, Barrier};

use std::time::{Duration, Instant};
use store::Store;
use suite::*;

use episodic_engine::journal::{
    Claim, Journal, JournalError, Owner, Process, RecoveryAction, RenderState, RunOutcome, SCHEMA_VERSION,
    UploadRecord, now, recover,
};

const ENDPOINT: &str = "fal-ai/kling-video/ai-avatar/v2/pro";
const CHILD_MODE: &str = "JOURNAL_CHILD";
const CHILD_DIR: &str = "JOURNAL_CHILD_DIR";

fn main() -> ExitCode {
    if let (Ok(mode), Ok(dir)) = (std::env::var(CHILD_MODE), std::env::var(CHILD_DIR)) {
        child(&mode, Path::new(&dir));
        return ExitCode::SUCCESS;
    }
    let mut tests = tests![
        the_helper_process_is_not_a_test,
        several_processes_may_create_the_same_state_directory_at_once,
        many_threads_may_create_the_same_state_directory_at_once,
        a_version_1_database_opens_and_reads_the_same,
        open_creates_the_state_directory_with_artifacts_in_wal_mode,
        a_corrupt_database_is_a_clear_error_naming_the_file,
        an_uncreatable_state_directory_is_a_clear_error,
        a_database_path_that_is_a_directory_is_a_clear_error,
        #[ignore]
        durability_cost,
        #[ignore]
        render_life_on_each_backend,
    ]
    .to_vec();
    tests.extend_from_slice(on_every_backend![
        a_crash_after_submit_is_reattached_on_reopen_not_resubmitted,
        a_crash_mid_submit_is_ambiguous_and_never_silently_resubmitted,
        processes_racing_for_the_same_keys_claim_each_exactly_once,
        threads_with_their_own_connections_claim_each_key_exactly_once,
        one_journal_shared_by_threads_claims_each_key_once,
        an_unchanged_manifest_run_again_submits_and_uploads_nothing,
        a_render_is_claimed_submitted_completed_then_reused,
        only_the_owner_moves_a_render_on_and_in_order,
        a_live_owner_makes_others_wait_and_a_dead_one_is_reported,
        a_lapsed_heartbeat_on_another_host_gives_its_claims_up,
        failures_are_kept_until_a_retry_and_claims_can_be_given_back,
        in_flight_renders_are_listed_oldest_first,
        runs_heartbeat_finish_and_count_their_spending,
        uploads_artifacts_and_webhooks_are_upserted,
        runs_of_one_batch_share_the_budget_and_the_breaker,
        concurrent_reservations_never_pass_the_cap,
        a_line_is_claimed_answered_completed_then_reused,
        a_dead_runs_line_is_ambiguous_fetched_or_voiced_again,
        two_machines_claim_one_line_once,
        speech_costs_and_reservations_count_against_the_shared_budget,
        episode_needs_are_replaced_and_gc_forgets_only_what_it_decided,
        node_parts_are_kept_per_node_and_read_without_writing,
    ]);
    // The PostgreSQL half of the suite needs a server (`bash .ci/postgres` starts one). CI must
    // run it, so there a missing server fails those tests; a developer without one is told and
    // they are skipped.
    if store::postgres_url().is_none() && std::env::var_os("CI").is_none() {
        #[expect(clippy::print_stderr, reason = "the notice is for the developer running the tests")]
        {
            eprintln!(
                "NOTICE: {} is not set: the PostgreSQL journal tests are skipped; run `bash .ci/postgres cargo test -p episodic-engine --test journal` (or `just test`) to include them",
                store::POSTGRES_URL
            );
        }
        for test in tests.iter_mut().filter(|test| test.backend == Some("postgres")) {
            test.ignored = true;
        }
    }
    harness::run(&tests)
}

fn args(key: &str) -> String {
    format!(r#"{{"prompt":"{key}"}}"#)
}

fn start(journal: &Journal) -> Owner {
    journal.start_run(&Process::current(), &["episode.yaml".to_owned()], now()).expect("start a run")
}

/// Runs this binary again as a [`child`] in `mode` on `dir`, without waiting for it.
fn run_child(mode: &str, dir: &Path) -> std::process::Child {
    child_command(mode, dir).spawn().expect("spawn the test binary")
}

/// Runs a [`child`] in `mode` on `store`'s journal, without waiting for it.
fn run_child_on(mode: &str, store: &Store) -> std::process::Child {
    let mut command = child_command(mode, store.path());
    store.child_env(&mut command);
    command.spawn().expect("spawn the test binary")
}

fn child_command(mode: &str, dir: &Path) -> Command {
    let mut command = Command::new(std::env::current_exe().expect("the test binary's path"));
    command.env(CHILD_MODE, mode).env(CHILD_DIR, dir).stdout(std::process::Stdio::null());
    command
}

/// How many threads each `open` child opens the state directory with.
const OPENS_PER_CHILD: usize = 8;

/// The body of child processes (see the module docs). A panic exits non-zero, which the parent
/// checks.
fn child(mode: &str, dir: &Path) {
    if mode == "open" {
        return open_when_told(dir);
    }
    let journal = store::open_in_child(dir);
    let me = start(&journal);
    match mode {
        // Crash (exit without destructors) right after fal answered and the id was journaled.
        "crash-after-submit" => {
            assert_eq!(journal.claim_render("k", ENDPOINT, &args("k"), &me, now()).unwrap(), Claim::Claimed);
            journal.mark_submitted("k", &me, "req-1", now()).unwrap();
            std::process::exit(0);
        }
        // Crash between the claim and fal's answer: nobody can know whether the POST arrived.
        "crash-mid-submit" => {
            assert_eq!(journal.claim_render("k", ENDPOINT, &args("k"), &me, now()).unwrap(), Claim::Claimed);
            std::process::exit(0);
        }
        // Claim 50 keys in competition with other processes; report how many were ours.
        "race" => {
            let mut claimed = Vec::new();
            for i in 0..50 {
                let key = format!("key-{i}");
                match journal.claim_render(&key, ENDPOINT, &args(&key), &me, now()).unwrap() {
                    Claim::Claimed => claimed.push(key),
                    // A finished rival is gone, so its claims read as ambiguous: still not ours.
                    Claim::Busy { .. } | Claim::Ambiguous { .. } => {}
                    other => panic!("unexpected {other:?}"),
                }
            }
            let file = dir.join(format!("claimed-{}", std::process::id()));
            std::fs::write(file, claimed.join("\n")).unwrap();
        }
        other => panic!("unknown child mode {other}"),
    }
}

/// The `open` child: [`OPENS_PER_CHILD`] threads wait for `dir/go`, then each opens
/// `dir/.episodic` (which does not exist yet) on its own connection and checks the schema.
fn open_when_told(dir: &Path) {
    let state = dir.join(".episodic");
    let go = dir.join("go");
    let threads: Vec<_> = (0..OPENS_PER_CHILD)
        .map(|_| {
            let (state, go) = (state.clone(), go.clone());
            std::thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(60);
                while !go.exists() {
                    assert!(Instant::now() < deadline, "never told to go");
                    std::thread::sleep(Duration::from_micros(200));
                }
                let journal = Journal::open(&state).unwrap();
                assert_eq!(journal.schema_version().unwrap(), SCHEMA_VERSION);
            })
        })
        .collect();
    std::fs::write(dir.join(format!("ready-{}", std::process::id())), "").unwrap();
    for thread in threads {
        thread.join().unwrap();
    }
}

/// The binary's test list holds the tests and nothing else: the child helper is not among them.
fn the_helper_process_is_not_a_test() {
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--list", "--format", "terse"])
        .env_remove(CHILD_MODE)
        .output()
        .unwrap();
    assert!(output.status.success());
    let list = String::from_utf8(output.stdout).unwrap();
    let names: Vec<&str> = list.lines().filter_map(|line| line.strip_suffix(": test")).collect();
    assert!(names.contains(&"a_version_1_database_opens_and_reads_the_same"), "{list}");
    assert!(!names.iter().any(|name| name.contains("child")), "a helper is listed as a test:\n{list}");
}

fn a_crash_after_submit_is_reattached_on_reopen_not_resubmitted(store: &Store) {
    assert!(run_child_on("crash-after-submit", store).wait().unwrap().success());

    let journal = store.open();
    let me = start(&journal);
    let in_flight = journal.renders_in_flight().unwrap();
    assert_eq!(in_flight.len(), 1);
    let plan = recover::plan(&journal, &me, now()).unwrap();
    assert_eq!(plan[0].action, RecoveryAction::Reattach { request_id: "req-1".to_owned() });
    assert_eq!(
        journal.claim_render("k", ENDPOINT, &args("k"), &me, now()).unwrap(),
        Claim::Reattach { request_id: "req-1".to_owned() }
    );
    journal.mark_completed("k", &me, &serde_json::json!({"video": {}}), 5.0, 700_000, now()).unwrap();
    journal.finish_run(me.run_id, RunOutcome::Succeeded, now()).unwrap();
    drop(journal);

    // And again: done, nothing to submit, nothing in flight.
    let journal = store.open();
    let again = start(&journal);
    assert!(matches!(
        journal.claim_render("k", ENDPOINT, &args("k"), &again, now()).unwrap(),
        Claim::Done(_)
    ));
    assert!(journal.renders_in_flight().unwrap().is_empty());
    assert_eq!(journal.spent_micros(me.run_id).unwrap(), 700_000);
}

fn a_crash_mid_submit_is_ambiguous_and_never_silently_resubmitted(store: &Store) {
    assert!(run_child_on("crash-mid-submit", store).wait().unwrap().success());

    let journal = store.open();
    let me = start(&journal);
    let claim = journal.claim_render("k", ENDPOINT, &args("k"), &me, now()).unwrap();
    let Claim::Ambiguous { owner, .. } = claim else { panic!("expected Ambiguous, got {claim:?}") };
    assert_ne!(owner.pid, std::process::id());
    let plan = recover::plan(&journal, &me, now()).unwrap();
    assert_eq!(plan[0].action, RecoveryAction::Ambiguous { owner: owner.clone() });
    // Only the user's explicit decision resubmits.
    assert_eq!(journal.force_resubmit("k", &me, now()).unwrap(), Claim::Claimed);
    journal.mark_submitted("k", &me, "req-2", now()).unwrap();
    assert_eq!(journal.render("k").unwrap().unwrap().attempts, 2);
}

fn processes_racing_for_the_same_keys_claim_each_exactly_once(store: &Store) {
    let dir = store.path();
    // Create the database first so the children race on claims, not on creating the schema
    // (which is safe too, but not what this test is about).
    drop(store.open());
    let children: Vec<_> = (0..3).map(|_| run_child_on("race", store)).collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let mut all: Vec<String> = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap().to_string_lossy().starts_with("claimed-") {
            let text = std::fs::read_to_string(path).unwrap();
            all.extend(text.lines().filter(|l| !l.is_empty()).map(str::to_owned));
        }
    }
    all.sort();
    let mut expected: Vec<String> = (0..50).map(|i| format!("key-{i}")).collect();
    expected.sort();
    assert_eq!(all, expected);
}

fn threads_with_their_own_connections_claim_each_key_exactly_once(store: &Store) {
    drop(store.open());
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let journal = store.open();
            std::thread::spawn(move || {
                let me = start(&journal);
                let mut claimed = Vec::new();
                // Each thread walks the keys from a different place, to collide in every order.
                for i in (0..50).map(|i| (i + t * 13) % 50) {
                    let key = format!("key-{i}");
                    match journal.claim_render(&key, ENDPOINT, &args(&key), &me, now()).unwrap() {
                        Claim::Claimed => claimed.push(key),
                        Claim::Busy { .. } => {}
                        other => panic!("unexpected {other:?}"),
                    }
                }
                (me, claimed)
            })
        })
        .collect();
    let results: Vec<(Owner, Vec<String>)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let mut all: Vec<&String> = results.iter().flat_map(|(_, keys)| keys).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 50);
    assert_eq!(results.iter().map(|(_, keys)| keys.len()).sum::<usize>(), 50);
    // The journal agrees on who owns each key.
    let journal = store.open();
    for (owner, keys) in &results {
        for key in keys {
            let record = journal.render(key).unwrap().unwrap();
            assert_eq!(record.state.owner(), Some(owner));
        }
    }
}

/// Creating a state directory is where several processes meet first: SQLite may answer the switch
/// to WAL, or the first statements of the migration, with SQLITE_BUSY without waiting. A few
/// dozen processes, each opening one new folder from several threads at one signal, must all
/// succeed and agree on the schema.
fn several_processes_may_create_the_same_state_directory_at_once() {
    const CHILDREN: usize = 25;
    for _round in 0..2 {
        let dir = tempfile::tempdir().unwrap();
        let children: Vec<_> = (0..CHILDREN).map(|_| run_child("open", dir.path())).collect();
        // Every child has its threads waiting before anyone goes, so the opens collide.
        let deadline = Instant::now() + Duration::from_secs(60);
        while ready_children(dir.path()) < CHILDREN {
            assert!(Instant::now() < deadline, "the children did not start");
            std::thread::sleep(Duration::from_millis(5));
        }
        std::fs::write(dir.path().join("go"), "").unwrap();
        for child in children {
            let output = child.wait_with_output().unwrap();
            assert!(output.status.success(), "a child failed: {:?}", output.status);
        }
        assert_current_schema(&dir.path().join(".episodic"));
    }
}

fn ready_children(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|entry| entry.as_ref().is_ok_and(|e| e.file_name().to_string_lossy().starts_with("ready-")))
        .count()
}

/// The same inside one process: 200 threads, each with its own connection, open one new folder
/// at once (several rounds, since one round loses the race only now and then).
fn many_threads_may_create_the_same_state_directory_at_once() {
    const THREADS: usize = 200;
    for _round in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join(".episodic");
        let gate = Arc::new(Barrier::new(THREADS));
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let (state, gate) = (state.clone(), Arc::clone(&gate));
                std::thread::spawn(move || {
                    gate.wait();
                    Journal::open(&state).and_then(|journal| journal.schema_version())
                })
            })
            .collect();
        let results: Vec<Result<u32, JournalError>> =
            handles.into_iter().map(|handle| handle.join().unwrap()).collect();
        let failures: Vec<&JournalError> = results.iter().filter_map(|r| r.as_ref().err()).collect();
        assert!(failures.is_empty(), "{} of {THREADS} opens failed: {failures:?}", failures.len());
        assert!(results.iter().all(|r| matches!(r, Ok(v) if *v == SCHEMA_VERSION)));
        assert_current_schema(&state);
    }
}

/// The folder's database is in WAL mode at the current schema, with its tables.
fn assert_current_schema(state: &PathBuf) {
    let journal = Journal::open(state).unwrap();
    assert_eq!(journal.schema_version().unwrap(), SCHEMA_VERSION);
    assert!(journal.renders_in_flight().unwrap().is_empty());
    drop(journal);
    let conn = rusqlite::Connection::open(state.join("state.sqlite")).unwrap();
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
}

fn one_journal_shared_by_threads_claims_each_key_once(store: &Store) {
    let journal = Arc::new(store.open());
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let journal = Arc::clone(&journal);
            std::thread::spawn(move || {
                let me = start(&journal);
                (0..50)
                    .filter(|i| {
                        let key = format!("key-{i}");
                        journal.claim_render(&key, ENDPOINT, &args(&key), &me, now()).unwrap()
                            == Claim::Claimed
                    })
                    .count()
            })
        })
        .collect();
    let total: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(total, 50);
}

fn an_unchanged_manifest_run_again_submits_and_uploads_nothing(store: &Store) {
    let uploads = ["sha-image", "sha-audio"];
    let renders = ["render-a", "render-b", "render-c"];
    // What one run of the engine does with the journal; returns (uploads, submissions) made.
    let run_once = || -> (usize, usize) {
        let journal = store.open();
        let me = start(&journal);
        let mut uploaded = 0;
        for sha in uploads {
            if journal.cached_upload(sha, now()).unwrap().is_none() {
                uploaded += 1;
                journal
                    .record_upload(&UploadRecord {
                        sha256: sha.to_owned(),
                        url: format!("https://files.example/{sha}"),
                        content_type: "application/octet-stream".to_owned(),
                        size: 10,
                        uploaded_at: now(),
                        expires_at: None,
                    })
                    .unwrap();
            }
        }
        let mut submitted = 0;
        for key in renders {
            match journal.claim_render(key, ENDPOINT, &args(key), &me, now()).unwrap() {
                Claim::Claimed => {
                    submitted += 1;
                    journal.mark_submitted(key, &me, &format!("req-{key}"), now()).unwrap();
                    journal.mark_completed(key, &me, &serde_json::json!({}), 5.0, 100, now()).unwrap();
                }
                Claim::Done(_) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        journal.finish_run(me.run_id, RunOutcome::Succeeded, now()).unwrap();
        (uploaded, submitted)
    };
    assert_eq!(run_once(), (2, 3));
    assert_eq!(run_once(), (0, 0));
}

fn a_version_1_database_opens_and_reads_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = include_str!("../fixtures/state-v1.sql");
    rusqlite::Connection::open(dir.path().join("state.sqlite")).unwrap().execute_batch(fixture).unwrap();

    let journal = Journal::open(dir.path()).unwrap();
    assert_eq!(journal.schema_version().unwrap(), SCHEMA_VERSION);
    let later = 1_800_010_000;
    let me = journal.start_run(&Process::current(), &[], later).unwrap();

    let completed = journal.render("key-completed").unwrap().unwrap();
    let RenderState::Completed { request_id, result, billed_seconds, cost_micros, completed_by, .. } =
        &completed.state
    else {
        panic!("{completed:?}")
    };
    assert_eq!((request_id.as_str(), *billed_seconds, *cost_micros), ("req-completed", 5.04, 580_000));
    assert_eq!(result["video"]["file_size"], 1_048_576);
    assert_eq!(journal.spent_micros(*completed_by).unwrap(), 580_000);

    let plan = recover::plan(&journal, &me, later).unwrap();
    let actions: Vec<(&str, &RecoveryAction)> =
        plan.iter().map(|r| (r.record.key.as_str(), &r.action)).collect();
    assert_eq!(actions.len(), 2);
    assert_eq!(
        actions[0],
        ("key-submitted", &RecoveryAction::Reattach { request_id: "req-submitted".to_owned() })
    );
    assert!(matches!(actions[1], ("key-submitting", RecoveryAction::Ambiguous { .. })));

    let claim = |key: &str, args: &str| journal.claim_render(key, ENDPOINT, args, &me, later).unwrap();
    assert!(matches!(claim("key-completed", r#"{"prompt":"wave"}"#), Claim::Done(_)));
    assert!(matches!(claim("key-submitting", r#"{"prompt":"blink"}"#), Claim::Ambiguous { .. }));
    assert_eq!(
        claim("key-submitted", r#"{"prompt":"nod"}"#),
        Claim::Reattach { request_id: "req-submitted".to_owned() }
    );
    let failed = journal
        .claim_render(
            "key-failed",
            "fal-ai/kling-video/v2.1/standard/image-to-video",
            r#"{"prompt":"smile"}"#,
            &me,
            later,
        )
        .unwrap();
    assert_eq!(
        failed,
        Claim::Failed { request_id: None, error: "422: image is smaller than 300x300".to_owned() }
    );

    assert!(journal.cached_upload("aaaaaaaa", later).unwrap().is_some());
    assert!(journal.cached_upload("bbbbbbbb", later).unwrap().is_none(), "expired upload");
    let artifact = journal.artifact("key-completed-download").unwrap().unwrap();
    assert_eq!(artifact.path, Path::new("artifacts/cccccccc.mp4"));
    let run = journal.run(*completed_by).unwrap().unwrap();
    assert_eq!(run.manifests, ["episodes/ninja.yaml"]);
}

fn open_creates_the_state_directory_with_artifacts_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("nested/.episodic");
    let journal = Journal::open(&state).unwrap();
    assert_eq!(journal.state_dir(), Some(state.as_path()));
    assert_eq!(journal.artifacts_dir(), Some(state.join("artifacts").as_path()));
    assert!(state.join("artifacts").is_dir());
    drop(journal);
    let conn = rusqlite::Connection::open(state.join("state.sqlite")).unwrap();
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
}

fn a_corrupt_database_is_a_clear_error_naming_the_file() {
    for garbage in [&b"this is not a database"[..], &[0x42; 8192][..]] {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("state.sqlite");
        std::fs::write(&file, garbage).unwrap();
        let error = Journal::open(dir.path()).unwrap_err();
        assert!(matches!(error, JournalError::Corrupt { .. }), "{error:?}");
        let message = error.to_string();
        assert!(message.contains(&file.display().to_string()), "{message}");
        assert!(message.contains("move it aside"), "{message}");
        // Nothing was overwritten.
        assert_eq!(std::fs::read(&file).unwrap(), garbage);
    }
}

fn an_uncreatable_state_directory_is_a_clear_error() {
    // Tests may run as root, where permissions do not stop writes; a directory below a regular
    // file cannot be created by anyone.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let state = file.join(".episodic");
    let error = Journal::open(&state).unwrap_err();
    assert!(matches!(error, JournalError::StateDir { .. }), "{error:?}");
    assert!(error.to_string().contains(&state.display().to_string()), "{error}");
}

fn a_database_path_that_is_a_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("state.sqlite")).unwrap();
    let error = Journal::open(dir.path()).unwrap_err();
    assert!(matches!(error, JournalError::Unwritable { .. }), "{error:?}");
    assert!(error.to_string().contains("state.sqlite"), "{error}");
}

/// Measures what durability costs on this machine. Not run by default (timing, not behaviour):
/// `cargo test -p episodic-engine --test journal -- --ignored --nocapture durability_cost`.
#[expect(clippy::print_stdout, reason = "a measurement reports its figures")]
fn durability_cost() {
    const N: usize = 200;
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path()).unwrap();
    let me = start(&journal);
    let keys: Vec<String> = (0..N).map(|i| format!("key-{i}")).collect();
    for key in &keys {
        journal.claim_render(key, ENDPOINT, &args(key), &me, now()).unwrap();
    }
    let started = Instant::now();
    for key in &keys {
        journal.mark_submitted(key, &me, &format!("req-{key}"), now()).unwrap();
    }
    let full = started.elapsed() / N as u32;
    let started = Instant::now();
    for _ in 0..N {
        journal.heartbeat(&me, now()).unwrap();
    }
    let normal = started.elapsed() / N as u32;
    // The same one-row update, both ways, on a bare connection.
    let conn = rusqlite::Connection::open(dir.path().join("state.sqlite")).unwrap();
    let raw = |level: &str| {
        conn.pragma_update(None, "synchronous", level).unwrap();
        let started = Instant::now();
        for i in 0..N {
            conn.execute_batch(&format!(
                "BEGIN IMMEDIATE; UPDATE runs SET heartbeat_at = {i} WHERE id = {}; COMMIT;",
                me.run_id
            ))
            .unwrap();
        }
        started.elapsed() / N as u32
    };
    let (raw_full, raw_normal) = (raw("FULL"), raw("NORMAL"));
    println!("mark_submitted (FULL): {full:?}; heartbeat (NORMAL): {normal:?}");
    println!("bare update: FULL {raw_full:?}, NORMAL {raw_normal:?}");
}

/// Measures one render's journal life (claim, reservation, request id, result) on each backend.
/// Not run by default: `bash .ci/postgres cargo test -p episodic-engine --test journal --
/// --ignored --nocapture render_life_on_each_backend`.
#[expect(clippy::print_stdout, reason = "a measurement reports its figures")]
fn render_life_on_each_backend() {
    const N: u32 = 200;
    for (name, store) in [("sqlite", Store::sqlite()), ("postgres", Store::postgres())] {
        let journal = store.open();
        let me = journal.start_batch_run(&Process::current(), &[], Some("measure"), now()).unwrap();
        let started = Instant::now();
        for i in 0..N {
            let key = format!("key-{i}");
            journal.claim_render(&key, ENDPOINT, &args(&key), &me, now()).unwrap();
            journal.reserve_spend(&key, &me, 100, Some(u64::MAX)).unwrap();
            journal.mark_submitted(&key, &me, &format!("req-{i}"), now()).unwrap();
            journal.mark_completed(&key, &me, &serde_json::json!({}), 1.0, 100, now()).unwrap();
        }
        println!("{name}: {:?} per render (4 transactions)", started.elapsed() / N);
    }
}
