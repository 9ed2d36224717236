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
            out.push_str(&section.render());
        }
        if !self.appendix.trim().is_empty() {
            out.push_str(self.appendix.trim_end());
            out.push('\n');
        }
        out
    }
}

impl Section {
    /// The section's Markdown: heading, setup, table, commands and notes.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "## {}\n", self.title);
        if !self.setup.is_empty() {
            let _ = writeln!(out, "{}\n", self.setup);
        }
        // A skipped item has notes and no figures: no empty table.
        if !self.figures.is_empty() {
            let _ = writeln!(out, "| figure | value | target | result |");
            let _ = writeln!(out, "|---|---|---|---|");
        }
        for figure in &self.figures {
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
        if !self.figures.is_empty() {
            out.push('\n');
        }
        if !self.commands.is_empty() {
            let _ = writeln!(out, "Command{}:\n", if self.commands.len() > 1 { "s" } else { "" });
            let _ = writeln!(out, "```sh");
            for command in &self.commands {
                let _ = writeln!(out, "{command}");
            }
            let _ = writeln!(out, "```\n");
        }
        for note in &self.notes {
            let _ = writeln!(out, "- {note}");
        }
        if !self.notes.is_empty() {
            out.push('\n');
        }
        out
    }

    /// The item number its title starts with (`10. Fleet …` is 10).
    pub fn number(&self) -> Option<u32> {
        item_number(&format!("## {}", self.title))
    }
}

/// The item number of a `## N. Title` heading line.
fn item_number(heading: &str) -> Option<u32> {
    heading.strip_prefix("## ")?.split_once(". ")?.0.parse().ok()
}

