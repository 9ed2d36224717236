//! The episode after resolution: defaults, presets, cast and models applied, media checked.
//! This is what the planner reads; it never looks at the YAML again.

use crate::manifest::{CaptionStyle, Layout, Seat};
pub use crate::split::{PauseRule, SpeechPiece};
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
    /// How captions are drawn, when the manifest asks for them.
    pub captions: Option<Captions>,
}

/// `captions:` resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Captions {
    /// Draw them into the video (else only the `.srt` and `.vtt` sidecars).
    pub burn: bool,
    /// Karaoke or plain.
    pub style: CaptionStyle,
    /// Words shown at once, 1 to 6.
    pub words_per_page: u8,
}

impl Captions {
    /// Words a page when the manifest does not say.
    pub const DEFAULT_WORDS_PER_PAGE: u8 = 3;
}

/// A cast member's ElevenLabs voice.
#[derive(Debug, Clone, PartialEq)]
pub struct Voice {
    /// The ElevenLabs voice id.
    pub id: String,
    /// The ElevenLabs model id (`eleven_v3` unless the manifest names another).
    pub model: String,
    /// The settings the manifest sets; unset ones are left to ElevenLabs (never sent as null).
    pub settings: VoiceSettings,
}

/// `voice_settings` as sent: only what the manifest set.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct VoiceSettings {
    /// Stability, 0 to 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stability: Option<f64>,
    /// Similarity boost, 0 to 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub similarity_boost: Option<f64>,
    /// Style exaggeration, 0 to 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub style: Option<f64>,
    /// Speaker boost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub use_speaker_boost: Option<bool>,
    /// Speed, 0.7 to 1.2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speed: Option<f64>,
}

impl VoiceSettings {
    /// Whether no setting is set (then `voice_settings` is not sent at all).
    pub fn is_empty(&self) -> bool {
        *self == VoiceSettings::default()
    }
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
    /// The voice that speaks the character's lines, if any.
    pub voice: Option<Voice>,
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
    /// Which take of its clips (`take: N`, 1 when unset): another take renders the same
    /// requests afresh, with keys of their own, instead of sharing a render another segment
    /// asked for identically.
    pub take: u32,
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
    /// Where the speech comes from: a file, or a line to voice.
    pub speech: Speech,
    /// What is said, for captions: the line, or an audio segment's `text`.
    pub text: Option<String>,
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
    /// What counts as a pause where a recording over its model's cap is cut (`pauses:` on the
    /// segment over `defaults`, else [`PauseRule::DEFAULT`]); unused when it is rendered whole.
    pub pauses: PauseRule,
    /// The models that take over from `model`, in order (`model: [first, second, …]`).
    pub model_fallbacks: Vec<String>,
}

/// The speech of a dialogue segment.
#[derive(Debug, Clone)]
pub enum Speech {
    /// A recorded file (`audio:`).
    Audio {
        /// The speech track.
        file: MediaFile,
        /// Its length in seconds (the clip lasts as long).
        seconds: f64,
    },
    /// A line voiced by ElevenLabs before the render (`line:`).
    Line(Box<Line>),
}

impl Speech {
    /// The speech's length in seconds: measured for a file, estimated for a line.
    pub fn seconds(&self) -> f64 {
        match self {
            Speech::Audio { seconds, .. } => *seconds,
            Speech::Line(line) => line.estimated_seconds,
        }
    }

    /// Whether the length is an estimate (the audio does not exist yet).
    pub fn is_estimate(&self) -> bool {
        matches!(self, Speech::Line(_))
    }
}

/// A line to voice.
#[derive(Debug, Clone)]
pub struct Line {
    /// The exact text sent, audio tags included.
    pub text: String,
    /// Where the line is written.
    pub span: Span,
    /// The speaker's voice.
    pub voice: Voice,
    /// Characters ElevenLabs bills (tags included).
    pub characters: usize,
    /// How long it is expected to last, from the catalog's speaking rate.
    pub estimated_seconds: f64,
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
