//! Arbitrary bytes through everything a manifest meets before a plan: UTF-8 decoding, the YAML
//! parser and its budgets, the reader, resolution against a folder that does not exist (so no
//! media is found and ffprobe is never run), and miette's rendering of every problem's span.
//! Any panic, or a span outside the text, is a bug.

#![no_main]

use episodic_catalog::Catalog;
use episodic_manifest::{ManifestSource, Problem};
use episodic_media::{Probe, Tool};
use libfuzzer_sys::fuzz_target;
use miette::{GraphicalReportHandler, GraphicalTheme};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

fn fixtures() -> &'static (Catalog, Probe) {
    static FIXTURES: OnceLock<(Catalog, Probe)> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        // A path that is not a program: if a manifest named an existing file by an absolute path,
        // probing it fails with a problem instead of running anything.
        let tool = Tool { name: "ffprobe", path: PathBuf::from("/nonexistent/episodic-fuzz/ffprobe") };
        (Catalog::builtin(), Probe::new(tool))
    })
}

fn check_spans(text: &str, problems: &[Problem]) {
    for problem in problems {
        if let Some(span) = problem.span {
            let range = span.range();
            assert!(
                range.end <= text.len(),
                "span {range:?} past the end ({} bytes): {}",
                text.len(),
                problem.message
            );
            assert!(
                text.is_char_boundary(range.start) && text.is_char_boundary(range.end),
                "span {range:?} splits a character"
            );
        }
    }
}

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else { return };
    let (catalog, probe) = fixtures();
    let source = ManifestSource { display_name: "fuzz.yaml".into(), text: Arc::new(text.to_owned()) };
    let path = Path::new("/nonexistent/episodic-fuzz/episode.yaml");
    let checked = episodic_manifest::check_source(source, path, catalog, probe);
    check_spans(text, &checked.problems);
    let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor()).with_width(100);
    for problem in checked.problems.iter().take(20) {
        let mut out = String::new();
        let _ = handler.render_report(&mut out, &problem.diagnostic(&checked.source));
    }
});
