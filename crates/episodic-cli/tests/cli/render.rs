//! `episodic render` end to end: the real binary against a real studio on `127.0.0.1:0`, with
//! real ffmpeg, real files and a real journal. The studio's stats prove what was paid for.

use crate::support::{BENCH_KEY as KEY, Bench, DEMO, TestContext, assert_ok, copy_tree, demo_plan, repo};
use episodic_studio::StudioConfig;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

#[test]
fn demo_renders_reruns_for_free_and_rerenders_one_changed_clip() {
    let bench = Bench::new(StudioConfig::default());
    let (renders, uploads, seconds) = demo_plan(bench.root());
    let first = bench.render(&[]);
    assert_ok(&first);

    let probe = crate::support::probe();
    let info = probe.probe(&bench.output_path()).expect("probe the episode");
    let videos = info.streams.iter().filter(|s| s.kind == episodic_media::StreamKind::Video).count();
    let audios = info.streams.iter().filter(|s| s.kind == episodic_media::StreamKind::Audio).count();
    assert_eq!((videos, audios), (1, 1));
    let video = info.video().expect("video");
    assert_eq!((video.width, video.height), (Some(240), Some(134)), "1920x1080 over --scale 8");
    let duration = info.duration.expect("duration");
    assert!((duration - seconds).abs() <= 0.1, "episode {duration} s vs segments {seconds} s");

    let stats = bench.stats();
    assert_eq!(stats.uploads.count, uploads, "one upload per unique file");
    assert_eq!(stats.submits.total, renders, "one submit per render");
    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(bench.root().join("pipelines/demo/out/ninja-news-demo.report.json")).expect("report"),
    )
    .expect("json");
    assert_eq!(report["status"], "completed");
    assert_eq!(report["backend"], "fal");
    assert!(bench.root().join("pipelines/demo/out/ninja-news-demo.contact.png").exists());

    // Again, unchanged: nothing uploaded, nothing submitted.
    let second = bench.render(&[]);
    assert_ok(&second);
    let again = bench.stats();
    assert_eq!((again.uploads.count, again.submits.total), (stats.uploads.count, stats.submits.total));

    // One prompt changed: exactly one clip is rendered again.
    let manifest = bench.root().join(DEMO);
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    let edited = text.replace("Start surprised, build to delighted disbelief.", "Start calm, end amazed.");
    assert_ne!(text, edited, "the demo's prompt moved; update this test");
    std::fs::write(&manifest, edited).expect("edit");
    let third = bench.render(&[]);
    assert_ok(&third);
    let after = bench.stats();
    assert_eq!(after.submits.total, stats.submits.total + 1, "exactly one clip re-rendered");
    assert_eq!(after.uploads.count, stats.uploads.count, "nothing uploaded again");
}

/// Reads `--json` events until `count` renders were submitted; keeps draining stdout after that
/// (a closed pipe would end the process early).
fn wait_for_submits(child: &mut Child, count: usize) {
    let stdout = child.stdout.take().expect("stdout");
    let (seen, waiter) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut submitted = 0;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
            if event["event"] == "node_progress" && event["request_id"].is_string() {
                submitted += 1;
                if submitted == count {
                    let _ = seen.send(());
                }
            }
        }
    });
    waiter.recv_timeout(Duration::from_secs(60)).expect("renders were submitted");
}

