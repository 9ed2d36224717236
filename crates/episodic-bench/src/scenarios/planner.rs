//! Item 4: parse + validate + plan of generated manifests from 100 to 10,000 segments, each size in a
//! child process of its own so its peak memory is its own; probing of distinct files reported apart.

use crate::context::Context;
use episodic_bench::generate;
use episodic_bench::markdown::{Figure, Section};
use episodic_bench::process;
use episodic_plan::{Plan, PlanOptions};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// The child: check and plan one manifest, print the timings and this process's peak memory.
/// With `facts`, media facts are recalled from (and saved to) that file, as `episodic` does with its
/// cache.
pub fn child(manifest: &Path, facts: Option<&Path>) {
    let catalog = episodic_catalog::Catalog::builtin();
    let ffprobe = episodic_media::locate("ffprobe", None).expect("ffprobe is installed");
    let store = match facts {
        Some(file) => episodic_media::FactStore::open(file.to_path_buf()),
        None => episodic_media::FactStore::in_memory(),
    };
    let probe = episodic_media::Probe::with_facts(ffprobe, std::sync::Arc::new(store));
    let started = Instant::now();
    let checked = episodic_manifest::check(manifest, &catalog, &probe).expect("the manifest loads");
    let checked_at = started.elapsed();
    let episode = checked.episode.unwrap_or_else(|| {
        let errors: Vec<String> =
            checked.problems.iter().filter(|p| p.is_error()).take(3).map(|p| p.message.clone()).collect();
        panic!("the generated manifest has errors: {errors:?}")
    });
    let planning = Instant::now();
    let plan = Plan::build(&episode, &catalog, PlanOptions::default());
    let planned = planning.elapsed();
    let report = json!({
        "check_ms": checked_at.as_secs_f64() * 1000.0,
        "plan_ms": planned.as_secs_f64() * 1000.0,
        "nodes": plan.graph.node_count(),
        "peak_rss_kib": process::own_peak_rss_kib(),
    });
    println!("{report}");
}

struct Measured {
    check_ms: f64,
    plan_ms: f64,
    nodes: u64,
    peak_mb: f64,
}

impl Measured {
    fn total_ms(&self) -> f64 {
        self.check_ms + self.plan_ms
    }
}

fn measure(ctx: &Context, manifest: &Path, facts: Option<&Path>) -> Measured {
    let mut command = Command::new(&ctx.this);
    command.arg("plan-child").arg(manifest);
    if let Some(facts) = facts {
        command.arg(facts);
    }
    let timed = process::run(&mut command).expect("run the planner child");
    assert!(timed.success, "plan-child failed:\n{}", timed.stderr);
    let value: Value = serde_json::from_str(timed.stdout.trim()).expect("the child prints JSON");
    Measured {
        check_ms: value["check_ms"].as_f64().unwrap_or_default(),
        plan_ms: value["plan_ms"].as_f64().unwrap_or_default(),
        nodes: value["nodes"].as_u64().unwrap_or_default(),
        peak_mb: value["peak_rss_kib"].as_f64().unwrap_or_default() / 1024.0,
    }
}

