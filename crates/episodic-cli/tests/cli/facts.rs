//! What episodic remembers of files between runs: a second look at unchanged media runs no
//! ffprobe, and a changed file is probed again (never judged by what it used to be).

use crate::support::{copy_tree, episodic_with_env, repo};
use std::path::Path;

/// An ffprobe that logs each call's target to `log`, then runs the real one.
fn logging_ffprobe(dir: &Path, log: &Path) -> std::path::PathBuf {
    let real = crate::support::tool("ffprobe");
    let script = dir.join("ffprobe");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nfor last; do :; done\necho \"$last\" >> '{}'\nexec '{}' \"$@\"\n",
            log.display(),
            real.path.display()
        ),
    )
    .expect("write the wrapper");
    let mut permissions = std::fs::metadata(&script).expect("stat").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&script, permissions).expect("chmod");
    script
}

fn calls(log: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    std::fs::remove_file(log).ok();
    text.lines().map(str::to_owned).collect()
}

/// The demo in a scratch folder with a logging ffprobe: the folder, the log and the ffprobe.
fn demo_with_logged_probes() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temp");
    let root = dir.path();
    copy_tree(&repo().join("assets"), &root.join("assets"));
    copy_tree(&repo().join("pipelines/demo"), &root.join("pipelines/demo"));
    let log = root.join("probes.log");
    let ffprobe = logging_ffprobe(root, &log);
    // Facts about a file younger than the file system's clock tick are not kept between runs.
    std::thread::sleep(std::time::Duration::from_millis(50));
    (dir, log, ffprobe)
}

#[test]
fn unchanged_media_is_probed_once_across_commands_and_a_changed_file_again() {
    let (dir, log, ffprobe) = demo_with_logged_probes();
    let root = dir.path();
    let cache = root.join("cache");
    let env = [
        ("EPISODIC_FFPROBE", ffprobe.to_str().expect("UTF-8 path")),
        // What is counted is ffprobe runs: the native header readers would answer unseen.
        ("EPISODIC_PROBE", "ffprobe"),
        ("EPISODIC_CACHE_DIR", cache.to_str().expect("UTF-8 path")),
    ];

    let manifest = "pipelines/demo/episode.yaml";
    let first = episodic_with_env(root, &["validate", manifest], &env);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let probed = calls(&log);
    assert!(probed.len() >= 5, "the demo's media are probed: {probed:?}");
    let unique: std::collections::HashSet<_> = probed.iter().collect();
    assert_eq!(unique.len(), probed.len(), "each file is probed once: {probed:?}");
    assert!(cache.join("facts-v1.json").is_file());

    let plan = episodic_with_env(root, &["plan", manifest, "--json"], &env);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert_eq!(calls(&log), Vec::<String>::new(), "plan after validate probes nothing");

    // New speech under an old name: the same size or not, it must be probed and hashed again.
    let speech = root.join("assets/audio/headline.mp3");
    std::fs::copy(root.join("assets/audio/sign-off.mp3"), &speech).expect("replace a clip");
    let again = episodic_with_env(root, &["plan", manifest, "--json"], &env);
    assert_eq!(again.code, 0, "{}", again.stderr);
    let probed = calls(&log);
    assert_eq!(probed.len(), 1, "only the changed file is probed: {probed:?}");
    assert!(probed[0].ends_with("headline.mp3"), "{probed:?}");
    assert_ne!(plan.stdout, again.stdout, "the plan sees the new speech");
}

#[test]
fn the_cache_can_be_turned_off() {
    let (dir, log, ffprobe) = demo_with_logged_probes();
    let root = dir.path();
    let env = [
        ("EPISODIC_FFPROBE", ffprobe.to_str().expect("UTF-8 path")),
        // What is counted is ffprobe runs: the native header readers would answer unseen.
        ("EPISODIC_PROBE", "ffprobe"),
        ("EPISODIC_CACHE_DIR", "off"),
    ];
    for _ in 0..2 {
        let output = episodic_with_env(root, &["validate", "pipelines/demo/episode.yaml"], &env);
        assert_eq!(output.code, 0, "{}", output.stderr);
        assert!(!calls(&log).is_empty(), "without a cache every run probes");
    }
}

#[test]
fn a_cache_folder_that_cannot_be_written_costs_only_probing_again() {
    let (dir, log, ffprobe) = demo_with_logged_probes();
    let root = dir.path();
    // A file where the cache folder should be: nothing can be saved under it.
    let blocked = root.join("not-a-folder");
    std::fs::write(&blocked, b"a file").expect("write");
    let cache = blocked.join("episodic");
    let env = [
        ("EPISODIC_FFPROBE", ffprobe.to_str().expect("UTF-8 path")),
        // What is counted is ffprobe runs: the native header readers would answer unseen.
        ("EPISODIC_PROBE", "ffprobe"),
        ("EPISODIC_CACHE_DIR", cache.to_str().expect("UTF-8 path")),
    ];
    for _ in 0..2 {
        let output = episodic_with_env(root, &["validate", "pipelines/demo/episode.yaml"], &env);
        assert_eq!(output.code, 0, "{}", output.stderr);
        assert!(!calls(&log).is_empty(), "nothing was kept, so every run probes");
    }
    assert_eq!(std::fs::read(&blocked).expect("read"), b"a file", "the file in the way is untouched");
}

#[test]
fn the_demos_media_are_read_without_running_ffprobe() {
    let (dir, log, ffprobe) = demo_with_logged_probes();
    let env = [("EPISODIC_FFPROBE", ffprobe.to_str().expect("UTF-8 path")), ("EPISODIC_CACHE_DIR", "off")];
    let output = episodic_with_env(dir.path(), &["validate", "pipelines/demo/episode.yaml"], &env);
    assert_eq!(output.code, 0, "{}", output.stderr);
    assert_eq!(calls(&log), Vec::<String>::new(), "WAV, MP3 and PNG headers are read natively");
}

#[test]
fn a_render_reads_its_clips_segments_and_audio_without_running_ffprobe() {
    // Every file a render makes or fetches is MP4 or QuickTime (clips, segments, the episode's
    // audio, the episode): their index says what ffprobe would, so none of them starts it. Only
    // a cut download would (its packets are counted), and the studio cuts none here.
    let bench = crate::support::Bench::new(episodic_studio::StudioConfig::default());
    let log = bench.root().join("probes.log");
    let ffprobe = logging_ffprobe(bench.root(), &log);
    let output = bench.command(&[]).env("EPISODIC_FFPROBE", &ffprobe).output().expect("run episodic render");
    crate::support::assert_ok(&output);
    let probed = calls(&log);
    let movies: Vec<&String> = probed
        .iter()
        .filter(|target| [".mp4", ".mov", ".m4a"].iter().any(|ext| target.ends_with(ext)))
        .collect();
    assert_eq!(movies, Vec::<&String>::new(), "MP4 and QuickTime files went to ffprobe");
    assert!(bench.output_path().is_file());
}
