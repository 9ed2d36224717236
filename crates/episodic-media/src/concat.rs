//! Joining an episode's segments into one file.
//!
//! [`concat`] copies both streams: the video of every segment untouched (its samples written under
//! a new index by [`crate::mp4_join`], or by the concat demuxer with `-c:v copy` for files that
//! module does not read), and the episode's audio, encoded once for the whole episode by
//! [`crate::episode_audio`] while the composes ran. Copying each segment's own AAC instead would not
//! be gapless: every AAC track starts with an encoder-delay frame and ends with a padded one, and
//! stream-copied into one track those become about 30 ms of extra sound at each boundary, so speech
//! drifts behind the lips as the episode goes on. The episode's audio has no boundaries of its own:
//! each segment's sound in it is cut to that segment's whole frames, so it lines up with the copied
//! video to the sample. The copied video packets are the segments' own; the demuxer only repeats each
//! keyframe's parameter sets in-band, which keeps the episode playable even if segments cached from
//! older runs differ there.
//!
//! [`reencode_concat`] re-encodes both streams; it joins segments of any size and rate, and is the
//! baseline the copy is measured against.

use crate::encode::{EncodeSettings, container_args};
use crate::ffmpeg::{Ffmpeg, args, file_arg};
use crate::filter::fit;
use crate::mp4_join::{self, Joined};
use crate::output::Partial;
use crate::{MediaError, MediaInfo, Probe, StreamKind};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// How far the episode's audio may end from its video: less than one AAC frame (1024 samples) more,
/// since the last frame's padding is trimmed, and a few ms of rounding either way.
const AUDIO_SLACK_SECONDS: f64 = 0.025;

/// Which of the two copies [`concat`] made: both give the same packets at the same times, but the
/// demuxer costs an ffmpeg run (about 0.1 s), so a run that takes it says why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinedBy {
    /// The samples were copied under a new index by episodic itself.
    Samples,
    /// ffmpeg's concat demuxer joined them, because the native joiner could not, for this reason.
    Demuxer {
        /// Why the native joiner declined, in words fit for a log line.
        why: &'static str,
    },
}

/// Joins `segments`, made by [`crate::compose`] with `encode`, and `audio`, made by
/// [`crate::episode_audio`] from the same segments, into `out`: both streams copied.
pub async fn concat(
    ffmpeg: &Ffmpeg,
    probe: &Probe,
    segments: &[PathBuf],
    audio: &Path,
    encode: &EncodeSettings,
    out: &Path,
) -> Result<JoinedBy, MediaError> {
    encode.check()?;
    let parts = measure(probe, segments).await?;
    for part in &parts {
        check_uniform(part, encode)?;
    }
    check_audio(&probe.probe_async(audio).await?, audio, &parts)?;
    // Joined here when every file is one the native joiner reads (segments composed by this
    // version); ffmpeg otherwise (segments cached as QuickTime with sound by older ones).
    let (owned, sound, target) = (segments.to_vec(), audio.to_path_buf(), out.to_path_buf());
    let why = match tokio::task::spawn_blocking(move || mp4_join::join(&owned, &sound, &target)).await {
        Ok(Ok(Joined::Written)) => return Ok(JoinedBy::Samples),
        Ok(Err(err)) => return Err(err),
        Ok(Ok(Joined::NeedsFfmpeg(why))) => why,
        Err(_) => "the native joiner stopped unexpectedly",
    };
    let list_dir =
        tempfile::tempdir().map_err(|source| MediaError::Write { path: out.to_path_buf(), source })?;
    let list = list_dir.path().join("segments.ffconcat");
    tokio::fs::write(&list, list_file(&parts)?)
        .await
        .map_err(|source| MediaError::Write { path: list.clone(), source })?;
    let mut line = args(["-f", "concat", "-safe", "0", "-i"]);
    line.push(file_arg(&list));
    line.extend(["-i".into(), file_arg(audio)]);
    line.extend(args(["-map", "0:v", "-c:v", "copy", "-map", "1:a", "-c:a", "copy"]));
    line.extend(container_args());
    write(ffmpeg, line, out).await?;
    Ok(JoinedBy::Demuxer { why })
}

/// Joins `segments` into `out` by decoding and re-encoding both streams with `encode`; segments of
/// other sizes or rates are fitted to the canvas.
pub async fn reencode_concat(
    ffmpeg: &Ffmpeg,
    probe: &Probe,
    segments: &[PathBuf],
    encode: &EncodeSettings,
    out: &Path,
) -> Result<(), MediaError> {
    encode.check()?;
    let parts = measure(probe, segments).await?;
    let mut line = audio_inputs(&parts);
    line.extend(args([
        "-filter_complex",
        reencode_graph(&parts, encode).as_str(),
        "-map",
        "[v]",
        "-map",
        "[a]",
    ]));
    line.extend(encode.output_args());
    write(ffmpeg, line, out).await
}

