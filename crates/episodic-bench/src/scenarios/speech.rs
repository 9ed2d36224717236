//! Item 11: speech in the DAG. Item 7's batch (dual-anchor segments, one shared listener clip per
//! character, a studio whose latency grows with the clip) written with `line:`s that episodic
//! voices through ElevenLabs' protocol (the studio's, with a realistic latency) before their
//! avatars render; then the same batch from the audio those lines became (pre-voiced). Whether
//! renders start while lines are still being voiced, what speech adds to the makespan, and the
//! makespan against the critical path as item 1 reads it.

use crate::context::{Context, count, secs};
use crate::scenarios::proportional::{PER_SECOND, QUEUE_DELAY};
use episodic_bench::generate;
use episodic_bench::markdown::{Figure, Section};
use episodic_bench::process::{self, Timed, shown};
use episodic_studio::{StatsSnapshot, StudioConfig};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// What the studio's ElevenLabs takes per line before its audio is voiced: ElevenLabs v3 answers a
/// line of this length in roughly 1 to 3 s.
const TTS_LATENCY: Duration = Duration::from_millis(1500);
/// Lines voiced at once: episodic's default `--speech-jobs`, and the studio refuses a fourth
/// (ElevenLabs' Starter plan allows 3).
const SPEECH_JOBS: usize = 3;

fn studio_config() -> StudioConfig {
    StudioConfig {
        key: Some(crate::context::KEY.into()),
        scale: 8,
        queue_delay: QUEUE_DELAY,
        render_time_per_second: PER_SECOND,
        concurrency: 256,
        tts_latency: TTS_LATENCY,
        tts_concurrency: Some(SPEECH_JOBS),
        ..StudioConfig::default()
    }
}

/// One run's `--json` events, with its wall and the studio's counters.
struct Run {
    timed: Timed,
    events: Vec<Value>,
    stats: StatsSnapshot,
    command: String,
}

impl Run {
    fn nodes(&self, event: &'static str, kind: &'static str) -> impl Iterator<Item = &Value> {
        self.events.iter().filter(move |e| e["event"] == event && e["kind"] == kind)
    }

    /// The `wall` of `node`'s `node_finished`.
    fn wall(&self, node: &str) -> f64 {
        self.events
            .iter()
            .find(|e| e["event"] == "node_finished" && e["node"] == node)
            .and_then(|e| e["wall"].as_f64())
            .unwrap_or(0.0)
    }

