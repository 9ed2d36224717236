//! The HTML report, opened the way a producer opens it: the real binary renders the demo against
//! the studio, then headless Chromium (Debian's `chromium`, installed by `.ci/setup`) loads
//! `out/<episode>.report.html` from disk with the network unreachable, plays what it can of the
//! video, and hands back its DOM and a screenshot. With `EPISODIC_WRITE_DOCS=1` (`just
//! docs-screenshot`) the screenshot is also written to `docs/report.png`, the picture the README
//! shows; otherwise a test run leaves the work tree as it found it.

use crate::support::{Bench, TestContext, assert_ok, repo, run_bounded};
use episodic_studio::StudioConfig;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Chromium from PATH; a machine without it fails here, saying how to install it.
fn chromium() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "chromium is not installed: this test opens the HTML report in headless Chromium; \
                 install it (`apt-get install chromium`, or `bash .ci/setup` from the repository root) \
                 and run the tests again"
            )
        })
}

/// Headless Chromium as root in a container: a fresh profile, no sandbox, no GPU, and nothing
/// that phones home. Host names resolve nowhere, so a page that needed the network would show it.
fn headless(context: &TestContext, profile: &Path) -> Command {
    let mut command = Command::new(chromium());
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--mute-audio",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            // Enough virtual time for the video's metadata and first frame; a page that loads
            // faster is not waited for.
            "--virtual-time-budget=15000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", context.root().join("home"))
        .env("TMPDIR", context.root().join("tmp"));
    command
}

/// The value of `name` on the element with `id` in a serialized DOM.
fn attribute(dom: &str, id: &str, name: &str) -> Option<String> {
    let at = dom.find(&format!("id=\"{id}\""))?;
    let start = dom[..at].rfind('<')?;
    let end = at + dom[at..].find('>')?;
    let tag = &dom[start..end];
    let key = format!(" {name}=\"");
    let value_at = tag.find(&key)? + key.len();
    let value_end = value_at + tag[value_at..].find('"')?;
    Some(tag[value_at..value_end].to_owned())
}

/// The width and height in a PNG's header.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let word = |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    (word(16), word(20))
}

#[test]
fn the_html_report_plays_its_video_and_shows_the_json_totals_in_chromium() {
    let bench = Bench::new(StudioConfig::default());
    assert_ok(&bench.render(&[]));
    let out = bench.root().join("pipelines/demo/out");
    let page = out.join("ninja-news-demo.report.html");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("ninja-news-demo.report.json")).expect("report.json"))
            .expect("json");
    assert_eq!(report["schema_version"], 2);
    let billed = report["totals"]["billed_usd"].as_f64().expect("billed total");
    assert!(billed > 0.0, "the studio bills at fal's prices: a zero total would prove nothing");
    let html = std::fs::read_to_string(&page).expect("the report page is written beside report.json");
    assert!(!html.contains(&bench.root().display().to_string()), "no path of this machine in the page");

    let url = format!("file://{}", page.display());
    let profile = tempfile::tempdir().expect("a fresh profile");
    let (dom, _) = run_bounded(
        headless(bench.context(), profile.path()).arg("--dump-dom").arg(&url),
        Duration::from_secs(90),
    );
    assert_eq!(dom.code, 0, "chromium --dump-dom failed:\n{}", dom.stderr);
    let dom = dom.stdout;

    // The page's script writes the video's state into the DOM once Chromium has loaded it.
    let state = attribute(&dom, "video-status", "data-state");
    assert_eq!(state.as_deref(), Some("loaded"), "the video did not load:\n{dom}");
    let ready: u32 =
        attribute(&dom, "video-status", "data-ready-state").expect("readyState").parse().expect("number");
    assert!(ready >= 1, "readyState {ready}");
    let duration: f64 =
        attribute(&dom, "video-status", "data-duration").expect("duration").parse().expect("number");
    let probed = crate::support::probe()
        .probe(&bench.output_path())
        .expect("probe the episode")
        .duration
        .expect("the episode's duration");
    assert!((duration - probed).abs() < 0.1, "Chromium plays {duration} s, ffprobe says {probed} s");

    // The totals Chromium shows are report.json's.
    let shown: f64 = attribute(&dom, "totals", "data-total-billed-usd")
        .expect("data-total-billed-usd")
        .parse()
        .expect("number");
    assert_eq!(shown, billed);
    let nodes = report["nodes"].as_array().expect("nodes");
    assert_eq!(attribute(&dom, "totals", "data-nodes"), Some(nodes.len().to_string()));
    assert_eq!(dom.matches("<tr class=\"status-done\"").count(), nodes.len(), "one table row per node");
    let started = nodes.iter().filter(|node| node["started_seconds"].is_number()).count();
    assert_eq!(attribute(&dom, "timeline-chart", "data-bars"), Some(started.to_string()));
    for node in nodes.iter().filter_map(|node| node["request_id"].as_str()) {
        assert!(dom.contains(node), "request id {node} is in the table");
    }
    assert!(dom.contains("src=\"data:image/png;base64,"), "the contact sheet is inlined");

    // A screenshot, for the eye and the README.
    let shot = profile.path().join("report.png");
    let (taken, _) = run_bounded(
        headless(bench.context(), &profile.path().join("shot-profile"))
            .arg("--window-size=1200,2400")
            .arg(format!("--screenshot={}", shot.display()))
            .arg(&url),
        Duration::from_secs(90),
    );
    assert_eq!(taken.code, 0, "chromium --screenshot failed:\n{}", taken.stderr);
    let png = std::fs::read(&shot).expect("the screenshot");
    assert_eq!(png_size(&png), (1200, 2400));
    assert!(png.len() > 50_000, "a blank page compresses to almost nothing: {} bytes", png.len());
    if std::env::var_os("EPISODIC_WRITE_DOCS").is_some_and(|v| v == "1") {
        let docs = repo().join("docs");
        std::fs::create_dir_all(&docs).expect("docs/");
        std::fs::write(docs.join("report.png"), &png).expect("docs/report.png");
    }
}

