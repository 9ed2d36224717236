//! SRT and WebVTT: one cue per page, times in milliseconds.

use super::Page;
use super::timecode::{self, units};

/// A page's span in whole `per_second` units, with its text, ready to write.
pub(crate) struct Cue {
    /// First unit shown.
    pub(crate) start: u64,
    /// First unit no longer shown (after `start`).
    pub(crate) end: u64,
    /// The page.
    pub(crate) page: usize,
}

/// The pages' spans rounded to `per_second` units: sorted by start, each ending no later than the
/// next starts, and none empty (a page rounded to nothing is dropped rather than shown for no time).
pub(crate) fn cues(pages: &[Page], per_second: u64) -> Vec<Cue> {
    let mut cues: Vec<Cue> = pages
        .iter()
        .enumerate()
        .map(|(page, span)| Cue {
            start: units(span.start, per_second),
            end: units(span.end, per_second),
            page,
        })
        .collect();
    cues.sort_by_key(|cue| (cue.start, cue.page));
    for at in 1..cues.len() {
        let next_start = cues[at].start;
        let previous = &mut cues[at - 1];
        previous.end = previous.end.min(next_start);
    }
    cues.retain(|cue| cue.end > cue.start);
    cues
}

/// SubRip: numbered cues, `HH:MM:SS,mmm`, a blank line after each.
pub(crate) fn srt(pages: &[Page]) -> String {
    let mut out = String::new();
    for (number, cue) in cues(pages, 1000).iter().enumerate() {
        out.push_str(&format!(
            "{}\n{} --> {}\n{}\n\n",
            number + 1,
            timecode::srt(cue.start),
            timecode::srt(cue.end),
            pages[cue.page].text()
        ));
    }
    out
}

/// WebVTT: the header, then cues with `HH:MM:SS.mmm`; `&`, `<` and `>` escaped, since cue text is
/// markup (and `-->` may not appear in it).
pub(crate) fn vtt(pages: &[Page]) -> String {
    let mut out = String::from("WEBVTT\n\n");
    for cue in cues(pages, 1000) {
        let text = pages[cue.page].text().replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        out.push_str(&format!("{} --> {}\n{text}\n\n", timecode::vtt(cue.start), timecode::vtt(cue.end)));
    }
    out
}
