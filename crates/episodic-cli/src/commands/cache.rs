//! `episodic cache ls` and `episodic cache gc`: what the state folder keeps, why, and removing
//! what no journaled episode needs (the rules are in `episodic_engine::disk`).

use super::render::state_error;
use crate::args::{CacheArgs, CacheCommand, CacheScope};
use crate::error::CliError;
use crate::printer::Printer;
use episodic_engine::Journal;
use episodic_engine::disk::{self, CachedFile, Collected, Inventory, Policy, Verdict};
use episodic_engine::journal::{UnixSeconds, now};
use std::fmt::Write;
use std::path::Path;
use std::process::ExitCode;

const DAY: i64 = 86_400;

pub fn run(args: CacheArgs, printer: &Printer) -> Result<ExitCode, CliError> {
    match args.command {
        CacheCommand::Ls(args) => ls(&args.scope, printer),
        CacheCommand::Gc(args) => gc(&args.scope, args.dry_run, printer),
    }
}

/// The journal of an existing state folder; `None` when there is none (nothing is cached, and
/// looking must not create one).
fn open(scope: &CacheScope) -> Result<Option<Journal>, CliError> {
    if !scope.state_dir.exists() {
        return Ok(None);
    }
    // The journal the renders wrote: with a shared one, the folder's own SQLite file holds none of
    // this folder's artifacts, and reading it would take every file for an orphan.
    Journal::open_at(&scope.state_dir, scope.journal.as_deref()).map(Some).map_err(state_error)
}

fn policy(scope: &CacheScope) -> Policy {
    Policy { paid_window_secs: i64::from(scope.older_than) * DAY, now: now() }
}

fn ls(scope: &CacheScope, printer: &Printer) -> Result<ExitCode, CliError> {
    let Some(journal) = open(scope)? else {
        nothing_cached(scope, printer);
        return Ok(ExitCode::SUCCESS);
    };
    let policy = policy(scope);
    let inventory = disk::inventory(&journal, policy).map_err(|err| CliError::Render(err.to_string()))?;
    let text = if scope.json {
        let mut value = serde_json::to_value(&inventory).map_err(|err| CliError::Render(err.to_string()))?;
        value["paid_window_days"] = scope.older_than.into();
        format!("{value:#}\n")
    } else {
        inventory_table(&inventory, scope, policy.now)
    };
    let _ = printer.out(&text);
    Ok(ExitCode::SUCCESS)
}

fn gc(scope: &CacheScope, dry_run: bool, printer: &Printer) -> Result<ExitCode, CliError> {
    let Some(journal) = open(scope)? else {
        nothing_cached(scope, printer);
        return Ok(ExitCode::SUCCESS);
    };
    let policy = policy(scope);
    let collected =
        disk::collect(&journal, policy, dry_run).map_err(|err| CliError::Render(err.to_string()))?;
    let text = if scope.json {
        let mut value = serde_json::to_value(&collected).map_err(|err| CliError::Render(err.to_string()))?;
        value["paid_window_days"] = scope.older_than.into();
        format!("{value:#}\n")
    } else {
        gc_summary(&collected, scope, policy.now)
    };
    let _ = printer.out(&text);
    for error in &collected.errors {
        printer.note(&format!("warning: {error}"));
    }
    Ok(if collected.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::error::exit::FAILURE)
    })
}

fn nothing_cached(scope: &CacheScope, printer: &Printer) {
    printer.note(&format!(
        "no state folder at `{}`: nothing is cached (a render creates it; --state-dir names another)",
        scope.state_dir.display()
    ));
}

fn inventory_table(inventory: &Inventory, scope: &CacheScope, now: UnixSeconds) -> String {
    let mut out = String::new();
    let bytes: u64 = inventory.files.iter().map(|file| file.bytes).sum();
    // A file is named by its content: bytes an unneeded entry shares with a kept one stay.
    let kept: std::collections::HashSet<&Path> = inventory
        .files
        .iter()
        .filter(|file| !file.verdict.removable())
        .map(|file| file.path.as_path())
        .collect();
    let removable: u64 = inventory
        .files
        .iter()
        .filter(|file| file.verdict.removable() && !kept.contains(file.path.as_path()))
        .map(|file| file.bytes)
        .sum();
    let _ = writeln!(
        out,
        "state folder `{}`: {} files, {}; {} removable by `episodic cache gc`",
        scope.state_dir.display(),
        inventory.files.len(),
        human_bytes(bytes),
        human_bytes(removable)
    );
    if !inventory.episodes.is_empty() {
        let _ = writeln!(out, "\nepisodes (what their last run planned is kept)");
        for episode in &inventory.episodes {
            let _ = writeln!(
                out,
                "  {}  {}  planned {} ago",
                episode.episode,
                shown(&episode.output),
                age(now, episode.planned_at)
            );
        }
    }
    if !inventory.files.is_empty() {
        let _ = writeln!(out, "\n{:<8}  {:>10}  {:>6}  {:<22}  why", "kind", "size", "age", "file");
        for file in &inventory.files {
            let _ = writeln!(
                out,
                "{:<8}  {:>10}  {:>6}  {:<22}  {}",
                file.kind,
                human_bytes(file.bytes),
                file.created_at.map(|at| age(now, at)).unwrap_or_default(),
                short_name(&file.path),
                why(file, scope.older_than, now)
            );
        }
    }
    if !inventory.uploads.is_empty() {
        let _ = writeln!(out, "\nuploads (links at fal's storage; nothing on this disk)");
        for upload in &inventory.uploads {
            let expiry = match upload.expires_at {
                Some(at) if at <= now => "expired".to_owned(),
                Some(at) => format!("expires in {}", age(at, now)),
                None => "no known expiry".to_owned(),
            };
            let _ = writeln!(
                out,
                "  {}  {:>10}  {}  {}",
                &upload.sha256[..upload.sha256.len().min(12)],
                human_bytes(upload.bytes),
                expiry,
                needed(&upload.needed_by).unwrap_or_else(|| "no episode needs it".to_owned())
            );
        }
    }
    out
}

