//! The one font captions are drawn with: DejaVu Sans Bold, from Debian's `fonts-dejavu-core`.
//!
//! libass is given the font's folder (`fontsdir`) and asked for the family by name, so it never
//! falls back to whatever font a machine happens to have: every machine draws the same letters at
//! the same widths, which the layout's size estimates rely on.

use crate::MediaError;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The family captions ask libass for (bold).
pub const CAPTION_FAMILY: &str = "DejaVu Sans";

/// The file of that family's bold face.
const FILE_NAME: &str = "DejaVuSans-Bold.ttf";

/// Folders the file lives in on common systems: Debian and Ubuntu, Fedora, Arch, then the local
/// and Homebrew prefixes.
const FOLDERS: [&str; 5] = [
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/dejavu-sans-fonts",
    "/usr/share/fonts/TTF",
    "/usr/local/share/fonts/dejavu",
    "/opt/homebrew/share/fonts/dejavu",
];

/// The caption font's file, and the folder libass loads it from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptionFont {
    file: PathBuf,
}

impl CaptionFont {
    /// Finds DejaVu Sans Bold: in the usual folders, else wherever fontconfig knows it to be.
    pub fn find() -> Result<CaptionFont, MediaError> {
        FOLDERS
            .iter()
            .map(|folder| Path::new(folder).join(FILE_NAME))
            .chain(fontconfig_file())
            .find(|file| file.is_file())
            .map(|file| CaptionFont { file })
            .ok_or_else(|| MediaError::FontMissing {
                font: format!("{CAPTION_FAMILY} Bold ({FILE_NAME})"),
                looked: format!("{} and fontconfig", FOLDERS.join(", ")),
            })
    }

    /// The font in `file`, which must be DejaVu Sans Bold (`DejaVuSans-Bold.ttf`) and exist.
    pub fn at(file: &Path) -> Result<CaptionFont, MediaError> {
        if file.file_name().is_some_and(|name| name == FILE_NAME) && file.is_file() {
            Ok(CaptionFont { file: file.to_path_buf() })
        } else {
            Err(MediaError::FontMissing {
                font: format!("{CAPTION_FAMILY} Bold ({FILE_NAME})"),
                looked: file.display().to_string(),
            })
        }
    }

    /// The font file.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The folder libass loads fonts from (`fontsdir`): the font file's own.
    pub fn folder(&self) -> &Path {
        self.file.parent().unwrap_or(Path::new("."))
    }

    /// Checks the file is still there, so a font removed since [`CaptionFont::find`] fails with
    /// its name rather than with captions drawn in some other font.
    pub(crate) fn check(&self) -> Result<(), MediaError> {
        Self::at(&self.file).map(|_| ())
    }
}

/// Where fontconfig has the bold face, when it has exactly that file (fc-match answers its
/// closest match, often another family, when DejaVu is absent).
fn fontconfig_file() -> Option<PathBuf> {
    let output = Command::new("fc-match")
        .args(["-f", "%{file}", &format!("{CAPTION_FAMILY}:bold")])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8(output.stdout).ok()?.trim());
    (output.status.success() && path.file_name().is_some_and(|name| name == FILE_NAME)).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_other_font_is_refused_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join(FILE_NAME);
        let err = CaptionFont::at(&missing).unwrap_err();
        assert!(err.to_string().contains("DejaVu Sans Bold"), "{err}");
        assert!(err.help().unwrap().contains("fonts-dejavu-core"), "{:?}", err.help());
        let other = dir.path().join("Other.ttf");
        std::fs::write(&other, b"not a font").unwrap();
        assert!(CaptionFont::at(&other).is_err());
        std::fs::write(&missing, b"stands in").unwrap();
        let font = CaptionFont::at(&missing).unwrap();
        assert_eq!(font.folder(), dir.path());
        std::fs::remove_file(&missing).unwrap();
        assert!(font.check().is_err());
    }
}
