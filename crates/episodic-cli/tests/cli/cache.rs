//! `episodic cache ls` and `cache gc` end to end: the real binary renders the demo against the
//! studio, an edit leaves some files unneeded, and gc must free exactly those (measured on the
//! disk), keep a paid clip within its window, and leave a rerun nothing to render.

use crate::support::{Bench, DEMO, assert_ok};
use episodic_studio::StudioConfig;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const BROLL_PROMPT: &str = "A crowd of cheering gamers in a neon-lit arena, confetti falling, slow dolly in.";
const EDITED_PROMPT: &str = "An empty arena after the show, one janitor sweeping confetti.";

/// `episodic cache ARGS --state-dir .state --json` in the bench's root.
fn cache(bench: &Bench, args: &[&str]) -> Value {
    let mut all = vec!["cache"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--state-dir", ".state", "--json"]);
    let output = bench.context().run(bench.root(), &all, &[]);
    assert_eq!(output.code, 0, "{}", output.stderr);
    serde_json::from_str(&output.stdout).expect("cache --json")
}

/// The demo's report.json: node id → (kind, key, cache hit).
fn report(bench: &Bench) -> BTreeMap<String, (String, String, bool)> {
    let path = bench.root().join("pipelines/demo/out/ninja-news-demo.report.json");
    let report: Value = serde_json::from_slice(&std::fs::read(path).expect("report")).expect("json");
    report["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|node| {
            let text = |field: &str| node[field].as_str().expect(field).to_owned();
            (text("id"), (text("kind"), text("key"), node["cache_hit"].as_bool().expect("cache_hit")))
        })
        .collect()
}

/// Every file of the artifact store with its size.
fn disk(bench: &Bench) -> BTreeMap<String, u64> {
    std::fs::read_dir(bench.root().join(".state/artifacts"))
        .expect("artifacts/")
        .map(|entry| entry.expect("entry"))
        .map(|entry| {
            (
                format!("artifacts/{}", entry.file_name().to_string_lossy()),
                entry.metadata().expect("size").len(),
            )
        })
        .collect()
}

fn set_broll_prompt(bench: &Bench, from: &str, to: &str) {
    let manifest = bench.root().join(DEMO);
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    assert!(text.contains(from), "the demo's b-roll prompt moved; update this test");
    std::fs::write(&manifest, text.replace(from, to)).expect("edit");
}

/// Renders the demo, edits its b-roll prompt and renders again; returns the keys of the files
/// only the first version used (its b-roll clip, that segment's compose, the episode's audio and
/// the joined episode), by kind.
fn render_edit_render(bench: &Bench) -> BTreeMap<String, String> {
    assert_ok(&bench.render(&[]));
    let before = report(bench);
    set_broll_prompt(bench, BROLL_PROMPT, EDITED_PROMPT);
    let submits = bench.stats().submits.total;
    assert_ok(&bench.render(&[]));
    assert_eq!(bench.stats().submits.total, submits + 1, "one clip rendered again");
    let after: BTreeSet<String> = report(bench).into_values().map(|(_, key, _)| key).collect();
    let old: BTreeMap<String, String> = before
        .into_values()
        .filter(|(kind, key, _)| !after.contains(key) && kind != "render")
        .map(|(kind, key, _)| (key, kind))
        .collect();
    let kinds: BTreeSet<&str> = old.values().map(String::as_str).collect();
    assert_eq!(kinds, BTreeSet::from(["audio", "compose", "concat", "download"]), "{old:?}");
    old
}

