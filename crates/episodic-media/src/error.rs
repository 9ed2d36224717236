//! What can go wrong with media and the tools that read it.

use std::path::PathBuf;

/// An error from probing or processing media.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// ffprobe or ffmpeg could not be found or started.
    #[error("`{tool}` was not found ({looked})")]
    ToolMissing {
        /// The tool's name.
        tool: &'static str,
        /// Where it was looked for.
        looked: String,
    },
    /// A file could not be read.
    #[error("cannot read `{}`: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The tool ran and rejected the file.
    #[error("{tool} cannot read `{}`: {detail}", path.display())]
    Unreadable {
        /// The tool that failed.
        tool: &'static str,
        /// The file.
        path: PathBuf,
        /// The last lines the tool printed.
        detail: String,
    },
    /// The tool printed something we could not understand.
    #[error("{tool} printed unexpected output for `{}`: {detail}", path.display())]
    BadOutput {
        /// The tool.
        tool: &'static str,
        /// The file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// The tool ran and failed.
    #[error("{tool} failed: {detail} (ran `{command}`)")]
    Failed {
        /// The tool that failed.
        tool: &'static str,
        /// The last lines the tool printed, or what was wrong with its result.
        detail: String,
        /// A short printable form of the command.
        command: String,
    },
    /// A file could not be written or moved into place.
    #[error("cannot write `{}`: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The font captions are drawn with is not on this machine.
    #[error("the caption font {font} was not found (looked in {looked})")]
    FontMissing {
        /// The font.
        font: String,
        /// Where it was looked for.
        looked: String,
    },
    /// The caller asked for something that cannot be made; a bug in the caller, not in the media.
    #[error("invalid media request: {detail}")]
    Invalid {
        /// What was wrong.
        detail: String,
    },
}

impl MediaError {
    /// A hint for the user on how to fix this error, when there is one.
    pub fn help(&self) -> Option<String> {
        match self {
            MediaError::ToolMissing { tool, .. } => Some(format!(
                "install ffmpeg, which provides `{tool}`: `apt-get install ffmpeg` on Debian or Ubuntu, \
                 `brew install ffmpeg` on macOS; or set EPISODIC_{} to its path",
                tool.to_uppercase()
            )),
            MediaError::FontMissing { .. } => Some(
                "install DejaVu Sans: `apt-get install fonts-dejavu-core` on Debian or Ubuntu, \
                 `dnf install dejavu-sans-fonts` on Fedora"
                    .into(),
            ),
            MediaError::Unreadable { .. } => {
                Some("the file may be truncated or corrupt: export it again from its source".into())
            }
            _ => None,
        }
    }
}
