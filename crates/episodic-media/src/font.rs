//! Finding a font file for drawn text. A machine without one still renders, just without text, so
//! this never fails: it answers `None`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Font files tried when fontconfig is absent or finds nothing, most common first.
const WELL_KNOWN: [&str; 4] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf",
    "/System/Library/Fonts/Supplemental/Arial Bold.ttf",
    "C:\\Windows\\Fonts\\arialbd.ttf",
];

/// A bold sans-serif font file: fontconfig's match for `DejaVu Sans:bold`, else a well-known path.
pub fn find_font() -> Option<PathBuf> {
    fontconfig_match("DejaVu Sans:bold")
        .or_else(|| WELL_KNOWN.iter().map(Path::new).find(|path| path.is_file()).map(Path::to_path_buf))
}

fn fontconfig_match(pattern: &str) -> Option<PathBuf> {
    let output = Command::new("fc-match")
        .args(["-f", "%{file}", pattern])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let path = PathBuf::from(text.trim());
    let usable = output.status.success()
        && path.is_file()
        && path
            .extension()
            .is_some_and(|ext| ["ttf", "otf", "ttc"].iter().any(|known| ext.eq_ignore_ascii_case(known)));
    usable.then_some(path)
}
