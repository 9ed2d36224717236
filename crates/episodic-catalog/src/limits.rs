//! What a model accepts: media formats and sizes, and how long its output may be.

use serde::Serialize;
use std::fmt;

/// Image formats fal's avatar and image-to-video models accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    /// PNG.
    Png,
    /// JPEG.
    Jpeg,
    /// WebP.
    Webp,
}

impl ImageFormat {
    /// The usual name of the format.
    pub fn as_str(self) -> &'static str {
        match self {
            ImageFormat::Png => "PNG",
            ImageFormat::Jpeg => "JPEG",
            ImageFormat::Webp => "WebP",
        }
    }
}

impl fmt::Display for ImageFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Audio formats the audio-driven avatar models accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AudioFormat {
    /// MPEG-1/2 Layer III.
    Mp3,
    /// RIFF WAVE.
    Wav,
    /// AAC in an ADTS stream.
    Aac,
}

impl AudioFormat {
    /// The usual name of the format.
    pub fn as_str(self) -> &'static str {
        match self {
            AudioFormat::Mp3 => "MP3",
            AudioFormat::Wav => "WAV",
            AudioFormat::Aac => "AAC",
        }
    }
}

impl fmt::Display for AudioFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Limits on an input image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageLimits {
    /// Accepted formats.
    pub formats: Vec<ImageFormat>,
    /// Smallest accepted width in pixels.
    pub min_width: u32,
    /// Smallest accepted height in pixels.
    pub min_height: u32,
}

/// Limits on an input audio track.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AudioLimits {
    /// Accepted formats.
    pub formats: Vec<AudioFormat>,
    /// Largest accepted file, in bytes.
    pub max_bytes: u64,
    /// Shortest accepted track, in seconds.
    pub min_seconds: f64,
    /// Longest accepted track, in seconds.
    pub max_seconds: f64,
}

/// How long a model's output is and what lengths it allows.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum DurationRule {
    /// The clip lasts as long as the driving audio, up to `max_seconds` at the model's output size.
    FollowsAudio {
        /// The longest clip the model renders at its output size.
        max_seconds: f64,
    },
    /// The clip lasts one of a fixed set of whole seconds.
    Choices {
        /// The allowed lengths.
        seconds: Vec<u32>,
    },
    /// The clip lasts any whole number of seconds in a range.
    Range {
        /// Shortest.
        min: u32,
        /// Longest.
        max: u32,
    },
}

impl DurationRule {
    /// Whether a requested fixed length is allowed (always false for audio-driven models).
    pub fn allows(&self, seconds: u32) -> bool {
        match self {
            DurationRule::FollowsAudio { .. } => false,
            DurationRule::Choices { seconds: choices } => choices.contains(&seconds),
            DurationRule::Range { min, max } => (*min..=*max).contains(&seconds),
        }
    }

    /// The longest clip one request can produce.
    pub fn max_seconds(&self) -> f64 {
        match self {
            DurationRule::FollowsAudio { max_seconds } => *max_seconds,
            DurationRule::Choices { seconds } => seconds.iter().copied().max().unwrap_or(0) as f64,
            DurationRule::Range { max, .. } => f64::from(*max),
        }
    }
}

impl fmt::Display for DurationRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurationRule::FollowsAudio { max_seconds } => write!(f, "audio length, up to {max_seconds} s"),
            DurationRule::Choices { seconds } => {
                let list: Vec<String> = seconds.iter().map(u32::to_string).collect();
                write!(f, "{} s", list.join(" or "))
            }
            DurationRule::Range { min, max } => write!(f, "{min}-{max} s"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_rules() {
        let choices = DurationRule::Choices { seconds: vec![5, 10] };
        assert!(choices.allows(5) && choices.allows(10) && !choices.allows(7));
        assert_eq!(choices.to_string(), "5 or 10 s");
        let range = DurationRule::Range { min: 3, max: 15 };
        assert!(range.allows(3) && range.allows(15) && !range.allows(2) && !range.allows(16));
        assert!(!DurationRule::FollowsAudio { max_seconds: 60.0 }.allows(5));
    }
}
