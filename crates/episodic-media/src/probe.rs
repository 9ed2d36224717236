//! Reading a media file's streams and length with ffprobe.

use crate::{MediaError, Tool};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::Command;

/// ffprobe at a known path.
#[derive(Debug, Clone)]
pub struct Probe {
    tool: Tool,
}

/// What ffprobe says about a file.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaInfo {
    /// The demuxer that read it, e.g. `mp3`, `wav`, `png_pipe`, `mov,mp4,m4a,3gp,3g2,mj2`.
    pub format_name: String,
    /// The container's duration in seconds, when it has one.
    pub duration: Option<f64>,
    /// The streams in the file.
    pub streams: Vec<StreamInfo>,
}

/// The kind of one stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// Pictures (a still image is one video frame).
    Video,
    /// Sound.
    Audio,
    /// Anything else (subtitles, data).
    Other,
}

/// One stream of a media file.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamInfo {
    /// Video, audio or other.
    pub kind: StreamKind,
    /// The codec, e.g. `h264`, `aac`, `mp3`, `png`.
    pub codec: String,
    /// Width in pixels, for pictures.
    pub width: Option<u32>,
    /// Height in pixels, for pictures.
    pub height: Option<u32>,
    /// Frames per second, for video.
    pub fps: Option<f64>,
    /// Samples per second, for audio.
    pub sample_rate: Option<u32>,
    /// Channels, for audio.
    pub channels: Option<u32>,
    /// The stream's own duration in seconds, when known.
    pub duration: Option<f64>,
}

impl MediaInfo {
    /// The first video stream.
    pub fn video(&self) -> Option<&StreamInfo> {
        self.streams.iter().find(|stream| stream.kind == StreamKind::Video)
    }

    /// The first audio stream.
    pub fn audio(&self) -> Option<&StreamInfo> {
        self.streams.iter().find(|stream| stream.kind == StreamKind::Audio)
    }

    /// The length of the first audio stream, falling back to the container's.
    pub fn audio_seconds(&self) -> Option<f64> {
        self.audio().and_then(|audio| audio.duration).or(self.duration)
    }
}

impl Probe {
    /// ffprobe at a path found by [`crate::locate`].
    pub fn new(tool: Tool) -> Self {
        Self { tool }
    }

    /// Where ffprobe is.
    pub fn path(&self) -> &Path {
        &self.tool.path
    }

    /// Probes one file.
    pub fn probe(&self, path: &Path) -> Result<MediaInfo, MediaError> {
        let stdout =
            self.run(path, &["-v", "error", "-print_format", "json", "-show_format", "-show_streams"])?;
        let raw: RawProbe = serde_json::from_slice(&stdout).map_err(|err| MediaError::BadOutput {
            tool: "ffprobe",
            path: path.to_path_buf(),
            detail: err.to_string(),
        })?;
        Ok(raw.into_info())
    }

    /// Runs ffprobe with `args` on `path` and returns what it printed on stdout.
    fn run(&self, path: &Path, args: &[&str]) -> Result<Vec<u8>, MediaError> {
        // `file:` keeps a name that starts with `-` or holds a `:` from being read as an option or protocol.
        let mut target = std::ffi::OsString::from("file:");
        target.push(absolute(path));
        let output = Command::new(&self.tool.path).args(args).arg(&target).output().map_err(|err| {
            MediaError::ToolMissing {
                tool: "ffprobe",
                looked: format!("could not run `{}`: {err}", self.tool.path.display()),
            }
        })?;
        if !output.status.success() {
            // ffprobe names the absolute `file:` target; show the path as the caller gave it.
            let detail =
                stderr_tail(&output.stderr).replace(&*target.to_string_lossy(), &path.display().to_string());
            return Err(MediaError::Unreadable { tool: "ffprobe", path: path.to_path_buf(), detail });
        }
        Ok(output.stdout)
    }

    /// Where the first audio stream's last packet ends, in seconds: the length the file really
    /// holds, whatever its header says (a cut MP3 keeps its header's full length). Reads packet
    /// headers only, nothing is decoded. `None` when the file has no audio packets.
    pub fn audio_end(&self, path: &Path) -> Result<Option<f64>, MediaError> {
        let stdout = self.run(
            path,
            &[
                "-v",
                "error",
                "-select_streams",
                "a:0",
                "-show_entries",
                "packet=pts_time,duration_time",
                "-of",
                "csv=p=0",
            ],
        )?;
        let text = String::from_utf8_lossy(&stdout);
        Ok(text
            .lines()
            .filter_map(packet_end)
            .fold(None, |end: Option<f64>, packet| Some(end.map_or(packet, |end| end.max(packet)))))
    }

