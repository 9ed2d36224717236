//! Rendering manifest problems with miette, the same way on a terminal and in a snapshot.

use episodic_manifest::{ManifestSource, Problem};
use miette::{GraphicalReportHandler, GraphicalTheme};
use std::io::IsTerminal;

/// Diagnostics are wrapped at this width when stderr is not a terminal, so output is stable.
const PIPE_WIDTH: usize = 100;

/// Renders problems for stderr.
pub struct DiagnosticRenderer {
    handler: GraphicalReportHandler,
}

impl DiagnosticRenderer {
    /// A renderer for stderr: colour only on a terminal and when `NO_COLOR` is unset.
    pub fn for_stderr() -> Self {
        let terminal = std::io::stderr().is_terminal();
        let colour = terminal && crate::env::var(crate::env::NO_COLOR).is_none();
        let theme = if colour { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
        let width = if terminal { terminal_width().unwrap_or(PIPE_WIDTH) } else { PIPE_WIDTH };
        let handler = GraphicalReportHandler::new_themed(theme).with_width(width).with_links(false);
        Self { handler }
    }

    /// One problem as text, ending in a newline.
    pub fn render(&self, source: &ManifestSource, problem: &Problem) -> String {
        let mut out = String::new();
        let diagnostic = problem.diagnostic(source);
        if self.handler.render_report(&mut out, &diagnostic).is_err() {
            out = format!("{}: {}\n", source.display_name, problem.message);
        }
        out
    }
}

fn terminal_width() -> Option<usize> {
    crate::env::var("COLUMNS").and_then(|columns| columns.parse().ok())
}
