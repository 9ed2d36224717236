//! Lines longer than their model renders: cut at their pauses, rendered in pieces on the real
//! studio, joined to the line's length; and refused when they have no pause to cut at.

use crate::support::{BENCH_KEY as KEY, Bench, assert_ok, tool};
use episodic_studio::StudioConfig;
use std::path::Path;
use std::process::Command;

/// OmniHuman v1.5 renders 25 fps.
const OMNIHUMAN_FPS: f64 = 25.0;

/// A 45 s "speech" track (a 220 Hz tone at -10 dBFS) with silences at `pauses` (start, end),
/// 48 kHz mono 16-bit WAV: 4.3 MB, under the 5 MB limit.
fn speech(path: &Path, seconds: f64, pauses: &[(f64, f64)], pitch: &str) {
    let silent: Vec<String> = pauses.iter().map(|(start, end)| format!("between(t,{start},{end})")).collect();
    let silent = if silent.is_empty() { "0".to_owned() } else { silent.join("+") };
    let expr = format!("if({silent},0,0.3*sin(2*PI*{pitch}*t))");
    let status = Command::new(tool("ffmpeg").path)
        .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("aevalsrc='{expr}':s=48000:d={seconds}"))
        .args(["-ac", "1", "-c:a", "pcm_s16le"])
        .arg(path)
        .status()
        .expect("run ffmpeg");
    assert!(status.success(), "generate {}", path.display());
}

/// Pauses of the test line: a 1 s pause at 16 s (longer, but far from the even cut at 22.5 s)
/// and a 0.8 s pause at 23.4 s (the one near it): the cut must fall at 23.4 s.
const PAUSES: [(f64, f64); 2] = [(15.5, 16.5), (23.0, 23.8)];

fn long_line_manifest(dir: &Path, model: &str) {
    std::fs::create_dir_all(dir).expect("folder");
    let manifest = format!(
        "episode: long-line\nlayout: solo\ncast:\n  ninja:\n    image: ../assets/characters/ninja.png\n    seat: left\nsegments:\n  - id: monologue\n    speaker: ninja\n    audio: line.wav\n    model: {model}\n"
    );
    std::fs::write(dir.join("episode.yaml"), manifest).expect("manifest");
}

fn render(bench: &Bench) -> std::process::Output {
    let mut command = bench.context().command(["render", "long/episode.yaml"]);
    command.args(["--backend", "fal", "--scale", "8", "--state-dir", ".state"]).envs(bench.fal_env(KEY));
    command.output().expect("run episodic render")
}

#[test]
fn a_45_second_line_renders_on_omnihuman_in_pieces_joined_to_its_length() {
    let bench = Bench::new(StudioConfig::default());
    let dir = bench.root().join("long");
    long_line_manifest(&dir, "omnihuman-v1.5");
    speech(&dir.join("line.wav"), 45.0, &PAUSES, "220");

    // The plan shows the pieces and where the line is cut.
    let plan = bench.context().run(bench.root(), &["plan", "long/episode.yaml", "--json"], &[]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let json: serde_json::Value = serde_json::from_str(&plan.stdout).expect("plan json");
    let nodes = json["nodes"].as_array().expect("nodes");
    let renders: Vec<(&str, f64)> = nodes
        .iter()
        .filter(|node| node["kind"] == "render")
        .map(|node| (node["id"].as_str().expect("id"), node["seconds"].as_f64().expect("seconds")))
        .collect();
    assert_eq!(renders.len(), 2, "{renders:?}");
    assert_eq!(renders[0].0, "render/monologue/speaker.1");
    assert!((renders[0].1 - 23.4).abs() < 1e-3, "cut in the middle of the pause near 22.5 s: {renders:?}");
    assert!((renders[0].1 + renders[1].1 - 45.0).abs() < 1e-9, "the pieces are the whole line: {renders:?}");
    assert!(nodes.iter().any(|node| node["id"] == "join/monologue/speaker" && node["kind"] == "join"));
    let table = bench.context().run(bench.root(), &["plan", "long/episode.yaml"], &[]);
    assert!(
        table.stdout.contains("monologue: 2 pieces (0.00-23.40 s, 23.40-45.00 s), cut at 23.40 s"),
        "{}",
        table.stdout
    );

    let first = render(&bench);
    assert_ok(&first);
    let stats = bench.stats();
    assert_eq!(stats.submits.total, 2, "one render per piece");

    // The joined clip lasts as long as the line, within one frame.
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("out/long-line.report.json")).expect("report"))
            .expect("report json");
    let join_key = report["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|node| node["id"] == "join/monologue/speaker")
        .and_then(|node| node["key"].as_str())
        .expect("join in the report")
        .to_owned();
    let journal = episodic_engine::Journal::open(bench.root().join(".state")).expect("journal");
    let record = journal.artifact(&join_key).expect("read").expect("the join's artifact");
    let joined = bench.root().join(".state").join(record.path);
    let probe = crate::support::probe();
    let (info, video_end) = probe.probe_clip(&joined).expect("probe the joined clip");
    let video_end = video_end.expect("video packets");
    assert!((video_end - 45.0).abs() <= 1.0 / OMNIHUMAN_FPS, "joined video {video_end} s vs 45 s");
    let audio = info.audio().and_then(|audio| audio.duration).expect("joined audio length");
    assert!((audio - 45.0).abs() <= 1.0 / OMNIHUMAN_FPS, "joined audio {audio} s vs 45 s");
    let episode = probe.probe(&dir.join("out/long-line.mp4")).expect("probe the episode");
    let length = episode.duration.expect("episode length");
    assert!((length - 45.0).abs() <= 0.05, "episode {length} s");

    // Unchanged: nothing rendered again.
    assert_ok(&render(&bench));
    assert_eq!(bench.stats().submits.total, 2, "a rerun renders nothing");

    // The line's second half re-recorded: only its piece is rendered again.
    speech(&dir.join("line.wav"), 45.0, &PAUSES, "if(lt(t,23.4),220,330)");
    assert_ok(&render(&bench));
    assert_eq!(bench.stats().submits.total, 3, "only the edited piece is rendered again");
}

#[test]
fn a_long_line_without_a_pause_is_refused_naming_the_stretch_and_a_model_that_takes_it() {
    let bench = Bench::new(StudioConfig::default());
    let dir = bench.root().join("long");
    long_line_manifest(&dir, "omnihuman-v1.5");
    speech(&dir.join("line.wav"), 45.0, &[(6.0, 6.5)], "220");
    let output = bench.context().run(bench.root(), &["validate", "long/episode.yaml"], &[]);
    assert_eq!(output.code, 1, "{}", output.stderr);
    assert!(output.stderr.contains("episodic::no-pause"), "{}", output.stderr);
    // miette wraps long messages, with a gutter on continued lines.
    let flat = output.stderr.split_whitespace().filter(|word| *word != "│").collect::<Vec<_>>().join(" ");
    assert!(flat.contains("the longest stretch without one runs from 6.50 s to 45.00 s (38.50 s)"), "{flat}");
    assert!(flat.contains("use `model: kling-avatar-v2-pro` (up to 60 s)"), "{flat}");
    assert_eq!(bench.stats().submits.total, 0);
}
