//! Truncated outputs: a render that fal reports as a success whose stored video was cut short.
//! The download matches the announced size, so only probing the clip's packets reveals it.

use crate::support::{KEY, asset, client, config, fast_poll, probe, studio};
use episodic_fal::wire::AvatarOutput;
use episodic_fal::{EndpointId, RequestHandle, SubmitOptions};
use episodic_studio::{FaultConfig, StudioConfig};
use serde_json::json;
use std::path::{Path, PathBuf};

/// Renders one avatar clip on a studio cutting `truncate_rate` of its outputs; returns the
/// downloaded clip and the studio's count of truncated renders.
async fn avatar(truncate_rate: f64, dir: &Path, name: &str) -> (PathBuf, u64, AvatarOutput) {
    let faults = FaultConfig { truncate_rate, ..FaultConfig::default() };
    let studio = studio(StudioConfig { faults, ..config() }).await;
    let client = client(&studio, KEY);
    let image = client.upload_file(&asset("characters/ninja.png"), None).await.expect("upload image");
    let audio = client.upload_file(&asset("audio/glitch-reply.mp3"), None).await.expect("upload audio");
    let endpoint = EndpointId::parse("fal-ai/kling-video/ai-avatar/v2/standard").expect("endpoint");
    let input = json!({"image_url": image.url, "audio_url": audio.url});
    let submitted = client.submit(&endpoint, &input, &SubmitOptions::default()).await.expect("submit");
    let handle = RequestHandle::from_submit(client.config(), &endpoint, &submitted).expect("handle");
    let completion = client.poll(&handle, &fast_poll(), |_| {}).await.expect("poll");
    assert!(completion.error.is_none(), "a truncated render still reports success: {completion:?}");
    let output: AvatarOutput = client.result_as(&handle).await.expect("result");
    let path = dir.join(name);
    let size = client.download(&output.video.url, &path, output.video.file_size).await.expect("download");
    assert_eq!(Some(size), output.video.file_size, "file_size announces what is stored");
    let stats = studio.stats();
    assert_eq!(stats.renders.completed, 1);
    assert!(stats.billed_micros > 0, "billed like any success");
    (path, stats.renders.truncated, output)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_truncated_render_downloads_whole_but_probes_short() {
    let dir = tempfile::tempdir().expect("temp");
    let (whole, whole_cut, _) = avatar(0.0, dir.path(), "whole.mp4").await;
    let (cut, cut_count, output) = avatar(1.0, dir.path(), "cut.mp4").await;
    assert_eq!((whole_cut, cut_count), (0, 1));
    let (whole_size, cut_size) =
        (std::fs::metadata(&whole).expect("whole").len(), std::fs::metadata(&cut).expect("cut").len());
    assert!(cut_size * 2 < whole_size, "cut to about 40 %: {cut_size} of {whole_size} bytes");

    let probe = probe();
    let whole_end = probe.audio_end(&whole).expect("probe whole").expect("audio packets");
    assert!((whole_end - output.duration).abs() < 0.2, "{whole_end} vs {}", output.duration);
    // The index is at the front (faststart), so the header still claims the whole length (here
    // 4.7 s); the packets end early (1.6 s), or ffprobe finds none or gives up on the file.
    if let Ok(Some(end)) = probe.audio_end(&cut) {
        assert!(end < whole_end * 0.7, "cut clip's packets end at {end} s of {whole_end} s");
    }
}
