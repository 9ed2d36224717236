//! The one encoding every segment gets, so that segments can be joined without re-encoding video.
//!
//! Joining by stream copy needs every segment to carry identical codec parameters: the same size,
//! pixel format, sample aspect, frame rate, time base, profile, colour tags and audio format. Each
//! clip therefore ends its filter graph with [`EncodeSettings::video_finish`] and is written with
//! [`EncodeSettings::output_args`], whatever it was made from.

use crate::MediaError;
use std::ffi::OsString;

/// The time base of every video track (ticks per second): a multiple of 24, 25, 30, 50 and 60 fps,
/// so each frame lasts a whole number of ticks and joined tracks share one time base.
pub const VIDEO_TIMESCALE: u32 = 90_000;

/// The x264 presets, fastest first.
const PRESETS: [&str; 10] = [
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
];

/// How every segment is encoded: H.264 High 4:2:0 at a fixed size and rate, AAC audio, in MP4.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeSettings {
    /// Frame width in pixels (even).
    pub width: u32,
    /// Frame height in pixels (even).
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
    /// x264 constant rate factor: 0 is lossless, 51 the worst; 20 looks clean for talking heads.
    pub crf: u8,
    /// x264 speed preset, e.g. `veryfast`.
    pub preset: String,
    /// Audio samples per second.
    pub audio_rate: u32,
    /// Audio channels.
    pub audio_channels: u32,
    /// AAC bitrate, e.g. `128k`.
    pub audio_bitrate: String,
}

impl EncodeSettings {
    /// Settings for a `width`×`height` canvas at `fps`, with the defaults for everything else.
    pub fn new(width: u32, height: u32, fps: u32) -> Self {
        Self {
            width,
            height,
            fps,
            crf: 20,
            preset: "veryfast".into(),
            audio_rate: 48_000,
            audio_channels: 2,
            audio_bitrate: "128k".into(),
        }
    }

    /// Checks the settings can be encoded: even sizes (4:2:0 halves them), a sane rate and known preset.
    pub fn check(&self) -> Result<(), MediaError> {
        let invalid = |detail: String| Err(MediaError::Invalid { detail });
        if self.width < 16 || self.height < 16 || self.width > 8192 || self.height > 8192 {
            return invalid(format!("a {}x{} frame is outside 16x16 to 8192x8192", self.width, self.height));
        }
        if !self.width.is_multiple_of(2) || !self.height.is_multiple_of(2) {
            return invalid(format!("a {}x{} frame: 4:2:0 video needs even sizes", self.width, self.height));
        }
        if !(1..=240).contains(&self.fps) {
            return invalid(format!("{} fps is outside 1 to 240", self.fps));
        }
        if self.crf > 51 {
            return invalid(format!("crf {} is above 51", self.crf));
        }
        if !PRESETS.contains(&self.preset.as_str()) {
            return invalid(format!("`{}` is not an x264 preset ({})", self.preset, PRESETS.join(", ")));
        }
        if !(8_000..=192_000).contains(&self.audio_rate) || !(1..=8).contains(&self.audio_channels) {
            return invalid(format!("{} Hz with {} channels", self.audio_rate, self.audio_channels));
        }
        let digits = self.audio_bitrate.strip_suffix('k').unwrap_or(&self.audio_bitrate);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return invalid(format!("audio bitrate `{}` is not like `128k`", self.audio_bitrate));
        }
        Ok(())
    }

    /// The canvas size.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// How many frames cover `seconds`: the nearest whole number, at least one.
    pub fn frames(&self, seconds: f64) -> u64 {
        frames_at(self.fps, seconds)
    }

    /// How many audio samples last exactly as long as `frames` frames.
    pub fn samples(&self, frames: u64) -> u64 {
        (frames as f64 * f64::from(self.audio_rate) / f64::from(self.fps)).round() as u64
    }

    /// Output options for video and audio, up to (not including) the output file.
    pub fn output_args(&self) -> Vec<OsString> {
        let mut args = self.video_args();
        args.extend(self.audio_args());
        args.extend(container_args());
        args
    }

    /// Output options for a segment: the episode's video, and its audio kept exact as 16-bit PCM
    /// in a QuickTime file. Concat encodes the audio once for the whole episode; encoding it here
    /// too was half a compose's time and a third lossy generation (fal's AAC, this, concat's).
    pub fn segment_args(&self) -> Vec<OsString> {
        let mut args = self.video_args();
        args.extend(crate::ffmpeg::args([
            "-c:a",
            "pcm_s16le",
            "-ar",
            &self.audio_rate.to_string(),
            "-ac",
            &self.audio_channels.to_string(),
        ]));
        args.extend(container_args_for("mov"));
        args
    }

    /// Output options for the video stream alone.
    pub fn video_args(&self) -> Vec<OsString> {
        let fps = self.fps.to_string();
        let gop = (self.fps * 2).to_string();
        let crf = self.crf.to_string();
        crate::ffmpeg::args([
            "-c:v",
            "libx264",
            "-preset",
            &self.preset,
            "-crf",
            &crf,
            "-profile:v",
            "high",
            "-pix_fmt",
            "yuv420p",
            "-r",
            &fps,
            "-fps_mode",
            "cfr",
            "-g",
            &gop,
            "-colorspace",
            "bt709",
            "-color_primaries",
            "bt709",
            "-color_trc",
            "bt709",
            "-color_range",
            "tv",
            "-video_track_timescale",
            &VIDEO_TIMESCALE.to_string(),
        ])
    }

    /// Output options for the audio stream alone.
    pub fn audio_args(&self) -> Vec<OsString> {
        crate::ffmpeg::args([
            "-c:a",
            "aac",
            "-b:a",
            &self.audio_bitrate,
            "-ar",
            &self.audio_rate.to_string(),
            "-ac",
            &self.audio_channels.to_string(),
        ])
    }

    /// The last filters of every video chain: BT.709 limited-range 4:2:0 with square pixels.
    pub(crate) fn video_finish(&self) -> String {
        "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p,setsar=1".into()
    }

    /// One segment's audio as a filter chain labelled `[label]`: the main clip's first audio stream
    /// (input `source.0`, with `source.1` channels when known) in this rate and layout, padded with
    /// silence and cut to exactly `samples`; `samples` of silence when the clip has no audio
    /// (`source` is `None`). Compose, the episode's audio and `reencode_concat` all cut a segment's
    /// sound with this one chain, so they agree to the sample on where every segment starts.
    pub(crate) fn segment_audio(
        &self,
        source: Option<(usize, Option<u32>)>,
        samples: u64,
        label: &str,
    ) -> String {
        match source {
            Some((input, channels)) => {
                format!("[{input}:a]{},apad,atrim=end_sample={samples}[{label}]", self.audio_format(channels))
            }
            None => format!(
                "anullsrc=r={rate}:cl=mono,{},atrim=end_sample={samples}[{label}]",
                self.audio_format(Some(1)),
                rate = self.audio_rate
            ),
        }
    }

    /// Filters turning any audio into this rate and layout; `source_channels` is what the input has
    /// (mono is copied to both sides rather than mixed down 3 dB, as a plain resample would).
    pub(crate) fn audio_format(&self, source_channels: Option<u32>) -> String {
        let layout = match self.audio_channels {
            1 => "mono".to_string(),
            2 => "stereo".to_string(),
            n => format!("{n}c"),
        };
        let upmix = if source_channels == Some(1) && self.audio_channels == 2 {
            "pan=stereo|c0=c0|c1=c0,"
        } else {
            ""
        };
        format!(
            "{upmix}aresample={rate},aformat=sample_fmts=fltp:sample_rates={rate}:channel_layouts={layout}",
            rate = self.audio_rate
        )
    }
}

