//! Pieces of ffmpeg filter graphs every clip shares: fitting a picture into a box, and putting
//! arbitrary text (a prompt, a font path) into a graph as one option value, and drawing captions.
//!
//! A value inside `-filter_complex` is unquoted twice: once when the graph is split into filters (where
//! `[ ] , ;` end a filter's arguments) and once when a filter's arguments are split into options (where
//! `:` ends a value). Both passes treat `\` and `'` as quoting. So the value is escaped for the inner
//! pass, then the result for the outer pass; a value can never end an option or a filter early.

use crate::MediaError;
use std::path::Path;

/// The colour behind pictures that do not fill their box: a dark slate, kinder than pure black.
pub(crate) const BACKDROP: &str = "0x14161c";

/// Filters that scale a picture to fit inside `width`×`height` keeping its aspect, and centre it on
/// the backdrop colour with square pixels.
pub(crate) fn fit(width: u32, height: u32) -> String {
    format!(
        "scale={width}:{height}:force_original_aspect_ratio=decrease:force_divisible_by=2,\
         pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:color={BACKDROP},setsar=1"
    )
}

/// The first even number at or above `value`.
pub(crate) fn even_up(value: f64) -> u32 {
    let whole = value.ceil().max(2.0) as u32;
    whole + whole % 2
}

/// The `ass` filter drawing the script at `script` with the fonts of `fonts` alone (libass still
/// asks fontconfig for what the folder lacks, but the script names only the caption font).
pub(crate) fn burn_captions(script: &Path, fonts: &Path) -> Result<String, MediaError> {
    let text = |path: &Path| {
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        absolute.to_str().map(escape_value).ok_or_else(|| MediaError::Invalid {
            detail: format!("`{}` is not UTF-8, which ffmpeg's filter options need", path.display()),
        })
    };
    Ok(format!("ass=filename={}:fontsdir={}", text(script)?, text(fonts)?))
}

/// `value` escaped to stand as one option value (`key=<here>`) inside a filter graph.
pub(crate) fn escape_value(value: &str) -> String {
    escape(&escape(value, "\\':"), "\\'[],;")
}

/// Backslash-escapes `special` characters, and whitespace at either end (which would be trimmed).
fn escape(text: &str, special: &str) -> String {
    let first_kept = text.find(|c: char| !c.is_whitespace()).unwrap_or(text.len());
    let last_kept = text.rfind(|c: char| !c.is_whitespace()).map_or(0, |at| at + 1);
    let mut out = String::with_capacity(text.len() + 8);
    for (at, c) in text.char_indices() {
        let edge_space = c.is_whitespace() && (at < first_kept || at >= last_kept);
        if special.contains(c) || edge_space {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A port of libavutil's `av_get_token`, which both passes of filter-graph parsing use.
    fn get_token<'a>(input: &'a str, term: &str) -> (String, &'a str) {
        let chars: Vec<(usize, char)> = input.char_indices().collect();
        let mut i = chars.iter().take_while(|(_, c)| " \n\t\r".contains(*c)).count();
        let mut out = String::new();
        let mut end = 0;
        while i < chars.len() && !term.contains(chars[i].1) {
            let c = chars[i].1;
            i += 1;
            if c == '\\' && i < chars.len() {
                out.push(chars[i].1);
                i += 1;
                end = out.len();
            } else if c == '\'' {
                while i < chars.len() && chars[i].1 != '\'' {
                    out.push(chars[i].1);
                    i += 1;
                }
                if i < chars.len() {
                    i += 1;
                    end = out.len();
                }
            } else {
                out.push(c);
            }
        }
        while out.len() > end && out.ends_with([' ', '\n', '\t', '\r']) {
            out.pop();
        }
        let rest = chars.get(i).map_or("", |(at, _)| &input[*at..]);
        (out, rest)
    }

    /// What drawtext would receive as `text` from `drawtext=text=<escaped>:x=0,null`.
    fn round_trip(value: &str) -> String {
        let graph = format!("drawtext=text={}:x=0,null", escape_value(value));
        let args = graph.strip_prefix("drawtext=").unwrap();
        let (filter_args, rest) = get_token(args, "[],;");
        assert_eq!(rest, ",null", "the value ended the filter early");
        let value_part = filter_args.strip_prefix("text=").unwrap();
        let (text, rest) = get_token(value_part, ":");
        assert_eq!(rest, ":x=0", "the value ended the option early");
        text
    }

    #[test]
    fn nasty_values_survive_both_passes() {
        for value in [
            "plain words",
            "it's 100% \"real\": no [tricks], ok; right\\left",
            r"C:\fonts\a b.ttf",
            "'''",
            "\\",
            "trailing space ",
            " leading",
            "%{pts} and %{eif:1:d}",
            "emoji 🎬 and accents: é",
        ] {
            assert_eq!(round_trip(value), value);
        }
    }

    #[test]
    fn fit_keeps_aspect_and_pads() {
        assert_eq!(
            fit(160, 180),
            "scale=160:180:force_original_aspect_ratio=decrease:force_divisible_by=2,\
             pad=160:180:(ow-iw)/2:(oh-ih)/2:color=0x14161c,setsar=1"
        );
        assert_eq!((even_up(332.8), even_up(188.0), even_up(0.5)), (334, 188, 2));
    }

    #[test]
    fn caption_paths_survive_both_passes() {
        let filter =
            burn_captions(Path::new("/tmp/it's a [test], ok;/c:d.ass"), Path::new("/fonts/x")).unwrap();
        let args = filter.strip_prefix("ass=").unwrap();
        let (filter_args, rest) = get_token(args, "[],;");
        assert_eq!(rest, "");
        let value = filter_args.strip_prefix("filename=").unwrap();
        let (file, rest) = get_token(value, ":");
        assert_eq!(file, "/tmp/it's a [test], ok;/c:d.ass");
        assert_eq!(rest, ":fontsdir=/fonts/x");
    }

    #[test]
    fn escapes_are_as_documented() {
        assert_eq!(escape_value("a:b"), r"a\\:b");
        assert_eq!(escape_value("it's"), r"it\\\'s");
        assert_eq!(escape_value("a,b"), r"a\,b");
    }
}
