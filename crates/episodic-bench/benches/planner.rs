//! The planner without I/O: parsing and reading a generated manifest's YAML, and building the DAG of
//! an already resolved episode (probing is measured end to end by `episodic-bench`, item 4).

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use episodic_bench::generate;
use episodic_manifest::ManifestSource;
use episodic_plan::{Plan, PlanOptions};
use std::time::Duration;

fn planner(c: &mut Criterion) {
    let assets = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets");
    let dir = tempfile::tempdir().expect("a scratch folder");
    generate::copy_assets(&assets, dir.path()).expect("copy the assets");
    let audio: Vec<String> = generate::SHIPPED_AUDIO.iter().map(|name| format!("audio/{name}")).collect();
    let catalog = episodic_catalog::Catalog::builtin();
    let probe =
        episodic_media::Probe::new(episodic_media::locate("ffprobe", None).expect("ffprobe is installed"));
    let mut group = c.benchmark_group("planner");
    for segments in [100usize, 1_000] {
        let yaml = generate::dual_anchor_yaml("bench-planner", segments, &audio, "side_by_side");
        let source = ManifestSource { display_name: "episode.yaml".into(), text: yaml.clone().into() };
        group.bench_with_input(BenchmarkId::new("read", segments), &source, |b, source| {
            b.iter(|| episodic_manifest::read(source));
        });
        let path = generate::write_manifest(dir.path(), "episode.yaml", &yaml).expect("write");
        let episode = episodic_manifest::check(&path, &catalog, &probe)
            .expect("load")
            .episode
            .expect("the generated manifest is valid");
        group.bench_with_input(BenchmarkId::new("build", segments), &episode, |b, episode| {
            b.iter(|| Plan::build(episode, &catalog, PlanOptions::default()));
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = planner
}
criterion_main!(benches);
