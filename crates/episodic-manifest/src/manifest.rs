//! The manifest as written: every value keeps its place, nothing is resolved yet.
//!
//! Fields are optional even where the format requires them: a value that was missing or invalid
//! has already been reported by the reader, and later stages skip what depends on it instead of
//! reporting it again.

use crate::{Span, Spanned};
use episodic_catalog::{AspectRatio, Tier};

/// How speaker and listener share the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// Speaker and listener next to each other (hstack).
    SideBySide,
    /// One above the other (vstack).
    Stacked,
    /// The speaker alone fills the frame.
    Solo,
}

impl Layout {
    /// Every layout, in the order docs list them.
    pub const ALL: [Layout; 3] = [Layout::SideBySide, Layout::Stacked, Layout::Solo];

    /// The manifest spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::SideBySide => "side_by_side",
            Layout::Stacked => "stacked",
            Layout::Solo => "solo",
        }
    }
}

/// Where a cast member sits when two share the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Seat {
    /// Left in side-by-side, top when stacked.
    Left,
    /// Right in side-by-side, bottom when stacked.
    Right,
}

impl Seat {
    /// The manifest spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Seat::Left => "left",
            Seat::Right => "right",
        }
    }
}

/// A prompt as written: one string, or the notes' four parts.
#[derive(Debug, Clone, PartialEq)]
pub enum PromptSpec {
    /// A whole prompt.
    Text(Spanned<String>),
    /// Subject, expression, movement, style; any may be left out.
    Parts {
        /// Who and where.
        subject: Option<Spanned<String>>,
        /// Emotional range.
        expression: Option<Spanned<String>>,
        /// Animation intensity.
        movement: Option<Spanned<String>>,
        /// Source aesthetics.
        style: Option<Spanned<String>>,
        /// The whole mapping.
        span: Span,
    },
}

/// The top level of `episode.yaml`.
#[derive(Debug, Clone, Default)]
pub struct Manifest {
    /// `episode`: the id that names outputs and state.
    pub episode: Option<Spanned<String>>,
    /// `title`.
    pub title: Option<Spanned<String>>,
    /// `aspect_ratio`.
    pub aspect_ratio: Option<Spanned<AspectRatio>>,
    /// `quality`.
    pub quality: Option<Spanned<Tier>>,
    /// `layout`.
    pub layout: Option<Spanned<Layout>>,
    /// `budget_usd`.
    pub budget_usd: Option<Spanned<f64>>,
    /// `output`.
    pub output: Option<Spanned<String>>,
    /// `defaults`.
    pub defaults: Defaults,
    /// `cast`, in written order.
    pub cast: Vec<CastEntry>,
    /// Where `cast` was written.
    pub cast_span: Option<Span>,
    /// `segments`, in written order.
    pub segments: Vec<SegmentEntry>,
    /// Where `segments` was written.
    pub segments_span: Option<Span>,
    /// `captions`.
    pub captions: Option<CaptionsEntry>,
}

/// How captions are drawn, as `captions:` on the episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptionStyle {
    /// Word by word, the spoken word highlighted (ASS `\k`).
    Karaoke,
    /// A page of words at a time, without a highlight.
    Plain,
}

impl CaptionStyle {
    /// Every style, in the order docs list them.
    pub const ALL: [CaptionStyle; 2] = [CaptionStyle::Karaoke, CaptionStyle::Plain];

    /// The manifest spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CaptionStyle::Karaoke => "karaoke",
            CaptionStyle::Plain => "plain",
        }
    }
}

/// The `captions` block as written.
#[derive(Debug, Clone, Default)]
pub struct CaptionsEntry {
    /// Where the block is.
    pub span: Span,
    /// `burn`: draw them into the video.
    pub burn: Option<Spanned<bool>>,
    /// `style`.
    pub style: Option<Spanned<CaptionStyle>>,
    /// `words_per_page`.
    pub words_per_page: Option<Spanned<f64>>,
}

/// A cast member's `voice`: a voice id alone, or a mapping with the model and settings.
#[derive(Debug, Clone, Default)]
pub struct VoiceEntry {
    /// Where the voice is written.
    pub span: Span,
    /// `id`: the ElevenLabs voice id.
    pub id: Option<Spanned<String>>,
    /// `model`: the ElevenLabs model id.
    pub model: Option<Spanned<String>>,
    /// `stability`.
    pub stability: Option<Spanned<f64>>,
    /// `similarity_boost`.
    pub similarity_boost: Option<Spanned<f64>>,
    /// `style`.
    pub style: Option<Spanned<f64>>,
    /// `use_speaker_boost`.
    pub use_speaker_boost: Option<Spanned<bool>>,
    /// `speed`.
    pub speed: Option<Spanned<f64>>,
}

