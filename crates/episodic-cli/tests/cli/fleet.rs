//! Fleet mode: two `episodic render` processes standing for two machines (each its own state
//! and cache folders and its own copy of the demo) share one PostgreSQL journal, one S3 artifact
//! store (a real moto server) and one studio. Every render is submitted exactly once and every
//! file uploaded once across both; one killed with SIGKILL at a seeded moment leaves the survivor
//! and a rerun to finish without a second submit.
//!
//! Needs `EPISODIC_TEST_POSTGRES_URL` (`bash .ci/postgres` starts a server): required under CI,
//! skipped with a notice otherwise. `FLEET_TRIALS` (default 2) and `FLEET_SEED` set the kill
//! trials.

use crate::moto::Moto;
use crate::support::{Bench, DEMO, DEMO_LINES, assert_ok, copy_tree, demo_plan, sha256};
use episodic_studio::StudioConfig;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A database of its own on the test server, dropped at the end.
struct SharedJournal {
    url: String,
    base: String,
    name: String,
}

impl SharedJournal {
    /// A fresh database, or `None` (with a notice) when no server is configured outside CI.
    fn create(test: &str) -> Option<SharedJournal> {
        let base = std::env::var("EPISODIC_TEST_POSTGRES_URL").ok().filter(|url| !url.is_empty());
        let Some(base) = base else {
            assert!(
                std::env::var_os("CI").is_none(),
                "EPISODIC_TEST_POSTGRES_URL is not set: CI runs the tests through `bash .ci/postgres`"
            );
            #[expect(clippy::print_stderr, reason = "the notice is for the developer running the tests")]
            {
                eprintln!(
                    "NOTICE: {test} skipped: EPISODIC_TEST_POSTGRES_URL is not set (`bash .ci/postgres cargo test ...` sets it)"
                );
            }
            return None;
        };
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").subsec_nanos();
        let name = format!("fleet_{}_{nanos}", std::process::id());
        let mut client =
            postgres::Client::connect(&base, postgres::NoTls).expect("connect to the test server");
        client.batch_execute(&format!("CREATE DATABASE {name}")).expect("create a database");
        let mut url = url::Url::parse(&base).expect("the test server's URL");
        url.set_path(&name);
        Some(SharedJournal { url: url.to_string(), base, name })
    }
}

impl Drop for SharedJournal {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&self.base, postgres::NoTls) {
            let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}

/// The fleet's shared artifact store: a bucket on a moto server, one prefix per journal.
struct SharedStore {
    moto: Moto,
}

impl SharedStore {
    fn start() -> SharedStore {
        let moto = Moto::start();
        moto.create_bucket("fleet");
        SharedStore { moto }
    }

    /// The store's URL for the journal's database, so trials never see each other's files.
    fn url(&self, journal: &SharedJournal) -> String {
        format!("s3://fleet/{}", journal.name)
    }
}

/// `episodic render` as machine `name`: its own copy of the demo (so its own output), state
/// folder and cache; the shared journal and artifact store from the environment.
fn machine(bench: &Bench, fleet: (&SharedJournal, &SharedStore), name: &str, extra: &[&str]) -> Command {
    let (journal, store) = fleet;
    let root = bench.root();
    let demo = format!("pipelines/demo-{name}");
    if !root.join(&demo).exists() {
        copy_tree(&root.join("pipelines/demo"), &root.join(&demo));
    }
    let manifest = DEMO.replace("pipelines/demo/", &format!("{demo}/"));
    let state = format!(".state-{name}");
    let cache = root.join(format!("cache-{name}"));
    let mut command = bench.context().command(["render", manifest.as_str()]);
    command
        .args(["--backend", "fal", "--scale", "8", "--state-dir", state.as_str()])
        .args(extra)
        .envs(bench.fal_env(crate::support::BENCH_KEY))
        .env("EPISODIC_CACHE_DIR", cache)
        .env("EPISODIC_JOURNAL_URL", &journal.url)
        .env("EPISODIC_ARTIFACTS_URL", store.url(journal))
        .envs(store.moto.settings());
    command
}

fn episode_exists(root: &Path, name: &str) -> bool {
    root.join(format!("pipelines/demo-{name}/out/ninja-news-demo.mp4")).is_file()
}

