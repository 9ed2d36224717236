//! The only place that writes to stdout and stderr: the command's product on stdout, everything
//! human (diagnostics, notices, errors) on stderr.

use crate::diagnostics::DiagnosticRenderer;
use crate::error::CliError;
use episodic_manifest::{ManifestSource, Problem};
use std::io::Write;

/// More problems than this in one manifest are counted rather than drawn: each drawing scans
/// the manifest's text, and nobody reads the hundred-thousandth copy of one mistake.
const MAX_SHOWN: usize = 50;

/// stdout was closed by whoever read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputClosed;

/// Writes output.
pub struct Printer {
    diagnostics: DiagnosticRenderer,
}

impl Printer {
    /// A printer for this process's stdout and stderr.
    pub fn new() -> Self {
        Self { diagnostics: DiagnosticRenderer::for_stderr() }
    }

    /// The command's product. A closed pipe (`episodic plan --json | head`) is returned, never
    /// a reason to exit here: a render must stop its run first (see `commands::render`).
    pub fn out(&self, text: &str) -> Result<(), OutputClosed> {
        let mut stdout = std::io::stdout().lock();
        match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
            Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Err(OutputClosed),
            // Anything else (a full disk behind a redirect) is not worth stopping a run for.
            _ => Ok(()),
        }
    }

    /// A line for the human at the terminal.
    pub fn note(&self, text: &str) {
        let _ = writeln!(std::io::stderr().lock(), "{text}");
    }

    /// Manifest problems, each as a diagnostic; past [`MAX_SHOWN`], only counted.
    pub fn problems(&self, source: &ManifestSource, problems: &[Problem]) {
        let mut stderr = std::io::stderr().lock();
        for problem in problems.iter().take(MAX_SHOWN) {
            let _ = write!(stderr, "{}", self.diagnostics.render(source, problem));
            let _ = writeln!(stderr);
        }
        if let Some(rest) = problems.get(MAX_SHOWN..).filter(|rest| !rest.is_empty()) {
            let errors = rest.iter().filter(|problem| problem.is_error()).count();
            let warnings = rest.len() - errors;
            let _ = writeln!(
                stderr,
                "… and {errors} more errors and {warnings} more warnings in `{}`, not shown; fix the ones above first, then run again\n",
                source.display_name
            );
        }
    }

    /// The error that ended the command.
    pub fn error(&self, err: &CliError) {
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "error: {err}");
        if let Some(help) = err.help() {
            let _ = writeln!(stderr, "  help: {help}");
        }
    }
}
