//! Interop: the official Python `fal-client`, from PyPI, drives the studio with only its host
//! constants changed. If our server and the reference client disagree anywhere on the wire,
//! this fails.

use crate::support::{KEY, asset, config, probe, studio};
use std::path::{Path, PathBuf};
use tokio::process::Command;

/// The fal-client release this test was written against.
const FAL_CLIENT: &str = "fal-client==1.0.3";

const SCRIPT: &str = r#"
import os, sys
import httpx
import fal_client.client as fc

base = os.environ["STUDIO_URL"]
# Only the host constants change; everything else is the official client's own code path.
fc.QUEUE_URL_FORMAT = base + "/"
fc.RUN_URL_FORMAT = base + "/"
fc.REST_URL = base
fc.CDN_URL = base

client = fc.SyncClient(key=os.environ["STUDIO_KEY"])
image_url = client.upload_file(sys.argv[1])
audio_url = client.upload_file(sys.argv[2])
handle = client.submit(
    "fal-ai/kling-video/ai-avatar/v2/pro",
    arguments={"image_url": image_url, "audio_url": audio_url, "prompt": "Energetic presenter."},
)
logs = []
for event in handle.iter_events(with_logs=True, interval=0.1):
    if getattr(event, "logs", None):
        logs.extend(log["message"] for log in event.logs)
result = handle.get()
video = result["video"]
with open(sys.argv[3], "wb") as out:
    out.write(httpx.get(video["url"]).content)
print(f"request {handle.request_id} duration {result['duration']} size {video['file_size']} logs {len(logs)}")
"#;

/// A venv with fal-client, made once per target directory.
async fn venv() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fal-client-venv");
    let python = dir.join("bin/python");
    let ready = dir.join(".installed");
    if !ready.exists() {
        let made =
            Command::new("python3").args(["-m", "venv"]).arg(&dir).status().await.expect("python3 -m venv");
        assert!(made.success(), "could not create a venv");
        let installed = Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", FAL_CLIENT])
            .status()
            .await
            .expect("pip");
        assert!(installed.success(), "pip install {FAL_CLIENT} failed");
        std::fs::write(&ready, FAL_CLIENT).expect("marker");
    }
    python
}

#[tokio::test(flavor = "multi_thread")]
async fn official_python_client_renders_an_avatar() {
    let python = venv().await;
    let studio = studio(config()).await;
    let dir = tempfile::tempdir().expect("temp");
    let out = dir.path().join("speaker.mp4");
    let audio = asset("audio/headline.mp3");
    let output = Command::new(&python)
        .arg("-c")
        .arg(SCRIPT)
        .arg(asset("characters/ninja.png"))
        .arg(&audio)
        .arg(&out)
        .env("STUDIO_URL", &studio.urls().queue_url)
        .env("STUDIO_KEY", KEY)
        .output()
        .await
        .expect("run python");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "python failed:\n{stdout}\n{stderr}");

    let info = probe().probe(&out).expect("probe the downloaded video");
    assert!(info.video().is_some(), "a video stream");
    assert!(info.audio().is_some(), "an audio stream");
    let expected = probe().probe(&audio).expect("probe audio").audio_seconds().expect("seconds");
    let got = info.duration.expect("duration");
    assert!((got - expected).abs() <= 0.2, "duration {got} vs audio {expected}");

    let stats = studio.stats();
    assert_eq!(stats.uploads.count, 2, "{stdout}");
    assert_eq!(stats.submits.total, 1);
    assert!(stats.status_polls >= 1);
    assert_eq!(stats.results_served, 1);
}
