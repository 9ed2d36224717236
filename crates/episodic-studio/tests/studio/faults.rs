//! Faults injected by the studio are survived by the client's retry policy, without a second
//! submit, and the retries are counted.

use crate::support::{KEY, asset, client, config, round_trip_assets, studio};
use episodic_fal::wire::AvatarOutput;
use episodic_fal::{EndpointId, RequestHandle, SubmitOptions};
use episodic_studio::{FaultConfig, FiveXxStyle, StudioConfig};
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread")]
async fn rate_limits_and_ingress_errors_are_retried_without_a_second_submit() {
    let faults = FaultConfig {
        seed: 3,
        rate_429: 0.3,
        rate_5xx: 0.1,
        style_5xx: FiveXxStyle::Ingress,
        ..FaultConfig::default()
    };
    let studio = studio(StudioConfig { faults, ..config() }).await;
    let client = client(&studio, KEY);
    let image = client.upload_file(&asset("characters/ninja.png"), None).await.expect("upload image");
    let audio = client.upload_file(&asset("audio/glitch-reply.mp3"), None).await.expect("upload audio");
    let endpoint = EndpointId::parse("fal-ai/kling-video/ai-avatar/v2/standard").expect("endpoint");
    let submitted = client
        .submit(
            &endpoint,
            &json!({"image_url": image.url, "audio_url": audio.url}),
            &SubmitOptions::default(),
        )
        .await
        .expect("submit survives 429s and 5xx");
    let handle = RequestHandle::from_submit(client.config(), &endpoint, &submitted).expect("handle");
    client.poll(&handle, &crate::support::fast_poll(), |_| {}).await.expect("poll");
    let output: AvatarOutput = client.result_as(&handle).await.expect("result");
    let dir = tempfile::tempdir().expect("temp");
    client
        .download(&output.video.url, &dir.path().join("clip.mp4"), output.video.file_size)
        .await
        .expect("download");

    let stats = studio.stats();
    let injected = stats.faults.rate_limited + stats.faults.server_errors;
    assert!(injected >= 3, "faults were injected: {:?}", stats.faults);
    assert_eq!(client.retries(), injected, "every injected fault cost exactly one retry");
    assert_eq!(stats.submits.total, 1, "no render was submitted twice");
    assert_eq!(stats.renders.completed, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_after_is_a_floor() {
    // Seed 5 answers the first request of this studio with a 429.
    let faults = FaultConfig { seed: 5, rate_429: 0.5, retry_after_secs: Some(1), ..FaultConfig::default() };
    let studio = studio(StudioConfig { faults, ..config() }).await;
    let client = client(&studio, KEY);
    let started = Instant::now();
    client.upload_file(&asset("characters/glitch.png"), None).await.expect("upload");
    let limited = studio.stats().faults.rate_limited;
    assert!(limited >= 1, "the seed should inject a 429");
    assert!(
        started.elapsed() >= Duration::from_secs(limited),
        "waited {:?} for {limited} Retry-After: 1",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dropped_connections_are_retried_on_uploads_and_downloads() {
    // Drops before routing only: nothing was stored, so a retried upload stores its file once.
    // Drops after handling are `lost_upload_answers_store_the_file_again`.
    let faults = FaultConfig { seed: 9, drop_rate: 0.3, drop_after_share: 0.0, ..FaultConfig::default() };
    let studio = studio(StudioConfig { faults, ..config() }).await;
    let client = client(&studio, KEY);
    round_trip_assets(&client).await;
    let stats = studio.stats();
    assert!(stats.faults.dropped >= 1, "connections were dropped: {:?}", stats.faults);
    assert_eq!(stats.faults.answers_lost, 0);
    assert_eq!(stats.uploads.count, 4, "each file stored once");
    assert!(client.retries() >= stats.faults.dropped);
}
