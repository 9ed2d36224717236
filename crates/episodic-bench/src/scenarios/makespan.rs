//! Items 1 and 2: an episode of dual-anchor segments against a studio with a fixed render latency,
//! at `--concurrency 40` and 8, compared with its critical path; then the same manifest again.

use crate::context::{Context, count, delta, secs};
use episodic_bench::generate;
use episodic_bench::markdown::{Figure, Section};
use episodic_bench::process::shown;
use episodic_media::{EncodeSettings, Probe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The studio's simulated latency: a queue delay, then a fixed render time.
pub const QUEUE_DELAY: Duration = Duration::from_millis(200);
pub const RENDER_TIME: Duration = Duration::from_secs(2);

/// What later scenarios reuse: the batch and episodic's wall time on it.
pub struct Batch {
    /// The scratch folder with `episode.yaml`, `characters/` and `audio/`.
    pub dir: tempfile::TempDir,
    /// `episodic plan --json` of it.
    pub plan: serde_json::Value,
    /// episodic's wall time at `--concurrency 40`.
    pub wall: Duration,
    /// The command that measured it.
    pub command: String,
}

pub fn run(ctx: &Context) -> (Section, Section, Batch) {
    let segments = if ctx.quick { 6 } else { 20 };
    let dir = tempfile::tempdir().expect("a scratch folder");
    generate::copy_assets(&ctx.assets(), dir.path()).expect("copy the assets");
    let audio = generate::cut_lines(&ctx.ffmpeg.path, dir.path(), segments).expect("cut speech clips");
    let yaml = generate::dual_anchor_yaml("bench-makespan", segments, &audio, "side_by_side");
    generate::write_manifest(dir.path(), "episode.yaml", &yaml).expect("write the manifest");
    let plan = ctx.plan_json(dir.path(), "episode.yaml");
    let renders = count(&plan, "render");
    assert_eq!(renders, 2 * segments, "every segment must have two renders of its own");
    let nodes = plan["nodes"].as_array().map_or(0, Vec::len);

    // --concurrency 40 (all at once), then the rerun on the same studio and state.
    let studio = ctx.studio(QUEUE_DELAY, RENDER_TIME);
    let before = studio.stats();
    let mut c40 = ctx.render_command(
        &studio,
        dir.path(),
        "episode.yaml",
        &["--concurrency", "40", "--state-dir", ".state-c40"],
    );
    let first = ctx.render(&mut c40);
    let after_first = studio.stats();
    let (uploads_first, submits_first) = delta(&before, &after_first);
    let longest = Duration::from_millis(after_first.renders.longest_ms);
    let critical = critical_path(ctx, dir.path(), ".state-c40", "bench-makespan", longest);
    let rerun = ctx.render(&mut c40);
    let (uploads_rerun, submits_rerun) = delta(&after_first, &studio.stats());
    ctx.stop(studio);

    // --concurrency 8: five waves of eight.
    let studio = ctx.studio(QUEUE_DELAY, RENDER_TIME);
    let mut c8 = ctx.render_command(
        &studio,
        dir.path(),
        "episode.yaml",
        &["--concurrency", "8", "--state-dir", ".state-c8"],
    );
    let eight = ctx.render(&mut c8);
    let longest8 = Duration::from_millis(studio.stats().renders.longest_ms);
    ctx.stop(studio);
    let waves = renders.div_ceil(8) as u32;
    // A render's latency alone (the slowest of the run, queue included), times the waves.
    let ideal8 = longest8 * waves + critical.compose + critical.concat;

    let ratio = first.wall.as_secs_f64() / critical.total().as_secs_f64();
    let ratio8 = eight.wall.as_secs_f64() / ideal8.as_secs_f64();
    let latency =
        format!("{} ms queue delay + {} ms render", QUEUE_DELAY.as_millis(), RENDER_TIME.as_millis());
    let makespan = Section {
        title: "1. Makespan against the critical path".into(),
        setup: format!(
            "{segments} dual-anchor segments ({renders} renders of distinct keys, {nodes} nodes) rendered by the \
             release `episodic` with `--backend fal` against the studio in-process ({latency} per request, \
             whatever the clip's length; placeholder clips at `--scale 8`). Wall time is the whole process: \
             start, manifest check with media probing, uploads, renders, downloads, composes, concat, \
             thumbnails and report."
        ),
        commands: vec![
            format!("# studio: StudioConfig {{ queue_delay: {QUEUE_DELAY:?}, fixed_render_time: {RENDER_TIME:?}, scale: 8, concurrency: 256 }}"),
            shown(&c40, dir.path()),
            shown(&c8, dir.path()),
        ],
        figures: vec![
            Figure::info("wall, --concurrency 40", secs(first.wall)),
            Figure::info(
                "critical path: slowest render (studio, submit→done) + a compose + concat",
                format!(
                    "{} = {} + {} + {}",
                    secs(critical.total()),
                    secs(critical.render),
                    secs(critical.compose),
                    secs(critical.concat)
                ),
            ),
            Figure::target("wall / critical path, --concurrency 40", format!("{ratio:.2}"), "≤ 1.10", ratio <= 1.10),
            Figure::info("wall, --concurrency 8", secs(eight.wall)),
            Figure::info(
                "ideal, --concurrency 8: ceil(40/8) × slowest render + compose + concat",
                format!("{} = {waves} × {} + {} + {}", secs(ideal8), secs(longest8), secs(critical.compose), secs(critical.concat)),
            ),
            Figure::target("wall / ideal, --concurrency 8", format!("{ratio8:.2}"), "≤ 1.10", ratio8 <= 1.10),
            Figure::info("uploads, submits (first run)", format!("{uploads_first}, {submits_first}")),
        ],
        notes: vec![
            "The critical path's render is the studio's own longest submit-to-result time in that run \
             (`renders.longest_ms` in its stats), the compose the shortest compose wall time in the run's \
             report (the others include waiting for an ffmpeg slot), and the concat a fresh `episodic_media::concat` of the \
             run's composed segments timed by the harness (no thumbnails)."
                .into(),
            "What the ratio charges episodic with is everything else: process start, probing the inputs, \
             uploads, polling lag, downloads, the other composes (two ffmpeg jobs on two cores), thumbnails, \
             contact sheet, report. Those are seconds, not a share of the render time: with real renders \
             taking minutes the same overhead is a few percent."
                .into(),
        ],
    };
    let share = rerun.wall.as_secs_f64() / first.wall.as_secs_f64();
    let rerun_section = Section {
        title: "2. Rerun of an unchanged manifest".into(),
        setup: "The `--concurrency 40` command again, same state folder, same studio.".into(),
        commands: vec![shown(&c40, dir.path())],
        figures: vec![
            Figure::info("wall, rerun", secs(rerun.wall)),
            Figure::target(
                "rerun wall / first run wall",
                format!("{:.1} %", share * 100.0),
                "≤ 2 %",
                share <= 0.02,
            ),
            Figure::target("uploads on rerun", uploads_rerun.to_string(), "0", uploads_rerun == 0),
            Figure::target("submits on rerun", submits_rerun.to_string(), "0", submits_rerun == 0),
        ],
        notes: vec![],
    };
    let command = shown(&c40, dir.path());
    (makespan, rerun_section, Batch { dir, plan, wall: first.wall, command })
}

/// The parts of the critical path.
struct Critical {
    render: Duration,
    compose: Duration,
    concat: Duration,
}

impl Critical {
    fn total(&self) -> Duration {
        self.render + self.compose + self.concat
    }
}

fn critical_path(ctx: &Context, dir: &Path, state: &str, episode: &str, render: Duration) -> Critical {
    let report_path = dir.join("out").join(format!("{episode}.report.json"));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report_path).expect("the run wrote its report"))
            .expect("report.json is JSON");
    let nodes = report["nodes"].as_array().cloned().unwrap_or_default();
    let wall = |node: &serde_json::Value| node["wall_seconds"].as_f64().unwrap_or(0.0);
    // The fastest compose: the report's walls include waiting for an ffmpeg slot, which a perfect
    // runner would not, so the shortest one is the closest to one compose's own work.
    let compose = nodes
        .iter()
        .filter(|node| node["kind"] == "compose")
        .map(wall)
        .min_by(f64::total_cmp)
        .expect("the report has composes");
    // Concat alone, on the run's own segments, as a perfect runner would do it once at the end.
    let journal = episodic_engine::Journal::open(dir.join(state)).expect("open the run's journal");
    let segments: Vec<PathBuf> = nodes
        .iter()
        .filter(|node| node["kind"] == "compose")
        .map(|node| {
            let key = node["key"].as_str().expect("a compose key");
            let record = journal.artifact(key).expect("read the journal").expect("the compose's artifact");
            dir.join(state).join(record.path)
        })
        .collect();
    let probe = Probe::new(ctx.ffprobe.clone());
    let first = probe.probe(&segments[0]).expect("probe a segment");
    let video = first.video().expect("a segment has video");
    let encode = EncodeSettings::new(
        video.width.unwrap_or_default(),
        video.height.unwrap_or_default(),
        video.fps.map_or(30, |fps| fps.round() as u32),
    );
    let ffmpeg = episodic_media::Ffmpeg::new(ctx.ffmpeg.clone());
    let out = dir.join("concat-floor.mp4");
    let started = Instant::now();
    ctx.runtime
        .block_on(episodic_media::concat(&ffmpeg, &probe, &segments, &encode, &out))
        .expect("concat the run's segments");
    Critical { render, compose: Duration::from_secs_f64(compose), concat: started.elapsed() }
}
