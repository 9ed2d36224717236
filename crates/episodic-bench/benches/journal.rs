//! The journal's cost per node: one render's whole life (claim, request id, result: three
//! `BEGIN IMMEDIATE` commits, the first two with `synchronous=FULL`), and one artifact record, on a
//! file-backed journal in a temporary folder, as the engine uses it.

use criterion::{Criterion, criterion_group, criterion_main};
use episodic_engine::journal::{ArtifactRecord, Claim, Journal, Process, now};
use std::path::PathBuf;
use std::time::Duration;

const ENDPOINT: &str = "fal-ai/kling-video/ai-avatar/v2/pro";

fn journal(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a scratch folder");
    let journal = Journal::open(dir.path()).expect("open a journal");
    let owner = journal.start_run(&Process::current(), &["episode.yaml".to_owned()], now()).expect("a run");
    let result = serde_json::json!({
        "video": { "url": "http://127.0.0.1/files/abc/out.mp4", "content_type": "video/mp4", "file_size": 123456 },
        "duration": 5.04
    });
    let mut group = c.benchmark_group("journal");
    let mut n = 0u64;
    group.bench_function("claim_submit_complete", |b| {
        b.iter(|| {
            n += 1;
            let key = format!("{n:064x}");
            let args = format!(r#"{{"prompt":"line {n}","image_url":{{"$file":"{key}"}}}}"#);
            let claim = journal.claim_render(&key, ENDPOINT, &args, &owner, now()).expect("claim");
            assert_eq!(claim, Claim::Claimed);
            journal.mark_submitted(&key, &owner, &format!("req-{n}"), now()).expect("submitted");
            journal.mark_completed(&key, &owner, &result, 5.04, 579_600, now()).expect("completed");
        });
    });
    let mut m = 0u64;
    group.bench_function("artifact_record", |b| {
        b.iter(|| {
            m += 1;
            let sha = format!("{m:064x}");
            journal
                .record_artifact(&ArtifactRecord {
                    key: format!("compose-{m}"),
                    path: PathBuf::from(format!("artifacts/{sha}.mp4")),
                    sha256: sha,
                    size: 1_000_000,
                    created_at: now(),
                })
                .expect("record");
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    // Short runs: the whole bench suite must fit in minutes on two cores.
    config = Criterion::default().sample_size(20).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    targets = journal
}
criterion_main!(benches);
