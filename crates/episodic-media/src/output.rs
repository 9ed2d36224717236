//! Writing an output beside its target and renaming it into place, so a finished path never holds a
//! half-written file: a failed or cancelled run leaves the target as it was and removes its partial file.

use crate::MediaError;
use std::path::{Path, PathBuf};

/// A temporary file in the target's directory, removed on drop unless committed.
pub(crate) struct Partial {
    temp: tempfile::TempPath,
    target: PathBuf,
}

impl Partial {
    /// Reserves a hidden temporary file beside `target`.
    pub(crate) fn beside(target: &Path) -> Result<Self, MediaError> {
        let write = |source| MediaError::Write { path: target.to_path_buf(), source };
        let name = target.file_name().ok_or_else(|| MediaError::Invalid {
            detail: format!("`{}` does not name a file", target.display()),
        })?;
        let dir = match target.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut prefix = std::ffi::OsString::from(".");
        prefix.push(name);
        prefix.push(".");
        let file =
            tempfile::Builder::new().prefix(&prefix).suffix(".part").tempfile_in(&dir).map_err(write)?;
        Ok(Self { temp: file.into_temp_path(), target: target.to_path_buf() })
    }

    /// Where the tool writes.
    pub(crate) fn path(&self) -> &Path {
        &self.temp
    }

    /// Moves the finished file onto the target, readable like any other file the user makes.
    pub(crate) fn commit(self) -> Result<(), MediaError> {
        let target = self.target;
        let write = |source| MediaError::Write { path: target.clone(), source };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // tempfile creates 0600, private to us; an output is an ordinary file others may read.
            std::fs::set_permissions(&self.temp, std::fs::Permissions::from_mode(0o644)).map_err(write)?;
        }
        self.temp.persist(&target).map_err(|err| write(err.error))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_replaces_the_target_and_drop_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.mp4");
        std::fs::write(&target, b"old").unwrap();

        let partial = Partial::beside(&target).unwrap();
        let temp = partial.path().to_path_buf();
        assert_eq!(temp.parent(), Some(dir.path()));
        assert!(temp.file_name().unwrap().to_string_lossy().starts_with(".out.mp4."));
        std::fs::write(&temp, b"new").unwrap();
        drop(partial);
        assert!(!temp.exists());
        assert_eq!(std::fs::read(&target).unwrap(), b"old");

        let partial = Partial::beside(&target).unwrap();
        std::fs::write(partial.path(), b"new").unwrap();
        partial.commit().unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_directory_is_not_a_target() {
        assert!(matches!(Partial::beside(Path::new("/")), Err(MediaError::Invalid { .. })));
    }
}
