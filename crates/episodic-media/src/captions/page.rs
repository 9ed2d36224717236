//! Pages: the few words shown together, from a segment's words.

use super::{CaptionError, Word};
use serde::{Deserialize, Serialize};

/// A page never runs past a sentence's end: the next sentence starts a page.
const SENTENCE_ENDS: &[char] = &['.', '!', '?', '…'];

/// A silence this long (seconds) between two words starts a new page, so a page is not left on
/// screen through a pause and then finished after it.
const PAUSE_BREAK: f64 = 0.7;

/// How long (seconds) a page stays after its last word ends, when nothing follows sooner: long
/// enough to finish reading a last short word.
const HOLD: f64 = 0.4;

/// How many words a page shows at most: 1 to 6, 3 by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct WordsPerPage(u8);

impl WordsPerPage {
    /// The most words a page may show: more no longer reads as word-by-word captions.
    pub const MAX: u32 = 6;

    /// `count` words a page, when it is 1 to [`WordsPerPage::MAX`].
    pub fn new(count: u32) -> Result<Self, CaptionError> {
        match u8::try_from(count) {
            Ok(count @ 1..=6) => Ok(Self(count)),
            _ => Err(CaptionError::WordsPerPage(count)),
        }
    }

    /// The count.
    pub fn get(self) -> usize {
        usize::from(self.0)
    }
}

impl Default for WordsPerPage {
    fn default() -> Self {
        Self(3)
    }
}

impl TryFrom<u32> for WordsPerPage {
    type Error = CaptionError;

    fn try_from(count: u32) -> Result<Self, CaptionError> {
        Self::new(count)
    }
}

impl From<WordsPerPage> for u32 {
    fn from(count: WordsPerPage) -> u32 {
        u32::from(count.0)
    }
}

/// Words shown together, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page {
    /// The words, in order (at least one).
    pub words: Vec<Word>,
    /// When the page appears: its first word's start, in seconds.
    pub start: f64,
    /// When it goes: a little after its last word, never after the next page appears or the
    /// segment ends.
    pub end: f64,
}

impl Page {
    /// The words as one line of text.
    pub fn text(&self) -> String {
        let texts: Vec<&str> = self.words.iter().map(|word| word.text.as_str()).collect();
        texts.join(" ")
    }
}

/// Groups `words` (starts in order) into pages of at most `per_page` words, ending no later than
/// `until` seconds.
///
/// Words are first cut into runs at sentence ends and long pauses; each run is then split into
/// as few pages as fit, of sizes as even as possible (seven words at three a page are 3 + 2 + 2,
/// never 3 + 3 + 1 with a lone word left on screen).
pub(crate) fn pages(words: &[Word], per_page: WordsPerPage, until: f64) -> Vec<Page> {
    let mut groups: Vec<&[Word]> = Vec::new();
    for run in runs(words) {
        let count = run.len().div_ceil(per_page.get());
        let (base, extra) = (run.len() / count, run.len() % count);
        let mut rest = run;
        for at in 0..count {
            let (page, after) = rest.split_at(base + usize::from(at < extra));
            groups.push(page);
            rest = after;
        }
    }
    let until = if until.is_finite() { until.max(0.0) } else { f64::INFINITY };
    let mut pages: Vec<Page> = Vec::with_capacity(groups.len());
    for (at, group) in groups.iter().enumerate() {
        let start = group[0].start.min(until);
        let next = groups.get(at + 1).map_or(until, |next| next[0].start.min(until));
        let spoken = group.iter().map(|word| word.end).fold(start, f64::max);
        let end = (spoken + HOLD).min(next).min(until).max(start);
        pages.push(Page { words: group.to_vec(), start, end });
    }
    pages
}

/// `words` cut after every sentence's end and before every long pause.
fn runs(words: &[Word]) -> Vec<&[Word]> {
    let mut runs = Vec::new();
    let mut from = 0;
    for at in 1..=words.len() {
        let ends_here = at == words.len()
            || words[at - 1].text.trim_end_matches(['"', '\'', '”', '’', ')', '»']).ends_with(SENTENCE_ENDS)
            || words[at].start - words[at - 1].end >= PAUSE_BREAK;
        if ends_here {
            runs.push(&words[from..at]);
            from = at;
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::captions::{Alignment, Words};

    fn paged(text: &str, per_page: u32) -> Vec<Page> {
        let words = Words::from_alignment(&Alignment::from_chars(text, 0.1)).unwrap();
        pages(words.as_slice(), WordsPerPage::new(per_page).unwrap(), f64::INFINITY)
    }

    fn texts(pages: &[Page]) -> Vec<String> {
        pages.iter().map(Page::text).collect()
    }

    #[test]
    fn words_per_page_is_one_to_six() {
        assert_eq!(WordsPerPage::default().get(), 3);
        assert!(WordsPerPage::new(0).is_err());
        assert_eq!(WordsPerPage::new(6).unwrap().get(), 6);
        assert_eq!(
            WordsPerPage::new(7).unwrap_err().to_string(),
            "7 words a page: captions show 1 to 6 words a page"
        );
        assert_eq!(serde_json::from_str::<WordsPerPage>("2").unwrap().get(), 2);
        assert!(serde_json::from_str::<WordsPerPage>("9").is_err());
    }

    #[test]
    fn runs_are_split_evenly() {
        assert_eq!(texts(&paged("a b c d e f g", 3)), ["a b c", "d e", "f g"]);
        assert_eq!(texts(&paged("a b c d e f", 3)), ["a b c", "d e f"]);
        assert_eq!(texts(&paged("a b c d e f g", 1)).len(), 7);
        assert_eq!(texts(&paged("a b c d e f g", 6)), ["a b c d", "e f g"]);
    }

    #[test]
    fn sentences_start_pages() {
        assert_eq!(
            texts(&paged("Yes. I know what \"you did!\" Fine", 3)),
            ["Yes.", "I know what", "\"you did!\"", "Fine"]
        );
    }

    #[test]
    fn pages_hold_briefly_never_overlap_and_stop_at_the_segment_end() {
        let word = |text: &str, start, end| Word { text: text.into(), start, end };
        let words = [
            word("one", 0.0, 0.3),
            word("two", 0.3, 0.6),
            word("three", 2.0, 2.4),
            word("four", 2.4, 2.5),
            word("five", 2.5, 2.6),
        ];
        let pages = pages(&words, WordsPerPage::new(2).unwrap(), 2.8);
        let spans: Vec<(f64, f64)> = pages.iter().map(|page| (page.start, page.end)).collect();
        // The pause before `three` breaks the page; `one two` holds 0.4 s; `three four` ends when
        // `five` appears; `five` stops at the segment's end.
        assert_eq!(texts(&pages), ["one two", "three four", "five"]);
        assert_eq!(spans, [(0.0, 1.0), (2.0, 2.5), (2.5, 2.8)]);
    }
}
