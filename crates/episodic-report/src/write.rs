//! Reading `report.json` back and writing the pages beside it, each through a temporary file so
//! a reader never sees half a page.

use crate::index::{IndexEntry, index_page};
use crate::model::EpisodeReport;
use crate::page::{PageExtras, episode_page};
use std::path::{Component, Path, PathBuf};

/// The file name of a batch's index page, written in the folder of the batch's first episode.
pub const INDEX_FILE: &str = "index.html";

/// Why a page could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportPageError {
    /// The report (or the contact sheet) could not be read.
    #[error("cannot read `{path}`: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The report is not JSON episodic wrote.
    #[error("`{path}` is not a report episodic can read: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// The page could not be written.
    #[error("cannot write `{path}`: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// `out/ep.report.json` → `out/ep.report.html`.
pub fn html_path_for(json: &Path) -> PathBuf {
    json.with_extension("html")
}

/// Reads a `report.json`.
pub fn read_report(json: &Path) -> Result<EpisodeReport, ReportPageError> {
    let bytes =
        std::fs::read(json).map_err(|source| ReportPageError::Read { path: json.to_owned(), source })?;
    serde_json::from_slice(&bytes).map_err(|source| ReportPageError::Parse { path: json.to_owned(), source })
}

/// Writes `<episode>.report.html` beside `json`, from it; returns the page's path. The episode
/// and its contact sheet are found beside the report (the engine writes all three in one
/// folder), so the page links the MP4 by its bare file name. `resume` and `hints` say what to do
/// about failures, in the caller's words.
pub fn write_episode_page(
    json: &Path,
    resume: Option<String>,
    hints: Vec<String>,
) -> Result<PathBuf, ReportPageError> {
    let report = read_report(json)?;
    let dir = json.parent().unwrap_or(Path::new(""));
    let output_name = Path::new(&report.output).file_name().map(|name| name.to_string_lossy().into_owned());
    let completed = report.status == "completed";
    // Only a completed run's episode and sheet are this run's; an older MP4 left beside a failed
    // run's report is not shown as if it were its product.
    let video = output_name.clone().filter(|name| completed && dir.join(name).is_file());
    let contact_sheet = match (&output_name, completed) {
        (Some(name), true) => {
            let stem = Path::new(name).file_stem().map(|stem| stem.to_string_lossy().into_owned());
            let sheet = dir.join(format!("{}.contact.png", stem.unwrap_or_default()));
            match std::fs::read(&sheet) {
                Ok(bytes) => Some(bytes),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
                Err(source) => return Err(ReportPageError::Read { path: sheet, source }),
            }
        }
        _ => None,
    };
    let page = episode_page(&report, &PageExtras { video, contact_sheet, resume, hints });
    let path = html_path_for(json);
    write_atomically(&path, &page)?;
    Ok(path)
}

/// Writes the batch's [`INDEX_FILE`] into `dir`, linking the HTML report of each `report.json`
/// in `reports` (in the order given); returns its path.
pub fn write_index_page(dir: &Path, reports: &[PathBuf]) -> Result<PathBuf, ReportPageError> {
    let mut entries = Vec::with_capacity(reports.len());
    for json in reports {
        let report = read_report(json)?;
        let page = relative(dir, &html_path_for(json));
        entries.push(IndexEntry { report, page });
    }
    let path = dir.join(INDEX_FILE);
    write_atomically(&path, &index_page(&entries))?;
    Ok(path)
}

fn write_atomically(path: &Path, text: &str) -> Result<(), ReportPageError> {
    let temp = path.with_extension(format!("html.{}.part", std::process::id()));
    let written = std::fs::write(&temp, text).and_then(|()| std::fs::rename(&temp, path));
    written.map_err(|source| {
        let _ = std::fs::remove_file(&temp);
        ReportPageError::Write { path: path.to_owned(), source }
    })
}

/// `to` relative to the folder `from`, `/`-separated (`../b/x.html`); both are made absolute
/// against the working folder first.
fn relative(from: &Path, to: &Path) -> String {
    let absolute = |path: &Path| std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let (from, to) = (absolute(from), absolute(to));
    let from: Vec<Component> = from.components().filter(|c| *c != Component::CurDir).collect();
    let to: Vec<Component> = to.components().filter(|c| *c != Component::CurDir).collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_owned(); from.len() - common];
    parts.extend(to[common..].iter().map(|c| c.as_os_str().to_string_lossy().into_owned()));
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_climb_and_descend() {
        assert_eq!(relative(Path::new("/a/out"), Path::new("/a/out/x.report.html")), "x.report.html");
        assert_eq!(
            relative(Path::new("/a/out"), Path::new("/a/b/out/y.report.html")),
            "../b/out/y.report.html"
        );
        assert_eq!(relative(Path::new("/a/out"), Path::new("/c/y.html")), "../../c/y.html");
    }

    #[test]
    fn a_page_is_written_beside_its_report_with_the_sheet_inlined() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("ep.report.json");
        std::fs::write(dir.path().join("ep.mp4"), b"not really").unwrap();
        std::fs::write(dir.path().join("ep.contact.png"), b"\x89PNG").unwrap();
        std::fs::write(
            &json,
            r#"{"schema_version":2,"episode":"ep","manifest":"ep.yaml","output":"somewhere/else/ep.mp4",
                "status":"completed","backend":"local","started_at":1,"wall_seconds":1.5,
                "totals":{"nodes":0,"cache_hits":0,"fresh_renders":0,"estimated_usd":0.0,"billed_usd":0.0,"retries":0},
                "nodes":[], "later_field": true}"#,
        )
        .unwrap();
        let page = write_episode_page(&json, None, Vec::new()).unwrap();
        assert_eq!(page, dir.path().join("ep.report.html"));
        let html = std::fs::read_to_string(&page).unwrap();
        assert!(html.contains("src=\"ep.mp4\""));
        assert!(html.contains("base64,iVBORw=="));
        let index = write_index_page(dir.path(), &[json]).unwrap();
        assert!(std::fs::read_to_string(index).unwrap().contains("href=\"ep.report.html\""));
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|entry| entry.file_name().to_string_lossy().ends_with(".part"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn a_report_that_is_not_json_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("bad.report.json");
        std::fs::write(&json, "{").unwrap();
        let err = write_episode_page(&json, None, Vec::new()).unwrap_err();
        assert!(err.to_string().contains("bad.report.json"), "{err}");
    }
}
