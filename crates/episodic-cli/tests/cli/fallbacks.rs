//! Fallback chains (`model: [first, second]`) against the real studio: a withdrawn endpoint
//! (`gone`, answered 404 as fal answers an unknown app) and a runner that keeps failing hand the
//! render to the next model; the report and the summary say so; a rerun pays nothing; the budget
//! is checked against the dearest model of the chain.

use crate::support::{BENCH_KEY as KEY, Bench, assert_ok};
use episodic_studio::{FaultConfig, StudioConfig};

const OMNIHUMAN: &str = "fal-ai/bytedance/omnihuman/v1.5";
const KLING: &str = "fal-ai/kling-video/ai-avatar/v2/pro";

fn chain_manifest(bench: &Bench, model: &str, budget: Option<&str>) {
    let dir = bench.root().join("chain");
    std::fs::create_dir_all(&dir).expect("folder");
    let budget = budget.map(|budget| format!("budget_usd: {budget}\n")).unwrap_or_default();
    let manifest = format!(
        "episode: chain\nlayout: solo\n{budget}cast:\n  ninja:\n    image: ../assets/characters/ninja.png\n    seat: left\nsegments:\n  - id: hook\n    speaker: ninja\n    audio: ../assets/audio/short-hook.mp3\n    model: {model}\n"
    );
    std::fs::write(dir.join("episode.yaml"), manifest).expect("manifest");
}

fn render(bench: &Bench) -> std::process::Output {
    let mut command = bench.context().command(["render", "chain/episode.yaml"]);
    command.args(["--backend", "fal", "--scale", "8", "--state-dir", ".state"]).envs(bench.fal_env(KEY));
    command.output().expect("run episodic render")
}

fn speaker_report(bench: &Bench) -> serde_json::Value {
    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(bench.root().join("chain/out/chain.report.json")).expect("report"),
    )
    .expect("report json");
    report["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|node| node["id"] == "render/hook/speaker")
        .cloned()
        .expect("the speaker in the report")
}

fn submits(bench: &Bench, endpoint: &str) -> u64 {
    bench.stats().submits.by_endpoint.get(endpoint).copied().unwrap_or(0)
}