fn gc_summary(collected: &Collected, scope: &CacheScope, now: UnixSeconds) -> String {
    let mut out = String::new();
    let verb = if collected.dry_run { "would remove" } else { "removed" };
    for file in &collected.removed {
        let stays = if file.file_kept { "; its bytes stay, kept for another entry" } else { "" };
        let _ = writeln!(
            out,
            "{verb} {:<8} {:>10}  {}  ({}{stays})",
            file.kind,
            human_bytes(file.bytes),
            short_name(&file.path),
            why(file, scope.older_than, now)
        );
    }
    let count = |verdict: Verdict| collected.kept.iter().filter(|file| file.verdict == verdict).count();
    let kept_bytes: u64 = collected.kept.iter().map(|file| file.bytes).sum();
    let _ = writeln!(
        out,
        "{} {} bytes ({}) in {}; kept {} ({}): {} needed by an episode, {} paid for within {} days, {} being written",
        if collected.dry_run { "would free" } else { "freed" },
        collected.freed_bytes,
        human_bytes(collected.freed_bytes),
        files(collected.removed.len()),
        files(collected.kept.len()),
        human_bytes(kept_bytes),
        count(Verdict::Needed),
        count(Verdict::PaidWithinWindow),
        scope.older_than,
        count(Verdict::Recent),
    );
    out
}

/// "1 file", "3 files".
fn files(count: usize) -> String {
    if count == 1 { "1 file".to_owned() } else { format!("{count} files") }
}

/// Why a file is kept or removed, in words.
fn why(file: &CachedFile, window_days: u32, now: UnixSeconds) -> String {
    let missing = if file.missing && file.key.is_some() { " (its file is gone)" } else { "" };
    let reason = match file.verdict {
        Verdict::Needed => needed(&file.needed_by).unwrap_or_default(),
        Verdict::PaidWithinWindow => match file.paid {
            Some(paid) => format!(
                "no episode needs it; the only copy of a {} render from {} ago, kept within the {window_days}-day window",
                episodic_catalog::Usd::from_micros(paid.cost_micros),
                age(now, paid.completed_at)
            ),
            None => format!(
                "no episode needs it; may be a paid clip (recorded before episodic kept origins), kept {window_days} days"
            ),
        },
        Verdict::Recent => "no journal row names it yet: a run may be writing it".to_owned(),
        Verdict::Unneeded => match (file.kind.as_str(), file.paid) {
            ("clip", Some(paid)) if paid.cost_micros > 0 => {
                format!(
                    "no episode needs it; a {} render from {} ago, before the {window_days}-day window",
                    episodic_catalog::Usd::from_micros(paid.cost_micros),
                    age(now, paid.completed_at)
                )
            }
            ("clip", _) => "no episode needs it; its render billed nothing".to_owned(),
            _ => "no episode needs it; made again from kept files for free".to_owned(),
        },
        Verdict::Orphan => "no journal row names it (left by an interrupted run)".to_owned(),
    };
    format!("{reason}{missing}")
}

/// "needed by ep node" (and how many more).
fn needed(needs: &[episodic_engine::journal::Need]) -> Option<String> {
    let first = needs.first()?;
    let more = match needs.len() - 1 {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    Some(format!("needed by {} {}{more}", first.episode, first.node))
}

/// `artifacts/<64 hex>.mp4` as `3f2a9c01b4d7….mp4`.
fn short_name(path: &Path) -> String {
    let name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    match name.split_once('.') {
        Some((stem, ext)) if stem.chars().count() > 12 => {
            format!("{}….{ext}", stem.chars().take(12).collect::<String>())
        }
        _ => name,
    }
}

/// An absolute path under the working folder, shown relative to it.
fn shown(path: &str) -> String {
    let path = Path::new(path);
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(|rel| rel.display().to_string()))
        .unwrap_or_else(|| path.display().to_string())
}

/// How long ago `then` was, roughly: `42 s`, `5 min`, `3 h`, `12 d`.
fn age(now: UnixSeconds, then: UnixSeconds) -> String {
    let secs = now.saturating_sub(then).max(0);
    match secs {
        0..60 => format!("{secs} s"),
        60..3_600 => format!("{} min", secs / 60),
        3_600..DAY => format!("{} h", secs / 3_600),
        _ => format!("{} d", secs / DAY),
    }
}

/// Bytes in binary units with one decimal.
fn human_bytes(bytes: u64) -> String {
    const UNITS: &[&str] = &["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = "B";
    for next in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    format!("{value:.1} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_ages_and_names_read_short() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.0 MiB");
        assert_eq!(age(100, 58), "42 s");
        assert_eq!(age(10 * DAY, 7 * DAY), "3 d");
        assert_eq!(age(0, 10), "0 s", "a clock that went back reads as now");
        assert_eq!(short_name(Path::new("artifacts/0123456789abcdef0123.mp4")), "0123456789ab….mp4");
        assert_eq!(short_name(Path::new("artifacts/short.mp4")), "short.mp4");
    }
}
