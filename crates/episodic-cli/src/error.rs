//! Errors that end a command, and the exit code each maps to.

use std::process::ExitCode;

/// Exit codes, as documented in the README.
pub mod exit {
    /// Something was wrong with the input or the run; details were printed.
    pub const FAILURE: u8 = 1;
    /// The command line itself was wrong (clap also exits 2).
    pub const USAGE: u8 = 2;
    /// Interrupted (Ctrl-C, SIGTERM), as shells expect after SIGINT.
    pub const INTERRUPTED: u8 = 130;
    /// A render stopped because its output was closed (128 + SIGPIPE, as a shell reports a
    /// process killed by a closed pipe). Commands that only print exit 0 instead.
    pub const OUTPUT_CLOSED: u8 = 141;
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// One or more manifests have errors, already printed as diagnostics.
    #[error("{summary}")]
    Invalid {
        /// "`x.yaml` has 2 errors" and what was not done.
        summary: String,
    },
    /// A price file could not be used.
    #[error("cannot use the price file `{path}`: {message}")]
    Prices {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
        /// What to do.
        help: Option<String>,
    },
    /// ffprobe or ffmpeg is missing.
    #[error("{0}")]
    Media(#[from] episodic_media::MediaError),
    /// A flag's value is out of range.
    #[error("{message}")]
    Usage {
        /// What is wrong.
        message: String,
    },
    /// The studio could not start or run.
    #[error("{0}")]
    Studio(String),
    /// A render run could not start or went wrong as a whole.
    #[error("{0}")]
    Render(String),
    /// Something the run needs cannot be used (the state folder, an output path); nothing was
    /// rendered or spent.
    #[error("{message}")]
    Blocked {
        /// What is wrong, naming the file or folder.
        message: String,
        /// What to do.
        help: String,
    },
    /// Whoever read stdout went away (`episodic plan --json | head`): not an error for a command
    /// that only prints; it ends quietly.
    #[error("stdout was closed")]
    OutputClosed,
}

impl From<crate::printer::OutputClosed> for CliError {
    fn from(_: crate::printer::OutputClosed) -> Self {
        CliError::OutputClosed
    }
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            CliError::Prices { .. } | CliError::Usage { .. } => exit::USAGE,
            CliError::Invalid { .. }
            | CliError::Media(_)
            | CliError::Studio(_)
            | CliError::Render(_)
            | CliError::Blocked { .. } => exit::FAILURE,
            CliError::OutputClosed => 0,
        })
    }

    /// A `help:` line, when there is one.
    pub fn help(&self) -> Option<String> {
        match self {
            CliError::Invalid { .. }
            | CliError::Usage { .. }
            | CliError::Studio(_)
            | CliError::Render(_)
            | CliError::OutputClosed => None,
            CliError::Prices { help, .. } => help.clone(),
            CliError::Blocked { help, .. } => Some(help.clone()),
            CliError::Media(err) => err.help(),
        }
    }
}