/// `existing` (a `BENCHMARKS.md`) with `report`'s sections in place of the items of the same
/// numbers, new items in number order, the report's appendix in place of the old one, a header
/// line naming the partial run, and the targets line counted again over every table: a partial
/// run (`--only`) never erases the other items' figures.
pub fn merge(existing: &str, report: &Report) -> String {
    let (header, body) = match existing.find("\n## ") {
        Some(at) => existing.split_at(at + 1),
        None => (existing, ""),
    };
    // Blocks, each from its `## ` heading to the next; numbered items first, then the appendix.
    let mut items: Vec<(u32, String)> = Vec::new();
    let mut starts: Vec<usize> = body.match_indices("\n## ").map(|(at, _)| at + 1).collect();
    if body.starts_with("## ") {
        starts.insert(0, 0);
    }
    for (index, &start) in starts.iter().enumerate() {
        let end = starts.get(index + 1).copied().unwrap_or(body.len());
        let block = &body[start..end];
        match item_number(block.lines().next().unwrap_or_default()) {
            Some(number) => items.push((number, block.to_owned())),
            None => break,
        }
    }
    let mut numbers = Vec::new();
    for section in &report.sections {
        let Some(number) = section.number() else { continue };
        numbers.push(number);
        let text = section.render();
        match items.iter_mut().find(|(n, _)| *n == number) {
            Some(item) => item.1 = text,
            None => items.push((number, text)),
        }
    }
    items.sort_by_key(|(number, _)| *number);
    let sections: String = items.into_iter().map(|(_, text)| text).collect();
    let (met, missed) = sections.lines().fold((0, 0), |(met, missed), line| {
        if line.starts_with('|') && line.ends_with("| pass |") {
            (met + 1, missed)
        } else if line.starts_with('|') && line.ends_with("| **miss** |") {
            (met, missed + 1)
        } else {
            (met, missed)
        }
    });
    let list = numbers.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
    let rerun = format!("- **Items {list}:** ");
    let rerun_line = format!(
        "{rerun}rerun alone by `{}` on {} at {} ({:.0} s; load average {} → {}); the other items are from the run above",
        report.invocation,
        report.machine.date,
        report.commit,
        report.total_seconds,
        report.load.0,
        report.load.1
    );
    let mut out = String::new();
    let mut placed = false;
    for line in header.lines() {
        if line.starts_with(&rerun) {
            continue;
        }
        // An earlier partial run's line keeps only the items this run did not measure again.
        if let Some((listed, rest)) = line.strip_prefix("- **Items ").and_then(|tail| tail.split_once(":**"))
        {
            let left: Vec<&str> = listed
                .split(", ")
                .filter(|item| item.parse::<u32>().map_or(true, |number| !numbers.contains(&number)))
                .collect();
            if !left.is_empty() {
                let _ = writeln!(out, "- **Items {}:**{rest}", left.join(", "));
            }
            continue;
        }
        if line.starts_with("- **Targets:**") {
            let _ = writeln!(out, "- **Targets:** {met} met, {missed} missed");
            let _ = writeln!(out, "{rerun_line}");
            placed = true;
            continue;
        }
        let _ = writeln!(out, "{line}");
    }
    if !placed {
        let _ = writeln!(out, "{rerun_line}\n");
    }
    out.push_str(&sections);
    if !report.appendix.trim().is_empty() {
        out.push_str(report.appendix.trim_end());
        out.push('\n');
    }
    out
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

    #[test]
    fn a_partial_run_replaces_its_items_and_keeps_the_others() {
        let machine =
            Machine { cores: 2, cpu: "AMD EPYC".into(), memory_gib: Some(24), date: "2026-11-30".into() };
        let section = |title: &str, pass: bool| Section {
            title: title.into(),
            figures: vec![Figure::target("ratio", "1.0", "≤ 1.1", pass)],
            ..Section::default()
        };
        let full = Report {
            machine: machine.clone(),
            invocation: "just bench` → `episodic-bench".into(),
            commit: "abc1234".into(),
            total_seconds: 900.0,
            load: ("1.0".into(), "2.0".into()),
            sections: vec![section("1. Makespan", true), section("9. First submit", false)],
            appendix: "## Fixes\n\n### Second pass\n".into(),
        }
        .render();
        let partial = Report {
            machine,
            invocation: "just bench` → `episodic-bench --only 10,9".into(),
            commit: "def5678".into(),
            total_seconds: 120.0,
            load: ("3.0".into(), "4.0".into()),
            sections: vec![section("9. First submit", true), section("10. Fleet", false)],
            appendix: "## Fixes\n\n### Second pass, kept\n".into(),
        };
        let merged = merge(&full, &partial);
        let headings: Vec<&str> = merged.lines().filter(|line| line.starts_with("## ")).collect();
        assert_eq!(
            headings,
            ["## 1. Makespan", "## 9. First submit", "## 10. Fleet", "## Fixes"],
            "{merged}"
        );
        assert!(merged.contains("- **Commit:** abc1234"), "{merged}");
        assert!(
            merged.contains("- **Targets:** 2 met, 1 missed\n- **Items 9, 10:** rerun alone"),
            "{merged}"
        );
        assert!(merged.contains("at def5678 (120 s; load average 3.0 → 4.0)"), "{merged}");
        assert!(merged.ends_with("### Second pass, kept\n"), "{merged}");
        assert_eq!(merged.matches("| ratio | 1.0 | ≤ 1.1 | pass |").count(), 2, "{merged}");
        // Merged again, the same items: one line names the partial run.
        let again = merge(&merged, &partial);
        assert_eq!(again, merged);
        // A later partial run of item 10 alone takes it from the earlier line, which keeps item 9.
        let later = Report {
            invocation: "just bench` → `episodic-bench --only 10".into(),
            sections: vec![section("10. Fleet", true)],
            ..partial
        };
        let last = merge(&merged, &later);
        assert!(
            last.contains("- **Items 10:** rerun alone by `just bench` → `episodic-bench --only 10`"),
            "{last}"
        );
        assert!(
            last.contains("- **Items 9:** rerun alone by `just bench` → `episodic-bench --only 10,9`"),
            "{last}"
        );
        assert_eq!(last.matches("- **Items").count(), 2, "{last}");
    }
}
