//! The episode after resolution: defaults, presets, cast and models applied, media checked.
//! This is what the planner reads; it never looks at the YAML again.

use crate::manifest::{Layout, Seat};
pub use crate::split::SpeechPiece;
use crate::{Span, Spanned};
use episodic_catalog::{AspectRatio, Tier, Usd};
use episodic_media::FileKind;
use std::path::PathBuf;

/// A checked, fully resolved episode.
#[derive(Debug, Clone)]
pub struct Episode {
    /// The episode id.
    pub id: String,
    /// A human title.
    pub title: Option<String>,
    /// The frame shape.
    pub aspect_ratio: AspectRatio,
    /// The tier avatars render at unless a segment names a model.
    pub quality: Tier,
    /// The episode's layout (segments may override).
    pub layout: Layout,
    /// The spending cap, with where it was written.
    pub budget: Option<Spanned<Usd>>,
    /// Where the finished MP4 goes.
    pub output: PathBuf,
    /// The manifest this came from.
    pub manifest_path: PathBuf,
    /// The characters.
    pub cast: Vec<CastMember>,
    /// The segments, in order.
    pub segments: Vec<Segment>,
    /// How many failed renders on one model of a fallback chain make the next take over.
    pub fallback_after: u32,
}

/// An input file, hashed and identified.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MediaFile {
    /// The path to read it from.
    pub path: PathBuf,
    /// The path as the manifest wrote it.
    pub written: String,
    /// sha256 of the bytes, lowercase hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// What the bytes are.
    pub kind: FileKind,
}

/// A character.
#[derive(Debug, Clone)]
pub struct CastMember {
    /// The cast key.
    pub name: String,
    /// The portrait.
    pub image: MediaFile,
    /// Where the character sits when two share the frame.
    pub seat: Seat,
    /// The preset named, if any.
    pub preset: Option<String>,
}

/// One segment of the episode.
#[derive(Debug, Clone)]
pub struct Segment {
    /// The id.
    pub id: String,
    /// Where the segment starts in the manifest.
    pub span: Span,
    /// The layout this segment is composed with.
    pub layout: Layout,
    /// Speech or b-roll.
    pub kind: SegmentKind,
}

/// What a segment shows.
#[derive(Debug, Clone)]
pub enum SegmentKind {
    /// A character speaks, another may listen.
    Dialogue(Dialogue),
    /// A generated clip without a speaker.
    Broll(Broll),
}

/// A speaking segment.
#[derive(Debug, Clone)]
pub struct Dialogue {
    /// Index into [`Episode::cast`].
    pub speaker: usize,
    /// The speech track.
    pub audio: MediaFile,
    /// Its length in seconds (the clip lasts as long).
    pub audio_seconds: f64,
    /// The avatar model's short name.
    pub model: String,
    /// The composed speaker prompt.
    pub prompt: String,
    /// The negative prompt (sent only where the model's schema has one, or when set explicitly).
    pub negative_prompt: String,
    /// Whether the manifest set `negative_prompt` itself.
    pub negative_prompt_explicit: bool,
    /// `cfg_scale`, when the manifest set it.
    pub cfg_scale: Option<f64>,
    /// The silent reaction shot, if any.
    pub listener: Option<Listener>,
    /// The pieces the line is rendered in when it is longer than its model renders (in order,
    /// together exactly the whole track); empty when it is rendered whole.
    pub pieces: Vec<SpeechPiece>,
    /// The models that take over from `model`, in order (`model: [first, second, …]`).
    pub model_fallbacks: Vec<String>,
}

/// A silent listener clip.
#[derive(Debug, Clone)]
pub struct Listener {
    /// Index into [`Episode::cast`].
    pub member: usize,
    /// The image-to-video model's short name.
    pub model: String,
    /// The models that take over from `model`, in order.
    pub model_fallbacks: Vec<String>,
    /// The prompt; always asks for a closed mouth.
    pub prompt: String,
    /// The negative prompt; always rules out talking.
    pub negative_prompt: String,
}

/// A b-roll segment.
#[derive(Debug, Clone)]
pub struct Broll {
    /// The video model's short name.
    pub model: String,
    /// The models that take over from `model`, in order.
    pub model_fallbacks: Vec<String>,
    /// What to show.
    pub prompt: String,
    /// Length in seconds.
    pub duration: u32,
    /// The start image, for image-to-video.
    pub image: Option<MediaFile>,
    /// Whether the model should generate sound.
    pub generate_audio: bool,
    /// A negative prompt, when set.
    pub negative_prompt: Option<String>,
}

impl Episode {
    /// The cast member at an index from a segment.
    pub fn member(&self, index: usize) -> &CastMember {
        &self.cast[index]
    }
}
