//! Sharing artifacts between machines: one store for all (S3 on a real moto server), and `--shard`
//! splitting a batch with no coordinator.

use crate::moto::Moto;
use crate::support::{BENCH_KEY, Bench, DEMO, assert_ok, sha256};
use episodic_studio::StudioConfig;
use std::collections::BTreeSet;
use std::process::Command;

/// The kinds of node whose files a shared store holds.
const SHARED_KINDS: [&str; 4] = ["download", "compose", "audio", "concat"];

/// `episodic render` of `manifests` as one machine: its own state and facts cache folders,
/// fal pointed at the bench's studio, JSON events on stdout.
fn machine(bench: &Bench, manifests: &[&str], name: &str, extra: &[&str]) -> Command {
    let mut command = bench.context().command(["render"]);
    command
        .args(manifests)
        .args(["--backend", "fal", "--scale", "8", "--json", "--state-dir", &format!(".state-{name}")])
        .args(extra)
        .env("EPISODIC_CACHE_DIR", bench.root().join(format!("cache-{name}")))
        .envs(bench.fal_env(BENCH_KEY));
    command
}

/// The `node_finished` events of a run: (kind, cache hit).
fn finished(stdout: &[u8]) -> Vec<(String, bool)> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|event| event["event"] == "node_finished")
        .map(|event| (event["kind"].as_str().unwrap_or_default().to_owned(), event["cache_hit"] == true))
        .collect()
}

#[test]
fn a_second_machine_makes_nothing_the_first_made() {
    let moto = Moto::start();
    moto.create_bucket("fleet");
    let bench = Bench::new(StudioConfig::default());
    let store = ["--artifacts", "s3://fleet/nightly"];

    let first = machine(&bench, &[DEMO], "a", &store).envs(moto.settings()).output().unwrap();
    assert_ok(&first);
    let made = finished(&first.stdout);
    for kind in SHARED_KINDS {
        assert!(made.iter().any(|(k, hit)| k == kind && !hit), "machine a made no {kind}: {made:?}");
    }
    let episode = sha256(&bench.output_path());

    let second = machine(&bench, &[DEMO], "b", &store).envs(moto.settings()).output().unwrap();
    assert_ok(&second);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("artifacts are shared through s3://fleet/nightly"), "{stderr}");
    assert!(!stderr.contains("episodic-test-secret"), "a credential leaked: {stderr}");
    let events = finished(&second.stdout);
    for kind in SHARED_KINDS {
        let nodes: Vec<_> = events.iter().filter(|(k, _)| k == kind).collect();
        assert!(!nodes.is_empty(), "machine b ran no {kind}");
        assert!(nodes.iter().all(|(_, hit)| *hit), "machine b made a {kind} again: {events:?}");
    }
    // Its clips came from the store into its own folder, for ffmpeg, and the episode is the
    // same bytes.
    let fetched = std::fs::read_dir(bench.root().join(".state-b/artifacts")).unwrap().count();
    assert!(
        fetched >= made.iter().filter(|(k, _)| SHARED_KINDS.contains(&k.as_str())).count(),
        "{fetched} files"
    );
    assert_eq!(sha256(&bench.output_path()), episode);
}

#[test]
fn shards_of_a_batch_partition_it() {
    let bench = Bench::new(StudioConfig::default());
    let demo = std::fs::read_to_string(bench.root().join(DEMO)).unwrap();
    let ids: Vec<String> = (1..=5).map(|i| format!("shard-ep-{i}")).collect();
    let manifests: Vec<String> = ids
        .iter()
        .map(|id| {
            let path = format!("pipelines/demo/{id}.yaml");
            std::fs::write(
                bench.root().join(&path),
                demo.replace("episode: ninja-news-demo", &format!("episode: {id}")),
            )
            .unwrap();
            path
        })
        .collect();
    let manifests: Vec<&str> = manifests.iter().map(String::as_str).collect();

    let mut taken_by_all = Vec::new();
    for index in 0..3 {
        // One state folder: the episodes share their renders, so later shards reuse them.
        let output =
            machine(&bench, &manifests, "all", &["--shard", &format!("{index}/3")]).output().unwrap();
        assert_ok(&output);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let line = stderr
            .lines()
            .find(|line| line.starts_with(&format!("shard {index}/3: took")))
            .unwrap_or_else(|| panic!("{stderr}"));
        let (took, left) = line.split_once("; left ").unwrap();
        let listed = |text: &str| -> BTreeSet<String> {
            ids.iter().filter(|id| text.contains(id.as_str())).cloned().collect()
        };
        let (took, left) = (listed(took), listed(left));
        assert!(took.is_disjoint(&left), "{line}");
        assert_eq!(took.len() + left.len(), ids.len(), "{line}");
        for id in &ids {
            let written = bench.root().join(format!("pipelines/demo/out/{id}.mp4")).exists();
            if took.contains(id) {
                assert!(written, "shard {index} took {id} but did not write it");
            }
        }
        taken_by_all.extend(took);
    }
    taken_by_all.sort();
    assert_eq!(taken_by_all, ids, "every episode taken by exactly one shard");
}

#[test]
fn the_shard_comes_from_the_indexed_job() {
    let bench = Bench::new(StudioConfig::default());
    let output = machine(&bench, &[DEMO], "k", &["--shard-count", "4"])
        .env("JOB_COMPLETION_INDEX", "7")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", String::from_utf8_lossy(&output.stderr));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("JOB_COMPLETION_INDEX is `7`"), "{stderr}");
}
