//! Items 1 and 2: an episode of dual-anchor segments against a studio with a fixed render latency,
//! at `--concurrency 40` and 8, compared with its critical path; then the same manifest again.

use crate::context::{Context, count, delta, secs};
use episodic_bench::generate;
use episodic_bench::markdown::{Figure, Section};
use episodic_bench::process::shown;
use std::path::Path;
use std::time::Duration;

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
    let dir = ctx.scratch();
    generate::copy_assets(&ctx.assets(), dir.path()).expect("copy the assets");
    let audio = generate::cut_lines(&ctx.ffmpeg.path, dir.path(), segments).expect("cut speech clips");
    let yaml = generate::dual_anchor_yaml("bench-makespan", segments, &audio, "side_by_side");
    generate::write_manifest(dir.path(), "episode.yaml", &yaml).expect("write the manifest");
    // `plan` first, as producers do (it shows the cost before anything is spent): the first with
    // an empty cache probes every input, the second recalls them; the renders then start planned.
    let (plan, cold_plan) = ctx.plan_cached(dir.path(), "episode.yaml");
    let (_, warm_plan) = ctx.plan_cached(dir.path(), "episode.yaml");
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
    let last_segment = last_segment(dir.path(), "bench-makespan");
    let rerun = ctx.render(&mut c40);
    let (uploads_rerun, submits_rerun) = delta(&after_first, &studio.stats());
    let critical =
        critical_path(ctx, dir.path(), ".state-c40", "bench-makespan", &last_segment, longest, &mut c40);
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
    let stats8 = studio.stats().renders;
    ctx.stop(studio);
    let waves = renders.div_ceil(8) as u32;
    // A render's latency as the studio served it (the mean of the run, queue included), times the
    // waves: stricter than the slowest, which a wave waits for.
    let mean8 = Duration::from_millis(stats8.total_ms / stats8.completed.max(1));
    let ideal8 = mean8 * waves + critical.compose + critical.concat;

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
             start, manifest check (its media probes recalled from the cache `episodic plan` filled just \
             before, as when a producer plans then renders; the probing itself is the last figure), uploads, \
             renders, downloads, composes, concat, thumbnails and report."
        ),
        commands: vec![
            format!("# studio: StudioConfig {{ queue_delay: {QUEUE_DELAY:?}, fixed_render_time: {RENDER_TIME:?}, scale: 8, concurrency: 256, encoders: one per core }}"),
            "# every command: EPISODIC_CACHE_DIR=$DIR/.cache, empty before the first plan".into(),
            "episodic plan episode.yaml --json   # twice: with the empty cache, then with what it learned".into(),
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
                "ideal, --concurrency 8: ceil(40/8) × mean render latency (studio, submit→done) + compose + concat",
                format!("{} = {waves} × {} + {} + {}", secs(ideal8), secs(mean8), secs(critical.compose), secs(critical.concat)),
            ),
            Figure::target("wall / ideal, --concurrency 8", format!("{ratio8:.2}"), "≤ 1.10", ratio8 <= 1.10),
            Figure::info("uploads, submits (first run)", format!("{uploads_first}, {submits_first}")),
            Figure::info(
                "`episodic plan` before the renders: empty cache (probes every input) → cached",
                format!("{} → {}", secs(cold_plan), secs(warm_plan)),
            ),
        ],
        notes: vec![
            "The critical path's render is the studio's own longest submit-to-result time in that run \
             (`renders.longest_ms` in its stats). Its compose and the concat are what a perfect runner does \
             after that render, with the machine to itself: the harness deletes that segment's compose \
             artifact and the episode's, runs the same command again (renders and downloads are journaled, \
             so nothing else runs), and takes both nodes' wall times from that run's report (the compose \
             draws its thumbnail in the same ffmpeg run; the concat draws the contact sheet while it joins)."
                .into(),
            "What the ratio charges episodic with is everything else: process start, the manifest check, \
             uploads, polling lag, downloads, the other composes (sharing the two cores with the studio's own \
             encoding), report. Those are seconds, not a share of the render time: with real renders taking \
             minutes the same overhead is a fraction of a percent."
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

/// The segment of the render that finished last (at `--concurrency 40` every render starts at
/// once, so the longest wall is the last to finish).
fn last_segment(dir: &Path, episode: &str) -> String {
    let report = report(dir, episode);
    let nodes = report["nodes"].as_array().cloned().unwrap_or_default();
    let last = nodes
        .iter()
        .filter(|node| node["kind"] == "render")
        .max_by(|a, b| wall(a).total_cmp(&wall(b)))
        .expect("the report has renders");
    let id = last["id"].as_str().expect("a node id");
    id.split('/').nth(1).expect("render/<segment>/<role>").to_owned()
}

/// What a perfect runner does after the last render: that segment's compose, then concat, with
/// the machine to itself. Measured by episodic: the harness deletes that compose's artifact and
/// the episode's, reruns the same command (renders and downloads are journaled, so nothing else
/// runs), and reads the two nodes' walls from the run's report.
fn critical_path(
    ctx: &Context,
    dir: &Path,
    state: &str,
    episode: &str,
    segment: &str,
    render: Duration,
    command: &mut std::process::Command,
) -> Critical {
    let compose_id = format!("compose/{segment}");
    let nodes = report(dir, episode)["nodes"].as_array().cloned().unwrap_or_default();
    let key_of = |wanted: &dyn Fn(&serde_json::Value) -> bool| {
        nodes
            .iter()
            .find(|node| wanted(node))
            .and_then(|node| node["key"].as_str())
            .expect("a node key")
            .to_owned()
    };
    let keys = [key_of(&|node| node["id"] == compose_id.as_str()), key_of(&|node| node["kind"] == "concat")];
    {
        let journal = episodic_engine::Journal::open(dir.join(state)).expect("open the run's journal");
        for key in &keys {
            let record = journal.artifact(key).expect("read the journal").expect("the node's artifact");
            std::fs::remove_file(dir.join(state).join(record.path)).expect("delete the artifact");
        }
    }
    ctx.render(command);
    let nodes = report(dir, episode)["nodes"].as_array().cloned().unwrap_or_default();
    let fresh_wall = |key: &str| {
        let node = nodes.iter().find(|node| node["key"] == key).expect("the node ran");
        assert_eq!(node["cache_hit"], false, "{} was made again", node["id"]);
        Duration::from_secs_f64(wall(node))
    };
    Critical { render, compose: fresh_wall(&keys[0]), concat: fresh_wall(&keys[1]) }
}

fn report(dir: &Path, episode: &str) -> serde_json::Value {
    let path = dir.join("out").join(format!("{episode}.report.json"));
    serde_json::from_slice(&std::fs::read(&path).expect("the run wrote its report"))
        .expect("report.json is JSON")
}

fn wall(node: &serde_json::Value) -> f64 {
    node["wall_seconds"].as_f64().unwrap_or(0.0)
}
