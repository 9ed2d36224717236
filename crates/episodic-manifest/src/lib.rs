//! The `episode.yaml` manifest: read it, resolve it into an [`Episode`], and explain every problem.
//!
//! Three stages hand typed products forward: [`yaml::parse`] (text to a spanned tree), `read`
//! (tree to [`Manifest`], schema problems), `resolve` ([`Manifest`] to [`Episode`], cross-references
//! and media). Every stage collects problems instead of stopping at the first, and every problem
//! points at the YAML it is about. This crate never prints; [`Problem::diagnostic`] hands problems
//! to miette.

mod episode;
mod inputs;
mod manifest;
mod problem;
pub mod prompt;
mod read;
mod resolve;
mod speech;
mod split;
pub mod yaml;

pub use episode::{
    Broll, Captions, CastMember, Dialogue, Episode, Line, Listener, MediaFile, Segment, SegmentKind, Speech,
    Voice, VoiceSettings,
};
pub use manifest::{
    BrollEntry, CaptionStyle, CaptionsEntry, CastEntry, Defaults, Layout, Manifest, PausesEntry, PromptSpec,
    Seat, SegmentEntry, VoiceEntry,
};
pub use problem::{ManifestSource, Problem, ProblemDiagnostic, Severity, Span, Spanned};
pub use split::{PauseRule, SpeechPiece, Splitter};

use episodic_catalog::Catalog;
use episodic_media::Probe;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Manifests larger than this are refused before parsing: a real one is a few kilobytes, and a
/// 10,000-segment one is about 2 MB. The parsed tree takes several times the text's size, so a
/// cap well above any real manifest still keeps memory and time bounded (a 16 MB one parses in
/// about a second).
pub const MAX_MANIFEST_BYTES: u64 = 16 * 1024 * 1024;

/// The outcome of checking one manifest.
#[derive(Debug)]
pub struct Checked {
    /// The text, for rendering problems.
    pub source: ManifestSource,
    /// The resolved episode, when there were no errors.
    pub episode: Option<Episode>,
    /// Every error and warning, in the order found.
    pub problems: Vec<Problem>,
}

impl Checked {
    /// Whether any problem is an error.
    pub fn has_errors(&self) -> bool {
        self.problems.iter().any(Problem::is_error)
    }
}

/// Reads the manifest file: a problem (with no span) when it cannot be read as UTF-8 text.
pub fn load(path: &Path) -> Result<ManifestSource, Problem> {
    let display_name = path.display().to_string();
    let unreadable = |message: String, help: &str| {
        Err(Problem::error("unreadable-manifest", message).with_help(help.to_owned()))
    };
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(err) => {
            let (message, help) = describe_open_error(path, &display_name, &err);
            return unreadable(message, &help);
        }
    };
    if metadata.is_dir() {
        let hint = path.join("episode.yaml");
        return unreadable(
            format!("`{display_name}` is a folder, not a manifest"),
            &format!("name the manifest file itself, e.g. `{}`", hint.display()),
        );
    }
    // A FIFO would block the read until some writer appears, and a device such as /dev/zero
    // never ends: only a regular file has a size to check and an end to reach.
    if !metadata.is_file() {
        return unreadable(
            format!("`{display_name}` is not a regular file (a pipe, socket or device)"),
            "save the manifest to a file and name that file",
        );
    }
    let too_large = |size: u64| {
        unreadable(
            format!(
                "`{display_name}` is {} MB; manifests are at most {} MB",
                size / 1_000_000,
                MAX_MANIFEST_BYTES / 1024 / 1024
            ),
            "split the episode into several manifests; `episodic render a.yaml b.yaml` renders them together",
        )
    };
    if metadata.len() > MAX_MANIFEST_BYTES {
        return too_large(metadata.len());
    }
    // The file may grow after the size check; never read more than the cap allows.
    let mut bytes = Vec::new();
    let read = std::fs::File::open(path).and_then(|file| {
        std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_MANIFEST_BYTES + 1), &mut bytes)
    });
    if let Err(err) = read {
        let (message, help) = describe_open_error(path, &display_name, &err);
        return unreadable(message, &help);
    }
    if bytes.len() as u64 > MAX_MANIFEST_BYTES {
        return too_large(bytes.len() as u64);
    }
    // A UTF-8 byte-order mark is legal YAML but confuses spans; drop it.
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").map(<[u8]>::to_vec).unwrap_or(bytes);
    if bytes.starts_with(b"\xff\xfe") || bytes.starts_with(b"\xfe\xff") {
        return unreadable(
            format!("`{display_name}` is UTF-16 text; manifests are UTF-8"),
            "save it again as UTF-8 (in the editor's \"Save as\" or \"Encoding\" menu), or run `iconv -f UTF-16 -t UTF-8`",
        );
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok(ManifestSource { display_name, text: Arc::new(text) }),
        Err(err) => {
            let at = err.utf8_error().valid_up_to();
            let line = err.as_bytes()[..at].iter().filter(|b| **b == b'\n').count() + 1;
            unreadable(
                format!("`{display_name}` is not UTF-8 text (invalid byte at line {line}, byte offset {at})"),
                "save the manifest as UTF-8; editors call it \"UTF-8\" or \"Unicode\"",
            )
        }
    }
}

