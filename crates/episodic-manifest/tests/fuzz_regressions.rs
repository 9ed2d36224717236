//! Replays `tests/fixtures/fuzz/`: inputs from `just fuzz` (crashes it found, and corpus entries
//! that reach the parser's and reader's error paths) through the same steps as the fuzz target.
//! Each must finish quickly, without a panic, with every problem's span inside the text.

use episodic_catalog::Catalog;
use episodic_manifest::ManifestSource;
use episodic_media::{Probe, Tool};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn fuzz_inputs_are_refused_cleanly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/fuzz");
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/fixtures/fuzz")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "no fuzz inputs in {}", dir.display());
    // As in the fuzz target: no media can be found, and ffprobe is never run.
    let probe =
        Probe::new(Tool { name: "ffprobe", path: PathBuf::from("/nonexistent/episodic-fuzz/ffprobe") });
    let catalog = Catalog::builtin();
    for input in inputs {
        let bytes = std::fs::read(&input).expect("read input");
        let Ok(text) = String::from_utf8(bytes) else { continue };
        let started = Instant::now();
        let source = ManifestSource { display_name: "fuzz.yaml".into(), text: Arc::new(text.clone()) };
        let checked = episodic_manifest::check_source(
            source,
            Path::new("/nonexistent/episodic-fuzz/episode.yaml"),
            &catalog,
            &probe,
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{} took {:?}",
            input.display(),
            started.elapsed()
        );
        assert!(checked.has_errors(), "{} should be refused", input.display());
        for problem in &checked.problems {
            if let Some(span) = problem.span {
                let range = span.range();
                assert!(range.end <= text.len(), "{}: span {range:?} past the end", input.display());
                assert!(text.is_char_boundary(range.start) && text.is_char_boundary(range.end));
            }
        }
    }
}
