//! Timing whole processes: wall time, the process's own CPU time and its peak memory, read from
//! `/proc` while it runs (no `unsafe`, no external `time`).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How one process run went.
#[derive(Debug, Clone)]
pub struct Timed {
    /// From spawn to exit.
    pub wall: Duration,
    /// CPU time (user + system) of the process itself, excluding children such as ffmpeg; read
    /// every few milliseconds, so up to one interval of the end is missed.
    pub self_cpu: Duration,
    /// Peak resident memory (`VmHWM`), KiB.
    pub peak_rss_kib: u64,
    /// Whether it exited with 0.
    pub success: bool,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

/// How often `/proc` is read while a process runs.
const SAMPLE: Duration = Duration::from_millis(5);

/// Runs `command` to the end, sampling its CPU time and memory.
pub fn run(command: &mut Command) -> std::io::Result<Timed> {
    run_inner(command, None)
}

/// As [`run`], and also returns each line of standard output with the time it was read, from the
/// spawn: when a child flushes every line (episodic's `--json` does), that is when it wrote it.
pub fn run_with_lines(command: &mut Command) -> std::io::Result<(Timed, Vec<(Duration, String)>)> {
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let timed = run_inner(command, Some(std::sync::Arc::clone(&lines)))?;
    let lines = std::mem::take(&mut *lines.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    Ok((timed, lines))
}

type Lines = std::sync::Arc<std::sync::Mutex<Vec<(Duration, String)>>>;

fn run_inner(command: &mut Command, lines: Option<Lines>) -> std::io::Result<Timed> {
    let ticks = clock_ticks();
    let started = Instant::now();
    let mut child = command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    // Pipes are drained on threads so a chatty child never blocks on a full pipe.
    let stdout = match lines {
        Some(lines) => child.stdout.take().map(|pipe| drain_lines(pipe, started, lines)),
        None => child.stdout.take().map(drain),
    };
    let stderr = child.stderr.take().map(drain);
    let stat = format!("/proc/{}/stat", child.id());
    let status_path = format!("/proc/{}/status", child.id());
    let (mut cpu_ticks, mut peak) = (0u64, 0u64);
    let status = loop {
        if let Some(ticks) = std::fs::read_to_string(&stat).ok().and_then(|text| self_ticks(&text)) {
            cpu_ticks = cpu_ticks.max(ticks);
        }
        if let Some(kib) = std::fs::read_to_string(&status_path).ok().and_then(|text| vm_hwm_kib(&text)) {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(SAMPLE);
    };
    let wall = started.elapsed();
    let join = |handle: Option<std::thread::JoinHandle<String>>| {
        handle.and_then(|handle| handle.join().ok()).unwrap_or_default()
    };
    Ok(Timed {
        wall,
        self_cpu: Duration::from_secs_f64(cpu_ticks as f64 / ticks),
        peak_rss_kib: peak,
        success: status.success(),
        stdout: join(stdout),
        stderr: join(stderr),
    })
}

/// Reads `pipe` line by line, noting when each line arrived; returns the whole text too.
fn drain_lines(
    pipe: impl std::io::Read + Send + 'static,
    started: Instant,
    lines: Lines,
) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        use std::io::BufRead;
        let mut reader = std::io::BufReader::new(pipe);
        let mut text = String::new();
        let mut line = Vec::new();
        while reader.read_until(b'\n', &mut line).is_ok_and(|read| read > 0) {
            let at = started.elapsed();
            let decoded = String::from_utf8_lossy(&line).into_owned();
            text.push_str(&decoded);
            if let Ok(mut lines) = lines.lock() {
                lines.push((at, decoded.trim_end().to_owned()));
            }
            line.clear();
        }
        text
    })
}

fn drain(mut pipe: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = pipe.read_to_end(&mut text);
        String::from_utf8_lossy(&text).into_owned()
    })
}

/// `utime + stime` of a `/proc/<pid>/stat` line, in clock ticks (fields 14 and 15; the command
/// name in parentheses may hold spaces, so fields are counted after its closing parenthesis).
pub fn self_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12 here.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// `VmHWM` of a `/proc/<pid>/status` text, KiB.
pub fn vm_hwm_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The peak resident memory of this process, KiB.
pub fn own_peak_rss_kib() -> Option<u64> {
    vm_hwm_kib(&std::fs::read_to_string("/proc/self/status").ok()?)
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on every Linux this runs on).
fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8_lossy(&out.stdout).trim().parse::<f64>().ok())
        .filter(|ticks| *ticks > 0.0)
        .unwrap_or(100.0)
}

/// A command line as a reader would type it, with `dir` shown as `$DIR`.
pub fn shown(command: &Command, dir: &Path) -> String {
    let dir = dir.to_string_lossy();
    let program = Path::new(command.get_program())
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut line = program;
    for arg in command.get_args() {
        let arg = arg.to_string_lossy().replace(dir.as_ref(), "$DIR");
        line.push(' ');
        if arg.contains([' ', '"', '\'']) {
            line.push_str(&format!("'{arg}'"));
        } else {
            line.push_str(&arg);
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_fields_are_read() {
        let stat = "1234 (tokio (x) 1) S 1 1234 1234 0 -1 4194560 100 0 0 0 57 13 0 0 20 0 4 0 1 2 3";
        assert_eq!(self_ticks(stat), Some(70));
        assert_eq!(vm_hwm_kib("Name:\tx\nVmHWM:\t  51200 kB\nVmRSS:\t 100 kB\n"), Some(51_200));
        assert!(own_peak_rss_kib().is_some_and(|kib| kib > 0));
    }

    #[test]
    fn a_process_is_timed() {
        let timed = run(Command::new("sh").args(["-c", "echo out; echo err >&2"])).expect("sh runs");
        assert!(timed.success);
        assert_eq!(timed.stdout, "out\n");
        assert_eq!(timed.stderr, "err\n");
        assert!(timed.wall > Duration::ZERO);
    }

    #[test]
    fn lines_are_timed_as_they_come() {
        let (timed, lines) = run_with_lines(Command::new("sh").args(["-c", "echo one; sleep 0.2; echo two"]))
            .expect("sh runs");
        assert_eq!(timed.stdout, "one\ntwo\n");
        let texts: Vec<&str> = lines.iter().map(|(_, text)| text.as_str()).collect();
        assert_eq!(texts, ["one", "two"]);
        assert!(lines[1].0 >= lines[0].0 + Duration::from_millis(150), "{lines:?}");
    }
}
