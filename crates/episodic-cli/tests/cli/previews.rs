//! Previews: `render --only` and `render --first` render part of the episode to
//! `<episode>.preview.mp4` (never over the episode), a segment cut at N from audio trimmed at a
//! pause; `plan` shows what the preview saves; the full render later reuses every render the
//! previews made of whole segments.

use crate::plan_state::plan;
use crate::support::{Bench, assert_ok};
use episodic_studio::StudioConfig;
use serde_json::Value;

fn plan_json(bench: &Bench, extra: &[&str]) -> Value {
    let mut args = vec!["--json"];
    args.extend_from_slice(extra);
    let output = plan(bench, &args);
    assert_eq!(output.code, 0, "{}", output.stderr);
    serde_json::from_str(&output.stdout).expect("json")
}

fn renders_to_run(plan: &Value) -> u64 {
    plan["totals"]["renders_to_run"].as_u64().expect("renders_to_run")
}

#[test]
fn previews_render_part_of_the_episode_beside_it_and_the_full_render_reuses_them() {
    let bench = Bench::new(StudioConfig::default());
    let preview_path = bench.root().join("pipelines/demo/out/ninja-news-demo.preview.mp4");

    // --only: one segment.
    let only = plan_json(&bench, &["--only", "headline"]);
    assert_eq!(only["preview"]["segments"], serde_json::json!(["headline"]));
    assert_ok(&bench.render(&["--only", "headline"]));
    assert_eq!(bench.stats().submits.total, renders_to_run(&only));
    assert!(preview_path.exists());
    assert!(!bench.output_path().exists(), "a preview was written over the episode");

    // --first 10: the first segment whole, the second cut at a pause near 10 s.
    let first = plan_json(&bench, &["--first", "10"]);
    let preview = &first["preview"];
    assert!(preview["saving_usd"].as_f64().expect("saving") > 0.0);
    assert!(preview["cost_usd"].as_f64() < preview["full_cost_usd"].as_f64());
    let cut = &preview["cut"];
    assert_eq!(cut["segment"], "glitch-reply");
    let seconds = preview["seconds"].as_f64().expect("seconds");
    assert!((seconds - 10.0).abs() < 2.5, "cut near 10 s, at a pause: {seconds}");
    assert!(cut["at"].as_f64() < cut["of"].as_f64());
    let table = plan(&bench, &["--first", "10"]);
    assert!(table.stdout.contains("Preview: 2 of 5 segments"), "{}", table.stdout);

    let before = bench.stats().submits.total;
    assert_ok(&bench.render(&["--first", "10"]));
    assert_eq!(bench.stats().submits.total, before + renders_to_run(&first));
    let duration = crate::support::probe().probe(&preview_path).expect("probe").duration.expect("duration");
    assert!((duration - seconds).abs() < 0.1, "preview {duration} s, planned {seconds} s");
    assert!(!bench.output_path().exists(), "a preview was written over the episode");

    // The full episode pays only for what no preview rendered whole.
    let full = plan_json(&bench, &[]);
    let total = full["totals"]["renders"].as_u64().expect("renders");
    assert!(renders_to_run(&full) < total - 1, "previews' renders are reused");
    let cold_open =
        full["nodes"].as_array().expect("nodes").iter().find(|n| n["id"] == "render/cold-open/speaker");
    assert_eq!(cold_open.expect("cold-open")["status"], "done");
    let before = bench.stats().submits.total;
    assert_ok(&bench.render(&[]));
    assert_eq!(bench.stats().submits.total, before + renders_to_run(&full));
    assert!(bench.output_path().exists());
}

#[test]
fn only_refuses_a_segment_the_episode_does_not_have() {
    let bench = Bench::new(StudioConfig::default());
    let output = plan(&bench, &["--only", "headline,nope"]);
    assert_eq!(output.code, 2);
    assert!(output.stderr.contains("nope") && output.stderr.contains("cold-open"), "{}", output.stderr);
    let render = bench.render(&["--only", "nope"]);
    assert!(!render.status.success());
    assert_eq!(bench.stats().submits.total, 0);
}
