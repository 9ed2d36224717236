//! A balance: renders are billed against it, and once it is spent the account is locked as
//! fal's is (403 "User is locked"), refusing submits and uploads while queued renders finish.

use crate::support::{KEY, asset, client, config, fast_poll, studio};
use episodic_catalog::Usd;
use episodic_fal::wire::QueueStatus;
use episodic_fal::{EndpointId, FalClient, FalError, FalErrorKind, RequestHandle, SubmitOptions};
use episodic_studio::{Studio, StudioConfig};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const I2V: &str = "fal-ai/kling-video/v2.6/pro/image-to-video";

/// Five seconds of image-to-video without audio: $0.35 at $0.07/s.
fn clip(image_url: &str, prompt: &str) -> Value {
    json!({"prompt": prompt, "start_image_url": image_url, "duration": "5", "generate_audio": false})
}

async fn submit(client: &FalClient, input: &Value) -> Result<RequestHandle, FalError> {
    let endpoint = EndpointId::parse(I2V).expect("endpoint");
    let submitted = client.submit(&endpoint, input, &SubmitOptions::default()).await?;
    Ok(RequestHandle::from_submit(client.config(), &endpoint, &submitted).expect("handle"))
}

fn assert_locked(err: &FalError) {
    assert!(
        matches!(&err.kind, FalErrorKind::OutOfCredit { detail } if detail.contains("Exhausted balance")),
        "{err:?}"
    );
    assert!(!err.maybe_submitted, "a 403 queued nothing: {err:?}");
    assert_eq!(err.retries, 0, "a locked account is not retried");
}

/// Polls the studio's counters until `done` holds, for at most 30 s.
async fn wait_for(studio: &Studio, what: &str, done: impl Fn(&episodic_studio::StatsSnapshot) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done(&studio.stats()) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}: {:?}", studio.stats());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spent_balance_refuses_submits_and_uploads_while_queued_renders_finish() {
    // One render at a time, each taking at least 2 s, so C (submitted after the first finished)
    // is still queued or running when the second one locks the account.
    let balance = Usd::from_dollars(0.50);
    let studio = studio(StudioConfig {
        balance: Some(balance),
        concurrency: 1,
        render_time_per_second: Duration::from_millis(400),
        ..config()
    })
    .await;
    let client = client(&studio, KEY);
    let image = client.upload_file(&asset("characters/glitch.png"), None).await.expect("upload");
    let a = submit(&client, &clip(&image.url, "A")).await.expect("A is accepted");
    let b = submit(&client, &clip(&image.url, "B")).await.expect("B is accepted");
    // Either may take the one slot first; the other renders for 2 s after it.
    wait_for(&studio, "a first render", |s| s.renders.completed >= 1).await;

    // $0.35 billed of $0.50: still open, so C is queued (behind the other).
    let one = studio.stats().billed_micros;
    assert_eq!(one, 350_000, "one render billed at its catalog price");
    let c = submit(&client, &clip(&image.url, "C")).await.expect("C is accepted below the balance");

    // The second brings the total to $0.70: locked.
    wait_for(&studio, "a second render billed", |s| s.billed_micros >= balance.micros()).await;
    let refused = submit(&client, &clip(&image.url, "D")).await.expect_err("D is refused");
    assert_locked(&refused);
    let stats = studio.stats();
    assert_eq!(stats.rejected.out_of_credit, 1);
    assert_eq!(stats.submits.total, 3, "D was not queued");
    assert_eq!(stats.renders.completed, 2, "C, queued before the lock, is still running");

    let upload = client.upload_file(&asset("characters/ninja.png"), None).await.expect_err("upload refused");
    assert_locked(&upload);
    assert_eq!(studio.stats().uploads.count, 1, "nothing stored once locked");

    // Status, result and history keep working, and C finishes and is billed past the balance.
    assert!(matches!(
        client.status(&c, false).await.expect("status"),
        QueueStatus::InQueue { .. } | QueueStatus::InProgress { .. }
    ));
    client.poll(&c, &fast_poll(), |_| {}).await.expect("C completes");
    for handle in [&a, &b, &c] {
        client.result(handle).await.expect("every result is served");
    }
    assert_eq!(client.request_history(I2V, 0).await.expect("history").len(), 3);
    let stats = studio.stats();
    assert_eq!(stats.renders.completed, 3);
    assert_eq!(stats.billed_micros, 3 * 350_000, "every render that ran is billed, past the balance");
    assert!(stats.rejected.out_of_credit >= 2, "{:?}", stats.rejected);
    assert_eq!(stats.submits.total, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_zero_balance_is_locked_from_the_start_on_both_upload_flows() {
    for v3_uploads in [true, false] {
        let studio = studio(StudioConfig { balance: Some(Usd::ZERO), v3_uploads, ..config() }).await;
        let client = client(&studio, KEY);
        let upload = client.upload_file(&asset("characters/glitch.png"), None).await.expect_err("refused");
        assert_locked(&upload);
        let refused =
            submit(&client, &clip("https://example.invalid/a.png", "A")).await.expect_err("refused");
        assert_locked(&refused);
        let stats = studio.stats();
        assert_eq!((stats.uploads.count, stats.submits.total, stats.billed_micros), (0, 0, 0));
        assert!(stats.rejected.out_of_credit >= 2, "{:?}", stats.rejected);
        // Reads are not refused.
        assert!(client.request_history(I2V, 0).await.expect("history").is_empty());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_balance_never_locks() {
    let studio = studio(config()).await;
    let client = client(&studio, KEY);
    let image = client.upload_file(&asset("characters/glitch.png"), None).await.expect("upload");
    let handle = submit(&client, &clip(&image.url, "A")).await.expect("submit");
    client.poll(&handle, &fast_poll(), |_| {}).await.expect("poll");
    submit(&client, &clip(&image.url, "B")).await.expect("still open after billing");
    assert_eq!(studio.stats().rejected.out_of_credit, 0);
}