#[test]
fn a_failed_runs_page_names_each_failure_and_the_command_that_resumes() {
    let failing = StudioConfig {
        faults: episodic_studio::FaultConfig {
            render_failure_rate: 1.0,
            ..episodic_studio::FaultConfig::default()
        },
        ..StudioConfig::default()
    };
    let bench = Bench::new(failing);
    let run = bench.render(&[]);
    assert_eq!(run.status.code(), Some(1));
    let out = bench.root().join("pipelines/demo/out");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("ninja-news-demo.report.json")).expect("report.json"))
            .expect("json");
    let html =
        std::fs::read_to_string(out.join("ninja-news-demo.report.html")).expect("the page of a failed run");
    let failed: Vec<&serde_json::Value> =
        report["nodes"].as_array().expect("nodes").iter().filter(|node| node["status"] == "failed").collect();
    assert!(!failed.is_empty());
    assert!(html.contains(&format!("data-failed=\"{}\"", failed.len())));
    for node in &failed {
        assert!(html.contains(&format!("<li><code>{}</code>: ", node["id"].as_str().expect("id"))), "{node}");
    }
    assert!(html.contains("Runner disconnected"), "fal's message is shown");
    assert!(
        html.contains(
            "<pre id=\"resume\"><code>episodic render pipelines/demo/episode.yaml --backend fal --scale 8 --state-dir .state</code></pre>"
        ),
        "the command as it was run resumes it"
    );
    assert!(html.contains("--retry-failed"), "and what to do about failed renders");
    assert!(!html.contains("<video"), "no episode was written, so none is shown");
    assert!(html.contains("status-failed\">failed</span>"));
}

#[test]
fn a_batch_writes_an_index_linking_each_episodes_report() {
    let bench = Bench::new(StudioConfig::default());
    // A second episode in another folder, sharing the demo's renders.
    let second = bench.root().join("pipelines/second");
    crate::support::copy_tree(&bench.root().join("pipelines/demo"), &second);
    let manifest = second.join("episode.yaml");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    std::fs::write(&manifest, text.replace("episode: ninja-news-demo", "episode: second-demo"))
        .expect("edit");
    let run = bench.render(&["pipelines/second/episode.yaml"]);
    assert_ok(&run);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("batch index: pipelines/demo/out/index.html"), "{stderr}");

    let index =
        std::fs::read_to_string(bench.root().join("pipelines/demo/out/index.html")).expect("index.html");
    let mut billed = 0.0;
    for (json, page) in [
        ("pipelines/demo/out/ninja-news-demo.report.json", "ninja-news-demo.report.html"),
        ("pipelines/second/out/second-demo.report.json", "../../second/out/second-demo.report.html"),
    ] {
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(bench.root().join(json)).expect("report")).expect("json");
        billed += report["totals"]["billed_usd"].as_f64().expect("billed");
        assert!(index.contains(&format!("href=\"{page}\"")), "{page} linked");
        assert!(bench.root().join("pipelines/demo/out").join(page).is_file(), "{page} is there");
    }
    assert!(index.contains("2 of 2 episodes completed"));
    let start = index.find("data-total-billed-usd=\"").expect("total") + "data-total-billed-usd=\"".len();
    let total: f64 = index[start..start + index[start..].find('"').expect("end")].parse().expect("number");
    assert!((total - billed).abs() < 1e-6, "index {total} vs reports {billed}");
}
