//! `episodic plan` against a state folder: which nodes are done, which will run and why (a
//! changed prompt, an audio file's new content), the cost of only what will run, and a state
//! folder that is looked at, never changed. The rerun then pays for exactly what the plan said.

use crate::support::{Bench, DEMO, Output, assert_ok, tool};
use episodic_studio::StudioConfig;
use serde_json::Value;
use std::path::Path;
use std::time::SystemTime;

/// `episodic plan DEMO` as the bench renders it (same scale, same state folder).
pub fn plan(bench: &Bench, extra: &[&str]) -> Output {
    let mut args = vec!["plan", DEMO, "--scale", "8", "--state-dir", ".state"];
    args.extend_from_slice(extra);
    bench.context().run(bench.root(), &args, &[])
}

/// Every file under `dir` with its size and modification time. SQLite's shared-memory index
/// (`state.sqlite-shm`) is listed without its time: every reader, a read-only one too, marks
/// what it reads there; it holds no data.
pub fn listing(dir: &Path) -> Vec<(String, u64, Option<SystemTime>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let entry = entry.expect("entry");
            let meta = entry.metadata().expect("metadata");
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                let name = entry.path().display().to_string();
                let modified = (!name.ends_with("-shm")).then(|| meta.modified().expect("mtime"));
                files.push((name, meta.len(), modified));
            }
        }
    }
    files.sort();
    files
}

/// Rewrites an audio file with other bytes (quieter), same length.
pub fn rewrite_audio(path: &Path) {
    let quieter = path.with_extension("quieter.mp3");
    let status = std::process::Command::new(tool("ffmpeg").path)
        .args(["-v", "error", "-y", "-i"])
        .arg(path)
        .args(["-af", "volume=0.5", "-c:a", "libmp3lame", "-b:a", "128k"])
        .arg(&quieter)
        .status()
        .expect("ffmpeg");
    assert!(status.success());
    std::fs::rename(&quieter, path).expect("replace the audio");
}

fn node<'a>(plan: &'a Value, id: &str) -> &'a Value {
    plan["nodes"].as_array().expect("nodes").iter().find(|node| node["id"] == id).expect(id)
}

