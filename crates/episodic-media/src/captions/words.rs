//! Timed words from a character alignment or from already timed words: audio tags dropped, words
//! split on whitespace, punctuation kept on its word; and the drift check against the audio.

use super::CaptionError;
use serde::{Deserialize, Serialize};

/// How far (in seconds) an alignment's last end may be from the decoded speech's length before
/// every time is rescaled.
///
/// 0.1 s: the decoded length of an MP3 differs from the speech by its framing alone (the encoder's
/// delay and the padded last frame: up to about 50 ms at 44.1 kHz), and rescaling for that would
/// stretch correct times toward the audio's padding. A word shown up to 0.1 s early or late is
/// below what viewers notice in subtitles (three frames at 30 fps). Beyond it the model clock has
/// drifted (ElevenLabs' own reports: up to 12 % short on long clips), and a linear rescale, which
/// moves late words most, is the correction that matches a clock running at the wrong rate.
pub const DRIFT_TOLERANCE_SECONDS: f64 = 0.1;

/// The most an alignment may be stretched or shrunk: beyond these it is not the audio's alignment.
const PLAUSIBLE_FACTORS: std::ops::RangeInclusive<f64> = 0.5..=2.0;

/// ElevenLabs' character alignment (`alignment` in a `with-timestamps` answer): three parallel
/// lists, one entry per character of the text that was sent, audio tags included.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Alignment {
    /// The characters, in order (each usually one `char`).
    pub characters: Vec<String>,
    /// When each character starts, in seconds from the start of the speech.
    pub character_start_times_seconds: Vec<f64>,
    /// When each character ends, in seconds from the start of the speech.
    pub character_end_times_seconds: Vec<f64>,
}

impl Alignment {
    /// `text` with every character lasting `seconds_per_char`, back to back: the shape of a real
    /// alignment for examples and tests, and for speech whose only timing is its length.
    pub fn from_chars(text: &str, seconds_per_char: f64) -> Alignment {
        let characters: Vec<String> = text.chars().map(String::from).collect();
        let starts = (0..characters.len()).map(|at| at as f64 * seconds_per_char).collect();
        let ends = (1..=characters.len()).map(|at| at as f64 * seconds_per_char).collect();
        Alignment { characters, character_start_times_seconds: starts, character_end_times_seconds: ends }
    }
}

/// One spoken word as captions show it, with when it is said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Word {
    /// The word with its punctuation, e.g. `"Well,"`; never empty, never a tag.
    pub text: String,
    /// When it starts, in seconds.
    pub start: f64,
    /// When it ends (at or after `start`), in seconds.
    pub end: f64,
}

/// One segment's words in the order spoken; starts never decrease.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Words {
    words: Vec<Word>,
}

/// What [`Words::rescale_to`] found and did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Drift {
    /// Where the alignment ended, in seconds.
    pub aligned: f64,
    /// How long the speech lasts, in seconds.
    pub audio: f64,
    /// The factor every time was multiplied by; `1.0` when the difference was within
    /// [`DRIFT_TOLERANCE_SECONDS`] and nothing moved.
    pub factor: f64,
}

/// One character of the text with its times, or a boundary between two timed words.
#[derive(Clone, Copy)]
enum Mark {
    Char(char, f64, f64),
    /// Ends a word without a space: the entries of forced alignment, which hold no spaces.
    Break,
}

impl Words {
    /// The words of an ElevenLabs character alignment.
    ///
    /// An audio tag (`[` up to the next `]`, with no `[` between) is no word and ends the word
    /// before it; every other character keeps its own index, so the words after a tag keep their
    /// times. A `[` never closed is text. Characters that are whitespace split words; a run of
    /// punctuation alone (`—`, a spaced `?`) joins the word before it (or the next, at the
    /// start). Times are checked (finite, not negative); a character ending before it starts ends
    /// at its start, and a word never starts before the one before it.
    pub fn from_alignment(alignment: &Alignment) -> Result<Words, CaptionError> {
        let Alignment {
            characters,
            character_start_times_seconds: starts,
            character_end_times_seconds: ends,
        } = alignment;
        if characters.len() != starts.len() || characters.len() != ends.len() {
            return Err(CaptionError::Ragged {
                characters: characters.len(),
                starts: starts.len(),
                ends: ends.len(),
            });
        }
        let mut marks = Vec::with_capacity(characters.len());
        for (at, text) in characters.iter().enumerate() {
            let what = || format!("character {at} ({text:?})");
            let (start, end) = (checked(starts[at], what)?, checked(ends[at], what)?);
            marks.extend(text.chars().map(|c| Mark::Char(c, start, end.max(start))));
        }
        Ok(Words { words: words_of(&marks) })
    }

