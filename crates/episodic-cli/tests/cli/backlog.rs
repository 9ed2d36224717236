//! A backlog of composes: when the render every segment waits on lands last, the waiting
//! segments are composed in fewer runs of ffmpeg as there are slots, each exactly once.

use crate::support::{Bench, assert_ok, probe};
use episodic_studio::StudioConfig;
use std::time::Duration;

/// The lines between 5 and 10 s long: each needs the 10 s listener clip.
const LINES: [&str; 5] = ["cold-open", "glitch-reaction", "headline", "short-hook", "sign-off"];

/// Five segments, all ninja speaking beside glitch, who listens with the default prompt: one
/// listener clip (10 s, covering every line) every compose waits on.
fn manifest() -> String {
    let mut yaml = String::from(
        "episode: backlog\naspect_ratio: \"16:9\"\nlayout: side_by_side\nbudget_usd: 20\n\
         cast:\n  ninja:\n    image: ../../assets/characters/ninja.png\n    seat: left\n    preset: gaming-news\n\
         \x20 glitch:\n    image: ../../assets/characters/glitch.png\n    seat: right\n    preset: reaction\n\
         segments:\n",
    );
    for line in LINES {
        yaml.push_str(&format!(
            "  - id: {line}\n    speaker: ninja\n    audio: ../../assets/audio/{line}.mp3\n    listener: glitch\n"
        ));
    }
    yaml
}

#[test]
fn segments_waiting_on_one_listener_clip_are_composed_together_each_once() {
    // Latency grows with the clip: the 10 s listener clip lands after every speaker's (5.7-7.6 s).
    let bench = Bench::new(StudioConfig {
        render_time_per_second: Duration::from_millis(300),
        concurrency: 64,
        ..StudioConfig::default()
    });
    let folder = bench.root().join("pipelines/backlog");
    std::fs::create_dir_all(&folder).expect("folder");
    std::fs::write(folder.join("episode.yaml"), manifest()).expect("manifest");
    // An ffmpeg that notes each run's arguments before running.
    let log = bench.root().join("ffmpeg.log");
    let wrapper = bench.root().join("logging-ffmpeg");
    std::fs::write(&wrapper, format!("#!/bin/sh\necho \"$*\" >> '{}'\nexec ffmpeg \"$@\"\n", log.display()))
        .expect("wrapper");
    let mut permissions = std::fs::metadata(&wrapper).expect("stat").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&wrapper, permissions).expect("chmod");

    let mut command = bench.context().command(["render", "pipelines/backlog/episode.yaml"]);
    command
        .args(["--backend", "fal", "--scale", "8", "--state-dir", ".state", "--ffmpeg-jobs", "2"])
        .envs(bench.fal_env(crate::support::BENCH_KEY))
        .env("EPISODIC_FFMPEG", &wrapper);
    let output = command.output().expect("run episodic render");
    assert_ok(&output);
    assert_eq!(bench.stats().submits.total, 6, "five speakers and one shared listener clip");

    let text = std::fs::read_to_string(&log).expect("ffmpeg ran");
    let composes: Vec<usize> =
        text.lines().map(|line| line.matches("hstack=inputs=2").count()).filter(|&n| n > 0).collect();
    assert_eq!(composes.iter().sum::<usize>(), LINES.len(), "each segment composed once: {composes:?}");
    assert!(composes.len() < LINES.len(), "the waiting segments shared runs of ffmpeg: {composes:?}");

    // The episode holds every segment, at its line's length.
    let spoken: f64 = LINES
        .iter()
        .map(|line| {
            let info = probe().probe(&bench.root().join(format!("assets/audio/{line}.mp3"))).expect("probe");
            info.audio_seconds().expect("a length")
        })
        .sum();
    let episode = probe().probe(&folder.join("out/backlog.mp4")).expect("the episode");
    let seconds = episode.video().and_then(|video| video.duration).expect("its length");
    assert!(
        (seconds - spoken).abs() < 0.05 * LINES.len() as f64,
        "{seconds} s of video for {spoken} s of lines"
    );
}
