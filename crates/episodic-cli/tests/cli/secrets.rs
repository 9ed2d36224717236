//! The fal key never leaves the process except as the `Authorization` header: not in progress
//! lines, JSON events, the report, the state database (with its WAL and shared-memory files),
//! error messages or help text. Each test uses a key that cannot occur by chance.

use crate::support::{Bench, assert_ok, episodic_with_env};
use episodic_studio::StudioConfig;
use std::path::Path;

const SECRET: &str = "fal-SECRET-8c1e3b-do-not-leak";

/// Every file under `dir` (recursively) that contains `needle` as bytes.
fn files_containing(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return found };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if let Ok(bytes) = std::fs::read(&path)
            && bytes.windows(needle.len()).any(|window| window == needle.as_bytes())
        {
            found.push(path.display().to_string());
        }
    }
    found
}

/// The files under `dir` whose names end in one of `suffixes`.
fn files_named(dir: &Path, suffixes: &[&str]) -> Vec<String> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir").filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if suffixes.iter().any(|suffix| name.ends_with(suffix)) {
            names.push(name);
        }
    }
    names
}

#[test]
fn a_full_render_leaks_the_key_nowhere() {
    let bench = Bench::with_key(StudioConfig::default(), SECRET);
    let output = bench.command(&["--json"]).output().expect("render");
    assert_ok(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stdout.lines().count() > 10, "expected JSON events:\n{stdout}");
    assert!(stdout.lines().all(|line| serde_json::from_str::<serde_json::Value>(line).is_ok()));
    assert!(!stdout.contains(SECRET), "the key is in a JSON event");
    assert!(!stderr.contains(SECRET), "the key is in stderr");

    let state = bench.root().join(".state");
    assert!(state.join("state.sqlite").exists());
    let out = bench.root().join("pipelines/demo/out");
    assert!(out.join("ninja-news-demo.report.json").exists());
    for dir in [&state, &out] {
        let leaks = files_containing(dir, SECRET);
        assert!(leaks.is_empty(), "the key is written in {leaks:?}");
    }

    // The same with the line reporter, and a rerun that reads everything back from the journal.
    let again = bench.command(&[]).output().expect("rerun");
    assert_ok(&again);
    assert!(!String::from_utf8_lossy(&again.stderr).contains(SECRET));
    assert!(!String::from_utf8_lossy(&again.stdout).contains(SECRET));
    // Every file of the database is searched, the WAL and shared memory too when SQLite left them.
    assert!(!files_named(&state, &[".sqlite", "-wal", "-shm"]).is_empty());
    assert!(files_containing(&state, SECRET).is_empty());
}

#[test]
fn a_wrong_key_says_check_fal_key_without_echoing_it() {
    let bench = Bench::with_key(StudioConfig::default(), SECRET);
    let wrong = "fal-WRONG-51d0aa-do-not-echo";
    for extra in [&[][..], &["--json"][..]] {
        let output = bench.command_with_key(extra, wrong).output().expect("render");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(stderr.contains("check FAL_KEY"), "{stderr}");
        for secret in [wrong, SECRET] {
            assert!(!stderr.contains(secret), "a key is in stderr:\n{stderr}");
            assert!(!stdout.contains(secret), "a key is in stdout:\n{stdout}");
        }
        let state = bench.root().join(".state");
        assert!(files_containing(&state, wrong).is_empty(), "the wrong key was written to the state");
    }
    assert!(!bench.output_path().exists());
    assert_eq!(bench.stats().submits.total, 0, "a request with a rejected key was queued");
}

#[test]
fn help_text_never_shows_the_key_from_the_environment() {
    let dir = tempfile::tempdir().expect("temp");
    for args in [&["studio", "--help"][..], &["render", "--help"][..], &["--help"][..]] {
        let output = episodic_with_env(dir.path(), args, &[("FAL_KEY", SECRET)]);
        assert_eq!(output.code, 0, "{args:?}: {}", output.stderr);
        assert!(output.stdout.contains("Usage"), "{args:?}: {}", output.stdout);
        assert!(!output.stdout.contains(SECRET), "{args:?} prints the key:\n{}", output.stdout);
        assert!(!output.stderr.contains(SECRET), "{args:?} prints the key:\n{}", output.stderr);
    }
}

#[test]
fn a_key_that_cannot_be_a_header_is_refused_without_echoing_it() {
    let bench = Bench::with_key(StudioConfig::default(), SECRET);
    let broken = "fal-SECRET-8c1e3b\ndo-not-leak";
    let output = bench.command_with_key(&[], broken).output().expect("render");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("FAL_KEY"), "{stderr}");
    assert!(!stderr.contains("8c1e3b") && !stderr.contains("do-not-leak"), "{stderr}");
    assert_eq!(bench.stats().submits.total + bench.stats().uploads.count, 0);
}
