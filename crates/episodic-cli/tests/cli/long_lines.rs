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

/// A 0.5 s pause at 15.75 s (far from the even cut at 22.5 s, but the only one the default rule
/// counts) and a 0.22 s pause at 22.51 s (near it, shorter than the default 0.3 s).
const SHORT_PAUSES: [(f64, f64); 2] = [(15.5, 16.0), (22.4, 22.62)];

/// The speaker renders of a plan, by id, with their lengths.
fn piece_renders(json: &serde_json::Value) -> Vec<(String, f64)> {
    json["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter(|node| node["kind"] == "render")
        .map(|node| (node["id"].as_str().expect("id").to_owned(), node["seconds"].as_f64().expect("seconds")))
        .collect()
}

fn plan_json(bench: &Bench, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["plan", "long/episode.yaml", "--json"];
    args.extend_from_slice(extra);
    let plan = bench.context().run(bench.root(), &args, &[]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    serde_json::from_str(&plan.stdout).expect("plan json")
}

#[test]
fn the_pause_rule_is_the_manifests_per_segment_and_only_a_moved_cut_renders_again() {
    let bench = Bench::new(StudioConfig::default());
    let dir = bench.root().join("long");
    std::fs::create_dir_all(&dir).expect("folder");
    speech(&dir.join("line.wav"), 45.0, &SHORT_PAUSES, "220");
    let manifest = |defaults: &str, own: &str| {
        let text = format!(
            "episode: long-line\nlayout: solo\n{defaults}cast:\n  ninja:\n    image: ../assets/characters/ninja.png\nsegments:\n  - id: monologue\n    speaker: ninja\n    audio: line.wav\n    model: omnihuman-v1.5\n{own}"
        );
        std::fs::write(dir.join("episode.yaml"), text).expect("manifest");
    };

    // The default rule (0.3 s) sees only the far pause.
    manifest("", "");
    let json = plan_json(&bench, &[]);
    let renders = piece_renders(&json);
    assert_eq!(renders.len(), 2, "{renders:?}");
    assert!((renders[0].1 - 15.75).abs() < 0.05, "cut at the only pause of 0.3 s or more: {renders:?}");
    let join =
        json["nodes"].as_array().expect("nodes").iter().find(|node| node["kind"] == "join").expect("join");
    assert_eq!(join["pauses"], serde_json::json!({"quieter_than_db": -35.0, "at_least_seconds": 0.3}));
    assert_ok(&render(&bench));
    assert_eq!(bench.stats().submits.total, 2);

    // A stricter rule that still counts the same pause cuts at the same place: nothing to render.
    manifest("defaults:\n  pauses: { at_least_seconds: 0.25 }\n", "");
    let json = plan_json(&bench, &["--state-dir", ".state"]);
    assert_eq!(json["totals"]["renders_to_run"], 0, "{json:#}");
    assert_ok(&render(&bench));
    assert_eq!(bench.stats().submits.total, 2, "the same cut renders nothing again");

    // The segment's own rule counts the short pause near the even split: the cut moves there,
    // and the plan says which rule and what moved.
    manifest("defaults:\n  pauses: { at_least_seconds: 0.25 }\n", "    pauses: { at_least_seconds: 0.2 }\n");
    let json = plan_json(&bench, &["--state-dir", ".state"]);
    let renders = piece_renders(&json);
    assert!((renders[0].1 - 22.51).abs() < 0.05, "cut in the 0.22 s pause: {renders:?}");
    let nodes = json["nodes"].as_array().expect("nodes");
    let first = nodes.iter().find(|node| node["id"] == "render/monologue/speaker.1").expect("piece 1");
    let reason = first["reason"].as_str().expect("reason");
    assert!(
        reason.contains("audio file line.wav (piece 1 of 2, 0.00-15.7")
            && reason.contains("→ line.wav (piece 1 of 2, 0.00-22.5"),
        "{reason}"
    );
    assert!(reason.contains("pauses at least 0.3 s below -35 dB → at least 0.2 s below -35 dB"), "{reason}");
    let join = nodes.iter().find(|node| node["kind"] == "join").expect("join");
    assert_eq!(join["pauses"], serde_json::json!({"quieter_than_db": -35.0, "at_least_seconds": 0.2}));
    let table = bench.context().run(bench.root(), &["plan", "long/episode.yaml"], &[]);
    assert!(table.stdout.contains("(pauses at least 0.2 s below -35 dB)"), "{}", table.stdout);
    assert_ok(&render(&bench));
    assert_eq!(bench.stats().submits.total, 4, "both pieces moved: both render again");
}

#[test]
fn a_line_whose_pauses_are_short_is_refused_by_default_and_cut_with_a_looser_rule() {
    let bench = Bench::new(StudioConfig::default());
    let dir = bench.root().join("long");
    long_line_manifest(&dir, "omnihuman-v1.5");
    speech(&dir.join("line.wav"), 45.0, &[(22.4, 22.62)], "220");
    let output = bench.context().run(bench.root(), &["validate", "long/episode.yaml"], &[]);
    assert_eq!(output.code, 1, "{}", output.stderr);
    let flat = output.stderr.split_whitespace().filter(|word| *word != "│").collect::<Vec<_>>().join(" ");
    assert!(flat.contains("has no pause (at least 0.3 s below -35 dB) to cut it at"), "{flat}");
    assert!(
        flat.contains(
            "loosen the default pause rule (`pauses: { quieter_than_db: -30, at_least_seconds: 0.2 }`"
        ),
        "{flat}"
    );

    // Two segments on the same recording, each with its own rule, cut differently: one at the
    // short pause, the other (a looser level, same length) refused like the default.
    let manifest = "episode: long-line\nlayout: solo\ncast:\n  ninja:\n    image: ../assets/characters/ninja.png\nsegments:\n  - id: loose\n    speaker: ninja\n    audio: line.wav\n    model: omnihuman-v1.5\n    pauses: { at_least_seconds: 0.2 }\n  - id: strict\n    speaker: ninja\n    audio: line.wav\n    model: omnihuman-v1.5\n    pauses: { quieter_than_db: -30 }\n";
    std::fs::write(dir.join("episode.yaml"), manifest).expect("manifest");
    let output = bench.context().run(bench.root(), &["validate", "long/episode.yaml"], &[]);
    assert_eq!(output.code, 1, "{}", output.stderr);
    let flat = output.stderr.split_whitespace().filter(|word| *word != "│").collect::<Vec<_>>().join(" ");
    assert_eq!(flat.matches("episodic::no-pause").count(), 1, "only `strict` is refused: {flat}");
    assert!(flat.contains("has no pause (at least 0.3 s below -30 dB)"), "{flat}");
    assert!(flat.contains("loosen this segment's pause rule"), "{flat}");

    // On a recording with a longer pause too, the two rules cut at different pauses.
    speech(&dir.join("line.wav"), 45.0, &SHORT_PAUSES, "220");
    std::fs::write(dir.join("episode.yaml"), manifest.replace("    pauses: { quieter_than_db: -30 }\n", ""))
        .expect("manifest");
    let renders = piece_renders(&plan_json(&bench, &[]));
    let lengths: Vec<(&str, f64)> = renders.iter().map(|(id, seconds)| (id.as_str(), *seconds)).collect();
    assert_eq!(lengths.len(), 4, "{lengths:?}");
    assert_eq!(lengths[0].0, "render/loose/speaker.1");
    assert!((lengths[0].1 - 22.51).abs() < 0.05, "`loose` cut in the 0.22 s pause: {lengths:?}");
    assert_eq!(lengths[2].0, "render/strict/speaker.1");
    assert!((lengths[2].1 - 15.75).abs() < 0.05, "`strict` cut in the 0.5 s pause: {lengths:?}");
    assert_eq!(bench.stats().submits.total, 0);
}