#[test]
fn two_machines_on_one_postgres_journal_and_s3_store_submit_each_render_once() {
    let test = "two_machines_on_one_postgres_journal_and_s3_store_submit_each_render_once";
    let Some(journal) = SharedJournal::create(test) else {
        return;
    };
    let store = SharedStore::start();
    let slow = StudioConfig { render_time_per_second: Duration::from_millis(200), ..StudioConfig::default() };
    let bench = Bench::new(slow);
    let (renders, uploads, _) = demo_plan(bench.root());
    let spawn = |name| {
        machine(&bench, (&journal, &store), name, &[])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let (a, b) = (spawn("a"), spawn("b"));
    let (a, b) = (a.wait_with_output().expect("wait"), b.wait_with_output().expect("wait"));
    assert_ok(&a);
    assert_ok(&b);
    let password = url::Url::parse(&journal.url).expect("url").password().map(str::to_owned);
    for output in [&a, &b] {
        let stderr = String::from_utf8_lossy(&output.stderr);
        if let Some(password) = &password {
            assert!(!stderr.contains(password.as_str()), "the journal's password was printed:\n{stderr}");
        }
    }
    assert!(episode_exists(bench.root(), "a") && episode_exists(bench.root(), "b"));
    assert_eq!(bench.stats().submits.total, renders, "each render submitted once across both machines");
    // Two machines meeting on a new file at the same moment may both upload it: an upload is
    // free and idempotent, so it is not claimed like a render (ARCHITECTURE.md, "Uploads race").
    let racing = bench.stats().uploads.count;
    assert!((uploads..=2 * uploads).contains(&racing), "{racing} uploads of {uploads} files");
    for output in [&a, &b] {
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!("artifacts are shared through {}", store.url(&journal))),
            "{stderr}"
        );
        assert!(!stderr.contains("episodic-test-secret"), "the store's secret was printed:\n{stderr}");
    }
    // Racing machines may both compose a segment (composes are not claimed: they cost CPU, not
    // money), and x264 with other thread counts writes other bytes; the third machine below must
    // take one of the two episodes from the store.
    let digest =
        |name: &str| sha256(&bench.root().join(format!("pipelines/demo-{name}/out/ninja-news-demo.mp4")));
    let made = [digest("a"), digest("b")];

    // A third machine, later, finds every upload and render in the journal and every file in
    // the store: it sends nothing to fal.
    let third = machine(&bench, (&journal, &store), "c", &[]).output().expect("run machine c");
    assert_ok(&third);
    assert_eq!(bench.stats().submits.total, renders, "machine c submitted a render again");
    assert_eq!(bench.stats().uploads.count, racing, "machine c uploaded a file again");
    assert!(made.contains(&digest("c")), "machine c made its own episode instead of taking one");
}

