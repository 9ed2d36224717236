//! Aspect ratios and the frame sizes a model renders at.

use serde::Serialize;
use std::fmt;

/// The shape of an episode, and of the clips rendered for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum AspectRatio {
    /// 16:9, long-form video.
    #[serde(rename = "16:9")]
    Landscape,
    /// 9:16, Shorts and Reels.
    #[serde(rename = "9:16")]
    Portrait,
    /// 1:1.
    #[serde(rename = "1:1")]
    Square,
}

impl AspectRatio {
    /// Every aspect ratio, in the order they are written in docs and errors.
    pub const ALL: [AspectRatio; 3] = [AspectRatio::Landscape, AspectRatio::Portrait, AspectRatio::Square];

    /// The manifest spelling: `16:9`, `9:16`, `1:1`.
    pub fn as_str(self) -> &'static str {
        match self {
            AspectRatio::Landscape => "16:9",
            AspectRatio::Portrait => "9:16",
            AspectRatio::Square => "1:1",
        }
    }

    /// Parses the manifest spelling.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|ratio| ratio.as_str() == text)
    }
}

impl fmt::Display for AspectRatio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A model's output size class, named by its short side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum OutputSize {
    /// 480 pixels on the short side.
    #[serde(rename = "480p")]
    P480,
    /// 720 pixels on the short side.
    #[serde(rename = "720p")]
    P720,
    /// 1080 pixels on the short side.
    #[serde(rename = "1080p")]
    P1080,
}

impl OutputSize {
    /// The short side in pixels.
    pub fn short_side(self) -> u32 {
        match self {
            OutputSize::P480 => 480,
            OutputSize::P720 => 720,
            OutputSize::P1080 => 1080,
        }
    }

    /// The frame size for an aspect ratio; the long side is rounded to an even number for yuv420p.
    pub fn resolution(self, aspect: AspectRatio) -> Resolution {
        let short = self.short_side();
        let long = (short * 16).div_ceil(9).next_multiple_of(2);
        match aspect {
            AspectRatio::Landscape => Resolution { width: long, height: short },
            AspectRatio::Portrait => Resolution { width: short, height: long },
            AspectRatio::Square => Resolution { width: short, height: short },
        }
    }

    /// The conventional label: `480p`, `720p`, `1080p`.
    pub fn as_str(self) -> &'static str {
        match self {
            OutputSize::P480 => "480p",
            OutputSize::P720 => "720p",
            OutputSize::P1080 => "1080p",
        }
    }
}

impl fmt::Display for OutputSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A frame size in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Resolution {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl fmt::Display for Resolution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolutions() {
        assert_eq!(OutputSize::P1080.resolution(AspectRatio::Landscape).to_string(), "1920x1080");
        assert_eq!(OutputSize::P1080.resolution(AspectRatio::Portrait).to_string(), "1080x1920");
        assert_eq!(OutputSize::P720.resolution(AspectRatio::Landscape).to_string(), "1280x720");
        assert_eq!(OutputSize::P720.resolution(AspectRatio::Square).to_string(), "720x720");
        assert_eq!(OutputSize::P480.resolution(AspectRatio::Landscape).to_string(), "854x480");
    }

    #[test]
    fn parse_round_trips() {
        for ratio in AspectRatio::ALL {
            assert_eq!(AspectRatio::parse(ratio.as_str()), Some(ratio));
        }
        assert_eq!(AspectRatio::parse("4:3"), None);
    }
}
