//! The decisions that spend money, end to end against the real studio: the spend breaker, lost
//! submit answers settled from fal's request history, and clips verified before they count.

use crate::support::{Bench, assert_ok, demo_plan};
use episodic_catalog::Usd;
use episodic_studio::{FaultConfig, StudioConfig};
use std::time::Duration;

const AVATAR: &str = "fal-ai/kling-video/ai-avatar/v2/pro";

#[test]
fn out_of_credit_stops_every_submit_lets_renders_at_fal_finish_and_a_rerun_resumes() {
    let studio = StudioConfig {
        balance: Some(Usd::from_dollars(1.0)),
        // Slow enough that every upload is stored before the balance runs out.
        render_time_per_second: Duration::from_millis(300),
        ..StudioConfig::default()
    };
    let mut bench = Bench::new(studio);
    let (renders, _, _) = demo_plan(bench.root());
    let concurrency = 2;
    let output = bench.render(&["--concurrency", &concurrency.to_string()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("out of credit: top up"), "{stderr}");
    assert!(stderr.contains("Run the same command again to resume"), "{stderr}");
    let stats = bench.stats();
    assert!(stats.rejected.out_of_credit >= 1, "the balance ran out: {stats:?}");
    assert!(
        stats.rejected.out_of_credit <= concurrency,
        "refused at most once per slot, not once per remaining render: {stats:?}"
    );
    let paid = stats.submits.total;
    assert!(paid < renders, "{stats:?}");
    assert_eq!(stats.renders.completed, paid, "every render already at fal finished");

    // Topped up: the rerun submits only what was never paid for.
    bench.switch_studio(StudioConfig::default());
    let resumed = bench.render(&[]);
    assert_ok(&resumed);
    assert_eq!(bench.stats().submits.total, renders - paid);
    assert!(bench.output_path().exists());
}

#[test]
fn lost_submit_answers_are_found_in_the_history_or_submitted_again_never_paid_twice() {
    let studio = StudioConfig {
        history_lag: Duration::from_millis(800),
        faults: FaultConfig {
            seed: 1,
            drop_rate: 0.4,
            drop_after_share: 0.5,
            only_paths_containing: Some("ai-avatar/v2/pro".into()),
            ..FaultConfig::default()
        },
        ..StudioConfig::default()
    };
    let bench = Bench::new(studio);
    let output = bench.render(&["--ambiguous-grace", "3"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_ok(&output);
    let stats = bench.stats();
    assert!(stats.faults.answers_lost >= 1, "an answer was lost after queueing: {stats:?}");
    assert!(stats.faults.dropped >= 1, "a submit was dropped before queueing: {stats:?}");
    assert_eq!(stats.submits.by_endpoint.get(AVATAR), Some(&4), "each speaker queued once: {stats:?}");
    assert!(stderr.contains("the answer to its submit was lost"), "the wait is announced: {stderr}");
    assert!(stderr.contains("--resubmit-ambiguous"), "and how to decide now: {stderr}");
    assert!(stderr.contains("found the request in fal's history: re-attached"), "{stderr}");
}

#[test]
fn a_broken_clip_is_reported_by_request_never_composed_and_rerendered_only_on_request() {
    let studio = StudioConfig {
        faults: FaultConfig { seed: 3, truncate_rate: 0.5, ..FaultConfig::default() },
        ..StudioConfig::default()
    };
    let mut bench = Bench::new(studio);
    let (renders, _, _) = demo_plan(bench.root());
    let output = bench.render(&[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let truncated = bench.stats().renders.truncated;
    assert!(truncated >= 1, "the seed cuts some clips");
    // The summary lists each failure once, indented under its episode.
    let broken: Vec<&str> =
        stderr.lines().filter(|line| line.starts_with("    ") && line.contains("is broken")).collect();
    assert_eq!(broken.len() as u64, truncated, "each cut clip is reported once, in the summary: {stderr}");
    for line in &broken {
        assert!(
            line.contains("of render/") && line.contains("(request "),
            "names the render and the request: {line}"
        );
    }
    assert!(stderr.contains("--retry-failed"), "{stderr}");
    assert!(!bench.output_path().exists(), "no episode from broken clips");

    // Without the user's word the failure stands, and nothing is paid again.
    let again = bench.render(&[]);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(bench.stats().submits.total, renders);

    bench.switch_studio(StudioConfig::default());
    let retried = bench.render(&["--retry-failed"]);
    assert_ok(&retried);
    assert_eq!(bench.stats().submits.total, truncated, "only the broken clips are rendered again");
}
