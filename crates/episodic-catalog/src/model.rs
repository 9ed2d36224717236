//! One model fal serves, as episodic needs to know it.

use crate::{AspectRatio, AudioLimits, DurationRule, ImageLimits, OutputSize, Price, Resolution, Usd};
use serde::Serialize;
use std::fmt;

/// What a model makes from what.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// A talking head from an image and a speech track (lip sync follows the audio).
    Avatar,
    /// A short clip animated from a still image and a prompt.
    ImageToVideo,
    /// A short clip from a prompt alone.
    TextToVideo,
}

impl ModelKind {
    /// The name used in tables and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Avatar => "avatar",
            ModelKind::ImageToVideo => "image-to-video",
            ModelKind::TextToVideo => "text-to-video",
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The price and fidelity class of a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Cheaper, lower resolution; good for drafts.
    Standard,
    /// Production quality.
    Pro,
}

impl Tier {
    /// The manifest spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Standard => "standard",
            Tier::Pro => "pro",
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The JSON type of one model argument.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ArgKind {
    /// URL of an input image.
    ImageUrl,
    /// URL of an input audio track.
    AudioUrl,
    /// Free text.
    Text,
    /// true or false.
    Bool,
    /// A number in a closed range.
    Number {
        /// Smallest allowed value.
        min: f64,
        /// Largest allowed value.
        max: f64,
    },
    /// One of a fixed set of strings.
    Choice {
        /// The allowed values.
        values: Vec<String>,
    },
    /// A list of strings.
    TextList,
}

/// Where an argument is documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ArgSource {
    /// In fal's published input schema: episodic sends it.
    Schema,
    /// Only in the production notes; fal's schema drops it, so episodic sends it only when a
    /// manifest sets it explicitly.
    NotesOnly,
}

/// One input argument of a model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArgSpec {
    /// The JSON key.
    pub name: String,
    /// The JSON type.
    pub kind: ArgKind,
    /// Whether fal requires it.
    pub required: bool,
    /// fal's default as a JSON literal; for a required argument that is not media or prompt, the
    /// value episodic sends.
    pub default: Option<String>,
    /// Where it is documented.
    pub source: ArgSource,
}

/// A model fal serves.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Model {
    /// The short name used in manifests: `kling-avatar-v2-pro`.
    pub name: String,
    /// The fal endpoint id: `fal-ai/kling-video/ai-avatar/v2/pro`.
    pub endpoint: String,
    /// A human name.
    pub title: String,
    /// What it makes.
    pub kind: ModelKind,
    /// Price and fidelity class.
    pub tier: Tier,
    /// What it costs.
    pub price: Price,
    /// Its output size class (the long side follows the aspect ratio or the input image).
    pub output: OutputSize,
    /// Frames per second of its output.
    pub fps: u32,
    /// How long its clips are.
    pub duration: DurationRule,
    /// Limits on the input image, for models that take one.
    pub image: Option<ImageLimits>,
    /// Limits on the input audio, for models that take one.
    pub audio: Option<AudioLimits>,
    /// Its input arguments: fal's schema first, then the notes' extras.
    pub args: Vec<ArgSpec>,
    /// Facts about this entry that no source confirms, so a reader knows what to distrust.
    pub caveats: Vec<String>,
}

impl Model {
    /// The frame size this model renders at for an aspect ratio.
    pub fn resolution(&self, aspect: AspectRatio) -> Resolution {
        self.output.resolution(aspect)
    }

    /// The estimated cost of `seconds` of output.
    pub fn cost(&self, seconds: f64, generate_audio: bool) -> Usd {
        self.price.rate(generate_audio).per_second_times(seconds)
    }

    /// The argument with this JSON key, if fal's schema or the notes list it.
    pub fn arg(&self, name: &str) -> Option<&ArgSpec> {
        self.args.iter().find(|arg| arg.name == name)
    }

    /// The argument with this key when it is in fal's schema (and so is sent by default).
    pub fn schema_arg(&self, name: &str) -> Option<&ArgSpec> {
        self.arg(name).filter(|arg| arg.source == ArgSource::Schema)
    }

    /// The key that carries the input image (`image_url`, or `start_image_url` for Kling v2.6 i2v).
    pub fn image_arg(&self) -> Option<&str> {
        self.first_arg_of(&ArgKind::ImageUrl)
    }

    /// The key that carries the driving audio.
    pub fn audio_arg(&self) -> Option<&str> {
        self.first_arg_of(&ArgKind::AudioUrl)
    }

    fn first_arg_of(&self, kind: &ArgKind) -> Option<&str> {
        self.args
            .iter()
            .find(|arg| arg.kind == *kind && arg.source == ArgSource::Schema)
            .map(|arg| arg.name.as_str())
    }
}