    /// Words that already carry times (ElevenLabs' forced alignment), through the same rules as
    /// [`Words::from_alignment`]: tags dropped, whitespace inside an entry splits it (each part
    /// keeps the entry's times), entries that are only whitespace vanish, and entries that are only
    /// punctuation join the word before them with no space between.
    pub fn from_timed(timed: impl IntoIterator<Item = Word>) -> Result<Words, CaptionError> {
        let mut marks = Vec::new();
        for (at, word) in timed.into_iter().enumerate() {
            let what = || format!("word {at} ({:?})", word.text);
            let (start, end) = (checked(word.start, what)?, checked(word.end, what)?);
            marks.push(Mark::Break);
            marks.extend(word.text.chars().map(|c| Mark::Char(c, start, end.max(start))));
        }
        Ok(Words { words: words_of(&marks) })
    }

    /// The words, in order.
    pub fn as_slice(&self) -> &[Word] {
        &self.words
    }

    /// Whether nothing is said.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// When the last word ends, if there is one.
    pub fn last_end(&self) -> Option<f64> {
        self.words.iter().map(|word| word.end).reduce(f64::max)
    }

    /// Checks the words against the decoded length of their speech, and rescales every time
    /// linearly (so the last end meets the audio's end) when the two differ by more than
    /// [`DRIFT_TOLERANCE_SECONDS`]. Use it for synthesised speech only; forced alignment is
    /// measured on the audio already.
    ///
    /// Fails when stretching by less than half or more than double would be needed: such an
    /// alignment belongs to other audio, and captions from it would be wrong everywhere.
    pub fn rescale_to(&mut self, audio_seconds: f64) -> Result<Drift, CaptionError> {
        let audio = checked(audio_seconds, || "the speech".into())?;
        let Some(aligned) = self.last_end() else {
            return Ok(Drift { aligned: 0.0, audio, factor: 1.0 });
        };
        if (aligned - audio).abs() <= DRIFT_TOLERANCE_SECONDS {
            return Ok(Drift { aligned, audio, factor: 1.0 });
        }
        let factor = audio / aligned;
        if aligned <= 0.0 || !PLAUSIBLE_FACTORS.contains(&factor) {
            return Err(CaptionError::Mismatch { aligned, audio });
        }
        for word in &mut self.words {
            word.start *= factor;
            word.end *= factor;
        }
        Ok(Drift { aligned, audio, factor })
    }

    /// The same words `offset` seconds later (or earlier, never before zero).
    pub fn shifted(&self, offset: f64) -> Words {
        let offset = if offset.is_finite() { offset } else { 0.0 };
        let words = self
            .words
            .iter()
            .map(|word| Word {
                text: word.text.clone(),
                start: (word.start + offset).max(0.0),
                end: (word.end + offset).max(0.0),
            })
            .collect();
        Words { words }
    }
}

fn checked(seconds: f64, what: impl FnOnce() -> String) -> Result<f64, CaptionError> {
    if seconds.is_finite() && seconds >= 0.0 {
        Ok(seconds)
    } else {
        Err(CaptionError::BadTime { what: what(), seconds })
    }
}

/// A word being read: its text so far, the times of its first and last characters, and whether
/// whitespace came before it.
struct Token {
    text: String,
    start: f64,
    end: f64,
    spaced: bool,
}

impl Token {
    fn is_punctuation(&self) -> bool {
        !self.text.chars().any(char::is_alphanumeric)
    }

    /// Appends `next`, with a space when the text had one between them.
    fn append(&mut self, next: Token) {
        if next.spaced {
            self.text.push(' ');
        }
        self.text.push_str(&next.text);
        self.end = self.end.max(next.end);
    }
}

/// Splits marked text into tokens (tags skipped, whitespace and breaks splitting), then joins lone
/// punctuation to a neighbour and keeps starts in order.
fn words_of(marks: &[Mark]) -> Vec<Word> {
    let mut tokens: Vec<Token> = Vec::new();
    let mut current: Option<Token> = None;
    let mut spaced = false;
    let mut at = 0;
    while at < marks.len() {
        let tag = match marks[at] {
            Mark::Char('[', ..) => tag_end(&marks[at + 1..]),
            _ => None,
        };
        if let Some(close) = tag {
            tokens.extend(current.take());
            // A tag stands where a space would: `[laughs]Now` reads as `Now`, a word of its own.
            spaced = true;
            at += close + 2;
            continue;
        }
        match marks[at] {
            Mark::Char(c, ..) if c.is_whitespace() => {
                tokens.extend(current.take());
                spaced = true;
            }
            Mark::Break => {
                tokens.extend(current.take());
            }
            Mark::Char(c, start, end) => {
                let token = current.get_or_insert_with(|| Token {
                    text: String::new(),
                    start,
                    end,
                    spaced: std::mem::take(&mut spaced),
                });
                token.text.push(c);
                token.end = token.end.max(end);
            }
        }
        at += 1;
    }
    tokens.extend(current);
    attach_punctuation(tokens)
}