    /// Probes one file on tokio's blocking pool, so an async caller's thread keeps serving others.
    pub async fn probe_async(&self, path: &Path) -> Result<MediaInfo, MediaError> {
        let (probe, owned) = (self.clone(), path.to_path_buf());
        tokio::task::spawn_blocking(move || probe.probe(&owned)).await.unwrap_or_else(|join| {
            Err(MediaError::BadOutput {
                tool: "ffprobe",
                path: path.to_path_buf(),
                detail: format!("the probe did not finish: {join}"),
            })
        })
    }
}

/// `pts_time,duration_time` → where the packet ends; `N/A` fields make the line unusable.
fn packet_end(line: &str) -> Option<f64> {
    let (pts, duration) = line.trim().split_once(',')?;
    let (pts, duration) = (pts.parse::<f64>().ok()?, duration.parse::<f64>().ok()?);
    (pts.is_finite() && duration.is_finite()).then_some(pts + duration)
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The last few non-empty lines a tool printed, for an error message.
pub(crate) fn stderr_tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().map(strip_context).filter(|line| !line.is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(3)..].join("; ");
    if tail.is_empty() { "no details printed".into() } else { tail }
}

/// ffmpeg prefixes lines with `[demuxer @ 0x55d0c3a1b2c0]`; the address changes every run.
fn strip_context(line: &str) -> &str {
    let line = line.trim();
    match line.strip_prefix('[').and_then(|rest| rest.split_once("] ")) {
        Some((context, message)) if context.contains(" @ 0x") => message.trim(),
        _ => line,
    }
}

#[derive(Deserialize)]
struct RawProbe {
    #[serde(default)]
    streams: Vec<RawStream>,
    format: Option<RawFormat>,
}

#[derive(Deserialize)]
struct RawFormat {
    format_name: Option<String>,
    duration: Option<String>,
}

#[derive(Deserialize)]
struct RawStream {
    codec_type: Option<String>,
    codec_name: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    avg_frame_rate: Option<String>,
    sample_rate: Option<String>,
    channels: Option<u32>,
    duration: Option<String>,
}

impl RawProbe {
    fn into_info(self) -> MediaInfo {
        let format = self.format;
        MediaInfo {
            format_name: format.as_ref().and_then(|f| f.format_name.clone()).unwrap_or_default(),
            duration: format.and_then(|f| parse_seconds(f.duration.as_deref())),
            streams: self
                .streams
                .into_iter()
                .map(|stream| StreamInfo {
                    kind: match stream.codec_type.as_deref() {
                        Some("video") => StreamKind::Video,
                        Some("audio") => StreamKind::Audio,
                        _ => StreamKind::Other,
                    },
                    codec: stream.codec_name.unwrap_or_default(),
                    width: stream.width,
                    height: stream.height,
                    fps: stream.avg_frame_rate.as_deref().and_then(parse_rate),
                    sample_rate: stream.sample_rate.and_then(|rate| rate.parse().ok()),
                    channels: stream.channels,
                    duration: parse_seconds(stream.duration.as_deref()),
                })
                .collect(),
        }
    }
}

fn parse_seconds(text: Option<&str>) -> Option<f64> {
    text.and_then(|text| text.parse::<f64>().ok()).filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
}

fn parse_rate(text: &str) -> Option<f64> {
    let (num, den) = text.split_once('/')?;
    let (num, den): (f64, f64) = (num.parse().ok()?, den.parse().ok()?);
    (den > 0.0 && num > 0.0).then(|| num / den)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ffprobe_json() {
        let json = r#"{"streams":[{"codec_type":"audio","codec_name":"mp3","sample_rate":"24000","channels":1,"duration":"4.032000"},
            {"codec_type":"video","codec_name":"h264","width":1920,"height":1080,"avg_frame_rate":"30000/1001"}],
            "format":{"format_name":"mp3","duration":"4.040000"}}"#;
        let info = serde_json::from_str::<RawProbe>(json).expect("valid json").into_info();
        assert_eq!(info.format_name, "mp3");
        assert_eq!(info.audio_seconds(), Some(4.032));
        assert_eq!(info.audio().and_then(|a| a.sample_rate), Some(24000));
        let video = info.video().expect("video");
        assert_eq!((video.width, video.height), (Some(1920), Some(1080)));
        assert!((video.fps.unwrap_or_default() - 29.97).abs() < 0.01);
    }

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(stderr_tail(b"a\n\nb\nc\nd\n"), "b; c; d");
        assert_eq!(stderr_tail(b""), "no details printed");
        assert_eq!(stderr_tail(b"[mp3 @ 0x557c1cf45180] Invalid frame size\n"), "Invalid frame size");
    }
}