/// One segment and what the join needs to know of it.
#[derive(Debug)]
struct Part {
    path: PathBuf,
    info: MediaInfo,
    /// The video's length: the segment's place on the episode's timeline.
    seconds: f64,
}

async fn measure(probe: &Probe, segments: &[PathBuf]) -> Result<Vec<Part>, MediaError> {
    if segments.is_empty() {
        return Err(MediaError::Invalid { detail: "an episode needs at least one segment".into() });
    }
    let mut parts = Vec::with_capacity(segments.len());
    for path in segments {
        let info = probe.probe_async(path).await?;
        let seconds = info.video().and_then(|video| video.duration.or(info.duration)).ok_or_else(|| {
            MediaError::Unreadable {
                tool: "ffprobe",
                path: path.clone(),
                detail: "no video stream with a known length".into(),
            }
        })?;
        parts.push(Part { path: path.clone(), info, seconds });
    }
    Ok(parts)
}

/// The episode's audio must be an AAC track as long as the segments' video, or the copy would put
/// sound out of step with the pictures (audio made for other segments) or refuse it in MP4.
fn check_audio(info: &MediaInfo, path: &Path, parts: &[Part]) -> Result<(), MediaError> {
    let video: f64 = parts.iter().map(|part| part.seconds).sum();
    let invalid = |found: String| MediaError::Invalid {
        detail: format!(
            "`{}` has {found}, not AAC lasting the segments' {video:.3} s: build it with episode_audio \
             from the same segments",
            path.display()
        ),
    };
    let audio = info.audio().ok_or_else(|| invalid("no audio".into()))?;
    if audio.codec != "aac" {
        return Err(invalid(format!("{} audio", audio.codec)));
    }
    let seconds = audio.duration.or(info.duration).unwrap_or(0.0);
    if (seconds - video).abs() > AUDIO_SLACK_SECONDS {
        return Err(invalid(format!("{seconds:.3} s of audio")));
    }
    Ok(())
}

/// Video can only be copied from segments encoded alike, with video as their first stream.
fn check_uniform(part: &Part, encode: &EncodeSettings) -> Result<(), MediaError> {
    let video = part.info.streams.first().filter(|stream| stream.kind == StreamKind::Video);
    let matches = video.is_some_and(|video| {
        video.codec == "h264"
            && video.width == Some(encode.width)
            && video.height == Some(encode.height)
            && video.fps.is_some_and(|fps| (fps - f64::from(encode.fps)).abs() < 0.01)
    });
    if matches {
        return Ok(());
    }
    let found = match video {
        Some(video) => format!(
            "{} {}x{} at {} fps",
            video.codec,
            video.width.unwrap_or_default(),
            video.height.unwrap_or_default(),
            video.fps.map_or("unknown".into(), |fps| format!("{fps:.3}"))
        ),
        None => "no video as its first stream".into(),
    };
    Err(MediaError::Invalid {
        detail: format!(
            "`{}` has {found}, not h264 {}x{} at {} fps: compose every segment with the same settings, \
             or join them with reencode_concat",
            part.path.display(),
            encode.width,
            encode.height,
            encode.fps
        ),
    })
}

/// The concat demuxer's list: only each file's video (track 1), placed end to end by its video length.
fn list_file(parts: &[Part]) -> Result<String, MediaError> {
    let mut list = String::from("ffconcat version 1.0\nstream\nexact_stream_id 1\n");
    for part in parts {
        let path = std::path::absolute(&part.path).unwrap_or_else(|_| part.path.clone());
        let text =
            path.to_str().filter(|text| !text.contains(['\n', '\r'])).ok_or_else(|| MediaError::Invalid {
                detail: format!(
                    "`{}`: the concat list cannot hold this path (not UTF-8, or a line break)",
                    path.display()
                ),
            })?;
        list.push_str(&format!("file '{}'\nduration {:.6}\n", text.replace('\'', r"'\''"), part.seconds));
    }
    Ok(list)
}

/// Every segment as an input of its own, from 0 on.
fn audio_inputs(parts: &[Part]) -> Vec<OsString> {
    parts.iter().flat_map(|part| [OsString::from("-i"), file_arg(&part.path)]).collect()
}

fn segment_audio(part: &Part, encode: &EncodeSettings, input: usize, index: usize) -> String {
    let samples = encode.samples(encode.frames(part.seconds));
    let source = part.info.audio().map(|audio| (input, audio.channels));
    encode.segment_audio(source, samples, &format!("a{index}"))
}

/// Both streams of every segment normalised to the canvas and joined as `[v]` and `[a]`.
fn reencode_graph(parts: &[Part], encode: &EncodeSettings) -> String {
    let mut graph = String::new();
    for (index, part) in parts.iter().enumerate() {
        graph.push_str(&format!(
            "[{index}:v]fps={fps},{fit},tpad=stop=-1:stop_mode=clone,trim=end_frame={frames}[v{index}];{audio};",
            fps = encode.fps,
            fit = fit(encode.width, encode.height),
            frames = encode.frames(part.seconds),
            audio = segment_audio(part, encode, index, index),
        ));
    }
    for index in 0..parts.len() {
        graph.push_str(&format!("[v{index}][a{index}]"));
    }
    graph.push_str(&format!(
        "concat=n={}:v=1:a=1[joined][a];[joined]{}[v]",
        parts.len(),
        encode.video_finish()
    ));
    graph
}

