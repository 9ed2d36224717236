//! ASS scripts for libass to burn in: one style placed in the safe area, one event per page, and
//! for karaoke a `\k` per word.

use super::font::CAPTION_FAMILY;
use super::layout::Placement;
use super::sidecar::cues;
use super::timecode::{self, units};
use super::{CaptionStyle, Page};
use std::fmt::Write;

/// Words not yet said, and plain captions: white.
const WHITE: &str = "&H00FFFFFF";
/// Words being or already said in karaoke: gold (`#FFD700`; ASS colours are `&HAABBGGRR`).
const HIGHLIGHT: &str = "&H0000D7FF";
/// The outline: near black, so letters read on any picture.
const OUTLINE: &str = "&H00101010";
/// The shadow colour (no shadow is drawn; the outline does its work).
const SHADOW: &str = "&H80000000";

/// The whole script for `pages` on a `canvas`-sized video.
pub(crate) fn script(pages: &[Page], canvas: (u32, u32), style: CaptionStyle) -> String {
    let placement = Placement::of(canvas);
    let (primary, secondary) = match style {
        // `\k` shows a word in the secondary colour until its time, then in the primary.
        CaptionStyle::Karaoke => (HIGHLIGHT, WHITE),
        CaptionStyle::Plain => (WHITE, WHITE),
    };
    let Placement { safe, baseline, size, outline, .. } = placement;
    let mut out = format!(
        "[Script Info]\n\
         ; Captions by episodic\n\
         ScriptType: v4.00+\n\
         PlayResX: {width}\n\
         PlayResY: {height}\n\
         WrapStyle: 0\n\
         ScaledBorderAndShadow: yes\n\
         \n\
         [V4+ Styles]\n\
         Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, \
         Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, \
         Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\n\
         Style: Caption,{CAPTION_FAMILY},{size},{primary},{secondary},{OUTLINE},{SHADOW},-1,0,0,0,100,100,0,0,1,\
         {outline},0,2,{left},{right},{baseline},1\n\
         \n\
         [Events]\n\
         Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n",
        width = canvas.0,
        height = canvas.1,
        left = safe.left,
        right = safe.right,
    );
    for cue in cues(pages, 100) {
        let page = &pages[cue.page];
        let texts: Vec<&str> = page.words.iter().map(|word| word.text.as_str()).collect();
        let fitted = placement.size_for(&texts);
        let resize = if fitted < size { format!("\\fs{fitted}") } else { String::new() };
        let text = match style {
            CaptionStyle::Karaoke => karaoke(page, cue.start, cue.end, &resize),
            CaptionStyle::Plain => {
                let words: Vec<String> = texts.iter().map(|text| escape(text)).collect();
                let lead = if resize.is_empty() { String::new() } else { format!("{{{resize}}}") };
                format!("{lead}{}", words.join(" "))
            }
        };
        let _ = writeln!(
            out,
            "Dialogue: 0,{},{},Caption,,0,0,0,,{text}",
            timecode::ass(cue.start),
            timecode::ass(cue.end)
        );
    }
    out
}

/// A page's text with a `\k` before each word: each word's duration in centiseconds runs from its
/// start to the next word's (the last to the page's end), so the durations add up to exactly the
/// page's `end - start` and the highlight reaches each word when it is said.
fn karaoke(page: &Page, start: u64, end: u64, resize: &str) -> String {
    let mut starts: Vec<u64> = Vec::with_capacity(page.words.len());
    for (at, word) in page.words.iter().enumerate() {
        let floor = starts.last().copied().unwrap_or(start);
        let said = if at == 0 { start } else { units(word.start, 100).clamp(floor, end) };
        starts.push(said);
    }
    let mut text = String::new();
    for (at, word) in page.words.iter().enumerate() {
        let next = starts.get(at + 1).copied().unwrap_or(end);
        let lead = if at == 0 { resize } else { "" };
        let space = if at + 1 < page.words.len() { " " } else { "" };
        let _ = write!(text, "{{{lead}\\k{}}}{}{space}", next - starts[at], escape(&word.text));
    }
    text
}

/// `text` as literal ASS event text: braces would open override blocks and a backslash could
/// start `\N`, `\n` or `\h`, so braces are escaped (`\{`, which libass reads as a brace) and a
/// word joiner (U+2060, drawn as nothing) follows every backslash.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '{' => out.push_str("\\{"),
            '}' => out.push_str("\\}"),
            '\\' => out.push_str("\\\u{2060}"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_leave_no_override_or_break() {
        assert_eq!(escape(r"a{\b1}c\N"), "a\\{\\\u{2060}b1\\}c\\\u{2060}N");
        assert_eq!(escape("plain, words!"), "plain, words!");
    }
}
