//! The HTML pages of a render: each episode's `report.html`, made from the `report.json` the
//! engine wrote, with what only the CLI knows (the command that resumes the run, the hints that
//! name flags); and, for a batch, the index page.

use super::render::hints_for;
use episodic_engine::RunSummary;
use std::path::PathBuf;

/// Writes the pages; returns the lines telling the producer where they are (or why one is
/// missing: a page is a convenience, so failing to write it never fails the render).
pub(super) fn write(summary: &RunSummary, batch: bool) -> Vec<String> {
    let resume = (!summary.ok()).then(resume_command);
    let mut lines = Vec::new();
    let mut reports: Vec<PathBuf> = Vec::new();
    for episode in &summary.episodes {
        let Some(json) = &episode.report else { continue };
        let hints = hints_for(&episode.failures).into_iter().map(str::to_owned).collect();
        let resume = (!episode.ok).then(|| resume.clone()).flatten();
        match episodic_report::write_episode_page(json, resume, hints) {
            Ok(page) => {
                lines.push(format!("report: {}", page.display()));
                reports.push(json.clone());
            }
            Err(err) => lines.push(format!("warning: no HTML report for {}: {err}", episode.episode)),
        }
    }
    // The index goes beside the first episode's report: a batch usually shares one `out/`.
    if batch && let Some(dir) = reports.first().and_then(|json| json.parent()) {
        match episodic_report::write_index_page(dir, &reports) {
            Ok(index) => lines.push(format!("batch index: {}", index.display())),
            Err(err) => lines.push(format!("warning: no batch index: {err}")),
        }
    }
    lines
}

/// The command line that was run, ready to paste into a shell: running it again resumes.
fn resume_command() -> String {
    let mut words = vec!["episodic".to_owned()];
    words.extend(std::env::args_os().skip(1).map(|arg| shell_quote(&arg.to_string_lossy())));
    words.join(" ")
}

/// `word` as a POSIX shell reads it back: bare when it is only safe characters, otherwise in
/// single quotes (a single quote inside becomes `'\''`).
fn shell_quote(word: &str) -> String {
    let safe =
        !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if safe { word.to_owned() } else { format!("'{}'", word.replace('\'', r"'\''")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_only_when_a_shell_would_split_or_expand_them() {
        assert_eq!(shell_quote("pipelines/demo/episode.yaml"), "pipelines/demo/episode.yaml");
        assert_eq!(shell_quote("--max-cost=5"), "--max-cost=5");
        assert_eq!(shell_quote("my episode.yaml"), "'my episode.yaml'");
        assert_eq!(shell_quote("it's$HOME"), r"'it'\''s$HOME'");
        assert_eq!(shell_quote(""), "''");
    }
}
