//! How a render stops: a closed stdout drains it like Ctrl-C, signals escalate (the second kills
//! ffmpeg), and whatever the stop, the next run finds nothing ambiguous and pays nothing twice.

use crate::support::{Bench, assert_ok, demo_plan};
use episodic_studio::StudioConfig;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Polls `condition` until it holds or `limit` passes; whether it held.
fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    condition()
}

/// The pids of `parent`'s children whose command is `name`.
fn children_named(parent: u32, name: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
            // `pid (comm) state ppid …`; comm may hold spaces, so split after its last `)`.
            let Some((head, rest)) = stat.rsplit_once(')') else { return false };
            let comm = head.split_once('(').map(|(_, comm)| comm).unwrap_or_default();
            let ppid = rest.split_whitespace().nth(1).and_then(|ppid| ppid.parse::<u32>().ok());
            comm == name && ppid == Some(parent)
        })
        .collect()
}

/// Whether a process is still running (a zombie waiting to be reaped is not).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat.rsplit_once(')').map(|(_, rest)| rest.trim_start().starts_with('Z')))
        .is_some_and(|zombie| !zombie)
}

fn signal(pid: u32, name: &str) {
    let status = Command::new("kill").args([&format!("-{name}"), &pid.to_string()]).status().expect("kill");
    assert!(status.success());
}

#[test]
fn a_closed_stdout_stops_the_run_like_ctrl_c_and_the_rerun_pays_nothing_twice() {
    let slow = StudioConfig { render_time_per_second: Duration::from_millis(300), ..StudioConfig::default() };
    let bench = Bench::new(slow);
    let (renders, _, _) = demo_plan(bench.root());
    let mut child =
        bench.command(&["--json"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    // Read until a request id is journaled, then go away, as `| head` does.
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let submitted = lines.by_ref().map_while(Result::ok).any(|line| {
        serde_json::from_str::<serde_json::Value>(&line)
            .is_ok_and(|event| event["event"] == "node_progress" && event["request_id"].is_string())
    });
    assert!(submitted, "a render was submitted");
    drop(lines);
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(141), "non-zero, as a closed pipe: {stderr}");
    assert!(stderr.contains("stopped: the output was closed"), "{stderr}");
    assert!(stderr.contains("Run the same command again to resume"), "{stderr}");
    assert!(!bench.output_path().exists(), "the run stopped before the episode");

    let resumed = bench.render(&[]);
    assert_ok(&resumed);
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert!(!stderr.contains("request history"), "nothing was left ambiguous: {stderr}");
    assert_eq!(bench.stats().submits.total, renders, "every render submitted exactly once");
}

#[test]
fn a_second_signal_kills_ffmpeg_and_exits_130_leaving_no_child_behind() {
    let bench = Bench::new(StudioConfig::default());
    // ffmpeg reading its first input at its own frame rate: a compose that lasts seconds, so the
    // signals surely arrive while it runs. `exec` keeps it episodic's own child.
    let wrapper = bench.root().join("slow-ffmpeg");
    std::fs::write(&wrapper, "#!/bin/sh\nexec ffmpeg -re \"$@\"\n").expect("wrapper");
    let made = Command::new("chmod").arg("+x").arg(&wrapper).status().expect("chmod");
    assert!(made.success());
    let mut child = bench
        .command(&[])
        .env("EPISODIC_FFMPEG", &wrapper)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let mut composing = Vec::new();
    assert!(
        eventually(Duration::from_secs(60), || {
            composing = children_named(pid, "ffmpeg");
            !composing.is_empty()
        }),
        "ffmpeg started"
    );

    // The first signal drains: nothing new starts, the running ffmpeg is let finish.
    signal(pid, "INT");
    std::thread::sleep(Duration::from_millis(300));
    assert!(composing.iter().any(|pid| running(*pid)), "the first signal lets ffmpeg run on");
    assert!(child.try_wait().expect("wait").is_none(), "the first signal does not end the run");

    // The second stops everything now.
    signal(pid, "INT");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "episodic exits promptly after the second signal"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(130));
    assert!(
        eventually(Duration::from_secs(5), || composing.iter().all(|pid| !running(*pid))),
        "no ffmpeg outlives episodic"
    );
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr).expect("stderr");
    assert!(stderr.contains("press Ctrl-C again to stop at once"), "{stderr}");
    assert!(stderr.contains("Run the same command again to resume"), "{stderr}");

    // Nothing paid for is paid again, and nothing is ambiguous.
    let submitted = bench.stats().submits.total;
    let resumed = bench.render(&[]);
    assert_ok(&resumed);
    assert_eq!(bench.stats().submits.total, submitted, "the rerun submits nothing: every render was done");
}
