//! One speaker clip from the pieces a long line was rendered in.
//!
//! Each piece was rendered from an exact cut of the line's audio, so piece `i` covers seconds
//! `start_i .. start_i + seconds_i` of it. The join lays the pieces end to end on one timeline: each
//! piece's video is cut at the frame nearest its end *on the whole line's clock* (so rounding never
//! adds up: the joined clip is the line's length to the nearest frame) and its sound to the sample
//! (so it never drifts from the picture). Every cut lies in a pause, and the picture crossfades over
//! the next piece's first frames, still inside the pause, because two renders rarely end and start
//! in the same pose: where they do, a fade between near-identical frames is invisible.

use crate::encode::{EncodeSettings, check_seconds};
use crate::ffmpeg::{Ffmpeg, args, file_arg};
use crate::output::Partial;
use crate::{MediaError, Probe};
use std::ffi::OsString;
use std::path::Path;

/// One rendered piece of a line.
#[derive(Debug, Clone, Copy)]
pub struct JoinPiece<'a> {
    /// The rendered clip.
    pub clip: &'a Path,
    /// The length of the audio it was rendered from, in seconds (exact: its samples over its rate).
    pub seconds: f64,
    /// How long the picture crossfades from this piece into the next, in seconds (ignored on the
    /// last piece). It starts at the cut, so it should not outlast the pause after the cut.
    pub fade: f64,
}

/// Joins `pieces` into `out` (H.264 and 16-bit PCM in a QuickTime file, like a segment) at `fps`;
/// returns the joined clip's length in seconds (whole frames: the line's length to the nearest one).
pub async fn join_pieces(
    ffmpeg: &Ffmpeg,
    probe: &Probe,
    pieces: &[JoinPiece<'_>],
    fps: u32,
    out: &Path,
) -> Result<f64, MediaError> {
    let Some(first) = pieces.first() else {
        return Err(MediaError::Invalid { detail: "a join needs at least one piece".into() });
    };
    let mut channels = Vec::with_capacity(pieces.len());
    for piece in pieces {
        check_seconds(piece.seconds)?;
        let info = probe.probe_async(piece.clip).await?;
        channels.push(info.audio().map(|audio| audio.channels));
    }
    let info = probe.probe_async(first.clip).await?;
    let (width, height) = info
        .video()
        .and_then(|video| Some((video.width?, video.height?)))
        .filter(|(width, height)| *width > 0 && *height > 0)
        .ok_or_else(|| MediaError::Unreadable {
            tool: "ffprobe",
            path: first.clip.to_path_buf(),
            detail: "no picture size".into(),
        })?;
    let encode = EncodeSettings::new(width.div_ceil(2) * 2, height.div_ceil(2) * 2, fps);
    encode.check()?;
    let (mut line, frames) = join_args(pieces, &channels, &encode);
    let partial = Partial::beside(out)?;
    line.extend(encode.segment_args());
    line.push(file_arg(partial.path()));
    ffmpeg.run(&line).await?;
    partial.commit()?;
    Ok(frames as f64 / f64::from(fps))
}

/// ffmpeg's inputs and filter graph for a join, and the joined clip's frame count.
fn join_args(
    pieces: &[JoinPiece<'_>],
    channels: &[Option<Option<u32>>],
    encode: &EncodeSettings,
) -> (Vec<OsString>, u64) {
    let fps = f64::from(encode.fps);
    let rate = f64::from(encode.audio_rate);
    // Boundaries on the line's own clock, so each piece's rounding is absorbed by the next.
    let mut ends = Vec::with_capacity(pieces.len());
    let mut elapsed = 0.0;
    for piece in pieces {
        elapsed += piece.seconds;
        ends.push(elapsed);
    }
    let frame_at = |seconds: f64| (seconds * fps).round() as u64;
    let sample_at = |seconds: f64| (seconds * rate).round() as u64;

    let mut line = Vec::with_capacity(pieces.len() * 2 + 8);
    for piece in pieces {
        line.extend([OsString::from("-i"), file_arg(piece.clip)]);
    }
    let mut graph = String::new();
    let (w, h) = (encode.width, encode.height);
    let mut start = 0.0;
    let last = pieces.len() - 1;
    let mut fades = Vec::with_capacity(pieces.len());
    for (index, piece) in pieces.iter().enumerate() {
        let own = frame_at(ends[index]) - frame_at(start);
        let fade = if index == last { 0 } else { ((piece.fade * fps).floor() as u64).max(1) };
        fades.push(fade);
        // A clip a frame short of its piece holds its last picture rather than ending early.
        graph.push_str(&format!(
            "[{index}:v]fps={fps},scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,{finish},tpad=stop=-1:stop_mode=clone,trim=end_frame={frames},setpts=PTS-STARTPTS[v{index}];",
            fps = encode.fps,
            finish = encode.video_finish(),
            frames = own + fade,
        ));
        let samples = sample_at(ends[index]) - sample_at(start);
        let source = channels[index].map(|channels| (index, channels));
        graph.push_str(&encode.segment_audio(source, samples, &format!("a{index}")));
        graph.push(';');
        start = ends[index];
    }
    let mut joined = "v0".to_owned();
    for index in 1..pieces.len() {
        let fade = fades[index - 1];
        let offset = frame_at(ends[index - 1]) as f64 / fps;
        let label = format!("x{index}");
        graph.push_str(&format!(
            "[{joined}][v{index}]xfade=transition=fade:duration={:.6}:offset={offset:.6}[{label}];",
            fade as f64 / fps
        ));
        joined = label;
    }
    for index in 0..pieces.len() {
        graph.push_str(&format!("[a{index}]"));
    }
    graph.push_str(&format!("concat=n={}:v=0:a=1[a]", pieces.len()));
    line.extend(args(["-filter_complex", graph.as_str(), "-map", &format!("[{joined}]"), "-map", "[a]"]));
    (line, frame_at(elapsed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_are_cut_on_the_lines_clock_and_faded_inside_the_pause() {
        let encode = EncodeSettings::new(320, 180, 25);
        let pieces = [
            JoinPiece { clip: Path::new("a.mp4"), seconds: 20.0213, fade: 0.2 },
            JoinPiece { clip: Path::new("b.mp4"), seconds: 24.9891, fade: 0.2 },
        ];
        let (line, frames) = join_args(&pieces, &[Some(Some(1)), Some(Some(1))], &encode);
        // 45.0104 s at 25 fps: 1125 frames.
        assert_eq!(frames, 1125);
        let graph = line[5].to_string_lossy().into_owned();
        // 20.0213 s ends on frame 501; the first piece runs 5 frames (0.2 s) further into the fade.
        assert!(graph.contains("trim=end_frame=506,setpts"), "{graph}");
        assert!(graph.contains("trim=end_frame=624,setpts"), "{graph}");
        assert!(graph.contains("xfade=transition=fade:duration=0.200000:offset=20.040000[x1]"), "{graph}");
        // 20.0213 s is 961,022 samples at 48 kHz; the whole line 2,160,499.
        assert!(graph.contains("atrim=end_sample=961022[a0]"), "{graph}");
        assert!(graph.contains("atrim=end_sample=1199477[a1]"), "{graph}");
        assert_eq!(line.iter().filter(|arg| *arg == "-map").count(), 2);
        assert!(line.iter().any(|arg| arg == "[x1]"));
    }
}
