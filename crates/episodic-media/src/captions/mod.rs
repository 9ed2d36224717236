//! Captions: timed words from speech, paged and written as SRT and WebVTT sidecars, or as an ASS
//! script that libass burns into a segment inside its compose.
//!
//! Pure logic except [`CaptionFont::find`], which looks for the one font file captions are drawn
//! with. The engine drives it in four steps:
//!
//! 1. **Words, per segment.** [`Words::from_alignment`] reads an ElevenLabs character
//!    [`Alignment`] (the `alignment` of a `with-timestamps` answer, never `normalized_alignment`,
//!    whose characters are not the text that was sent): audio tags such as `[whispers]` are
//!    dropped without moving anything after them, whitespace splits words, punctuation stays on
//!    its word. [`Words::from_timed`] takes words that already carry times (ElevenLabs'
//!    forced alignment of an `audio:` segment's `text:`) through the same rules.
//! 2. **Drift.** [`Words::rescale_to`] compares the alignment's last end with the decoded length
//!    of the speech and stretches every time linearly when they differ by more than
//!    [`DRIFT_TOLERANCE_SECONDS`] (speech synthesis only: forced alignment is measured on the audio
//!    itself, whose trailing silence must not stretch it).
//! 3. **Pages, per segment.** [`Track::segment`] groups a segment's words into pages of at most
//!    [`WordsPerPage`] words, times relative to the segment. That track's
//!    [`Track::ass`] is what the segment's compose burns in ([`crate::BurnIn`]).
//! 4. **The episode.** [`Track::episode`] shifts every segment's track by the segment's start in
//!    the final video (offsets the engine knows from the plan) and joins them; its
//!    [`Track::srt`] and [`Track::vtt`] are the sidecars. Burned pages and sidecar cues are the
//!    same pages, so the two never disagree.
//!
//! ```
//! use episodic_media::captions::{Alignment, CaptionStyle, Track, Words, WordsPerPage};
//!
//! let alignment = Alignment::from_chars("[laughs] Hi there.", 0.1);
//! let mut words = Words::from_alignment(&alignment).unwrap();
//! words.rescale_to(1.8).unwrap();
//! let segment = Track::segment(&words, 2.0, WordsPerPage::default());
//! let ass = segment.ass((1080, 1920), CaptionStyle::Karaoke);
//! assert!(ass.contains(r"{\k"));
//! let episode = Track::episode([(0.0, &segment), (2.0, &segment)]);
//! assert!(episode.srt().starts_with("1\n00:00:00,"));
//! ```

mod ass;
mod font;
mod layout;
mod page;
mod sidecar;
mod timecode;
mod track;
mod words;

pub use font::{CAPTION_FAMILY, CaptionFont};
pub use layout::SafeArea;
pub use page::{Page, WordsPerPage};
pub use track::{CaptionStyle, Track};
pub use words::{Alignment, DRIFT_TOLERANCE_SECONDS, Drift, Word, Words};

/// Speech timing that cannot be turned into captions.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CaptionError {
    /// An alignment's three arrays differ in length.
    #[error(
        "the alignment has {characters} characters but {starts} start and {ends} end times: \
         the three lists must be as long as each other"
    )]
    Ragged {
        /// How many characters.
        characters: usize,
        /// How many start times.
        starts: usize,
        /// How many end times.
        ends: usize,
    },
    /// A time is negative or not a number.
    #[error("the time of {what} is {seconds} s; times must be finite and not negative")]
    BadTime {
        /// Which character or word, e.g. `character 12 (\"a\")`.
        what: String,
        /// The time found.
        seconds: f64,
    },
    /// The speech and its alignment are too far apart to be the same speech.
    #[error(
        "the alignment ends at {aligned:.3} s but the speech lasts {audio:.3} s: \
         too far apart to be the same speech"
    )]
    Mismatch {
        /// The alignment's last end.
        aligned: f64,
        /// The decoded speech's length.
        audio: f64,
    },
    /// A page size outside 1 to 6 words.
    #[error("{0} words a page: captions show 1 to 6 words a page")]
    WordsPerPage(u32),
}
