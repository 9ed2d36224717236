//! What the studio renders, checked with ffprobe: sizes at scale 1 and at the test scale,
//! frame rates, lengths, and audio present or absent as asked.

use crate::support::{KEY, asset, client, config, probe, studio};
use episodic_fal::wire::VideoOutput;
use episodic_fal::{EndpointId, FalClient, PollOptions, RequestHandle, SubmitOptions};
use episodic_media::MediaInfo;
use episodic_studio::StudioConfig;
use serde_json::{Value, json};

async fn render(client: &FalClient, endpoint: &str, input: Value) -> MediaInfo {
    let (_, handle) = crate::support::submit(client, endpoint, &input).await;
    let completion = client.poll(&handle, &crate::support::fast_poll(), |_| {}).await.expect("poll");
    assert!(completion.error.is_none(), "{completion:?}");
    let output: VideoOutput = client.result_as(&handle).await.expect("result");
    let dir = tempfile::tempdir().expect("temp");
    let path = dir.path().join("clip.mp4");
    client.download(&output.video.url, &path, output.video.file_size).await.expect("download");
    probe().probe(&path).expect("probe")
}

fn assert_video(info: &MediaInfo, width: u32, height: u32, fps: f64, seconds: f64) {
    let video = info.video().expect("video stream");
    assert_eq!((video.width, video.height), (Some(width), Some(height)));
    let rate = video.fps.expect("fps");
    assert!((rate - fps).abs() < 0.01, "fps {rate} vs {fps}");
    let duration = info.duration.expect("duration");
    assert!((duration - seconds).abs() <= 1.0 / fps + 0.05, "duration {duration} vs {seconds}");
}

#[tokio::test(flavor = "multi_thread")]
async fn text_to_video_at_full_scale() {
    let studio = studio(StudioConfig { scale: 1, ..config() }).await;
    let client = client(&studio, KEY);
    let info = render(
        &client,
        "fal-ai/kling-video/o3/standard/text-to-video",
        json!({"prompt": "Neon skyline at night", "duration": "3"}),
    )
    .await;
    // O3 standard renders 720p, 24 fps; its generate_audio defaults to false.
    assert_video(&info, 1280, 720, 24.0, 3.0);
    assert!(info.audio().is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn text_to_video_portrait_with_audio_at_test_scale() {
    let studio = studio(config()).await;
    let client = client(&studio, KEY);
    let input =
        json!({"prompt": "Crowd cheering", "duration": "4", "aspect_ratio": "9:16", "generate_audio": true});
    let info = render(&client, "fal-ai/kling-video/o3/pro/text-to-video", input).await;
    // O3 pro: 1080x1920 over scale 8 is 135x240, kept even: 134x240.
    assert_video(&info, 134, 240, 24.0, 4.0);
    assert!(info.audio().is_some(), "generate_audio: true adds sound");
    let billed = studio.stats().billed_micros;
    assert_eq!(billed, 4 * 140_000, "billed at the audio rate, $0.14/s");
}

#[tokio::test(flavor = "multi_thread")]
async fn image_to_video_is_silent_unless_asked() {
    let studio = studio(config()).await;
    let client = client(&studio, KEY);
    let image = client.upload_file(&asset("characters/glitch.png"), None).await.expect("upload");
    let endpoint = "fal-ai/kling-video/v2.6/pro/image-to-video";
    let silent = render(&client, endpoint, json!({"prompt": "Listening. Mouth closed.", "start_image_url": image.url, "duration": "5", "generate_audio": false})).await;
    assert_video(&silent, 134, 134, 24.0, 5.0);
    assert!(silent.audio().is_none());
    // fal's default for v2.6 is generate_audio: true.
    let default = render(
        &client,
        endpoint,
        json!({"prompt": "Listening.", "start_image_url": image.url, "duration": "10"}),
    )
    .await;
    assert_video(&default, 134, 134, 24.0, 10.0);
    assert!(default.audio().is_some());
    assert_eq!(studio.stats().billed_micros, 5 * 70_000 + 10 * 140_000);
}

#[tokio::test(flavor = "multi_thread")]
async fn avatar_portrait_image_frames_a_portrait_clip() {
    let studio = studio(StudioConfig { scale: 4, ..config() }).await;
    let client = client(&studio, KEY);
    let dir = tempfile::tempdir().expect("temp");
    let portrait = dir.path().join("portrait.png");
    let status = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i", "color=c=navy:s=720x1280", "-frames:v", "1"])
        .arg(&portrait)
        .status()
        .expect("ffmpeg");
    assert!(status.success());
    let image = client.upload_file(&portrait, None).await.expect("upload");
    let audio = client.upload_file(&asset("audio/short-hook.mp3"), None).await.expect("upload");
    let endpoint = EndpointId::parse("fal-ai/kling-video/ai-avatar/v2/standard").expect("endpoint");
    let submitted = client
        .submit(
            &endpoint,
            &json!({"image_url": image.url, "audio_url": audio.url}),
            &SubmitOptions::default(),
        )
        .await
        .expect("submit");
    let handle = RequestHandle::from_submit(client.config(), &endpoint, &submitted).expect("handle");
    client.poll(&handle, &PollOptions::default(), |_| {}).await.expect("poll");
    let output: episodic_fal::wire::AvatarOutput = client.result_as(&handle).await.expect("result");
    let path = dir.path().join("clip.mp4");
    client.download(&output.video.url, &path, output.video.file_size).await.expect("download");
    let info = probe().probe(&path).expect("probe");
    // Standard renders 720p at 30 fps: 720x1280 over scale 4.
    assert_video(&info, 180, 320, 30.0, output.duration);
    assert!(info.audio().is_some());
}