async fn write(ffmpeg: &Ffmpeg, mut line: Vec<OsString>, out: &Path) -> Result<(), MediaError> {
    let partial = Partial::beside(out)?;
    line.push(file_arg(partial.path()));
    ffmpeg.run(&line).await?;
    partial.commit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StreamInfo;

    fn stream(kind: StreamKind, codec: &str) -> StreamInfo {
        StreamInfo {
            kind,
            codec: codec.into(),
            width: (kind == StreamKind::Video).then_some(320),
            height: (kind == StreamKind::Video).then_some(180),
            fps: (kind == StreamKind::Video).then_some(10.0),
            sample_rate: (kind == StreamKind::Audio).then_some(48_000),
            channels: (kind == StreamKind::Audio).then_some(2),
            duration: Some(2.7),
        }
    }

    fn part(path: &str, streams: Vec<StreamInfo>) -> Part {
        Part {
            path: PathBuf::from(path),
            info: MediaInfo { format_name: "mov,mp4".into(), duration: Some(2.7), streams },
            seconds: 2.7,
        }
    }

    #[test]
    fn list_quotes_paths_and_keeps_video_only() {
        let parts = [part("/eps/it's here/a.mp4", vec![]), part("/eps/b.mp4", vec![])];
        let list = list_file(&parts).unwrap();
        assert_eq!(
            list,
            "ffconcat version 1.0\nstream\nexact_stream_id 1\n\
             file '/eps/it'\\''s here/a.mp4'\nduration 2.700000\nfile '/eps/b.mp4'\nduration 2.700000\n"
        );
        assert!(list_file(&[part("/eps/new\nline.mp4", vec![])]).is_err());
    }

    #[test]
    fn the_audio_must_be_aac_as_long_as_the_video() {
        let parts = [part("a.mp4", vec![]), part("b.mp4", vec![])];
        let audio = |codec: &str, seconds: f64| MediaInfo {
            format_name: "mov,mp4".into(),
            duration: Some(seconds),
            streams: vec![StreamInfo { duration: Some(seconds), ..stream(StreamKind::Audio, codec) }],
        };
        let path = Path::new("episode.m4a");
        assert!(check_audio(&audio("aac", 5.4), path, &parts).is_ok());
        assert!(check_audio(&audio("aac", 5.41), path, &parts).is_ok());
        let err = check_audio(&audio("aac", 5.5), path, &parts).unwrap_err().to_string();
        assert!(err.contains("5.500 s of audio") && err.contains("5.400 s"), "{err}");
        assert!(
            check_audio(&audio("pcm_s16le", 5.4), path, &parts)
                .unwrap_err()
                .to_string()
                .contains("pcm_s16le")
        );
        let silent = MediaInfo { format_name: "mov,mp4".into(), duration: Some(5.4), streams: vec![] };
        assert!(check_audio(&silent, path, &parts).unwrap_err().to_string().contains("no audio"));
    }

    #[test]
    fn only_uniform_segments_are_copied() {
        let encode = EncodeSettings::new(320, 180, 10);
        let good = part("a.mp4", vec![stream(StreamKind::Video, "h264"), stream(StreamKind::Audio, "aac")]);
        assert!(check_uniform(&good, &encode).is_ok());
        let audio_first =
            part("b.mp4", vec![stream(StreamKind::Audio, "aac"), stream(StreamKind::Video, "h264")]);
        assert!(
            check_uniform(&audio_first, &encode)
                .unwrap_err()
                .to_string()
                .contains("no video as its first stream")
        );
        let other_size = EncodeSettings::new(640, 360, 10);
        let err = check_uniform(&good, &other_size).unwrap_err().to_string();
        assert!(err.contains("has h264 320x180 at 10.000 fps, not h264 640x360 at 10 fps"), "{err}");
    }

    #[test]
    fn reencode_joins_both_streams_in_order() {
        let encode = EncodeSettings::new(320, 180, 10);
        let parts = [
            part("a.mp4", vec![stream(StreamKind::Video, "h264"), stream(StreamKind::Audio, "aac")]),
            part("b.mp4", vec![stream(StreamKind::Video, "h264"), stream(StreamKind::Audio, "aac")]),
        ];
        let graph = reencode_graph(&parts, &encode);
        assert!(graph.starts_with("[0:v]fps=10,scale=320:180:"), "{graph}");
        assert!(graph.contains("trim=end_frame=27[v0];[0:a]"), "{graph}");
        assert!(graph.contains("[v0][a0][v1][a1]concat=n=2:v=1:a=1[joined][a];[joined]scale="), "{graph}");
    }
}