/// How many frames at `fps` cover `seconds`: the nearest whole number, at least one.
fn frames_at(fps: u32, seconds: f64) -> u64 {
    let frames = (seconds * f64::from(fps)).round();
    if frames.is_finite() && frames >= 1.0 { frames as u64 } else { 1 }
}

/// Checks a length in seconds is usable.
pub(crate) fn check_seconds(seconds: f64) -> Result<(), MediaError> {
    if seconds.is_finite() && seconds > 0.0 && seconds <= 6.0 * 3600.0 {
        Ok(())
    } else {
        Err(MediaError::Invalid { detail: format!("a clip of {seconds} s") })
    }
}

/// Container options: MP4 with the index up front (playable while downloading), no copied tags.
pub(crate) fn container_args() -> Vec<OsString> {
    container_args_for("mp4")
}

/// As [`container_args`], in `format` (`mp4`, or `mov` for a segment with PCM audio).
pub(crate) fn container_args_for(format: &str) -> Vec<OsString> {
    crate::ffmpeg::args([
        "-map_metadata",
        "-1",
        "-map_chapters",
        "-1",
        "-movflags",
        "+faststart",
        "-f",
        format,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(args: &[OsString]) -> String {
        args.iter().map(|arg| arg.to_string_lossy()).collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn defaults() {
        let settings = EncodeSettings::new(1280, 720, 30);
        assert_eq!((settings.crf, settings.preset.as_str()), (20, "veryfast"));
        assert_eq!(
            (settings.audio_rate, settings.audio_channels, settings.audio_bitrate.as_str()),
            (48_000, 2, "128k")
        );
        assert!(settings.check().is_ok());
    }

    #[test]
    fn output_args_pin_every_parameter() {
        let args = joined(&EncodeSettings::new(320, 180, 10).output_args());
        for expected in [
            "-c:v libx264 -preset veryfast -crf 20 -profile:v high -pix_fmt yuv420p -r 10 -fps_mode cfr -g 20",
            "-video_track_timescale 90000",
            "-c:a aac -b:a 128k -ar 48000 -ac 2",
            "-movflags +faststart -f mp4",
        ] {
            assert!(args.contains(expected), "missing `{expected}` in `{args}`");
        }
    }

    #[test]
    fn frames_and_samples_agree() {
        let settings = EncodeSettings::new(320, 180, 30);
        assert_eq!(settings.frames(2.5339), 76);
        assert_eq!(settings.frames(0.001), 1);
        assert_eq!(settings.samples(76), 121_600);
        assert_eq!(EncodeSettings::new(320, 180, 24).samples(1), 2000);
    }

    #[test]
    fn check_rejects_what_cannot_be_encoded() {
        let bad = |change: fn(&mut EncodeSettings)| {
            let mut settings = EncodeSettings::new(320, 180, 10);
            change(&mut settings);
            settings.check().unwrap_err().to_string()
        };
        assert!(bad(|s| s.width = 321).contains("even"));
        assert!(bad(|s| s.fps = 0).contains("fps"));
        assert!(bad(|s| s.preset = "turbo".into()).contains("not an x264 preset"));
        assert!(bad(|s| s.audio_bitrate = "loud".into()).contains("128k"));
        assert!(bad(|s| s.crf = 60).contains("crf"));
    }

    #[test]
    fn mono_is_copied_to_both_sides() {
        let settings = EncodeSettings::new(320, 180, 10);
        assert!(settings.audio_format(Some(1)).starts_with("pan=stereo|c0=c0|c1=c0,aresample=48000"));
        assert!(!settings.audio_format(Some(2)).contains("pan"));
        assert!(settings.audio_format(None).ends_with("channel_layouts=stereo"));
    }
}
