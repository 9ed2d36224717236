//! Answers lost after the studio acted on a request: a submit that was queued though the client
//! saw only a closed connection, found again in the request history (late, when it lags), and
//! drops before routing that queued nothing.

use crate::support::{KEY, asset, client, config, fast_poll, round_trip_assets, studio};
use episodic_fal::wire::{RequestHistoryItem, VideoOutput};
use episodic_fal::{EndpointId, FalClient, FalError, RequestHandle, SubmitOptions};
use episodic_studio::{FaultConfig, Studio, StudioConfig};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const I2V: &str = "fal-ai/kling-video/v2.6/pro/image-to-video";

/// Every connection to the image-to-video submit path dropped, after handling when `after`, else
/// before. Status and result URLs use `owner/alias` only, so they are not faulted.
fn dropping(after: bool, history_lag: Duration) -> StudioConfig {
    let faults = FaultConfig {
        drop_rate: 1.0,
        drop_after_share: if after { 1.0 } else { 0.0 },
        only_paths_containing: Some("v2.6/pro/image-to-video".into()),
        ..FaultConfig::default()
    };
    StudioConfig { faults, history_lag, ..config() }
}

/// Uploads the start image and submits one image-to-video render whose answer is dropped.
async fn lost_submit(studio: &Studio, client: &FalClient) -> (Value, FalError, i64) {
    let image = client.upload_file(&asset("characters/glitch.png"), None).await.expect("upload");
    let input = json!({"prompt": "Listening.", "start_image_url": image.url, "duration": "5", "generate_audio": false});
    let endpoint = EndpointId::parse(I2V).expect("endpoint");
    let since = now_unix() - 60;
    let err =
        client.submit(&endpoint, &input, &SubmitOptions::default()).await.expect_err("the answer is lost");
    assert!(err.maybe_submitted, "a closed connection after the body was sent may have queued: {err}");
    assert_eq!(err.retries, 0, "a submit that may have been queued is never resent");
    assert_eq!(studio.stats().uploads.count, 1);
    (input, err, since)
}

fn now_unix() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64
}

async fn history(client: &FalClient, since: i64) -> Vec<RequestHistoryItem> {
    client.request_history(I2V, since).await.expect("history")
}

/// The history item whose input is `input`, polled until `deadline`.
async fn find(
    client: &FalClient,
    since: i64,
    input: &Value,
    deadline: Duration,
) -> Option<RequestHistoryItem> {
    let until = Instant::now() + deadline;
    loop {
        let found =
            history(client, since).await.into_iter().find(|item| item.json_input.as_ref() == Some(input));
        if found.is_some() || Instant::now() >= until {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The request found in the history renders to completion: it really was queued.
async fn follow(client: &FalClient, request_id: &str) {
    let endpoint = EndpointId::parse(I2V).expect("endpoint");
    let handle = RequestHandle::reattach(client.config(), &endpoint, request_id).expect("reattach");
    let completion = client.poll(&handle, &fast_poll(), |_| {}).await.expect("poll");
    assert!(completion.error.is_none(), "{completion:?}");
    let output: VideoOutput = client.result_as(&handle).await.expect("result");
    assert!(output.video.file_size.is_some_and(|size| size > 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_submit_whose_answer_is_lost_was_queued_once_and_is_in_the_history() {
    let studio = studio(dropping(true, Duration::ZERO)).await;
    let client = client(&studio, KEY);
    let (input, _, since) = lost_submit(&studio, &client).await;
    let stats = studio.stats();
    assert_eq!(stats.submits.total, 1, "the submit was queued: {stats:?}");
    assert_eq!((stats.faults.answers_lost, stats.faults.dropped), (1, 0));
    // Without lag the history lists it at once.
    let items = history(&client, since).await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0].json_input.as_ref(), Some(&input));
    follow(&client, &items[0].request_id).await;
    let stats = studio.stats();
    assert_eq!(stats.submits.total, 1);
    assert_eq!(stats.renders.completed, 1, "rendered and billed once");
    assert!(stats.billed_micros > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lagging_history_lists_a_lost_submit_only_after_the_lag() {
    let lag = Duration::from_millis(1500);
    let studio = studio(dropping(true, lag)).await;
    let client = client(&studio, KEY);
    let submitted = Instant::now();
    let (input, _, since) = lost_submit(&studio, &client).await;
    assert_eq!(studio.stats().submits.total, 1);
    // Read before the lag is over (checked after the read, so a slow machine cannot fake it).
    let early = history(&client, since).await;
    if submitted.elapsed() < lag {
        assert!(early.is_empty(), "listed before the lag: {early:?}");
    }
    let found =
        find(&client, since, &input, lag + Duration::from_secs(10)).await.expect("listed after the lag");
    assert!(submitted.elapsed() >= lag, "listed after {:?}, lag {lag:?}", submitted.elapsed());
    follow(&client, &found.request_id).await;
    assert_eq!(studio.stats().submits.total, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_submit_dropped_before_routing_queued_nothing() {
    let studio = studio(dropping(false, Duration::ZERO)).await;
    let client = client(&studio, KEY);
    let (_, err, since) = lost_submit(&studio, &client).await;
    assert!(err.maybe_submitted, "the client cannot tell the two drops apart");
    let stats = studio.stats();
    assert_eq!(stats.submits.total, 0, "nothing queued: {stats:?}");
    assert_eq!((stats.faults.dropped, stats.faults.answers_lost), (1, 0));
    assert!(history(&client, since).await.is_empty());
    // Nothing runs later either.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stats = studio.stats();
    assert_eq!((stats.submits.total, stats.renders.completed, stats.billed_micros), (0, 0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn lost_upload_answers_store_the_file_again() {
    // Every dropped upload was stored before its answer was lost; the client retries it (an
    // upload may be repeated), so each loss leaves one extra stored copy, as on fal.
    let faults = FaultConfig {
        seed: 3,
        drop_rate: 0.5,
        drop_after_share: 1.0,
        only_paths_containing: Some("/files/upload".into()),
        ..FaultConfig::default()
    };
    let studio = studio(StudioConfig { faults, ..config() }).await;
    let client = client(&studio, KEY);
    round_trip_assets(&client).await;
    let stats = studio.stats();
    assert!(stats.faults.answers_lost >= 1, "answers were lost: {:?}", stats.faults);
    assert_eq!(stats.faults.dropped, 0);
    assert_eq!(stats.uploads.count, 4 + stats.faults.answers_lost, "one extra copy per lost answer");
    assert_eq!(client.retries(), stats.faults.answers_lost);
}
