//! The other commands and the errors at the edges: price files, a missing ffprobe.

use crate::support::{TestContext, episodic, episodic_with_env, repo};

#[test]
fn models_lists_the_catalog() {
    let output = episodic(&repo(), &["models"]);
    assert_eq!(output.code, 0, "{}", output.stderr);
    insta::assert_snapshot!(output.transcript());
}

#[test]
fn presets_lists_the_presets() {
    let output = episodic(&repo(), &["presets"]);
    assert_eq!(output.code, 0);
    for name in ["gaming-news", "reaction", "corporate", "educational", "cartoon"] {
        assert!(output.stdout.contains(&format!("{name}: ")), "{name}");
    }
}

#[test]
fn a_price_file_changes_the_estimate() {
    let dir = tempfile::tempdir().expect("temp");
    let prices = dir.path().join("prices.yaml");
    std::fs::write(
        &prices,
        "kling-avatar-v2-pro:\n  per_second: 0.2\n  as_of: 2026-11-20\n  source: our invoice\n",
    )
    .expect("write");
    let prices = prices.to_str().expect("utf-8 path");
    let output = episodic(&repo(), &["plan", "pipelines/short/episode.yaml", "--prices", prices]);
    assert_eq!(output.code, 0, "{}", output.stderr);
    let via_env = episodic_with_env(&repo(), &["models"], &[("EPISODIC_PRICES", prices)]);
    assert!(via_env.stdout.contains("$0.200/s (as of 2026-11-20, our invoice)"), "{}", via_env.stdout);
}

#[test]
fn a_bad_price_file_is_refused() {
    let dir = tempfile::tempdir().expect("temp");
    let prices = dir.path().join("prices.yaml");
    std::fs::write(&prices, "kling-avatar-v3-pro:\n  per_second: 0.2\n").expect("write");
    let output = episodic(&repo(), &["models", "--prices", prices.to_str().expect("path")]);
    assert_eq!(output.code, 2);
    assert!(output.stderr.contains("did you mean `kling-avatar-v2-pro`?"), "{}", output.stderr);
}

#[test]
fn a_missing_ffprobe_says_how_to_install_it() {
    let output = episodic_with_env(
        &repo(),
        &["validate", "pipelines/demo/episode.yaml"],
        &[("EPISODIC_FFPROBE", "/nonexistent/ffprobe")],
    );
    assert_eq!(output.code, 1);
    insta::assert_snapshot!(output.transcript());
}

#[test]
fn shipped_pipelines_are_valid() {
    for manifest in
        ["pipelines/demo/episode.yaml", "pipelines/short/episode.yaml", "pipelines/longform/episode.yaml"]
    {
        let output = episodic(&repo(), &["validate", manifest]);
        assert_eq!(output.code, 0, "{manifest}:\n{}", output.stderr);
        assert!(!output.stderr.contains('⚠'), "{manifest} has warnings:\n{}", output.stderr);
    }
}

#[test]
fn a_missing_manifest_is_named() {
    let output = episodic(&repo(), &["plan", "nope/episode.yaml"]);
    assert_eq!(output.code, 1);
    assert!(output.stderr.contains("`nope/episode.yaml` does not exist"), "{}", output.stderr);
}

#[test]
fn a_folder_is_not_a_manifest() {
    let output = episodic(&repo(), &["validate", "pipelines/demo"]);
    assert_eq!(output.code, 1);
    assert!(output.stderr.contains("is a folder, not a manifest"), "{}", output.stderr);
}

#[test]
fn studio_writes_its_ready_file_and_stops_on_sigterm() {
    let context = TestContext::new();
    let ready = context.root().join("ready.json");
    let child = context
        .command(["studio", "--port", "0", "--scale", "8", "--key", "k", "--ready-file"])
        .arg(&ready)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn studio");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !ready.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let urls: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&ready).expect("ready file")).expect("json");
    for key in ["queue_url", "rest_url", "cdn_url", "stats_url", "elevenlabs_url"] {
        let url = urls[key].as_str().expect("url");
        assert!(url.starts_with("http://127.0.0.1:") && !url.ends_with('/'), "{key}: {url}");
    }
    let killed =
        std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(killed.success());
    let output = child.wait_with_output().expect("wait");
    assert!(output.status.success(), "exit {:?}", output.status);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("nothing is billed") && stderr.contains("stopping"), "{stderr}");
    assert!(stderr.contains("ElevenLabs text to speech"), "{stderr}");
    assert!(!stderr.contains(" k\n"), "the key is not printed");
}