fn keys(files: &Value) -> BTreeSet<String> {
    files
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|file| file["key"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn gc_frees_exactly_what_an_edit_left_unneeded_and_a_rerun_renders_nothing() {
    let bench = Bench::new(StudioConfig::default());
    let old = render_edit_render(&bench);

    // `ls` says the old version's files are the only ones no episode needs.
    let listed = cache(&bench, &["ls", "--older-than", "0"]);
    let files = listed["files"].as_array().expect("files");
    let unneeded: BTreeSet<String> = files
        .iter()
        .filter(|file| file["verdict"] != "needed")
        .map(|file| file["key"].as_str().expect("every file is recorded").to_owned())
        .collect();
    assert_eq!(unneeded, old.keys().cloned().collect::<BTreeSet<_>>());
    for file in files.iter().filter(|file| file["verdict"] == "needed") {
        let need = &file["needed_by"][0];
        assert_eq!(need["episode"], "ninja-news-demo", "{file}");
        assert!(need["node"].as_str().is_some_and(|node| !node.is_empty()));
    }
    assert_eq!(listed["episodes"].as_array().expect("episodes").len(), 1);
    assert!(
        listed["uploads"].as_array().expect("uploads").iter().all(|upload| !upload["needed_by"][0].is_null())
    );

    // A dry run says what gc will do and does nothing.
    let on_disk = disk(&bench);
    let dry = cache(&bench, &["gc", "--older-than", "0", "--dry-run"]);
    assert_eq!(disk(&bench), on_disk, "a dry run removes nothing");
    assert_eq!(keys(&dry["removed"]), unneeded);

    let collected = cache(&bench, &["gc", "--older-than", "0"]);
    assert_eq!(keys(&collected["removed"]), unneeded, "gc removes exactly what no episode needs");
    let left = disk(&bench);
    let vanished: BTreeMap<&String, &u64> =
        on_disk.iter().filter(|(path, _)| !left.contains_key(*path)).collect();
    let freed = collected["freed_bytes"].as_u64().expect("freed_bytes");
    assert_eq!(freed, vanished.values().copied().sum::<u64>(), "the bytes it says it freed left the disk");
    assert_eq!(freed, dry["freed_bytes"], "the dry run said so");
    assert!(freed > 0, "the edited b-roll made new files, so the old ones were freed");
    // Each vanished file was a removed entry's (or its thumbnail); the rest of the disk is intact.
    let removed_paths: BTreeSet<String> = collected["removed"]
        .as_array()
        .expect("removed")
        .iter()
        .filter(|file| file["file_kept"] == false)
        .map(|file| file["path"].as_str().expect("path").to_owned())
        .collect();
    for path in vanished.keys() {
        let owner = path
            .strip_suffix(".thumb.png")
            .map(|stem| format!("{stem}.mp4"))
            .unwrap_or_else(|| (*path).clone());
        assert!(removed_paths.contains(&owner), "{path} vanished but was not removed");
    }
    for path in left.keys() {
        assert!(!removed_paths.contains(path), "{path} should have gone");
    }

    // A rerun finds everything it needs: nothing uploaded, submitted or made again.
    let stats = bench.stats();
    assert_ok(&bench.render(&[]));
    let again = bench.stats();
    assert_eq!((again.uploads.count, again.submits.total), (stats.uploads.count, stats.submits.total));
    let rerun = report(&bench);
    let made: Vec<&String> = rerun.iter().filter(|(_, (_, _, hit))| !hit).map(|(id, _)| id).collect();
    assert!(made.is_empty(), "made again after gc: {made:?}");
    assert_eq!(cache(&bench, &["gc", "--older-than", "0"])["freed_bytes"], 0, "nothing left to free");
}

#[test]
fn gc_never_deletes_a_paid_clip_within_the_window() {
    let bench = Bench::new(StudioConfig::default());
    let old = render_edit_render(&bench);
    let old_clip =
        old.iter().find(|(_, kind)| *kind == "download").map(|(key, _)| key.clone()).expect("old clip");

    // The default window is 30 days: the old clip was paid for minutes ago, so it stays.
    let collected = cache(&bench, &["gc"]);
    let removed = keys(&collected["removed"]);
    let expected: BTreeSet<String> = old.keys().filter(|key| **key != old_clip).cloned().collect();
    assert_eq!(removed, expected, "everything unneeded but the paid clip");
    let kept = collected["kept"].as_array().expect("kept");
    let clip = kept.iter().find(|file| file["key"] == old_clip.as_str()).expect("the paid clip is kept");
    assert_eq!(clip["verdict"], "paid_within_window");
    assert!(clip["paid"]["cost_micros"].as_u64().is_some_and(|cost| cost > 0), "{clip}");
    let clip_path = bench.root().join(".state").join(clip["path"].as_str().expect("path"));
    assert!(clip_path.is_file(), "its file is there");

    // `ls` says why, in words.
    let table = bench.context().run(bench.root(), &["cache", "ls", "--state-dir", ".state"], &[]);
    assert_eq!(table.code, 0, "{}", table.stderr);
    assert!(table.stdout.contains("kept within the 30-day window"), "{}", table.stdout);
    assert!(table.stdout.contains("needed by ninja-news-demo download/crowd-shot/broll"), "{}", table.stdout);

    // Back to the old prompt: the journal has the render and the kept clip is used as it is.
    set_broll_prompt(&bench, EDITED_PROMPT, BROLL_PROMPT);
    let stats = bench.stats();
    assert_ok(&bench.render(&[]));
    assert_eq!(bench.stats().submits.total, stats.submits.total, "nothing paid twice");
    let (_, _, hit) = &report(&bench)["download/crowd-shot/broll"];
    assert!(hit, "the kept clip was reused, not downloaded again");
}