/// `defaults`: values every segment inherits.
#[derive(Debug, Clone, Default)]
pub struct Defaults {
    /// Speaker model.
    pub model: Option<Spanned<String>>,
    /// Listener model.
    pub listener_model: Option<Spanned<String>>,
    /// Speaker prompt.
    pub prompt: Option<PromptSpec>,
    /// Negative prompt.
    pub negative_prompt: Option<Spanned<String>>,
    /// Listener prompt.
    pub listener_prompt: Option<Spanned<String>>,
    /// Guidance strength.
    pub cfg_scale: Option<Spanned<f64>>,
    /// The models that take over from `model`, in order, when it is withdrawn or keeps failing
    /// (`model: [first, second, …]`).
    pub model_fallbacks: Vec<Spanned<String>>,
    /// The same for `listener_model`.
    pub listener_model_fallbacks: Vec<Spanned<String>>,
    /// How many times a render may fail on one model of a chain before the next takes over.
    pub fallback_after: Option<Spanned<f64>>,
    /// What counts as a pause where a recording over its model's cap is cut.
    pub pauses: Option<PausesEntry>,
}

/// A `pauses` block (in `defaults` or on a segment): what counts as a pause where a recording
/// longer than its model renders is cut. Each value left out is inherited.
#[derive(Debug, Clone, Default)]
pub struct PausesEntry {
    /// Where the block is.
    pub span: Span,
    /// `quieter_than_db`: the level below which sound is a pause, in dBFS.
    pub quieter_than_db: Option<Spanned<f64>>,
    /// `at_least_seconds`: the shortest pause that counts.
    pub at_least_seconds: Option<Spanned<f64>>,
}

impl Manifest {
    /// Every media file the manifest names, joined to `base`, each once, in the order written.
    pub fn media_paths(&self, base: &std::path::Path) -> Vec<std::path::PathBuf> {
        let cast = self.cast.iter().filter_map(|member| member.image.as_ref());
        let segments = self.segments.iter().flat_map(|segment| {
            [segment.audio.as_ref(), segment.broll.as_ref().and_then(|broll| broll.image.as_ref())]
        });
        let mut seen = std::collections::HashSet::new();
        cast.chain(segments.flatten())
            .map(|written| base.join(&written.value))
            .filter(|path| seen.insert(path.clone()))
            .collect()
    }
}

/// One member of `cast`.
#[derive(Debug, Clone)]
pub struct CastEntry {
    /// The key naming the member.
    pub name: Spanned<String>,
    /// `image`.
    pub image: Option<Spanned<String>>,
    /// `seat`.
    pub seat: Option<Spanned<Seat>>,
    /// Whether `seat` was written at all (it may have been written wrong).
    pub seat_written: bool,
    /// `preset`.
    pub preset: Option<Spanned<String>>,
    /// `prompt`.
    pub prompt: Option<PromptSpec>,
    /// `voice`.
    pub voice: Option<VoiceEntry>,
}

/// One item of `segments`.
#[derive(Debug, Clone, Default)]
pub struct SegmentEntry {
    /// Where the item starts.
    pub span: Span,
    /// `id`.
    pub id: Option<Spanned<String>>,
    /// `speaker`.
    pub speaker: Option<Spanned<String>>,
    /// `audio`.
    pub audio: Option<Spanned<String>>,
    /// `line`: what the speaker says, voiced by ElevenLabs.
    pub line: Option<Spanned<String>>,
    /// `text`: what is said in `audio`, for captions.
    pub text: Option<Spanned<String>>,
    /// `listener`.
    pub listener: Option<Spanned<String>>,
    /// `prompt`.
    pub prompt: Option<PromptSpec>,
    /// `negative_prompt`.
    pub negative_prompt: Option<Spanned<String>>,
    /// `listener_prompt`.
    pub listener_prompt: Option<Spanned<String>>,
    /// `cfg_scale`.
    pub cfg_scale: Option<Spanned<f64>>,
    /// `model`.
    pub model: Option<Spanned<String>>,
    /// `listener_model`.
    pub listener_model: Option<Spanned<String>>,
    /// `layout`.
    pub layout: Option<Spanned<Layout>>,
    /// `broll`.
    pub broll: Option<BrollEntry>,
    /// The rest of a `model:` list, after [`SegmentEntry::model`].
    pub model_fallbacks: Vec<Spanned<String>>,
    /// The rest of a `listener_model:` list.
    pub listener_model_fallbacks: Vec<Spanned<String>>,
    /// `take`: ask again for the same clips (a fresh render of identical requests).
    pub take: Option<Spanned<f64>>,
    /// `pauses`: this segment's own pause rule, over `defaults.pauses`.
    pub pauses: Option<PausesEntry>,
}

/// A `broll` block.
#[derive(Debug, Clone, Default)]
pub struct BrollEntry {
    /// Where the block is.
    pub span: Span,
    /// `model`.
    pub model: Option<Spanned<String>>,
    /// `prompt`.
    pub prompt: Option<Spanned<String>>,
    /// `duration`, in seconds.
    pub duration: Option<Spanned<f64>>,
    /// `image`.
    pub image: Option<Spanned<String>>,
    /// `generate_audio`.
    pub generate_audio: Option<Spanned<bool>>,
    /// `negative_prompt`.
    pub negative_prompt: Option<Spanned<String>>,
    /// The rest of a `model:` list, after [`BrollEntry::model`].
    pub model_fallbacks: Vec<Spanned<String>>,
}
