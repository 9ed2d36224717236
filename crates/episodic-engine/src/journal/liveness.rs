//! Is the owner of a claim still alive? The answer decides between waiting for a render (`Busy`)
//! and treating its claim as abandoned (`Ambiguous` or a take-over to re-attach).
//!
//! Two signals, because a state directory can be shared across machines (a network file system)
//! and pids are only meaningful on their own host:
//!
//! - **pid**, same host only: `/proc/<pid>` exists. This needs no `unsafe` (`kill(pid, 0)` would,
//!   and the workspace forbids it). Where `/proc` is missing (macOS, BSDs) only the heartbeat
//!   counts.
//! - **heartbeat**: the run's `heartbeat_at`, refreshed by `Journal::heartbeat`. Older than the
//!   staleness threshold means dead, even when the pid exists: pids get reused, and a process
//!   stopped for minutes behaves like a dead one. Misjudging a live owner as dead is safe: a
//!   `Submitting` claim becomes `Ambiguous` (reported, never resubmitted) and a `Submitted` one is
//!   re-attached (polling is free); the old owner then gets `NotOwner` when it writes.
//!
//! A finished run is dead whatever its pid says.

use std::path::Path;
use std::time::Duration;

use super::record::{Owner, UnixSeconds};

/// How long a run may go without a heartbeat before its claims count as abandoned. The engine
/// heartbeats far more often (every few seconds); two minutes leaves room for a busy disk.
pub const DEFAULT_STALE_AFTER: Duration = Duration::from_secs(120);

/// What the `runs` table says about a claim's owner.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunFacts {
    /// The run finished (its claims are over).
    pub finished: bool,
    /// Its last heartbeat.
    pub heartbeat_at: UnixSeconds,
}

/// Whether `owner` should be treated as alive, judged by the process `observer` (same host: pid).
pub(crate) fn owner_is_alive(
    owner: &Owner,
    observer: &Owner,
    run: Option<RunFacts>,
    now: UnixSeconds,
    stale_after: Duration,
) -> bool {
    let Some(run) = run else {
        // The foreign key makes this impossible; an owner nobody knows cannot be waited for.
        return false;
    };
    if run.finished {
        return false;
    }
    let stale_after = i64::try_from(stale_after.as_secs()).unwrap_or(i64::MAX);
    let fresh = now.saturating_sub(run.heartbeat_at) <= stale_after;
    if owner.host == observer.host
        && let Some(exists) = pid_exists(owner.pid)
    {
        return exists && fresh;
    }
    fresh
}

/// Whether a process with this pid exists on this host; `None` where that cannot be told without
/// `unsafe` (no `/proc`).
pub(crate) fn pid_exists(pid: u32) -> Option<bool> {
    if !Path::new("/proc/self").exists() {
        return None;
    }
    Some(Path::new("/proc").join(pid.to_string()).exists())
}

/// This machine's host name, for `Process::current`; `localhost` when it cannot be read (then all
/// runs look like the same host, and pids decide, which is right on a single machine).
pub(crate) fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .map(|text| text.trim().to_owned())
        .chain(std::env::var("HOSTNAME").ok())
        .find(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::record::RunId;

    fn owner(pid: u32, host: &str) -> Owner {
        Owner { run_id: RunId(1), pid, host: host.to_owned() }
    }

    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    const LIVE: Option<RunFacts> = Some(RunFacts { finished: false, heartbeat_at: 1_000 });

    #[test]
    fn this_process_is_alive_and_a_reaped_child_is_not() {
        assert_eq!(pid_exists(std::process::id()), Some(true));
        assert_eq!(pid_exists(dead_pid()), Some(false));
    }

    #[test]
    fn same_host_is_judged_by_pid_and_heartbeat() {
        let me = owner(std::process::id(), "h");
        let alive = owner_is_alive(&me, &me, LIVE, 1_010, DEFAULT_STALE_AFTER);
        assert!(alive);
        let gone = owner(dead_pid(), "h");
        assert!(!owner_is_alive(&gone, &me, LIVE, 1_010, DEFAULT_STALE_AFTER));
        // A live pid with a stale heartbeat may be a reused pid: dead.
        assert!(!owner_is_alive(&me, &me, LIVE, 1_000 + 121, DEFAULT_STALE_AFTER));
    }

    #[test]
    fn other_hosts_are_judged_by_heartbeat_only() {
        let me = owner(std::process::id(), "here");
        let remote = owner(dead_pid(), "there");
        assert!(owner_is_alive(&remote, &me, LIVE, 1_100, DEFAULT_STALE_AFTER));
        assert!(!owner_is_alive(&remote, &me, LIVE, 1_200, DEFAULT_STALE_AFTER));
    }

    #[test]
    fn finished_or_unknown_runs_are_dead() {
        let me = owner(std::process::id(), "h");
        let finished = Some(RunFacts { finished: true, heartbeat_at: 1_000 });
        assert!(!owner_is_alive(&me, &me, finished, 1_000, DEFAULT_STALE_AFTER));
        assert!(!owner_is_alive(&me, &me, None, 1_000, DEFAULT_STALE_AFTER));
    }

    #[test]
    fn host_name_is_never_empty() {
        assert!(!host_name().is_empty());
    }
}