/// A small deterministic generator (SplitMix64), so trials replay from their seed.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[test]
fn a_machine_killed_mid_run_leaves_the_survivor_and_a_rerun_to_pay_once() {
    let Some(_probe) =
        SharedJournal::create("a_machine_killed_mid_run_leaves_the_survivor_and_a_rerun_to_pay_once")
    else {
        return;
    };
    let store = SharedStore::start();
    let trials: u64 = std::env::var("FLEET_TRIALS").ok().and_then(|n| n.parse().ok()).unwrap_or(2);
    let mut seed: u64 = std::env::var("FLEET_SEED").ok().and_then(|n| n.parse().ok()).unwrap_or(2026);
    for trial in 0..trials {
        let journal = SharedJournal::create("kill trial").expect("the server is configured");
        let slow =
            StudioConfig { render_time_per_second: Duration::from_millis(300), ..StudioConfig::default() };
        let bench = Bench::new(slow);
        let (renders, _, _) = demo_plan(bench.root());
        // Machine a is killed after its nth journaled request id, plus a pause; racing b for the
        // renders, it submits about half of them.
        let nth = splitmix(&mut seed) % (renders / 2).max(1);
        let pause = Duration::from_millis(splitmix(&mut seed) % 400);
        let context = format!("trial {trial} (FLEET_SEED run: kill after request {nth} + {pause:?})");

        let mut a = machine(&bench, (&journal, &store), "a", &["--json", "--ambiguous-grace", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn a");
        let b = machine(&bench, (&journal, &store), "b", &["--ambiguous-grace", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn b");
        let stdout = a.stdout.take().expect("stdout");
        let (reached, wait) = mpsc::channel();
        std::thread::spawn(move || {
            let mut seen = 0;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
                if event["event"] == "node_progress" && event["request_id"].is_string() {
                    if seen == nth {
                        let _ = reached.send(true);
                    }
                    seen += 1;
                }
            }
            // The run ended first (b took the renders): kill nothing.
            let _ = reached.send(false);
        });
        let hit = wait.recv_timeout(Duration::from_secs(120)).unwrap_or(false);
        if hit {
            std::thread::sleep(pause);
            let _ = a.kill();
        }
        let killed = !a.wait().expect("wait for a").success();
        eprintln!("{context}: {}", if killed { "killed mid-run" } else { "a finished before the moment" });

        let b = b.wait_with_output().expect("wait for b");
        assert_ok(&b);
        assert!(episode_exists(bench.root(), "b"), "{context}: the survivor finished");
        let rerun =
            machine(&bench, (&journal, &store), "a", &["--ambiguous-grace", "0"]).output().expect("rerun a");
        assert_ok(&rerun);
        assert!(episode_exists(bench.root(), "a"), "{context}: the rerun finished");
        assert_eq!(bench.stats().submits.total, renders, "{context}: a render was submitted twice");
    }
}

#[test]
fn an_unreachable_journal_is_named_without_its_password_and_nothing_is_paid() {
    let bench = Bench::new(StudioConfig::default());
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    let output = bench
        .command(&[])
        .env("EPISODIC_JOURNAL_URL", "postgres://episodic:pw-not-to-show@127.0.0.1:1/journal")
        .output()
        .expect("run episodic render");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("postgres://episodic@127.0.0.1:1/journal"), "{stderr}");
    assert!(stderr.contains("EPISODIC_JOURNAL_URL"), "the help names the setting: {stderr}");
    assert!(!stderr.contains("pw-not-to-show"), "the password was printed: {stderr}");
    let bad =
        bench.command(&["--journal", "postgres://episodic:pw-not-to-show@127.0.0.1:notaport/j"]).output();
    let bad = bad.expect("run episodic render");
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not a PostgreSQL URL"), "{stderr}");
    assert!(!stderr.contains("pw-not-to-show"), "the password was printed: {stderr}");
    assert_eq!(bench.stats().submits.total, 0);
    assert_eq!(bench.stats().uploads.count, 0);
}

#[test]
fn voiced_lines_and_their_timings_reach_a_second_machine_through_the_store() {
    let Some(journal) =
        SharedJournal::create("voiced_lines_and_their_timings_reach_a_second_machine_through_the_store")
    else {
        return;
    };
    let store = SharedStore::start();
    let bench = Bench::new(StudioConfig::default());
    let root = bench.root();
    let run = |name: &str| {
        let folder = format!("pipelines/demo-lines-{name}");
        copy_tree(&root.join("pipelines/demo-lines"), &root.join(&folder));
        let manifest = DEMO_LINES.replace("pipelines/demo-lines/", &format!("{folder}/"));
        let output = bench
            .speech_command_in(&format!(".state-{name}"), &manifest, &[])
            .env("EPISODIC_CACHE_DIR", root.join(format!("cache-{name}")))
            .env("EPISODIC_JOURNAL_URL", &journal.url)
            .env("EPISODIC_ARTIFACTS_URL", store.url(&journal))
            .envs(store.moto.settings())
            .output()
            .expect("run episodic render");
        assert_ok(&output);
        let out = root.join(folder).join("out");
        let read = |file: &str| std::fs::read(out.join(file)).unwrap_or_else(|err| panic!("{file}: {err}"));
        (read("ninja-news-lines.srt"), read("ninja-news-lines.mp4"))
    };
    let (captions, episode) = run("a");
    let voiced = bench.stats();
    assert!(voiced.tts.requests > 0, "{voiced:?}");
    // The second machine's state folder is empty: the audio and the alignment of every line come
    // from the store, so its captions are the first machine's to the millisecond.
    let (second_captions, second_episode) = run("b");
    let after = bench.stats();
    assert_eq!(after.tts, voiced.tts, "machine b voiced a line again");
    assert_eq!(after.submits.total, voiced.submits.total, "machine b submitted a render again");
    assert_eq!(String::from_utf8_lossy(&second_captions), String::from_utf8_lossy(&captions));
    assert!(second_episode == episode, "the episodes differ");
}
