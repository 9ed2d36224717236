//! The nodes of a plan.

use crate::NodeKey;
use episodic_catalog::{Resolution, Usd};
use episodic_manifest::{Layout, MediaFile, Seat, VoiceSettings};
use serde::Serialize;
use std::fmt;

/// The JSON key that marks an input file inside render arguments: `{"$file": "<sha256>"}`.
/// The engine replaces each with the file's uploaded URL just before submitting.
pub const FILE_PLACEHOLDER: &str = "$file";

/// One step of the plan.
#[derive(Debug, Clone)]
pub struct Node {
    /// A readable id, unique in the plan and stable across runs: `render/cold-open/speaker`.
    pub id: String,
    /// What determines the node's output.
    pub key: NodeKey,
    /// A short description for tables.
    pub label: String,
    /// The estimated cost (renders and speech; everything else is free).
    pub cost: Usd,
    /// What the node does.
    pub detail: NodeDetail,
}

/// What a node does.
#[derive(Debug, Clone)]
pub enum NodeDetail {
    /// Voice one line with ElevenLabs (audio and its character timings).
    Speech(SpeechSpec),
    /// Time the words of a recorded file with ElevenLabs' forced alignment.
    Align(AlignSpec),
    /// Upload one input file.
    Upload(UploadSpec),
    /// Render one clip on fal.
    Render(RenderSpec),
    /// Download a render's result into the artifact store.
    Download {
        /// The id of the render node.
        render: String,
    },
    /// Lay a segment's clips onto the canvas.
    Compose(ComposeSpec),
    /// Build the episode's audio from the segments' main clips, encoded once.
    Audio(AudioSpec),
    /// Join the segments into the episode.
    Concat(ConcatSpec),
    /// Join the pieces a long line was rendered in into its speaker clip.
    Join(JoinSpec),
}

/// The kind of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// A line voiced by ElevenLabs.
    Speech,
    /// Words of a recorded file timed by ElevenLabs' forced alignment.
    Align,
    /// Upload.
    Upload,
    /// Render.
    Render,
    /// Download.
    Download,
    /// Compose.
    Compose,
    /// The episode's audio.
    Audio,
    /// Concat.
    Concat,
    /// The pieces of a long line joined.
    Join,
}

impl NodeKind {
    /// The name used in tables and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Speech => "speech",
            NodeKind::Align => "align",
            NodeKind::Upload => "upload",
            NodeKind::Render => "render",
            NodeKind::Download => "download",
            NodeKind::Compose => "compose",
            NodeKind::Audio => "audio",
            NodeKind::Concat => "concat",
            NodeKind::Join => "join",
        }
    }
}

impl fmt::Display for NodeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The endpoint forced alignment is asked at: part of an align node's key (ElevenLabs names no
/// model for it; a new endpoint would mean new times).
pub const FORCED_ALIGNMENT_ENDPOINT: &str = "/v1/forced-alignment";

/// A recorded file and what is said in it, for ElevenLabs to time word by word.
#[derive(Debug, Clone)]
pub struct AlignSpec {
    /// The segment whose `audio:` it is.
    pub segment: String,
    /// The recording, hashed.
    pub audio: MediaFile,
    /// What is said (the segment's `text`).
    pub text: String,
}

impl AlignSpec {
    /// What the node's key hashes: the audio's bytes, the text and the endpoint.
    pub fn key_json(&self) -> serde_json::Value {
        serde_json::json!({
            "align": 1,
            "audio": self.audio.sha256,
            "text": self.text,
            "endpoint": FORCED_ALIGNMENT_ENDPOINT,
        })
    }
}

/// A file to upload.
#[derive(Debug, Clone)]
pub enum UploadSpec {
    /// An input file the manifest names, hashed when planned; the node's key is its sha256.
    File {
        /// The file, hashed.
        file: MediaFile,
    },
    /// The audio a speech node voiced: its bytes exist only once the speech is done, so the
    /// node's key is derived from the speech's key.
    Speech {
        /// The id of the speech node.
        speech: String,
    },
}

/// A line to voice: everything that decides the audio ElevenLabs returns, and so the node's key.
#[derive(Debug, Clone, Serialize)]
pub struct SpeechSpec {
    /// The first segment that speaks it (identical lines share one node).
    pub segment: String,
    /// The ElevenLabs voice id.
    pub voice_id: String,
    /// The ElevenLabs model id.
    pub model: String,
    /// `voice_settings`: only what the manifest set.
    pub settings: VoiceSettings,
    /// The `output_format` asked for.
    pub output_format: String,
    /// The exact text, audio tags included.
    pub text: String,
    /// Characters billed (tags included).
    pub characters: usize,
    /// The expected length of the audio, from the catalog's speaking rate.
    pub estimated_seconds: f64,
    /// When the price per character was read.
    pub price_as_of: String,
    /// Where it was read.
    pub price_source: String,
}

