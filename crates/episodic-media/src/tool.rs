//! Finding ffprobe and ffmpeg.

use crate::MediaError;
use std::path::{Path, PathBuf};

/// An external program episodic runs, at a known path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tool {
    /// The program's name: `ffprobe` or `ffmpeg`.
    pub name: &'static str,
    /// Where it is.
    pub path: PathBuf,
}

/// Finds `name`: at `explicit` when given (an override from the environment), else on `PATH`.
pub fn locate(name: &'static str, explicit: Option<&Path>) -> Result<Tool, MediaError> {
    if let Some(path) = explicit {
        return if path.is_file() {
            Ok(Tool { name, path: path.to_path_buf() })
        } else {
            Err(MediaError::ToolMissing { tool: name, looked: format!("no file at `{}`", path.display()) })
        };
    }
    let search = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&search)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
        .map(|path| Tool { name, path })
        .ok_or_else(|| MediaError::ToolMissing { tool: name, looked: "looked on PATH".into() })
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().map(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_missing_path_is_reported() {
        let err = locate("ffprobe", Some(Path::new("/nonexistent/ffprobe"))).unwrap_err();
        assert!(err.to_string().contains("no file at"));
        assert!(err.help().is_some_and(|help| help.contains("apt-get install ffmpeg")));
    }
}
