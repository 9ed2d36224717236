//! The episode's audio, built from the segments' main clips while their composes run.
//!
//! [`episode_audio`] cuts each main clip's sound exactly as [`crate::compose`] cuts it into its
//! segment (one chain, [`EncodeSettings::segment_audio`]: the episode's format, padded with silence,
//! cut to the sample count of the segment's whole frames), joins the segments end to end and encodes
//! AAC once. [`crate::concat`] then copies it beside the copied video: the encode that used to sit
//! after the last compose runs while the composes do, and the sound is still one lossy generation
//! from fal's with no gap or overlap at any boundary (joining per-segment AAC would add ~30 ms at
//! each, encoder delay and the padded last frame).

use crate::encode::{EncodeSettings, check_seconds, container_args};
use crate::ffmpeg::{Ffmpeg, args, file_arg};
use crate::output::Partial;
use crate::{MediaError, Probe};
use std::ffi::OsString;
use std::path::Path;

/// One segment's share of the episode's audio.
#[derive(Debug, Clone, Copy)]
pub struct AudioPart<'a> {
    /// The clip whose sound is the segment's (the speaker, or the b-roll): the same file its
    /// [`crate::Composition::main`] is. A clip without audio gives silence.
    pub main: &'a Path,
    /// The segment's length, as its composition asks: its sound lasts exactly the segment's whole
    /// frames ([`EncodeSettings::frames`]), as the segment's video does.
    pub seconds: f64,
}

/// Writes the whole episode's audio, `parts` in order, to `out` (AAC in an MP4 container, `.m4a`),
/// encoded once with `encode`'s audio settings.
pub async fn episode_audio(
    ffmpeg: &Ffmpeg,
    probe: &Probe,
    parts: &[AudioPart<'_>],
    encode: &EncodeSettings,
    out: &Path,
) -> Result<(), MediaError> {
    encode.check()?;
    if parts.is_empty() {
        return Err(MediaError::Invalid { detail: "an episode needs at least one segment".into() });
    }
    let mut channels = Vec::with_capacity(parts.len());
    for part in parts {
        check_seconds(part.seconds)?;
        let info = probe.probe_async(part.main).await?;
        channels.push(info.audio().map(|audio| audio.channels));
    }
    let mut line = audio_args(parts, &channels, encode);
    let partial = Partial::beside(out)?;
    line.push(file_arg(partial.path()));
    ffmpeg.run(&line).await?;
    partial.commit()
}

/// ffmpeg's arguments up to the output file; `channels[i]` is `None` when part `i`'s clip is silent,
/// else its channel count when known. Every clip is an input, even a silent one, so input `i` is
/// always part `i`.
fn audio_args(
    parts: &[AudioPart<'_>],
    channels: &[Option<Option<u32>>],
    encode: &EncodeSettings,
) -> Vec<OsString> {
    let mut line = Vec::with_capacity(parts.len() * 2 + 16);
    for part in parts {
        line.extend([OsString::from("-i"), file_arg(part.main)]);
    }
    let mut graph = String::new();
    for (index, (part, channels)) in parts.iter().zip(channels).enumerate() {
        let samples = encode.samples(encode.frames(part.seconds));
        let source = channels.map(|channels| (index, channels));
        graph.push_str(&encode.segment_audio(source, samples, &format!("a{index}")));
        graph.push(';');
    }
    for index in 0..parts.len() {
        graph.push_str(&format!("[a{index}]"));
    }
    graph.push_str(&format!("concat=n={}:v=0:a=1[a]", parts.len()));
    line.extend(args(["-filter_complex", graph.as_str(), "-map", "[a]"]));
    line.extend(encode.audio_args());
    line.extend(container_args());
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_clip_is_cut_to_its_segments_frames_and_joined_in_order() {
        let encode = EncodeSettings::new(320, 180, 10);
        let parts = [
            AudioPart { main: Path::new("a.mp4"), seconds: 2.37 },
            AudioPart { main: Path::new("b.mp4"), seconds: 5.0 },
            AudioPart { main: Path::new("a.mp4"), seconds: 1.91 },
        ];
        let line = audio_args(&parts, &[Some(Some(1)), None, Some(Some(2))], &encode);
        let text: Vec<String> = line.iter().map(|arg| arg.to_string_lossy().into_owned()).collect();
        let inputs: Vec<&str> = text[..6].iter().map(|arg| arg.rsplit('/').next().unwrap_or(arg)).collect();
        assert_eq!(inputs, ["-i", "a.mp4", "-i", "b.mp4", "-i", "a.mp4"]);
        let graph = &text[7];
        // 2.37 s is 24 frames at 10 fps: 2.4 s, 115,200 samples; 1.91 s is 19 frames.
        assert!(graph.starts_with("[0:a]pan=stereo|c0=c0|c1=c0,aresample=48000,"), "{graph}");
        assert!(graph.contains(",apad,atrim=end_sample=115200[a0];"), "{graph}");
        assert!(graph.contains("anullsrc=r=48000:cl=mono,"), "{graph}");
        assert!(graph.contains("atrim=end_sample=240000[a1];[2:a]aresample=48000,"), "{graph}");
        assert!(graph.ends_with("atrim=end_sample=91200[a2];[a0][a1][a2]concat=n=3:v=0:a=1[a]"), "{graph}");
        let rest = text[8..].join(" ");
        assert!(rest.starts_with("-map [a] -c:a aac -b:a 128k -ar 48000 -ac 2"), "{rest}");
        assert!(rest.ends_with("-f mp4"), "{rest}");
    }
}
