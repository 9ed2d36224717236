//! The whole queue and storage protocol, spoken by our client to the studio.

use crate::support::{KEY, asset, client, config, probe, studio};
use episodic_fal::wire::{AvatarOutput, CancelStatus, ValidationDetail, VideoOutput};
use episodic_fal::{EndpointId, FalErrorKind, PollEvent, RequestHandle, SubmitOptions};
use serde_json::json;
use std::time::Duration;

const AVATAR_PRO: &str = "fal-ai/kling-video/ai-avatar/v2/pro";
const I2V: &str = "fal-ai/kling-video/v2.6/pro/image-to-video";

#[tokio::test(flavor = "multi_thread")]
async fn upload_submit_poll_result_download() {
    let studio = studio(config()).await;
    let client = client(&studio, KEY);
    let image = client.upload_file(&asset("characters/ninja.png"), None).await.expect("upload image");
    let audio = client.upload_file(&asset("audio/cold-open.mp3"), None).await.expect("upload audio");
    assert_eq!(image.content_type, "image/png");
    assert_eq!(audio.content_type, "audio/mpeg");

    let endpoint = EndpointId::parse(AVATAR_PRO).expect("endpoint");
    let input = json!({"image_url": image.url, "audio_url": audio.url, "prompt": "Energetic presenter."});
    let submitted = client.submit(&endpoint, &input, &SubmitOptions::default()).await.expect("submit");
    // Status URLs use owner/alias only, never the endpoint's sub-path.
    assert!(
        submitted
            .status_url
            .ends_with(&format!("/fal-ai/kling-video/requests/{}/status", submitted.request_id))
    );

    let handle = RequestHandle::from_submit(client.config(), &endpoint, &submitted).expect("handle");
    let mut events = Vec::new();
    let completion =
        client.poll(&handle, &crate::support::fast_poll(), |event| events.push(event)).await.expect("poll");
    assert!(completion.error.is_none(), "{completion:?}");
    assert!(events.iter().any(|e| matches!(e, PollEvent::Log(entry) if entry.message.as_deref().is_some_and(|m| m.contains("Animating")))), "{events:?}");
    assert!(matches!(events.last(), Some(PollEvent::Completed { error: None, .. })));

    let output: AvatarOutput = client.result_as(&handle).await.expect("result");
    assert_eq!(output.video.content_type.as_deref(), Some("video/mp4"));
    let dir = tempfile::tempdir().expect("temp");
    let video = dir.path().join("speaker.mp4");
    let size = client.download(&output.video.url, &video, output.video.file_size).await.expect("download");
    assert_eq!(Some(size), output.video.file_size);

    let info = probe().probe(&video).expect("probe output");
    let stream = info.video().expect("video stream");
    // A square 768x768 image frames a square clip: 1080x1080 at pro, over scale 8.
    assert_eq!((stream.width, stream.height), (Some(134), Some(134)));
    let source =
        probe().probe(&asset("audio/cold-open.mp3")).expect("probe audio").audio_seconds().expect("seconds");
    let rendered = info.duration.expect("duration");
    assert!((rendered - source).abs() < 0.2, "clip {rendered} s vs audio {source} s");
    assert!(info.audio().is_some(), "the avatar carries its audio");
    assert!((output.duration - source).abs() < 0.2);

    let stats = studio.stats();
    assert_eq!(stats.uploads.count, 2);
    assert_eq!(stats.submits.total, 1);
    assert_eq!(stats.submits.by_endpoint.get(AVATAR_PRO), Some(&1));
    assert_eq!(stats.renders.completed, 1);
    let expected = (output.duration * 0.115 * 1e6).round() as i64;
    assert!((stats.billed_micros as i64 - expected).abs() <= 1_000, "{} vs {expected}", stats.billed_micros);
}