#[test]
fn sigkill_mid_render_then_resume_pays_nothing_twice() {
    let slow = StudioConfig {
        render_time_per_second: Duration::from_millis(700),
        concurrency: 8,
        ..StudioConfig::default()
    };
    let bench = Bench::new(slow);
    let (renders, _, _) = demo_plan(bench.root());
    let mut child =
        bench.command(&["--json"]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("spawn");
    wait_for_submits(&mut child, 3);
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let killed = bench.stats();
    assert!(killed.submits.total >= 3 && killed.submits.total < renders + 1);

    // The studio's request history is complete at once, so a render it does not list was never
    // submitted: no grace period is needed before submitting it.
    let resumed = bench.render(&["--ambiguous-grace", "0"]);
    assert_ok(&resumed);
    let stats = bench.stats();
    assert_eq!(stats.submits.total, renders, "every render submitted exactly once across the crash");
    assert!(bench.output_path().exists());
}

#[test]
fn two_processes_on_one_state_dir_submit_each_render_once() {
    let slow = StudioConfig { render_time_per_second: Duration::from_millis(200), ..StudioConfig::default() };
    let bench = Bench::new(slow);
    let (renders, _, _) = demo_plan(bench.root());
    let first = bench.command(&[]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("spawn");
    let second = bench.command(&[]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("spawn");
    let (first, second) = (first.wait_with_output().expect("wait"), second.wait_with_output().expect("wait"));
    assert_ok(&first);
    assert_ok(&second);
    assert_eq!(bench.stats().submits.total, renders, "no render submitted by both");
}

#[test]
fn ctrl_c_stops_keeps_the_journal_and_says_how_to_resume() {
    let slow = StudioConfig { render_time_per_second: Duration::from_millis(700), ..StudioConfig::default() };
    let bench = Bench::new(slow);
    let (renders, _, _) = demo_plan(bench.root());
    let mut child =
        bench.command(&["--json"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    wait_for_submits(&mut child, 2);
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let output = child.wait_with_output().expect("wait");
    assert_eq!(output.status.code(), Some(130));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Run the same command again to resume"), "{stderr}");
    let resumed = bench.render(&[]);
    assert_ok(&resumed);
    assert_eq!(bench.stats().submits.total, renders);
}

#[test]
fn a_budget_too_small_refuses_before_spending() {
    let bench = Bench::new(StudioConfig::default());
    let output = bench.render(&["--max-cost", "0.50"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("over the cap of $0.50"), "{stderr}");
    assert_eq!(bench.stats().submits.total, 0);
    assert_eq!(bench.stats().uploads.count, 0);
}

#[test]
fn without_a_key_the_local_studio_renders_with_a_notice() {
    // The context's environment holds no key (it starts empty).
    let context = TestContext::new();
    let dir = context.root();
    copy_tree(&repo().join("assets"), &dir.join("assets"));
    copy_tree(&repo().join("pipelines/short"), &dir.join("pipelines/short"));
    let output = context
        .command(["render", "pipelines/short/episode.yaml", "--scale", "8", "--state-dir", ".state"])
        .output()
        .expect("render");
    assert_ok(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("PLACEHOLDERS"), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("pipelines/short/out/ninja-news-short-001.report.json")).expect("report"),
    )
    .expect("json");
    assert_eq!(report["backend"], "local");
}

#[test]
fn several_manifests_share_one_run_and_one_upload_cache() {
    let bench = Bench::new(StudioConfig::default());
    copy_tree(&repo().join("pipelines/short"), &bench.root().join("pipelines/short"));
    let _ = std::fs::remove_dir_all(bench.root().join("pipelines/short/out"));
    let output = bench.render(&["pipelines/short/episode.yaml"]);
    assert_ok(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("ninja-news-demo ") && stderr.contains("ninja-news-short-001 "),
        "a line per episode:\n{stderr}"
    );
    assert!(bench.output_path().exists());
    assert!(bench.root().join("pipelines/short/out/ninja-news-short-001.mp4").exists());
    // ninja.png is in both episodes: one upload. The demo has 6 files, the Short adds 2 clips.
    assert_eq!(bench.stats().uploads.count, 8);
}

fn report(bench: &Bench) -> serde_json::Value {
    let path = bench.root().join("pipelines/demo/out/ninja-news-demo.report.json");
    serde_json::from_slice(&std::fs::read(path).expect("report")).expect("json")
}

fn faulty(seed: u64, retry_after_secs: Option<u64>) -> StudioConfig {
    let faults = episodic_studio::FaultConfig {
        seed,
        rate_429: 0.3,
        retry_after_secs,
        rate_5xx: 0.1,
        drop_rate: 0.05,
        slow: Duration::from_millis(10),
        ..episodic_studio::FaultConfig::default()
    };
    StudioConfig { faults, ..StudioConfig::default() }
}

#[test]
fn faults_are_survived_with_no_failed_episode_and_no_duplicate_submit() {
    let bench = Bench::new(faulty(21, None));
    let (renders, uploads, _) = demo_plan(bench.root());
    // The studio's history is complete at once: a lost submit absent from it was never queued.
    let output = bench.render(&["--ambiguous-grace", "0"]);
    assert_ok(&output);
    let stats = bench.stats();
    let injected = stats.faults.rate_limited
        + stats.faults.server_errors
        + stats.faults.dropped
        + stats.faults.answers_lost;
    assert!(injected >= 5, "faults were injected: {:?}", stats.faults);
    assert_eq!(stats.submits.total, renders, "no render submitted twice");
    // An upload whose answer was lost after it was stored is stored again by its retry (an
    // upload may be repeated; a submit never is), so each lost answer may add one copy.
    assert!(
        (uploads..=uploads + stats.faults.answers_lost).contains(&stats.uploads.count),
        "{} uploads stored for {uploads} files, {} answers lost",
        stats.uploads.count,
        stats.faults.answers_lost
    );
    let retries = report(&bench)["totals"]["retries"].as_u64().unwrap_or(0);
    assert!(retries >= 1);
    eprintln!(
        "faults: {} requests answered 429, {} answered 5xx, {} connections dropped before and {} after handling; {retries} retries; {} renders, each submitted once; episode completed",
        stats.faults.rate_limited,
        stats.faults.server_errors,
        stats.faults.dropped,
        stats.faults.answers_lost,
        stats.submits.total
    );
}

#[test]
fn rate_limits_with_retry_after_are_waited_out() {
    let config = StudioConfig {
        faults: episodic_studio::FaultConfig {
            seed: 4,
            rate_429: 0.3,
            retry_after_secs: Some(1),
            ..episodic_studio::FaultConfig::default()
        },
        ..StudioConfig::default()
    };
    let bench = Bench::new(config);
    let (renders, _, _) = demo_plan(bench.root());
    let output = bench.render(&[]);
    assert_ok(&output);
    let stats = bench.stats();
    assert!(stats.faults.rate_limited >= 3, "{:?}", stats.faults);
    assert_eq!(stats.submits.total, renders);
}

#[test]
fn a_render_that_fails_at_fal_is_journaled_and_retried_only_when_asked() {
    let failing = StudioConfig {
        faults: episodic_studio::FaultConfig {
            render_failure_rate: 1.0,
            ..episodic_studio::FaultConfig::default()
        },
        ..StudioConfig::default()
    };
    let mut bench = Bench::new(failing);
    let (renders, _, _) = demo_plan(bench.root());
    let first = bench.render(&[]);
    assert_eq!(first.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(stderr.contains("Runner disconnected"), "fal's message is shown:\n{stderr}");
    assert!(stderr.contains("--retry-failed"), "and what to do:\n{stderr}");
    assert_eq!(report(&bench)["status"], "failed");
    let submitted = bench.stats().submits.total;
    assert_eq!(submitted, renders);

    // Not retried blindly.
    let second = bench.render(&[]);
    assert_eq!(second.status.code(), Some(1));
    assert_eq!(
        bench.stats().submits.total,
        submitted,
        "a failed render is not resubmitted without --retry-failed"
    );

    // Asked: retried, on a healthy runner.
    bench.switch_studio(StudioConfig::default());
    let third = bench.render(&["--retry-failed"]);
    assert_ok(&third);
    assert_eq!(bench.stats().submits.total, renders);
    assert_eq!(report(&bench)["status"], "completed");
}

#[test]
fn expired_uploads_are_uploaded_again() {
    let config = StudioConfig::default();
    let bench = Bench::new(config);
    let (renders, uploads, _) = demo_plan(bench.root());
    assert_ok(&bench.render(&[]));
    let manifest = bench.root().join(DEMO);
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    std::fs::write(
        &manifest,
        text.replace("Start surprised, build to delighted disbelief.", "Start calm, end amazed."),
    )
    .expect("edit");
    bench.expire_files();
    let second = bench.render(&[]);
    assert_ok(&second);
    let stats = bench.stats();
    assert_eq!(stats.uploads.count, 2 * uploads, "every expired file uploaded again");
    assert_eq!(stats.submits.total, renders + 1, "and only the changed clip rendered");
}

#[test]
fn a_request_cancelled_at_fal_is_journaled_as_failed_and_retried_when_asked() {
    let slow = StudioConfig { render_time_per_second: Duration::from_millis(800), ..StudioConfig::default() };
    let bench = Bench::new(slow);
    let (renders, _, _) = demo_plan(bench.root());
    let mut child =
        bench.command(&["--json"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    // Cancel the first request someone else's way: straight at the queue, as from fal's dashboard.
    let stdout = child.stdout.take().expect("stdout");
    let mut cancelled = None;
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let event: serde_json::Value = serde_json::from_str(&line.expect("line")).expect("json");
        if let (Some(id), Some(node)) = (event["request_id"].as_str(), event["node"].as_str())
            && event["event"] == "node_progress"
            && node.ends_with("/speaker")
        {
            let status = Command::new("curl")
                .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "-H"])
                .arg(format!("Authorization: Key {KEY}"))
                .arg(format!("{}/fal-ai/kling-video/requests/{id}/cancel", bench.studio_url()))
                .output()
                .expect("curl");
            assert_eq!(String::from_utf8_lossy(&status.stdout), "202");
            cancelled = Some(node.to_owned());
            break;
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    let output = child.wait_with_output().expect("wait");
    let node = cancelled.expect("a speaker render was submitted");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("{node}: Request was cancelled"))
            || stderr.contains("Request was cancelled"),
        "{stderr}"
    );
    assert_eq!(bench.stats().renders.cancelled, 1);
    let retried = bench.render(&["--retry-failed"]);
    assert_ok(&retried);
    assert_eq!(bench.stats().submits.total, renders + 1, "only the cancelled render is submitted again");
}

#[test]
fn an_output_that_expired_before_download_is_reported_and_rerendered_when_asked() {
    let config = StudioConfig::default();
    let bench = Bench::new(config);
    let (renders, _, _) = demo_plan(bench.root());
    assert_ok(&bench.render(&[]));
    // The journal holds the results, but the downloaded files are gone (a crash after the
    // results were journaled, or a cleaned-up state folder), and fal's copies have since expired.
    for entry in std::fs::read_dir(bench.root().join(".state/artifacts")).expect("artifacts") {
        let _ = std::fs::remove_file(entry.expect("entry").path());
    }
    bench.expire_files();
    let second = bench.render(&[]);
    assert_eq!(second.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("expired at fal before it was downloaded"), "{stderr}");
    assert_eq!(bench.stats().submits.total, renders, "nothing re-rendered without being asked");
    let third = bench.render(&["--retry-failed"]);
    assert_ok(&third);
    assert_eq!(bench.stats().submits.total, 2 * renders, "each lost output rendered once more");
}

#[test]
fn a_fault_that_outlasts_the_retries_fails_its_node_only_and_a_rerun_resumes() {
    // One endpoint is rate-limited for good: every request to text-to-video is answered 429.
    let outage = StudioConfig {
        faults: episodic_studio::FaultConfig {
            rate_429: 1.0,
            only_paths_containing: Some("text-to-video".into()),
            ..episodic_studio::FaultConfig::default()
        },
        ..StudioConfig::default()
    };
    let mut bench = Bench::new(outage);
    let (renders, _, _) = demo_plan(bench.root());
    let first = bench.render(&[]);
    assert_eq!(first.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(stderr.contains("render/crowd-shot/broll: FAILED"), "{stderr}");
    assert!(stderr.contains("retries"), "the message says it was retried:\n{stderr}");
    assert!(stderr.to_lowercase().contains("rerun"), "and that rerunning resumes:\n{stderr}");
    let report = report(&bench);
    let done = report["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter(|node| node["kind"] == "render" && node["status"] == "done")
        .count();
    assert_eq!(done as u64, renders - 1, "every other render finished");
    // The outage is over: the rerun submits the one missing render and completes.
    bench.switch_studio(StudioConfig::default());
    let second = bench.render(&[]);
    assert_ok(&second);
    assert_eq!(bench.stats().submits.total, 1, "only the render that never went through");
}

/// An episode of dialogue only: its audio is read from the speech files, so it is encoded while
/// the renders are still out, not after the last of them (then it sat on the run's tail).
#[test]
fn dialogue_audio_is_encoded_while_the_renders_are_out() {
    let bench = Bench::new(StudioConfig {
        fixed_render_time: Duration::from_millis(1500),
        ..StudioConfig::default()
    });
    let demo = std::fs::read_to_string(bench.root().join(DEMO)).expect("the demo");
    let (head, tail) = demo.split_once("  - id: crowd-shot").expect("the demo's b-roll segment");
    let rest = &tail[tail.find("  - id: glitch-reaction").expect("the segment after the b-roll")..];
    let talk = format!("{head}{rest}").replace("episode: ninja-news-demo", "episode: ninja-news-talk");
    std::fs::write(bench.root().join("pipelines/demo/talk.yaml"), talk).expect("write the manifest");
    let mut command = bench.context().command(["render", "pipelines/demo/talk.yaml"]);
    command
        .args(["--backend", "fal", "--scale", "8", "--state-dir", ".state", "--json"])
        .envs(bench.fal_env(KEY));
    let output = command.output().expect("run episodic render");
    assert_ok(&output);
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let position = |wanted: &dyn Fn(&serde_json::Value) -> bool| events.iter().position(wanted);
    let first_render = position(&|event| event["event"] == "node_finished" && event["kind"] == "render")
        .expect("a render finished");
    let audio_started = position(&|event| event["event"] == "node_started" && event["kind"] == "audio")
        .expect("the audio node started");
    assert!(audio_started < first_render, "the audio waited for a render");
    let info = crate::support::probe()
        .probe(&bench.root().join("pipelines/demo/out/ninja-news-talk.mp4"))
        .expect("probe the episode");
    let (video, audio) = (info.video().expect("video"), info.audio().expect("audio"));
    let (video_seconds, audio_seconds) =
        (video.duration.expect("video length"), audio.duration.expect("audio length"));
    assert!(
        (video_seconds - audio_seconds).abs() < 0.025,
        "{video_seconds} s of video, {audio_seconds} s of audio"
    );
}
