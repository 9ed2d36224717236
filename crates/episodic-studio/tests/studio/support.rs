//! A studio per test, a client pointed at it, and the shipped assets.

use episodic_catalog::Catalog;
use episodic_fal::{FalClient, FalConfig, FalKey};
use episodic_studio::{Studio, StudioConfig};
use std::path::{Path, PathBuf};

pub const KEY: &str = "studio-test-key";

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repo root")
}

/// A shipped asset.
pub fn asset(relative: &str) -> PathBuf {
    repo().join("assets").join(relative)
}

/// A studio that renders at 1/8 of the catalog's size, with the test key.
pub async fn studio(config: StudioConfig) -> Studio {
    Studio::start(config, Catalog::builtin(), tool("ffmpeg"), tool("ffprobe")).await.expect("studio starts")
}

/// The default test configuration: small renders, a short queue delay, the test key.
pub fn config() -> StudioConfig {
    StudioConfig {
        key: Some(KEY.into()),
        scale: 8,
        queue_delay: std::time::Duration::from_millis(20),
        ..StudioConfig::default()
    }
}

/// A client for a studio, with `key`.
pub fn client(studio: &Studio, key: &str) -> FalClient {
    let config = FalConfig::single_host(&studio.urls().queue_url).expect("config");
    FalClient::new(config, Some(FalKey::new(key).expect("key"))).expect("client")
}

/// ffprobe.
pub fn probe() -> episodic_media::Probe {
    episodic_media::Probe::new(tool("ffprobe"))
}

/// `ffmpeg` or `ffprobe` from PATH. The only place these tests look for them: a machine without
/// them fails, saying how to install them, rather than passing without testing.
pub fn tool(name: &'static str) -> episodic_media::Tool {
    episodic_media::locate(name, None).unwrap_or_else(|err| {
        panic!(
            "{err}: the studio renders with ffmpeg and ffprobe; install them (`apt-get install ffmpeg`, \
             or `bash .ci/setup` from the repository root) and run the tests again"
        )
    })
}

/// Polling tuned for a local studio: answers come in milliseconds, not minutes.
pub fn fast_poll() -> episodic_fal::PollOptions {
    episodic_fal::PollOptions {
        initial_interval: std::time::Duration::from_millis(50),
        max_interval: std::time::Duration::from_millis(200),
        ..episodic_fal::PollOptions::default()
    }
}

/// Submits `input` to `endpoint` and returns the handle to follow it.
pub async fn submit(
    client: &episodic_fal::FalClient,
    endpoint: &str,
    input: &serde_json::Value,
) -> (episodic_fal::EndpointId, episodic_fal::RequestHandle) {
    let endpoint = episodic_fal::EndpointId::parse(endpoint).expect("endpoint");
    let submitted =
        client.submit(&endpoint, input, &episodic_fal::SubmitOptions::default()).await.expect("submit");
    let handle =
        episodic_fal::RequestHandle::from_submit(client.config(), &endpoint, &submitted).expect("handle");
    (endpoint, handle)
}

/// Uploads four shipped assets through `client` and downloads each back, checking the bytes: the
/// round trip the storage fault tests put under faults.
pub async fn round_trip_assets(client: &FalClient) {
    let dir = tempfile::tempdir().expect("temp");
    for (index, name) in
        ["characters/ninja.png", "characters/glitch.png", "audio/headline.mp3", "broll/desk.png"]
            .iter()
            .enumerate()
    {
        let source = asset(name);
        let uploaded = client.upload_file(&source, None).await.expect("upload survives the faults");
        let copy = dir.path().join(format!("copy-{index}"));
        client
            .download(&uploaded.url, &copy, Some(uploaded.size))
            .await
            .expect("download survives the faults");
        assert_eq!(std::fs::read(&copy).expect("copy"), std::fs::read(&source).expect("source"));
    }
}