#[test]
fn plan_names_what_changed_counts_only_what_will_run_and_the_rerun_agrees() {
    let bench = Bench::new(StudioConfig::default());

    // No state folder yet: everything is new, and looking creates nothing.
    let fresh = plan(&bench, &["--json"]);
    assert_eq!(fresh.code, 0, "{}", fresh.stderr);
    let fresh: Value = serde_json::from_str(&fresh.stdout).expect("json");
    assert_eq!(fresh["schema_version"], 2);
    assert!(
        fresh["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .all(|n| n["status"] == "will_run" && n["reason"] == "new")
    );
    assert_eq!(fresh["totals"]["to_spend_micros"], fresh["totals"]["cost_micros"]);
    assert!(!bench.context().state_dir().exists(), "plan created the state folder");

    assert_ok(&bench.render(&[]));
    let rendered = bench.stats();

    // Unchanged: every render is done and nothing is to be spent.
    let same = plan(&bench, &["--json"]);
    let same: Value = serde_json::from_str(&same.stdout).expect("json");
    assert_eq!(same["totals"]["renders_to_run"], 0);
    assert_eq!(same["totals"]["to_spend_micros"], 0);

    // One prompt and one audio file's content change.
    let manifest = bench.root().join(DEMO);
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    let edited = text.replace("Start surprised, build to delighted disbelief.", "Start calm, end amazed.");
    assert_ne!(text, edited, "the demo's prompt moved; update this test");
    std::fs::write(&manifest, edited).expect("edit");
    rewrite_audio(&bench.root().join("assets/audio/headline.mp3"));

    let before = listing(&bench.context().state_dir());
    let table = plan(&bench, &[]);
    assert_eq!(table.code, 0, "{}", table.stderr);
    bench
        .context()
        .insta_settings()
        .bind(|| insta::assert_snapshot!("changed_demo_plan", table.transcript()));

    let json = plan(&bench, &["--json"]);
    let json: Value = serde_json::from_str(&json.stdout).expect("json");
    let prompt = node(&json, "render/glitch-reaction/speaker");
    assert_eq!(
        (prompt["status"].as_str(), prompt["reason"].as_str()),
        (Some("will_run"), Some("changed: prompt"))
    );
    let audio = node(&json, "render/headline/speaker");
    assert_eq!(audio["changes"], serde_json::json!(["audio file ../../assets/audio/headline.mp3"]));
    assert_eq!(node(&json, "render/cold-open/speaker")["status"], "done");
    assert_eq!(node(&json, "compose/headline")["reason"], "after download/headline/speaker");
    let will_run: u64 = json["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter(|n| n["status"] == "will_run")
        .map(|n| n["cost_micros"].as_u64().expect("micros"))
        .sum();
    assert_eq!(json["totals"]["to_spend_micros"].as_u64(), Some(will_run));
    assert_eq!(json["totals"]["renders_to_run"], 2);
    assert_eq!(listing(&bench.context().state_dir()), before, "plan changed the state folder");

    // The render does what the plan said: two renders, nothing else paid.
    assert_ok(&bench.render(&[]));
    assert_eq!(bench.stats().submits.total, rendered.submits.total + 2);
}

#[test]
fn a_shared_listener_is_named_and_a_take_renders_the_same_request_afresh() {
    let bench = Bench::new(StudioConfig::default());
    let table = plan(&bench, &[]);
    let shared = table.stdout.lines().find(|line| line.contains("render/cold-open/listener")).expect("row");
    assert!(shared.ends_with("new; glitch listening, shared by 2 segments"), "{shared}");
    let json: Value = serde_json::from_str(&plan(&bench, &["--json"]).stdout).expect("json");
    assert_eq!(
        node(&json, "render/cold-open/listener")["shared_by"],
        serde_json::json!(["cold-open", "headline"])
    );
    assert_ok(&bench.render(&[]));
    let rendered = bench.stats().submits.total;

    // A second take of the headline: its clips are asked for again, with keys of their own.
    let manifest = bench.root().join(DEMO);
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    let take = |n: u32| text.replace("  - id: headline\n", &format!("  - id: headline\n    take: {n}\n"));
    std::fs::write(&manifest, take(2)).expect("edit");
    let json: Value = serde_json::from_str(&plan(&bench, &["--json"]).stdout).expect("json");
    assert!(node(&json, "render/cold-open/listener").get("shared_by").is_none());
    let listener = node(&json, "render/headline/listener");
    assert_eq!((listener["status"].as_str(), listener["reason"].as_str()), (Some("will_run"), Some("new")));
    assert_eq!(node(&json, "render/headline/speaker")["reason"], "changed: take (new)");
    assert_eq!(json["totals"]["renders_to_run"], 2);
    assert_ok(&bench.render(&[]));
    assert_eq!(bench.stats().submits.total, rendered + 2);

    // Back to the first take: what it rendered is still there.
    std::fs::write(&manifest, take(1)).expect("edit");
    let json: Value = serde_json::from_str(&plan(&bench, &["--json"]).stdout).expect("json");
    assert_eq!(json["totals"]["renders_to_run"], 0);
}

#[test]
fn a_render_that_failed_says_so_and_that_only_retry_failed_pays_again() {
    let failing = StudioConfig {
        faults: episodic_studio::FaultConfig { render_failure_rate: 1.0, ..Default::default() },
        ..StudioConfig::default()
    };
    let bench = Bench::new(failing);
    let failed = bench.render(&[]);
    assert!(!failed.status.success());
    let json: Value = serde_json::from_str(&plan(&bench, &["--json"]).stdout).expect("json");
    let speaker = node(&json, "render/cold-open/speaker");
    assert_eq!(speaker["status"], "will_run");
    let reason = speaker["reason"].as_str().expect("reason");
    assert!(reason.starts_with("failed earlier (") && reason.contains("--retry-failed"), "{reason}");
    assert_eq!(
        json["totals"]["to_spend_micros"], json["totals"]["cost_micros"],
        "failed renders are still to pay"
    );
}
