//! Item 5: what episodic itself spends per node (scheduling, journaling, HTTP, hashing), with a
//! zero-latency studio so the renders cost nothing but the studio's placeholder ffmpeg work.

use crate::context::{Context, count, secs};
use episodic_bench::generate;
use episodic_bench::markdown::{Figure, Section};
use episodic_bench::process::shown;
use std::path::Path;
use std::time::Duration;

pub fn run(ctx: &Context) -> Section {
    let segments = if ctx.quick { 20 } else { 60 };
    let dir = ctx.scratch();
    generate::copy_assets(&ctx.assets(), dir.path()).expect("copy the assets");
    let shipped: Vec<String> = generate::SHIPPED_AUDIO.iter().map(|name| format!("audio/{name}")).collect();
    let yaml = generate::dual_anchor_yaml("bench-overhead", segments, &shipped, "side_by_side");
    generate::write_manifest(dir.path(), "episode.yaml", &yaml).expect("write the manifest");
    let plan = ctx.plan_json(dir.path(), "episode.yaml");
    let nodes = plan["nodes"].as_array().map_or(0, Vec::len);
    let renders = count(&plan, "render");

    let studio = ctx.studio(Duration::ZERO, Duration::ZERO);
    let mut command = ctx.render_command(
        &studio,
        dir.path(),
        "episode.yaml",
        &["--concurrency", "64", "--state-dir", ".state"],
    );
    let timed = ctx.render(&mut command);
    ctx.stop(studio);
    let per_node_cpu = timed.self_cpu.as_secs_f64() * 1000.0 / nodes as f64;
    let per_node_wall = timed.wall.as_secs_f64() * 1000.0 / nodes as f64;

    let mut figures = vec![
        Figure::info("nodes (renders)", format!("{nodes} ({renders})")),
        Figure::info("wall", secs(timed.wall)),
        Figure::info("episodic's own CPU (user + system, ffmpeg and ffprobe excluded)", secs(timed.self_cpu)),
        Figure::target(
            "episodic's own CPU per node",
            format!("{per_node_cpu:.2} ms"),
            "< 5 ms",
            per_node_cpu < 5.0,
        ),
        Figure::info(
            "wall per node (includes the studio's and episodic's ffmpeg work on the same 2 cores)",
            format!("{per_node_wall:.1} ms"),
        ),
    ];
    let mut commands = vec![
        "# studio: StudioConfig { queue_delay: 0, fixed_render_time: 0, render_time_per_second: 0, scale: 8 }".into(),
        shown(&command, dir.path()),
    ];
    match criterion_mean_ns(&ctx.target, "journal/claim_submit_complete") {
        Some(ns) => {
            let ms = ns / 1e6;
            figures.push(Figure::target(
                "journal per render: claim + mark_submitted + mark_completed (3 commits, 2 with fsync)",
                format!("{ms:.3} ms"),
                "< 5 ms",
                ms < 5.0,
            ));
            commands.push("cargo bench -p episodic-bench --bench journal".into());
        }
        None => figures.push(Figure::info(
            "journal per render (criterion)",
            "not measured: run `cargo bench -p episodic-bench --bench journal` first".to_owned(),
        )),
    }
    if let Some(ns) = criterion_mean_ns(&ctx.target, "journal/artifact_record") {
        figures.push(Figure::info(
            "journal per compose/download: record an artifact (1 commit)",
            format!("{:.3} ms", ns / 1e6),
        ));
    }
    Section {
        title: "5. Engine overhead per node".into(),
        setup: format!(
            "{segments} dual-anchor segments against a studio with no latency at all, `--concurrency 64`: \
             every node's cost is then episodic's work plus ffmpeg's. The first figure is the `episodic` \
             process's own CPU time (from `/proc/<pid>/stat`, children excluded) over the plan's nodes: \
             dispatch, journal commits, HTTP, hashing, JSON. The journal figure is the criterion micro-benchmark \
             of one render's journal life on a file-backed journal in WAL mode (fsync included)."
        ),
        commands,
        figures,
        notes: vec![],
    }
}

/// The mean of a criterion benchmark, in nanoseconds, from its last run's `estimates.json`.
pub fn criterion_mean_ns(target: &Path, id: &str) -> Option<f64> {
    let path = target.join("criterion").join(id).join("new/estimates.json");
    let value: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    value["mean"]["point_estimate"].as_f64()
}
