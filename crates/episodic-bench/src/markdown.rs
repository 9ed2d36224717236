//! `BENCHMARKS.md`: every figure with its target, whether it met it, and the command that made it.

use crate::machine::Machine;
use std::fmt::Write;

/// One measured number.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// What was measured.
    pub name: String,
    /// The number, formatted with its unit.
    pub value: String,
    /// The target, e.g. `≤ 1.10`; empty for figures reported for reference.
    pub target: String,
    /// Whether the target was met; `None` when there is no target.
    pub pass: Option<bool>,
}

impl Figure {
    /// A figure with a target.
    pub fn target(
        name: impl Into<String>,
        value: impl Into<String>,
        target: impl Into<String>,
        pass: bool,
    ) -> Self {
        Figure { name: name.into(), value: value.into(), target: target.into(), pass: Some(pass) }
    }

    /// A figure reported for reference.
    pub fn info(name: impl Into<String>, value: impl Into<String>) -> Self {
        Figure { name: name.into(), value: value.into(), target: String::new(), pass: None }
    }
}

/// One section: a scenario, the command that ran it, its figures and notes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Section {
    /// The heading.
    pub title: String,
    /// What the scenario does, in a sentence or two.
    pub setup: String,
    /// The exact command(s) that produced the figures.
    pub commands: Vec<String>,
    /// The figures.
    pub figures: Vec<Figure>,
    /// Remarks: what a figure includes, why a target is missed.
    pub notes: Vec<String>,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Where and when.
    pub machine: Machine,
    /// How the harness was invoked.
    pub invocation: String,
    /// The commit measured.
    pub commit: String,
    /// Seconds the whole run took.
    pub total_seconds: f64,
    /// The 1-minute load average at the start and at the end of the run: how shared the cores were.
    pub load: (String, String),
    /// Scenarios, in order.
    pub sections: Vec<Section>,
    /// Hand-kept text appended as is (fixes and their before/after runs).
    pub appendix: String,
}

impl Report {
    /// The Markdown text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# Benchmarks\n");
        let _ = writeln!(
            out,
            "Written by `{}` (do not edit by hand: rerun it). Every figure below comes from this run.\n",
            self.invocation
        );
        let _ = writeln!(out, "- **Machine:** {}", self.machine.describe());
        let _ = writeln!(out, "- **Date (UTC):** {}", self.machine.date);
        let _ = writeln!(out, "- **Commit:** {}", self.commit);
        let _ = writeln!(out, "- **Whole run:** {:.0} s", self.total_seconds);
        let _ = writeln!(
            out,
            "- **Load average (1 min), start → end:** {} → {} (other work on the same cores)",
            self.load.0, self.load.1
        );
        let (met, missed) = self.sections.iter().flat_map(|section| &section.figures).fold(
            (0, 0),
            |(met, missed), figure| match figure.pass {
                Some(true) => (met + 1, missed),
                Some(false) => (met, missed + 1),
                None => (met, missed),
            },
        );
        let _ = writeln!(out, "- **Targets:** {met} met, {missed} missed\n");
        let _ = writeln!(
            out,
            "Ratios are measured within one run, one scenario after another on the same machine: these \
             machines are shared and noisy, so absolute seconds vary between runs more than ratios do.\n"
        );
        for section in &self.sections {
            let _ = writeln!(out, "## {}\n", section.title);
            if !section.setup.is_empty() {
                let _ = writeln!(out, "{}\n", section.setup);
            }
            let _ = writeln!(out, "| figure | value | target | result |");
            let _ = writeln!(out, "|---|---|---|---|");
            for figure in &section.figures {
                let result = match figure.pass {
                    Some(true) => "pass",
                    Some(false) => "**miss**",
                    None => "",
                };
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {result} |",
                    cell(&figure.name),
                    cell(&figure.value),
                    cell(&figure.target)
                );
            }
            out.push('\n');
            if !section.commands.is_empty() {
                let _ = writeln!(out, "Command{}:\n", if section.commands.len() > 1 { "s" } else { "" });
                let _ = writeln!(out, "```sh");
                for command in &section.commands {
                    let _ = writeln!(out, "{command}");
                }
                let _ = writeln!(out, "```\n");
            }
            for note in &section.notes {
                let _ = writeln!(out, "- {note}");
            }
            if !section.notes.is_empty() {
                out.push('\n');
            }
        }
        if !self.appendix.trim().is_empty() {
            out.push_str(self.appendix.trim_end());
            out.push('\n');
        }
        out
    }
}

/// A table cell: pipes escaped, lines joined.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_render_with_targets_and_commands() {
        let report = Report {
            machine: Machine {
                cores: 2,
                cpu: "AMD EPYC".into(),
                memory_gib: Some(24),
                date: "2026-02-24".into(),
            },
            invocation: "just bench".into(),
            commit: "abc1234".into(),
            total_seconds: 312.4,
            load: ("0.5".into(), "2.1".into()),
            sections: vec![Section {
                title: "1. Makespan".into(),
                setup: "20 segments.".into(),
                commands: vec!["episodic render a|b".into()],
                figures: vec![
                    Figure::target("wall / critical path", "1.07", "≤ 1.10", true),
                    Figure::target("rerun", "3.1 %", "≤ 2 %", false),
                    Figure::info("wall", "4.2 s"),
                ],
                notes: vec!["why".into()],
            }],
            appendix: "## Fixes\n".into(),
        };
        let text = report.render();
        assert!(text.contains("- **Machine:** 2 cores, AMD EPYC, 24 GiB RAM"), "{text}");
        assert!(text.contains("- **Targets:** 1 met, 1 missed"), "{text}");
        assert!(text.contains("| wall / critical path | 1.07 | ≤ 1.10 | pass |"), "{text}");
        assert!(text.contains("| rerun | 3.1 % | ≤ 2 % | **miss** |"), "{text}");
        assert!(text.contains("| wall | 4.2 s |  |  |"), "{text}");
        assert!(text.contains("```sh\nepisodic render a|b\n```"), "{text}");
        assert!(text.ends_with("## Fixes\n"), "{text}");
    }
}