/// Which shot a render is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RenderRole {
    /// The speaking avatar.
    Speaker,
    /// The silent listener.
    Listener,
    /// A b-roll clip.
    Broll,
}

impl RenderRole {
    /// The name used in node ids.
    pub fn as_str(self) -> &'static str {
        match self {
            RenderRole::Speaker => "speaker",
            RenderRole::Listener => "listener",
            RenderRole::Broll => "broll",
        }
    }
}

/// A clip to render.
#[derive(Debug, Clone)]
pub struct RenderSpec {
    /// The segment it belongs to.
    pub segment: String,
    /// Speaker, listener or b-roll.
    pub role: RenderRole,
    /// The catalog name of the model.
    pub model: String,
    /// The fal endpoint id.
    pub endpoint: String,
    /// The arguments, with input files as `{"$file": sha256}` placeholders.
    pub args: serde_json::Value,
    /// Seconds of output that will be billed.
    pub seconds: f64,
    /// Whether the model generates audio (billed at its audio rate).
    pub generate_audio: bool,
    /// Whether `seconds` (and so the cost) is an estimate: the speech it renders is not voiced
    /// yet. The render is billed by the real length.
    pub estimated: bool,
    /// The models that take over, in order, when this one is withdrawn (404), refuses the input
    /// as outside its limits (422), or fails the render too often: each with its own request.
    pub fallbacks: Vec<FallbackSpec>,
    /// How many times the runner may fail this render on one model of the chain before the next
    /// takes over (the manifest's `fallback_after`).
    pub fallback_after: u32,
}

/// One model of a render's fallback chain, with the request it would be sent.
#[derive(Debug, Clone)]
pub struct FallbackSpec {
    /// The catalog name of the model.
    pub model: String,
    /// The fal endpoint id.
    pub endpoint: String,
    /// Its arguments, with input files as `{"$file": sha256}` placeholders.
    pub args: serde_json::Value,
    /// The key of this request in the journal (endpoint and arguments, as a render's key).
    pub key: NodeKey,
    /// What it would cost.
    pub cost: Usd,
}

/// How a listener clip is fitted to the speaker's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ListenerFill {
    /// The clip is at least as long as the speech: cut it.
    Trim,
    /// The clip starts and ends on the same image: play it again until the speech ends.
    Loop,
}

/// How one segment is composed.
#[derive(Debug, Clone, Serialize)]
pub struct ComposeSpec {
    /// The segment id.
    pub segment: String,
    /// Side by side, stacked or solo.
    pub layout: Layout,
    /// The frame size.
    pub canvas: Resolution,
    /// The frame rate.
    pub fps: u32,
    /// The segment's length: the speech, or the b-roll's duration (an estimate for a line).
    pub seconds: f64,
    /// For a line: the speech node whose audio's real length replaces `seconds` at run time.
    pub speech: Option<String>,
    /// For a recorded file with `text`: the align node whose words time its captions.
    pub align: Option<String>,
    /// What is said, for captions: the line (its timings are the speech's alignment), or an audio
    /// segment's `text`. Part of the key only when it is burned in (`burn`).
    pub text: Option<String>,
    /// How the segment's captions are burned into it: set when the manifest asks for burned
    /// captions and the segment's words have times (a voiced line).
    pub burn: Option<BurnedCaptions>,
    /// The id of the main clip's download (speaker or b-roll); its audio is the segment's audio.
    pub main: String,
    /// Where the speaker sits, for two-shot layouts.
    pub speaker_seat: Option<Seat>,
    /// The id of the listener clip's download, if any.
    pub listener: Option<String>,
    /// How the listener clip is fitted.
    pub listener_fill: Option<ListenerFill>,
}

/// How burned-in captions look: the manifest's `captions:` as the compose draws them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BurnedCaptions {
    /// Karaoke or plain.
    pub style: episodic_manifest::CaptionStyle,
    /// Words shown at once, 1 to 6.
    pub words_per_page: u8,
}

/// One segment as the sidecars see it: how long it lasts, and where its timed words come from.
#[derive(Debug, Clone, Serialize)]
pub struct SidecarSegment {
    /// The segment's length as planned ([`ComposeSpec::seconds`]).
    pub seconds: f64,
    /// For a line: the speech node whose audio's real length replaces `seconds`, and whose
    /// alignment times the words.
    pub speech: Option<String>,
    /// For a recorded file with `text`: the align node whose words these are.
    pub align: Option<String>,
}

/// The `.srt` and `.vtt` sidecars of an episode: every segment's length (so each segment's words
/// are shifted by its start in the final video) and where each segment's timed words come from.
#[derive(Debug, Clone, Serialize)]
pub struct SidecarSpec {
    /// Every segment, in episode order.
    pub segments: Vec<SidecarSegment>,
    /// Words a cue shows at most.
    pub words_per_page: u8,
}

