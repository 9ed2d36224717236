//! `episodic compare`: one segment on several models against the studio, planned first, clips
//! side by side in `out/<episode>.<segment>.compare.mp4`; renders already journaled are reused,
//! and a model that cannot render the segment is refused alone.

use crate::support::{BENCH_KEY, Bench, DEMO, Output, run_bounded};
use episodic_media::StreamKind;
use episodic_studio::StudioConfig;
use std::time::Duration;

fn compare(bench: &Bench, segment: &str, models: &str) -> Output {
    let mut command = bench.context().command([
        "compare",
        DEMO,
        "--segment",
        segment,
        "--models",
        models,
        "--backend",
        "fal",
        "--scale",
        "8",
        "--state-dir",
        ".state",
    ]);
    command.envs(bench.fal_env(BENCH_KEY));
    run_bounded(&mut command, Duration::from_secs(180)).0
}

#[test]
fn compare_renders_a_segment_per_model_side_by_side_reusing_what_the_journal_has() {
    let bench = Bench::new(StudioConfig::default());
    let output = bench.root().join("pipelines/demo/out/ninja-news-demo.headline.compare.mp4");

    let first = compare(&bench, "headline", "kling-avatar-v2-pro,kling-avatar-v2-standard");
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(first.stdout.matches("will run  new").count(), 2, "{}", first.stdout);
    assert_eq!(bench.stats().submits.total, 2, "one render per model");
    let info = crate::support::probe().probe(&output).expect("probe the comparison");
    let video = info.video().expect("video");
    assert_eq!((video.width, video.height), (Some(480), Some(134)), "two 240x134 clips side by side");
    assert!(info.streams.iter().any(|stream| stream.kind == StreamKind::Audio), "the segment's sound");
    assert!(first.stderr.contains("wrote pipelines/demo/out/ninja-news-demo.headline.compare.mp4: 2 clips"));

    // A third model: the two renders the journal has are reused, one is paid for.
    let second = compare(&bench, "headline", "kling-avatar-v2-pro,kling-avatar-v2-standard,omnihuman-v1.5");
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(second.stdout.matches("done      reused").count(), 2, "{}", second.stdout);
    assert_eq!(bench.stats().submits.total, 3);
    let video = crate::support::probe().probe(&output).expect("probe").video().cloned().expect("video");
    assert_eq!(video.width, Some(720));

    // A model of the wrong kind is refused alone; an unknown segment refuses the command.
    let mixed = compare(&bench, "headline", "kling-i2v-v2.6-pro,kling-avatar-v2-pro");
    assert_eq!(mixed.code, 1, "{}", mixed.stderr);
    assert!(mixed.stderr.contains("kling-i2v-v2.6-pro makes image-to-video clips"), "{}", mixed.stderr);
    assert_eq!(bench.stats().submits.total, 3);
    let unknown = compare(&bench, "head-line", "kling-avatar-v2-pro");
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
    assert!(unknown.stderr.contains("did you mean `headline`?"), "{}", unknown.stderr);
}
