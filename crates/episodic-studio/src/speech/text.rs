//! How a line is laid out for voicing and timing: which characters are a word's letters, which
//! are fillers (spaces, punctuation, v3 audio tags), and how long the pause after a word is.
//!
//! Words are the whitespace-separated tokens outside `[tags]`, trimmed of punctuation at both
//! ends. A word's letters share its voiced span evenly; the first filler after a word takes the
//! pause before the next word (ElevenLabs books a pause to the punctuation before it), every
//! other filler is zero-width. Tags are kept in the characters but never voiced.

use episodic_elevenlabs::Alignment;

/// A line split into words and fillers, character by character.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Layout {
    /// The characters of the text.
    pub(crate) chars: Vec<char>,
    /// Per character: `Some((word, letter index, letters in the word))` or `None` for a filler.
    pub(crate) class: Vec<Option<(usize, usize, usize)>>,
    /// The words, as voiced.
    pub(crate) words: Vec<String>,
    /// The fillers after each word, up to the next word's first letter (tags included).
    pub(crate) after: Vec<String>,
    /// Per character: whether it is part of an audio tag.
    pub(crate) in_tag: Vec<bool>,
}

/// Longest bracketed run read as an audio tag; a longer one is read as text.
const MAX_TAG_CHARS: usize = 64;

pub(crate) fn layout(text: &str) -> Layout {
    let chars: Vec<char> = text.chars().collect();
    let mut class = vec![None; chars.len()];
    let mut in_tag = vec![false; chars.len()];
    let mut words = Vec::new();
    let mut after: Vec<String> = Vec::new();
    let mut i = 0;
    let mut token: Vec<usize> = Vec::new();
    let flush =
        |token: &mut Vec<usize>, class: &mut Vec<Option<(usize, usize, usize)>>, words: &mut Vec<String>| {
            let first = token.iter().position(|&k| chars[k].is_alphanumeric());
            let last = token.iter().rposition(|&k| chars[k].is_alphanumeric());
            if let (Some(first), Some(last)) = (first, last) {
                let letters = &token[first..=last];
                let word = words.len();
                for (n, &k) in letters.iter().enumerate() {
                    class[k] = Some((word, n, letters.len()));
                }
                words.push(letters.iter().map(|&k| chars[k]).collect());
            }
            token.clear();
        };
    while i < chars.len() {
        if chars[i] == '['
            && let Some(close) = chars[i + 1..].iter().take(MAX_TAG_CHARS).position(|&c| c == ']' || c == '[')
            && chars[i + 1 + close] == ']'
        {
            flush(&mut token, &mut class, &mut words);
            in_tag[i..i + close + 2].iter_mut().for_each(|t| *t = true);
            i += close + 2;
            continue;
        }
        if chars[i].is_whitespace() {
            flush(&mut token, &mut class, &mut words);
        } else {
            token.push(i);
        }
        i += 1;
    }
    flush(&mut token, &mut class, &mut words);
    after.resize(words.len(), String::new());
    let mut current: Option<usize> = None;
    for (k, c) in chars.iter().enumerate() {
        match (class[k], current) {
            (Some((word, _, _)), _) => current = Some(word),
            (None, Some(word)) => after[word].push(*c),
            (None, None) => {}
        }
    }
    Layout { chars, class, words, after, in_tag }
}

/// Seconds of silence after a word, from the fillers that follow it.
pub(crate) fn pause_after(fillers: &str) -> f64 {
    if fillers.contains('…') || fillers.contains("...") {
        0.55
    } else if fillers.contains(['.', '!', '?']) {
        0.45
    } else if fillers.contains([',', ';', ':', '—', '–']) {
        0.2
    } else {
        0.0
    }
}

/// Character times from word spans (`(start, end)` per word, in order) and the audio's end.
///
/// A word's letters share its span evenly; the first filler after a word runs to the next
/// word's start (or to `end` after the last word); other fillers are zero-width. Fillers before
/// the first word end where it starts.
pub(crate) fn alignment(layout: &Layout, spans: &[(f64, f64)], end: f64) -> Alignment {
    let mut out = Alignment::default();
    let mut t = 0.0f64;
    let mut previous_was_letter = false;
    let next_start = |word: usize| spans.get(word).map_or(end, |s| s.0);
    let mut next_word = 0usize;
    for (k, c) in layout.chars.iter().enumerate() {
        let (start, stop) = match layout.class[k] {
            Some((word, n, letters)) => {
                let (ws, we) = spans[word];
                next_word = word + 1;
                let start = if n == 0 { ws } else { t };
                (start, ws + (we - ws) * (n + 1) as f64 / letters as f64)
            }
            None if previous_was_letter || (k == 0 && next_word == 0) => (t, next_start(next_word).max(t)),
            None => (t, t),
        };
        previous_was_letter = layout.class[k].is_some();
        out.characters.push(c.to_string());
        out.character_start_times_seconds.push(round(start));
        out.character_end_times_seconds.push(round(stop));
        t = stop;
    }
    out
}

/// Milliseconds are what ElevenLabs sends; rounding also keeps the JSON short.
fn round(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_punctuation_are_fillers() {
        let l = layout("[whispers] Hi, there... \"you\".");
        assert_eq!(l.words, ["Hi", "there", "you"]);
        assert_eq!(l.after, [", ", "... \"", "\"."]);
        assert_eq!(l.chars.len(), l.class.len());
        assert!(l.class[..11].iter().all(Option::is_none));
        assert_eq!(l.in_tag.iter().filter(|t| **t).count(), "[whispers]".len());
        assert!(l.in_tag[..10].iter().all(|t| *t) && !l.in_tag[10]);
        assert_eq!(l.class[11], Some((0, 0, 2)));
        // An unclosed or nested bracket is text, not a tag.
        assert_eq!(layout("[oops no close").words, ["oops", "no", "close"]);
        assert_eq!(layout("[a [b] c]").words, ["a", "c"]);
        assert_eq!(layout("it's 2 o'clock").words, ["it's", "2", "o'clock"]);
    }

    #[test]
    fn pauses_follow_punctuation() {
        assert_eq!(pause_after(" "), 0.0);
        assert_eq!(pause_after(", "), 0.2);
        assert_eq!(pause_after(". "), 0.45);
        assert_eq!(pause_after("... "), 0.55);
    }

    #[test]
    fn characters_are_contiguous_and_pauses_go_to_punctuation() {
        let l = layout("[sighs] Hi, yo.");
        let a = alignment(&l, &[(0.0, 0.2), (0.4, 0.6)], 1.05);
        assert!(a.is_consistent());
        assert_eq!(a.text(), "[sighs] Hi, yo.");
        let s = &a.character_start_times_seconds;
        let e = &a.character_end_times_seconds;
        for i in 1..s.len() {
            assert_eq!(s[i], e[i - 1], "contiguous at {i}");
            assert!(e[i] >= s[i]);
        }
        // The tag and its space are zero-width at 0; "H" and "i" share the first word.
        assert_eq!((s[8], e[8], e[9]), (0.0, 0.1, 0.2));
        // The comma holds the pause up to "yo"; the space after it is zero-width.
        assert_eq!((s[10], e[10], e[11]), (0.2, 0.4, 0.4));
        // The full stop runs to the end of the audio.
        assert_eq!(*e.last().unwrap(), 1.05);
    }
}
