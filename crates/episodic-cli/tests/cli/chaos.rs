//! Kill-and-resume trials: the demo renders against a studio with real latency, is killed with
//! SIGKILL at a seeded moment of a chosen phase (uploads, right after a submit, while polling,
//! during downloads, compose or concat), and is run again until it completes. Every trial must end
//! with a valid episode and every render submitted exactly once.
//!
//! `CHAOS_TRIALS` (default 10) and `CHAOS_SEED` set the count and the seed: `just chaos 100`.

use crate::support::{Bench, assert_ok, demo_plan};
use episodic_studio::StudioConfig;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

/// Whether a `--json` event opens a phase.
type Opens = fn(&serde_json::Value) -> bool;

/// The phases a kill lands in, by the event that opens them.
const PHASES: &[(&str, Opens)] = &[
    ("during uploads", |e| e["event"] == "node_finished" && e["kind"] == "upload"),
    ("right after a submit", |e| e["event"] == "node_progress" && e["request_id"].is_string()),
    ("while polling", |e| e["event"] == "node_progress" && e["log"].is_string()),
    ("during downloads", |e| e["event"] == "node_started" && e["kind"] == "download"),
    ("during compose", |e| e["event"] == "node_started" && e["kind"] == "compose"),
    ("during concat", |e| e["event"] == "node_started" && e["kind"] == "concat"),
];

/// A small deterministic generator (SplitMix64), so trials replay from their seed.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Runs the render and SIGKILLs it at the `nth` event of `phase` plus `delay`; false if the run
/// ended before that moment.
fn kill_at(bench: &Bench, phase: usize, nth: u64, delay: Duration) -> bool {
    let mut child = bench
        .command(&["--json", "--ambiguous-grace", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn render");
    let stdout = child.stdout.take().expect("stdout");
    let (reached, wait) = mpsc::channel();
    let matches = PHASES[phase].1;
    std::thread::spawn(move || {
        let mut seen = 0;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
            if matches(&event) {
                seen += 1;
                if seen == nth + 1 {
                    let _ = reached.send(());
                }
            }
        }
    });
    let hit = wait.recv_timeout(Duration::from_secs(60)).is_ok();
    if hit {
        std::thread::sleep(delay);
        let _ = child.kill();
    }
    let _ = child.wait();
    hit
}

#[test]
fn kill_and_resume_trials() {
    let trials: u64 = std::env::var("CHAOS_TRIALS").ok().and_then(|n| n.parse().ok()).unwrap_or(10);
    let seed: u64 = std::env::var("CHAOS_SEED").ok().and_then(|n| n.parse().ok()).unwrap_or(2026);
    let mut rng = Seeded(seed);
    let mut kills = 0;
    for trial in 0..trials {
        let latency =
            StudioConfig { render_time_per_second: Duration::from_millis(150), ..StudioConfig::default() };
        let bench = Bench::new(latency);
        let (renders, _, seconds) = demo_plan(bench.root());
        let phase = (trial as usize) % PHASES.len();
        // There is one concat; other phases have several events to land on.
        let nth = if PHASES[phase].0 == "during concat" { 0 } else { rng.below(4) };
        let delay = Duration::from_millis(rng.below(150));
        let killed = kill_at(&bench, phase, nth, delay);
        kills += u64::from(killed);
        // Run again until done; a second kill is not part of the trial, so one rerun must finish.
        let resumed = bench.render(&["--ambiguous-grace", "0"]);
        assert_ok(&resumed);
        let stats = bench.stats();
        assert_eq!(
            stats.submits.total, renders,
            "trial {trial} (seed {seed}, killed {} at event {nth} + {delay:?}): a render was submitted twice",
            PHASES[phase].0
        );
        let probe = crate::support::probe();
        let info = probe.probe(&bench.output_path()).expect("the episode is a valid MP4");
        assert!(info.video().is_some() && info.audio().is_some());
        let duration = info.duration.expect("duration");
        assert!((duration - seconds).abs() <= 0.1, "trial {trial}: {duration} s vs {seconds} s");
        eprintln!(
            "chaos trial {trial}: killed {} (event {nth} + {} ms): {}; resumed, {} renders submitted once each",
            PHASES[phase].0,
            delay.as_millis(),
            if killed { "killed" } else { "finished first" },
            renders
        );
    }
    eprintln!(
        "chaos: {trials} trials, {kills} kills, every episode completed, no render submitted twice (seed {seed})"
    );
    assert!(kills * 2 >= trials, "most trials should land their kill ({kills} of {trials})");
}
