//! `episodic`: plan, validate and render talking-avatar episodes from a manifest.
//!
//! `main` parses arguments, runs one command and turns its outcome into an exit code; everything
//! else lives in the modules below.

mod args;
mod commands;
mod diagnostics;
mod env;
mod error;
mod printer;
mod reporter;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = args::Args::parse();
    let printer = printer::Printer::new();
    match commands::run(args, &printer) {
        Ok(code) => code,
        // ripgrep's rule: a closed pipe ends a command that only prints, quietly and well.
        Err(err @ error::CliError::OutputClosed) => err.exit_code(),
        Err(err) => {
            printer.error(&err);
            err.exit_code()
        }
    }
}