pub fn run(ctx: &Context) -> Section {
    let dir = ctx.scratch();
    generate::copy_assets(&ctx.assets(), dir.path()).expect("copy the assets");
    let shipped: Vec<String> = generate::SHIPPED_AUDIO.iter().map(|name| format!("audio/{name}")).collect();
    let sizes: &[usize] = if ctx.quick { &[100, 1_000] } else { &[100, 1_000, 10_000] };
    let mut figures = Vec::new();
    let mut measured = Vec::new();
    // Probing cached: a first check learns the 9 files into a facts file, as `episodic validate`
    // or `plan` does into its cache; every size then recalls them.
    let facts = dir.path().join(".cache").join("facts-v1.json");
    let warm_up = generate::dual_anchor_yaml("bench-warm-up", 10, &shipped, "side_by_side");
    let warm_up = generate::write_manifest(dir.path(), "warm-up.yaml", &warm_up).expect("write");
    // Facts about a file younger than a clock tick are not kept between processes.
    std::thread::sleep(std::time::Duration::from_millis(50));
    let cold = measure(ctx, &warm_up, Some(&facts));
    for &size in sizes {
        let yaml = generate::dual_anchor_yaml(&format!("bench-scale-{size}"), size, &shipped, "side_by_side");
        let path = generate::write_manifest(dir.path(), &format!("scale-{size}.yaml"), &yaml).expect("write");
        let m = measure(ctx, &path, Some(&facts));
        figures.push(Figure::info(
            format!("{size} segments ({} nodes, {} KB of YAML)", m.nodes, yaml.len() / 1000),
            format!(
                "{:.0} ms (check {:.0} + plan {:.0}), peak RSS {:.0} MB",
                m.total_ms(),
                m.check_ms,
                m.plan_ms,
                m.peak_mb
            ),
        ));
        measured.push((size, m));
    }
    if let (Some((small, first)), Some((big, last))) = (measured.first(), measured.last()) {
        let factor = *big as f64 / *small as f64;
        let time_growth = last.total_ms() / first.total_ms();
        let exponent = time_growth.ln() / factor.ln();
        figures.push(Figure::target(
            format!("{big} segments: check + plan"),
            format!("{:.0} ms", last.total_ms()),
            "< 1 s",
            last.total_ms() < 1000.0,
        ));
        figures.push(Figure::target(
            format!("{big} segments: peak RSS"),
            format!("{:.0} MB", last.peak_mb),
            "< 300 MB",
            last.peak_mb < 300.0,
        ));
        figures.push(Figure::target(
            format!("time growth {small} → {big} segments (×{factor:.0} input)"),
            format!("×{time_growth:.1} (exponent {exponent:.2})"),
            "near linear (exponent ≤ 1.1)",
            exponent <= 1.1,
        ));
        figures.push(Figure::info(
            format!("memory growth {small} → {big} segments"),
            format!(
                "×{:.1} ({:.0} → {:.0} MB; the first includes the process's fixed ~{:.0} MB)",
                last.peak_mb / first.peak_mb,
                first.peak_mb,
                last.peak_mb,
                first.peak_mb
            ),
        ));
    }

    // Probing: the same manifest size with every clip a file of its own, against shared clips.
    let distinct = if ctx.quick { 20 } else { 200 };
    let copies = generate::copy_lines(dir.path(), distinct).expect("copy clips");
    let shared_yaml = generate::dual_anchor_yaml("bench-probe-shared", distinct, &shipped, "side_by_side");
    let shared = generate::write_manifest(dir.path(), "probe-shared.yaml", &shared_yaml).expect("write");
    let distinct_yaml = generate::dual_anchor_yaml("bench-probe-distinct", distinct, &copies, "side_by_side");
    let distinct_path =
        generate::write_manifest(dir.path(), "probe-distinct.yaml", &distinct_yaml).expect("write");
    std::thread::sleep(std::time::Duration::from_millis(50));
    let cached = measure(ctx, &shared, None);
    let probed = measure(ctx, &distinct_path, None);
    let recalled = measure(ctx, &distinct_path, Some(&facts));
    let recalled_again = measure(ctx, &distinct_path, Some(&facts));
    let unique_shared = shipped.len().min(distinct) + 2;
    let unique_distinct = distinct + 2;
    let per_file = (probed.check_ms - cached.check_ms) / (unique_distinct - unique_shared) as f64;
    figures.push(Figure::info(
        format!("check of {distinct} segments: {unique_shared} distinct files vs {unique_distinct}"),
        format!("{:.0} ms vs {:.0} ms", cached.check_ms, probed.check_ms),
    ));
    figures.push(Figure::info(
        format!(
            "probing (read + hash + ffprobe) per distinct file, {} at once",
            std::thread::available_parallelism().map_or(1, usize::from)
        ),
        format!("{per_file:.1} ms"),
    ));
    figures.push(Figure::info(
        "projected: 10,000 segments each with its own clip, first check",
        format!("≈ {:.0} s of probing (per-file cost × 10,000; not run)", per_file * 10.0),
    ));
    figures.push(Figure::info(
        format!("check of {distinct} segments, {unique_distinct} distinct files: empty cache → cached"),
        format!("{:.0} ms → {:.0} ms", recalled.check_ms, recalled_again.check_ms),
    ));
    figures.push(Figure::info(
        "first check of the 9 shared files (10 segments), empty cache",
        format!("{:.0} ms", cold.check_ms),
    ));

    let shown_sizes = sizes.iter().map(usize::to_string).collect::<Vec<_>>().join(" ");
    Section {
        title: "4. Planner scale".into(),
        setup:
            "Generated dual-anchor manifests (every segment a distinct prompt and listener prompt, so every \
                render has its own key; the 7 shipped clips and 2 images reused). Media probing is cached: a \
                first check of a small manifest learns the 9 files into a facts file, as `episodic validate` \
                or `plan` does into episodic's cache, and every size then recalls them (each file is still \
                stat'ed, its head sniffed, and its stamp compared). Each size runs in a child process that \
                times `episodic_manifest::check` (load, parse, validate, recall) and `Plan::build`, and reads \
                its own `VmHWM`. Probing is reported apart, last."
                .into(),
        commands: vec![
            "episodic-bench plan-child $DIR/warm-up.yaml $DIR/.cache/facts-v1.json".into(),
            format!("# for N in {shown_sizes}: generate scale-N.yaml, then"),
            "episodic-bench plan-child $DIR/scale-N.yaml $DIR/.cache/facts-v1.json".into(),
            "# probing: the same 200 segments with 9 distinct files, then 202 (no cache), then 202 twice with it"
                .into(),
        ],
        figures,
        notes: vec![
            "Peak RSS is the child's whole process: the runtime, the catalog and the manifest text included."
                .into(),
        ],
    }
}