    fn last(&self, event: &'static str, kind: &'static str) -> Option<(&str, f64)> {
        self.nodes(event, kind)
            .filter_map(|e| Some((e["node"].as_str()?, e["elapsed"].as_f64()?)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }

    fn concat_wall(&self) -> f64 {
        self.nodes("node_finished", "concat").filter_map(|e| e["wall"].as_f64()).fold(0.0, f64::max)
    }
}

fn render(ctx: &Context, dir: &Path, manifest: &str, state: &str) -> Run {
    let studio = ctx.start_studio(studio_config());
    let mut command = Command::new(&ctx.episodic);
    command
        .args(["render", manifest, "--backend", "fal", "--scale", "8", "--concurrency", "40"])
        .args(["--speech-jobs", &SPEECH_JOBS.to_string(), "--state-dir", state, "--json"])
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("EPISODIC_CACHE_DIR", dir.join(".cache"))
        .envs(ctx.fal_env(&studio))
        .env_remove("EPISODIC_STATE_DIR");
    let (timed, lines) = process::run_with_lines(&mut command).expect("run episodic");
    assert!(timed.success, "episodic render failed:\n{}", timed.stderr);
    let stats = studio.stats();
    ctx.stop(studio);
    let events = lines.iter().filter_map(|(_, line)| serde_json::from_str(line).ok()).collect();
    Run { timed, events, stats, command: shown(&command, dir) }
}

pub fn run(ctx: &Context) -> Section {
    let segments = if ctx.quick { 6 } else { 20 };
    let dir = ctx.scratch();
    let dir = dir.path();
    generate::copy_assets(&ctx.assets(), dir).expect("copy the assets");
    let yaml = generate::dual_anchor_lines_yaml("bench-lines", segments, "side_by_side");
    generate::write_manifest(dir, "lines.yaml", &yaml).expect("write the manifest");
    let (plan, _) = ctx.plan_cached(dir, "lines.yaml");
    let speech_nodes = count(&plan, "speech");
    let renders = count(&plan, "render");
    assert_eq!(speech_nodes, segments, "a speech node per line");

    // With speech.
    let lines = render(ctx, dir, "lines.yaml", ".state-lines");
    let voiced = voiced_files(dir, ".state-lines", "bench-lines");
    assert_eq!(voiced.len(), segments, "every line's audio is in the journal");

    // The same batch from the audio the lines became.
    let yaml = generate::dual_anchor_yaml_with("bench-voiced", segments, &voiced, "side_by_side", false);
    generate::write_manifest(dir, "voiced.yaml", &yaml).expect("write the manifest");
    let (voiced_plan, _) = ctx.plan_cached(dir, "voiced.yaml");
    let (_, _) = ctx.plan_cached(dir, "voiced.yaml");
    let listeners = |plan: &Value| -> Vec<String> {
        plan["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|node| {
                node["kind"] == "render" && node["id"].as_str().is_some_and(|id| id.ends_with("/listener"))
            })
            .map(|node| format!("{} {}", node["id"], node["args"]["duration"]))
            .collect()
    };
    assert_eq!(
        count(&voiced_plan, "render"),
        renders,
        "the same renders without the speech: listener clips {:?} against {:?}",
        listeners(&plan),
        listeners(&voiced_plan)
    );
    let pre = render(ctx, dir, "voiced.yaml", ".state-voiced");

    // Overlap: renders waiting on a line against the voicing.
    let (last_line, last_voiced) = lines.last("node_finished", "speech").expect("lines were voiced");
    let first_speech = lines
        .nodes("node_started", "speech")
        .filter_map(|e| e["elapsed"].as_f64())
        .fold(f64::INFINITY, f64::min);
    let speaker_starts: Vec<(&str, f64)> = lines
        .nodes("node_started", "render")
        .filter_map(|e| Some((e["node"].as_str()?, e["elapsed"].as_f64()?)))
        .filter(|(node, _)| node.ends_with("/speaker"))
        .collect();
    let first_speaker = speaker_starts.iter().copied().min_by(|a, b| a.1.total_cmp(&b.1));
    let first_render = lines
        .nodes("node_started", "render")
        .filter_map(|e| e["elapsed"].as_f64())
        .fold(f64::INFINITY, f64::min);
    let speakers_before = speaker_starts.iter().filter(|(_, at)| *at < last_voiced).count();
    let composes_before = lines
        .nodes("node_finished", "compose")
        .filter(|e| e["elapsed"].as_f64().is_some_and(|at| at < last_voiced))
        .count();

    // Critical paths. With speech: SPEECH_JOBS lines at a time, each taking what the first wave's
    // took (a node's `wall` counts from its start, slot wait included, and every line starts at
    // once: the first wave's are the shortest walls), then the last line's chain.
    let mut first_wave: Vec<f64> =
        lines.nodes("node_finished", "speech").filter_map(|e| e["wall"].as_f64()).collect();
    first_wave.sort_by(f64::total_cmp);
    first_wave.truncate(SPEECH_JOBS);
    let per_line = first_wave.iter().sum::<f64>() / first_wave.len().max(1) as f64;
    let waves = segments.div_ceil(SPEECH_JOBS);
    let segment = last_line.rsplit('/').next().unwrap_or_default().to_owned();
    let chain_nodes = [
        format!("upload/speech-{segment}.mp3"),
        format!("render/{segment}/speaker"),
        format!("download/{segment}/speaker"),
        format!("compose/{segment}"),
    ];
    let chain_walls: Vec<(String, f64)> = chain_nodes
        .iter()
        .filter_map(|node| {
            let wall = lines.wall(node);
            (wall > 0.0).then(|| (node.clone(), wall))
        })
        .collect();
    let chain: f64 = chain_walls.iter().map(|(_, wall)| wall).sum::<f64>() + lines.concat_wall();
    let critical_lines = waves as f64 * per_line + chain;
    let lines_wall = lines.timed.wall.as_secs_f64();
    let ratio_lines = lines_wall / critical_lines;
    // Pre-voiced: as item 1, the studio's longest render, then the last segment's compose and concat.
    let longest = pre.stats.renders.longest_ms as f64 / 1000.0;
    let pre_compose = pre.last("node_finished", "compose").map(|(node, _)| pre.wall(node)).unwrap_or(0.0);
    let critical_pre = longest + pre_compose + pre.concat_wall();
    let pre_wall = pre.timed.wall.as_secs_f64();
    let ratio_pre = pre_wall / critical_pre;

    let mut section = Section {
        title: "11. Speech in the DAG: lines voiced, then rendered".into(),
        setup: format!(
            "Item 7's batch ({segments} dual-anchor segments, one shared listener clip per character; {renders} \
             renders) written with a `line:` per segment instead of an audio file (3 to 6 words: 2.5 to 4.5 s of \
             speech, so each listener clip is 5 s whether its length is estimated from the text or measured), the two characters with the ElevenLabs voices the studio knows. episodic voices each line \
             (a `speech` node: ElevenLabs' protocol, served by the studio, which voices with espeak-ng after a \
             latency of {} ms per line, and refuses a {}th request at once as ElevenLabs' Starter plan does), \
             uploads it and renders its avatar; `--speech-jobs {SPEECH_JOBS}` (the default). Then the same batch \
             from the audio files those lines became (copied out of the first run's state: pre-voiced), on a \
             fresh studio and state. Both against item 7's studio (200 ms of queue and 600 ms per second of \
             clip), `--concurrency 40 --json`, at `--scale 8`.",
            TTS_LATENCY.as_millis(),
            SPEECH_JOBS + 1
        ),
        commands: vec![
            format!(
                "# studio: StudioConfig {{ queue_delay: {QUEUE_DELAY:?}, render_time_per_second: {PER_SECOND:?}, scale: 8, concurrency: 256, tts_latency: {TTS_LATENCY:?}, tts_concurrency: Some({SPEECH_JOBS}) }}, fresh for each run"
            ),
            "# ELEVENLABS_API_KEY and EPISODIC_ELEVENLABS_URL point episodic's ElevenLabs at the studio".into(),
            lines.command.clone(),
            "# voiced.yaml: the same segments with `audio:` the files the first run voiced (its journal's speech artifacts); `episodic plan voiced.yaml --json` twice first".into(),
            pre.command.clone(),
        ],
        ..Section::default()
    };
    section.figures = vec![
        Figure::info("wall with speech (lines.yaml)", secs(lines.timed.wall)),
        Figure::info("wall pre-voiced (voiced.yaml)", secs(pre.timed.wall)),
        Figure::info(
            "speech's cost: with / pre-voiced",
            format!("{:.2}× (+{:.2} s)", lines_wall / pre_wall, lines_wall - pre_wall),
        ),
        Figure::target(
            "lines voiced (the studio's `tts.requests`), and refused (`tts.concurrency_limited`)",
            format!("{} of {segments}; {}", lines.stats.tts.requests, lines.stats.tts.concurrency_limited),
            format!("{segments}: each line once"),
            lines.stats.tts.requests == segments as u64,
        ),
        Figure::info(
            "first line started → last line voiced (`speech` nodes' `elapsed`)",
            format!("{first_speech:.2} s → {last_voiced:.2} s ({last_line})"),
        ),
        Figure::info(
            "first render started (a listener clip: needs no line); first speaker render started",
            format!(
                "{first_render:.2} s; {}",
                first_speaker.map_or("none".to_owned(), |(node, at)| format!("{at:.2} s ({node})"))
            ),
        ),
        Figure::target(
            "speaker renders started before the last line was voiced",
            format!("{speakers_before} of {}", speaker_starts.len()),
            "> 0: renders overlap the voicing",
            speakers_before > 0,
        ),
        Figure::info(
            "composes finished before the last line was voiced",
            format!("{composes_before} of {segments}"),
        ),
        Figure::info(
            format!(
                "critical path with speech: ceil({segments}/{SPEECH_JOBS}) waves × a line + the last line's chain + concat"
            ),
            format!(
                "{critical_lines:.2} s = {waves} × {per_line:.2} s + {} + concat {:.2} s",
                chain_walls
                    .iter()
                    .map(|(node, wall)| format!("{node} {wall:.2} s"))
                    .collect::<Vec<_>>()
                    .join(" + "),
                lines.concat_wall()
            ),
        ),
        Figure::target(
            "with speech: wall / critical path",
            format!("{ratio_lines:.2}"),
            "≤ 1.10",
            ratio_lines <= 1.10,
        ),
        Figure::info(
            "critical path pre-voiced: slowest render (studio, submit→done) + the last compose + concat",
            format!("{critical_pre:.2} s = {longest:.2} s + {pre_compose:.2} s + {:.2} s", pre.concat_wall()),
        ),
        Figure::target(
            "pre-voiced: wall / critical path",
            format!("{ratio_pre:.2}"),
            "≤ 1.10",
            ratio_pre <= 1.10,
        ),
        Figure::info(
            "submits with speech; pre-voiced",
            format!("{}; {}", lines.stats.submits.total, pre.stats.submits.total),
        ),
    ];
    section.notes.push(format!(
        "A line's time is the mean of the {SPEECH_JOBS} shortest `speech` walls: every line's node starts at \
         once and its `wall` counts from there, so the first wave's, which got a slot at once, are the \
         shortest; the others include their wait for a slot. It holds the \
         studio's {} ms of latency, espeak-ng's voicing and encoding, and episodic's journaling and probing. No \
         runner held to {SPEECH_JOBS} lines at a time voices the last line sooner than that many waves of it; \
         after it that line still needs its upload, its avatar render, the download and its compose (the \
         walls episodic's events give them in this run), then the concat.",
        TTS_LATENCY.as_millis()
    ));
    section.notes.push(
        "The studio's TTS latency is a setting added for this item (`StudioConfig::tts_latency`): without it \
         the local voicer answers in tens of milliseconds and speech would cost nothing to overlap."
            .into(),
    );
    section
}

/// The audio each line became, copied from the run's state into `dir/audio/voiced-NNN.EXT` in
/// segment order (paths relative to `dir`).
fn voiced_files(dir: &Path, state: &str, episode: &str) -> Vec<String> {
    let report: Value = serde_json::from_slice(
        &std::fs::read(dir.join("out").join(format!("{episode}.report.json"))).expect("the run's report"),
    )
    .expect("report.json is JSON");
    let journal = episodic_engine::Journal::open(dir.join(state)).expect("open the run's journal");
    let mut speech: Vec<(String, String)> = report["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|node| node["kind"] == "speech")
        .filter_map(|node| Some((node["id"].as_str()?.to_owned(), node["key"].as_str()?.to_owned())))
        .collect();
    speech.sort();
    speech
        .iter()
        .enumerate()
        .map(|(index, (_, key))| {
            let record = journal.artifact(key).expect("read the journal").expect("the line's artifact");
            let source = dir.join(state).join(&record.path);
            let ext = source.extension().and_then(|ext| ext.to_str()).unwrap_or("mp3");
            let name = format!("audio/voiced-{index:03}.{ext}");
            std::fs::copy(&source, dir.join(&name)).expect("copy a voiced line");
            name
        })
        .collect()
}
