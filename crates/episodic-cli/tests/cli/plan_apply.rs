//! Plan, then apply exactly that plan: `plan --out plan.json`, then `render --plan plan.json`
//! renders what the plan said, and refuses (exit 1, nothing sent to the studio) once the
//! manifest, an input's content or a price moved, naming each.

use crate::plan_state::rewrite_audio;
use crate::support::{Bench, DEMO, Output, run_bounded};
use episodic_studio::StudioConfig;
use serde_json::Value;
use std::time::Duration;

fn plan_out(bench: &Bench, extra: &[&str]) -> Output {
    let mut args =
        vec!["plan", DEMO, "--scale", "8", "--state-dir", ".state", "--out", "plan.json", "--json"];
    args.extend_from_slice(extra);
    let output = bench.context().run(bench.root(), &args, &[]);
    assert_eq!(output.code, 0, "{}", output.stderr);
    output
}

fn render_plan(bench: &Bench, extra: &[&str]) -> Output {
    let mut command = bench.context().command([
        "render",
        "--plan",
        "plan.json",
        "--backend",
        "fal",
        "--state-dir",
        ".state",
    ]);
    command.args(extra).envs(bench.fal_env(crate::support::BENCH_KEY));
    run_bounded(&mut command, Duration::from_secs(180)).0
}

#[test]
fn render_plan_renders_exactly_the_plan_and_refuses_one_that_drifted() {
    let bench = Bench::new(StudioConfig::default());
    let planned: Value = serde_json::from_str(&plan_out(&bench, &[]).stdout).expect("json");
    let saved: Value =
        serde_json::from_slice(&std::fs::read(bench.root().join("plan.json")).expect("plan.json"))
            .expect("json");
    assert_eq!(planned, saved, "--out writes what --json prints");
    assert_eq!(saved["basis"]["choices"]["scale"], 8);

    let first = render_plan(&bench, &[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let stats = bench.stats();
    assert_eq!(stats.submits.total, saved["totals"]["renders_to_run"].as_u64().expect("renders"));
    assert!(bench.output_path().exists());

    // Planned again (everything done), then the manifest, an input and a price move.
    plan_out(&bench, &[]);
    let manifest = bench.root().join(DEMO);
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    std::fs::write(&manifest, text.replace("Start surprised, build to delighted disbelief.", "Start calm."))
        .expect("edit");
    rewrite_audio(&bench.root().join("assets/audio/headline.mp3"));
    std::fs::write(bench.root().join("prices.yaml"), "kling-avatar-v2-pro: { per_second: 0.2 }\n")
        .expect("prices");

    let refused = render_plan(&bench, &["--prices", "prices.yaml"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    bench
        .context()
        .insta_settings()
        .bind(|| insta::assert_snapshot!("drifted_plan_refused", refused.transcript()));
    let after = bench.stats();
    assert_eq!(
        (after.submits.total, after.uploads.count),
        (stats.submits.total, stats.uploads.count),
        "a refused plan sent nothing"
    );

    // A plan made now holds, and renders the two changed clips only.
    plan_out(&bench, &["--prices", "prices.yaml"]);
    let second = render_plan(&bench, &["--prices", "prices.yaml"]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(bench.stats().submits.total, stats.submits.total + 2);
}