/// Why a path could not be opened, and what to do.
fn describe_open_error(path: &Path, shown: &str, err: &std::io::Error) -> (String, String) {
    if let Some(described) = broken_link(path, shown, err) {
        return described;
    }
    if err.kind() == std::io::ErrorKind::NotFound {
        return (
            format!("`{shown}` does not exist"),
            "check the path; manifests are usually `episode.yaml`".to_owned(),
        );
    }
    (format!("cannot read `{shown}`: {err}"), "check the file's permissions".to_owned())
}

/// A symbolic link that leads nowhere (its target is gone) or in a circle, described with what to
/// do; `None` for any other error. Shared by the manifest and the media it names.
pub(crate) fn broken_link(path: &Path, shown: &str, err: &std::io::Error) -> Option<(String, String)> {
    // ELOOP: std has no stable ErrorKind for it yet.
    const LINK_LOOP: i32 = 40;
    if err.raw_os_error() == Some(LINK_LOOP) {
        return Some((
            format!("`{shown}` is a symbolic link loop: following it leads back to itself"),
            "point the link at the real file (`ls -l` shows where each link goes), or name the file itself"
                .to_owned(),
        ));
    }
    if err.kind() == std::io::ErrorKind::NotFound
        && let Ok(target) = std::fs::read_link(path)
    {
        return Some((
            format!("`{shown}` is a symbolic link to `{}`, which does not exist", target.display()),
            "the file it pointed to was moved or deleted: point the link at the file again, or name the file itself"
                .to_owned(),
        ));
    }
    None
}

/// Parses and reads a manifest's text: the [`Manifest`] as written, and the problems found.
pub fn read(source: &ManifestSource) -> (Option<Manifest>, Vec<Problem>) {
    let mut problems = Vec::new();
    match yaml::parse(&source.text) {
        Ok(root) => {
            let manifest = read::read(&root, &mut problems);
            (Some(manifest), problems)
        }
        Err(problem) => (None, vec![problem]),
    }
}

/// Loads, reads and resolves a manifest, probing its media with `probe`. A line longer than its
/// model renders is refused (`over-model-cap`); [`check_splitting`] cuts it instead.
pub fn check(path: &Path, catalog: &Catalog, probe: &Probe) -> Result<Checked, Problem> {
    Ok(check_source(load(path)?, path, catalog, probe))
}

/// As [`check`], cutting a line longer than its model renders into pieces at its pauses with
/// `splitter` (refused when it has no usable pause).
pub fn check_splitting(
    path: &Path,
    catalog: &Catalog,
    probe: &Probe,
    splitter: &Splitter,
) -> Result<Checked, Problem> {
    Ok(check_source_with(load(path)?, path, catalog, probe, Some(splitter)))
}

/// Reads and resolves manifest text already in memory, as if it were the file at `path` (media
/// paths are relative to its folder). The fuzz target uses it to skip the file system.
pub fn check_source(source: ManifestSource, path: &Path, catalog: &Catalog, probe: &Probe) -> Checked {
    check_source_with(source, path, catalog, probe, None)
}

fn check_source_with(
    source: ManifestSource,
    path: &Path,
    catalog: &Catalog,
    probe: &Probe,
    splitter: Option<&Splitter>,
) -> Checked {
    let (manifest, mut problems) = read(&source);
    let episode = manifest
        .and_then(|manifest| resolve::resolve(&manifest, path, catalog, probe, splitter, &mut problems));
    let episode = if problems.iter().any(Problem::is_error) { None } else { episode };
    Checked { source, episode, problems }
}

/// The folder paths in a manifest are relative to.
pub fn manifest_dir(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}