/// One segment's share of the episode's audio.
#[derive(Debug, Clone, Serialize)]
pub struct AudioSegment {
    /// The segment id.
    pub segment: String,
    /// The id of the download whose audio is the segment's: its compose's [`ComposeSpec::main`].
    pub main: String,
    /// The speech that drives the segment's avatar, when its clip's sound is that speech: the sound
    /// is then read from this file, which is here from the start, instead of from the clip, which
    /// arrives with the render. `None` for clips whose sound is their own (b-roll).
    #[serde(skip)]
    pub speech_file: Option<MediaFile>,
    /// Whether the sound is the audio of the line voiced by [`AudioSegment::speech`], read as soon
    /// as it is voiced, instead of the clip's.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub voiced: bool,
    /// The segment's length, as its compose cuts it ([`ComposeSpec::seconds`]).
    pub seconds: f64,
    /// For a line: the speech node whose audio's real length replaces `seconds` ([`ComposeSpec::speech`]).
    pub speech: Option<String>,
}

/// How the episode's audio is made: every segment's main clip cut to the segment's whole frames,
/// joined, and encoded once (AAC), while the composes run; concat copies it.
#[derive(Debug, Clone, Serialize)]
pub struct AudioSpec {
    /// The segments, in episode order.
    pub segments: Vec<AudioSegment>,
    /// The episode's frame rate: each segment's sound lasts its whole frames.
    pub fps: u32,
    /// Samples per second.
    pub sample_rate: u32,
    /// Channels.
    pub channels: u32,
    /// AAC bitrate, e.g. `128k`.
    pub bitrate: String,
}

/// How the episode is joined.
#[derive(Debug, Clone, Serialize)]
pub struct ConcatSpec {
    /// Compose node ids, in episode order.
    pub segments: Vec<String>,
    /// The id of the episode's audio node, copied beside the segments' video.
    pub audio: String,
    /// The output path.
    pub output: std::path::PathBuf,
    /// The caption sidecars written beside the output, when any segment's words are timed.
    pub sidecars: Option<SidecarSpec>,
}

/// One rendered piece of a long line, as its join lays it.
#[derive(Debug, Clone, Serialize)]
pub struct JoinPieceSpec {
    /// The id of the piece's download.
    pub download: String,
    /// Where the piece starts in the line, in seconds.
    pub start: f64,
    /// How long its audio lasts, in seconds (exact: samples over rate).
    pub seconds: f64,
    /// How long the picture crossfades into the next piece, starting at the cut (0 on the last).
    pub fade: f64,
}

/// How a long line's pieces become one speaker clip: laid end to end on the line's clock, cut
/// inside the pauses, the picture crossfaded over the cut.
#[derive(Debug, Clone, Serialize)]
pub struct JoinSpec {
    /// The segment id.
    pub segment: String,
    /// The pieces, in order.
    pub pieces: Vec<JoinPieceSpec>,
    /// The frame rate of the model's clips, kept by the join.
    pub fps: u32,
    /// What counted as a pause where the line was cut. Not in the join's key: the pieces' keys
    /// follow their audio, so a rule that cuts at the same places changes nothing.
    pub pauses: episodic_manifest::PauseRule,
}

impl SpeechSpec {
    /// What the node's key hashes: everything that decides the audio, and nothing else. The engine
    /// journals it beside the key.
    pub fn key_json(&self) -> serde_json::Value {
        serde_json::json!({
            "speech": 1,
            "voice_id": self.voice_id,
            "model": self.model,
            "settings": self.settings,
            "output_format": self.output_format,
            "text": self.text,
        })
    }
}

impl Node {
    /// The node's kind.
    pub fn kind(&self) -> NodeKind {
        match self.detail {
            NodeDetail::Speech(_) => NodeKind::Speech,
            NodeDetail::Align(_) => NodeKind::Align,
            NodeDetail::Upload(_) => NodeKind::Upload,
            NodeDetail::Render(_) => NodeKind::Render,
            NodeDetail::Download { .. } => NodeKind::Download,
            NodeDetail::Compose(_) => NodeKind::Compose,
            NodeDetail::Audio(_) => NodeKind::Audio,
            NodeDetail::Concat(_) => NodeKind::Concat,
            NodeDetail::Join(_) => NodeKind::Join,
        }
    }

    /// The speech spec, for speech nodes.
    pub fn speech(&self) -> Option<&SpeechSpec> {
        match &self.detail {
            NodeDetail::Speech(speech) => Some(speech),
            _ => None,
        }
    }

    /// The render spec, for render nodes.
    pub fn render(&self) -> Option<&RenderSpec> {
        match &self.detail {
            NodeDetail::Render(render) => Some(render),
            _ => None,
        }
    }
}