/// Where the tag opened just before `rest` closes: the index of its `]`, if one comes before any
/// other `[`.
fn tag_end(rest: &[Mark]) -> Option<usize> {
    let close = rest.iter().position(|mark| matches!(mark, Mark::Char('[' | ']', ..)))?;
    matches!(rest[close], Mark::Char(']', ..)).then_some(close)
}

fn attach_punctuation(tokens: Vec<Token>) -> Vec<Word> {
    let mut words: Vec<Token> = Vec::with_capacity(tokens.len());
    // Punctuation met before any word, waiting to lead the first one.
    let mut leading: Option<Token> = None;
    for token in tokens {
        if token.is_punctuation() {
            match (words.last_mut(), leading.as_mut()) {
                (Some(previous), _) => previous.append(token),
                (None, Some(lead)) => lead.append(token),
                (None, None) => leading = Some(token),
            }
            continue;
        }
        let word = match leading.take() {
            Some(mut lead) => {
                lead.append(token);
                lead
            }
            None => token,
        };
        words.push(word);
    }
    // Nothing but punctuation: show it rather than nothing.
    words.extend(leading);
    let mut floor = 0.0_f64;
    words
        .into_iter()
        .map(|token| {
            let start = token.start.max(floor);
            floor = start;
            Word { text: token.text, start, end: token.end.max(start) }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(words: &Words) -> Vec<&str> {
        words.as_slice().iter().map(|word| word.text.as_str()).collect()
    }

    fn times(words: &Words) -> Vec<(f64, f64)> {
        words.as_slice().iter().map(|word| (word.start, word.end)).collect()
    }

    #[test]
    fn whitespace_splits_and_punctuation_stays_on_its_word() {
        let words = Words::from_alignment(&Alignment::from_chars("Hi 2 you.", 0.1)).unwrap();
        assert_eq!(texts(&words), ["Hi", "2", "you."]);
        let times = times(&words);
        assert!((times[0].0 - 0.0).abs() < 1e-9 && (times[0].1 - 0.2).abs() < 1e-9, "{times:?}");
        assert!((times[2].0 - 0.5).abs() < 1e-9 && (times[2].1 - 0.9).abs() < 1e-9, "{times:?}");
    }

    #[test]
    fn the_reference_example_keeps_its_times() {
        let alignment = Alignment {
            characters: "Hi 2 you.".chars().map(String::from).collect(),
            character_start_times_seconds: vec![0.0, 0.09, 0.16, 0.21, 0.43, 0.49, 0.55, 0.62, 0.7],
            character_end_times_seconds: vec![0.09, 0.16, 0.21, 0.43, 0.49, 0.55, 0.62, 0.7, 0.93],
        };
        let words = Words::from_alignment(&alignment).unwrap();
        assert_eq!(times(&words), [(0.0, 0.16), (0.21, 0.43), (0.49, 0.93)]);
    }

    #[test]
    fn tags_are_no_words_and_later_words_keep_their_times() {
        let text = "[whispers] Come closer. [laughs]Now!";
        let alignment = Alignment::from_chars(text, 0.05);
        let words = Words::from_alignment(&alignment).unwrap();
        assert_eq!(texts(&words), ["Come", "closer.", "Now!"]);
        // Each word's times are those of its own characters in the original text.
        for (word, source) in words.as_slice().iter().zip(["Come", "closer.", "Now!"]) {
            let first = text.find(source).unwrap();
            let last = first + source.len() - 1;
            assert!((word.start - alignment.character_start_times_seconds[first]).abs() < 1e-9);
            assert!((word.end - alignment.character_end_times_seconds[last]).abs() < 1e-9);
        }
    }

    #[test]
    fn a_tag_inside_text_splits_it_and_an_unclosed_bracket_is_text() {
        let words = Words::from_alignment(&Alignment::from_chars("yes[sighs]no [a [b] c", 0.1)).unwrap();
        assert_eq!(texts(&words), ["yes", "no", "[a", "c"]);
        let words =
            Words::from_alignment(&Alignment::from_chars("[strong French accent] Bonjour [", 0.1)).unwrap();
        assert_eq!(texts(&words), ["Bonjour ["]);
    }

    #[test]
    fn lone_punctuation_joins_a_neighbour() {
        let words = Words::from_alignment(&Alignment::from_chars("— Wait — what ?", 0.1)).unwrap();
        assert_eq!(texts(&words), ["— Wait —", "what ?"]);
        assert!((words.as_slice()[0].start - 0.0).abs() < 1e-9);
        let words = Words::from_alignment(&Alignment::from_chars("[sighs] ...", 0.1)).unwrap();
        assert_eq!(texts(&words), ["..."]);
        assert!(Words::from_alignment(&Alignment::from_chars("[laughs]  ", 0.1)).unwrap().is_empty());
    }

    #[test]
    fn multi_character_entries_and_odd_times_are_handled() {
        let alignment = Alignment {
            characters: vec!["e\u{301}".into(), "h".into(), "\n".into(), "b".into()],
            character_start_times_seconds: vec![0.0, 0.3, 0.4, 0.2],
            character_end_times_seconds: vec![0.3, 0.1, 0.5, 0.6],
        };
        let words = Words::from_alignment(&alignment).unwrap();
        assert_eq!(texts(&words), ["e\u{301}h", "b"]);
        // An end before its start is the start; a word never starts before the one before it.
        assert_eq!(times(&words), [(0.0, 0.3), (0.2, 0.6)]);
    }

    #[test]
    fn broken_alignments_are_refused() {
        let mut alignment = Alignment::from_chars("ab", 0.1);
        alignment.character_end_times_seconds.pop();
        let err = Words::from_alignment(&alignment).unwrap_err();
        assert_eq!(err, CaptionError::Ragged { characters: 2, starts: 2, ends: 1 });
        let mut alignment = Alignment::from_chars("ab", 0.1);
        alignment.character_start_times_seconds[1] = -1.0;
        let err = Words::from_alignment(&alignment).unwrap_err().to_string();
        assert!(err.contains("character 1 (\"b\")") && err.contains("-1"), "{err}");
    }

    #[test]
    fn timed_words_follow_the_same_rules() {
        let word = |text: &str, start, end| Word { text: text.into(), start, end };
        let words = Words::from_timed([
            word("[laughs]", 0.0, 0.4),
            word("Hello", 0.5, 0.9),
            word(",", 0.9, 1.0),
            word(" ", 1.0, 1.1),
            word("big world", 1.2, 1.8),
            word("again", 1.7, 2.0),
        ])
        .unwrap();
        assert_eq!(texts(&words), ["Hello,", "big", "world", "again"]);
        assert_eq!(times(&words), [(0.5, 1.0), (1.2, 1.8), (1.2, 1.8), (1.7, 2.0)]);
        let err = Words::from_timed([word("x", f64::NAN, 1.0)]).unwrap_err().to_string();
        assert!(err.contains("word 0 (\"x\")"), "{err}");
    }

    #[test]
    fn small_drift_is_left_alone_and_large_drift_is_rescaled() {
        let mut words = Words::from_alignment(&Alignment::from_chars("one two three", 0.1)).unwrap();
        let before = words.clone();
        let drift = words.rescale_to(1.3 + DRIFT_TOLERANCE_SECONDS - 1e-6).unwrap();
        assert_eq!(drift.factor, 1.0);
        assert_eq!(words, before);

        // The model clock ran 10 % short: every time grows by the same factor.
        let drift = words.rescale_to(1.43).unwrap();
        assert!((drift.factor - 1.1).abs() < 1e-9 && (drift.aligned - 1.3).abs() < 1e-9, "{drift:?}");
        assert!((words.last_end().unwrap() - 1.43).abs() < 1e-9);
        for (new, old) in words.as_slice().iter().zip(before.as_slice()) {
            assert!((new.start - old.start * 1.1).abs() < 1e-9 && (new.end - old.end * 1.1).abs() < 1e-9);
        }
        // Too long a clock: shrink.
        let mut long = before.clone();
        assert!((long.rescale_to(1.0).unwrap().factor - 1.0 / 1.3).abs() < 1e-9);
        assert!((long.last_end().unwrap() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn implausible_drift_and_bad_lengths_are_refused() {
        let mut words = Words::from_alignment(&Alignment::from_chars("one two three", 0.1)).unwrap();
        assert_eq!(words.rescale_to(3.0).unwrap_err(), CaptionError::Mismatch { aligned: 1.3, audio: 3.0 });
        assert!(words.rescale_to(f64::INFINITY).is_err());
        let mut nothing = Words::default();
        assert_eq!(nothing.rescale_to(2.0).unwrap().factor, 1.0);
    }

    #[test]
    fn shifting_moves_every_time() {
        let words = Words::from_alignment(&Alignment::from_chars("a b", 0.5)).unwrap();
        let later = words.shifted(10.0);
        assert_eq!(times(&later), [(10.0, 10.5), (11.0, 11.5)]);
        assert_eq!(times(&later.shifted(-20.0)), [(0.0, 0.0), (0.0, 0.0)]);
    }
}