#[test]
fn a_withdrawn_first_model_hands_over_to_the_second_and_the_report_says_so() {
    let bench = Bench::new(StudioConfig { gone: vec![OMNIHUMAN.into()], ..StudioConfig::default() });
    chain_manifest(&bench, "[omnihuman-v1.5, kling-avatar-v2-pro]", None);

    let plan = bench.context().run(bench.root(), &["plan", "chain/episode.yaml"], &[]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(
        plan.stdout.contains("render/hook/speaker: omnihuman-v1.5 → kling-avatar-v2-pro"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("  kling-avatar-v2-pro $0.115/s"),
        "the fallback's price is shown: {}",
        plan.stdout
    );

    let first = render(&bench);
    assert_ok(&first);
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(
        stderr.contains(
            "kling-avatar-v2-pro takes over from omnihuman-v1.5 (fal answered 404: the endpoint is withdrawn)"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("render/hook/speaker: rendered by kling-avatar-v2-pro, a fallback"), "{stderr}");
    assert_eq!((submits(&bench, OMNIHUMAN), submits(&bench, KLING)), (0, 1));
    assert_eq!(bench.stats().rejected.not_found, 1, "one 404 for the withdrawn endpoint");
    let speaker = speaker_report(&bench);
    assert_eq!(speaker["model"], "kling-avatar-v2-pro");
    assert!(speaker["fallback"].as_str().is_some_and(|note| note.contains("404")), "{speaker}");
    // The episode is a real clip, not a still.
    let info = crate::support::probe().probe(&bench.root().join("chain/out/chain.mp4")).expect("probe");
    assert!(info.video().is_some() && info.audio().is_some());

    // `plan` reads the same journal rows: the render the fallback made is done, nothing to pay.
    let args = ["plan", "chain/episode.yaml", "--scale", "8", "--state-dir", ".state", "--json"];
    let state = bench.context().run(bench.root(), &args, &[]);
    assert_eq!(state.code, 0, "{}", state.stderr);
    let json: serde_json::Value = serde_json::from_str(&state.stdout).expect("plan json");
    let nodes = json["nodes"].as_array().expect("nodes");
    let node = nodes.iter().find(|node| node["id"] == "render/hook/speaker").expect("speaker render");
    assert_eq!(node["status"], "done", "{node}");
    assert_eq!(json["totals"]["renders_to_run"], 0, "{}", state.stdout);

    // A rerun finds the fallback's render in the journal: nothing is asked of fal, not even the
    // withdrawn endpoint.
    let second = render(&bench);
    assert_ok(&second);
    assert_eq!((submits(&bench, OMNIHUMAN), submits(&bench, KLING)), (0, 1));
    assert_eq!(bench.stats().rejected.not_found, 1);
    let speaker = speaker_report(&bench);
    assert_eq!(speaker["model"], "kling-avatar-v2-pro");
    assert_eq!(speaker["cache_hit"], true);
}

#[test]
fn a_runner_that_keeps_failing_hands_over_after_fallback_after_failures() {
    let failing = StudioConfig {
        faults: FaultConfig {
            render_failure_rate: 1.0,
            only_paths_containing: Some("omnihuman".into()),
            ..FaultConfig::default()
        },
        ..StudioConfig::default()
    };
    let bench = Bench::new(failing);
    chain_manifest(&bench, "[omnihuman-v1.5, kling-avatar-v2-pro]", None);
    let first = render(&bench);
    assert_ok(&first);
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(stderr.contains("(the runner failed the render 2 times)"), "{stderr}");
    assert_eq!((submits(&bench, OMNIHUMAN), submits(&bench, KLING)), (2, 1), "fallback_after defaults to 2");
    assert_eq!(speaker_report(&bench)["model"], "kling-avatar-v2-pro");

    // Rerun: the failures and the fallback's render are journaled; nothing is submitted.
    assert_ok(&render(&bench));
    assert_eq!((submits(&bench, OMNIHUMAN), submits(&bench, KLING)), (2, 1));
}

#[test]
fn the_budget_is_checked_against_the_dearest_model_of_the_chain() {
    let bench = Bench::new(StudioConfig::default());
    // short-hook.mp3 on Kling standard ($0.056/s) fits $1; on OmniHuman ($0.16/s) it does not.
    chain_manifest(&bench, "kling-avatar-v2-standard", Some("1"));
    let alone = bench.context().run(bench.root(), &["plan", "chain/episode.yaml", "--json"], &[]);
    assert_eq!(alone.code, 0, "{}", alone.stderr);
    let json: serde_json::Value = serde_json::from_str(&alone.stdout).expect("plan json");
    let seconds = json["totals"]["seconds"].as_f64().expect("seconds");
    assert!(seconds * 0.056 < 1.0 && seconds * 0.16 > 1.0, "short-hook.mp3 lasts {seconds} s");

    chain_manifest(&bench, "[kling-avatar-v2-standard, omnihuman-v1.5]", Some("1"));
    let chained = bench.context().run(bench.root(), &["plan", "chain/episode.yaml"], &[]);
    assert_eq!(chained.code, 1, "{}", chained.stderr);
    assert!(chained.stderr.contains("episodic::over-budget"), "{}", chained.stderr);
    let render = render(&bench);
    assert!(!render.status.success());
    assert_eq!(
        bench.stats().submits.total,
        0,
        "nothing is paid when the chain may cost more than the budget"
    );
}

#[test]
fn every_model_of_a_chain_is_checked_up_front() {
    let bench = Bench::new(StudioConfig::default());
    chain_manifest(&bench, "[omnihuman-v1.5, kling-i2v-v2.6-pro, kling-avatar-v9]", None);
    let output = bench.context().run(bench.root(), &["validate", "chain/episode.yaml"], &[]);
    assert_eq!(output.code, 1, "{}", output.stderr);
    assert!(output.stderr.contains("episodic::wrong-model-kind"), "{}", output.stderr);
    assert!(output.stderr.contains("episodic::unknown-model"), "{}", output.stderr);
}