#[tokio::test(flavor = "multi_thread")]
async fn reattach_by_request_id() {
    let studio = studio(config()).await;
    let client = client(&studio, KEY);
    let image = client.upload_file(&asset("characters/glitch.png"), None).await.expect("upload");
    let endpoint = EndpointId::parse(I2V).expect("endpoint");
    let input = json!({"prompt": "Listening. Mouth closed.", "start_image_url": image.url, "duration": "5", "generate_audio": false});
    let submitted = client.submit(&endpoint, &input, &SubmitOptions::default()).await.expect("submit");
    // A new process knows only the endpoint and the journaled id.
    let resumed =
        RequestHandle::reattach(client.config(), &endpoint, &submitted.request_id).expect("reattach");
    client.poll(&resumed, &crate::support::fast_poll(), |_| {}).await.expect("poll");
    let output: VideoOutput = client.result_as(&resumed).await.expect("result");
    assert!(output.video.url.starts_with(&studio.urls().cdn_url));
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_in_progress_then_already_completed() {
    let slow = episodic_studio::StudioConfig { render_time_per_second: Duration::from_secs(3), ..config() };
    let studio = studio(slow).await;
    let client = client(&studio, KEY);
    let image = client.upload_file(&asset("characters/glitch.png"), None).await.expect("upload");
    let endpoint = EndpointId::parse(I2V).expect("endpoint");
    let input = json!({"prompt": "Listening.", "start_image_url": image.url, "duration": "5", "generate_audio": false});
    let submitted = client.submit(&endpoint, &input, &SubmitOptions::default()).await.expect("submit");
    let handle = RequestHandle::from_submit(client.config(), &endpoint, &submitted).expect("handle");
    assert_eq!(client.cancel(&handle).await.expect("cancel"), CancelStatus::CancellationRequested);
    let completion = client.poll(&handle, &crate::support::fast_poll(), |_| {}).await.expect("poll");
    assert_eq!(completion.error_type.as_deref(), Some("client_cancelled"));
    assert_eq!(client.cancel(&handle).await.expect("cancel again"), CancelStatus::AlreadyCompleted);
    let err = client.result(&handle).await.expect_err("a cancelled request has no result");
    assert!(!matches!(err.kind, FalErrorKind::NotReady), "{err}");
    let stats = studio.stats();
    assert_eq!(stats.renders.cancelled, 1);
    assert_eq!(stats.billed_micros, 0, "a cancelled render is not billed");
}

#[tokio::test(flavor = "multi_thread")]
async fn result_before_completion_is_not_ready() {
    let slow = episodic_studio::StudioConfig { render_time_per_second: Duration::from_secs(2), ..config() };
    let studio = studio(slow).await;
    let client = client(&studio, KEY);
    let endpoint = EndpointId::parse("fal-ai/kling-video/o3/standard/text-to-video").expect("endpoint");
    let submitted = client
        .submit(&endpoint, &json!({"prompt": "A skyline", "duration": "3"}), &SubmitOptions::default())
        .await
        .expect("submit");
    let handle = RequestHandle::from_submit(client.config(), &endpoint, &submitted).expect("handle");
    let err = client.result(&handle).await.expect_err("not yet");
    assert!(matches!(err.kind, FalErrorKind::NotReady), "{err}");
    let _ = client.cancel(&handle).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_key_is_unauthorized_and_never_echoed() {
    let studio = studio(config()).await;
    let client = client(&studio, "not-the-key-x9z");
    let endpoint = EndpointId::parse(AVATAR_PRO).expect("endpoint");
    let err = client.submit(&endpoint, &json!({}), &SubmitOptions::default()).await.expect_err("401");
    assert!(matches!(err.kind, FalErrorKind::Unauthorized { .. }), "{err}");
    let text = format!("{err} {err:?}");
    assert!(text.contains("FAL_KEY"), "{text}");
    assert!(!text.contains("not-the-key-x9z"), "the key leaked: {text}");
    let err = client.upload_file(&asset("characters/ninja.png"), None).await.expect_err("token refused");
    assert!(matches!(err.kind, FalErrorKind::Unauthorized { .. }), "{err}");
    assert_eq!(studio.stats().rejected.unauthorized, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_input_is_422_with_detail() {
    let studio = studio(config()).await;
    let client = client(&studio, KEY);
    let endpoint = EndpointId::parse(I2V).expect("endpoint");
    let err = client
        .submit(
            &endpoint,
            &json!({"prompt": "x", "duration": 7, "generate_audio": "no"}),
            &SubmitOptions::default(),
        )
        .await
        .expect_err("422");
    let FalErrorKind::Validation { status, detail: ValidationDetail::Items(items) } = &err.kind else {
        panic!("expected a validation error, got {err}");
    };
    assert_eq!(*status, 422);
    let found: Vec<(String, &str)> =
        items.iter().map(|item| (item.field_path(), item.kind.as_str())).collect();
    assert_eq!(
        found,
        [
            ("start_image_url".to_owned(), "missing"),
            ("duration".to_owned(), "literal_error"),
            ("generate_audio".to_owned(), "bool_type")
        ]
    );
    assert_eq!(studio.stats().submits.total, 0, "a refused submit is not a submit");
}

#[tokio::test(flavor = "multi_thread")]
async fn media_problems_fail_the_request_with_fal_detail() {
    let studio = studio(config()).await;
    let client = client(&studio, KEY);
    let dir = tempfile::tempdir().expect("temp");
    let tiny = dir.path().join("tiny.png");
    std::fs::copy(crate::support::repo().join("tests/fixtures/media/tiny.png"), &tiny).expect("copy");
    let image = client.upload_file(&tiny, None).await.expect("upload");
    let audio = client.upload_file(&asset("audio/cold-open.mp3"), None).await.expect("upload");
    let endpoint = EndpointId::parse(AVATAR_PRO).expect("endpoint");
    let submitted = client
        .submit(
            &endpoint,
            &json!({"image_url": image.url, "audio_url": audio.url}),
            &SubmitOptions::default(),
        )
        .await
        .expect("accepted");
    let handle = RequestHandle::from_submit(client.config(), &endpoint, &submitted).expect("handle");
    let completion = client.poll(&handle, &crate::support::fast_poll(), |_| {}).await.expect("poll");
    assert_eq!(completion.error_type.as_deref(), Some("image_too_small"));
    let err = client.result(&handle).await.expect_err("the model's 422 is replayed");
    let FalErrorKind::Validation { detail, .. } = &err.kind else { panic!("{err}") };
    assert!(detail.to_string().contains("image_url"), "{detail}");
    assert_eq!(studio.stats().billed_micros, 0, "failed renders are not billed");
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_endpoint_is_404() {
    let studio = studio(config()).await;
    let client = client(&studio, KEY);
    let endpoint = EndpointId::parse("fal-ai/kling-video/ai-avatar/v3/pro").expect("endpoint");
    let err = client.submit(&endpoint, &json!({}), &SubmitOptions::default()).await.expect_err("404");
    assert!(matches!(err.kind, FalErrorKind::NotFound { .. }), "{err}");
    let missing = RequestHandle::reattach(
        client.config(),
        &EndpointId::parse(AVATAR_PRO).expect("id"),
        "00000000-0000-4000-a000-000000000000",
    )
    .expect("handle");
    let err = client.status(&missing, false).await.expect_err("unknown request");
    assert!(matches!(err.kind, FalErrorKind::NotFound { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn queue_positions_under_limited_concurrency() {
    let busy = episodic_studio::StudioConfig {
        concurrency: 1,
        render_time_per_second: Duration::from_millis(400),
        ..config()
    };
    let studio = studio(busy).await;
    let client = client(&studio, KEY);
    let endpoint = EndpointId::parse("fal-ai/kling-video/o3/standard/text-to-video").expect("endpoint");
    let mut handles = Vec::new();
    for index in 0..3 {
        let input = json!({"prompt": format!("Shot {index}"), "duration": "3"});
        let submitted = client.submit(&endpoint, &input, &SubmitOptions::default()).await.expect("submit");
        handles.push(RequestHandle::from_submit(client.config(), &endpoint, &submitted).expect("handle"));
    }
    let mut positions = Vec::new();
    client
        .poll(&handles[2], &crate::support::fast_poll(), |event| {
            if let PollEvent::Queued { position: Some(position) } = event {
                positions.push(position);
            }
        })
        .await
        .expect("poll");
    assert!(
        positions.first().is_some_and(|first| *first >= 1),
        "the third request waited behind others: {positions:?}"
    );
    assert!(positions.windows(2).all(|pair| pair[1] <= pair[0]), "positions only go down: {positions:?}");
    for handle in &handles {
        client.poll(handle, &crate::support::fast_poll(), |_| {}).await.expect("poll");
    }
    assert_eq!(studio.stats().renders.completed, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_upload_flow_serves_the_same_file() {
    let studio = studio(config()).await;
    let http = reqwest::Client::new();
    let base = &studio.urls().rest_url;
    let initiated: serde_json::Value = http
        .post(format!("{base}/storage/upload/initiate?storage_type=fal-cdn-v3"))
        .header("authorization", format!("Key {KEY}"))
        .json(&json!({"content_type": "image/png", "file_name": "ninja.png"}))
        .send()
        .await
        .expect("initiate")
        .json()
        .await
        .expect("json");
    let bytes = std::fs::read(asset("characters/ninja.png")).expect("read");
    let put = http
        .put(initiated["upload_url"].as_str().expect("upload_url"))
        .header("content-type", "image/png")
        .body(bytes.clone())
        .send()
        .await
        .expect("put");
    assert!(put.status().is_success());
    let fetched = http
        .get(initiated["file_url"].as_str().expect("file_url"))
        .send()
        .await
        .expect("get")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(fetched.as_ref(), bytes.as_slice());
    assert_eq!(studio.stats().uploads.count, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn client_falls_back_to_legacy_uploads_when_v3_is_missing() {
    let studio = studio(episodic_studio::StudioConfig { v3_uploads: false, ..config() }).await;
    let client = client(&studio, KEY);
    let source = asset("characters/ninja.png");
    let uploaded = client.upload_file(&source, None).await.expect("legacy upload");
    let dir = tempfile::tempdir().expect("temp");
    let copy = dir.path().join("copy.png");
    client
        .download(&uploaded.url, &copy, Some(uploaded.size))
        .await
        .expect("download via the legacy file URL");
    assert_eq!(std::fs::read(copy).expect("copy"), std::fs::read(source).expect("source"));
    assert_eq!(studio.stats().uploads.count, 1);
}
