//! Reading a media file's streams and length: from its headers when `header` understands the
//! file exactly as ffprobe would, otherwise with ffprobe.

use crate::facts::{FactStore, Known, Stamp};
use crate::{FileKind, MediaError, Tool};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

/// ffprobe at a known path, and what it has already said about files that have not changed.
#[derive(Debug, Clone)]
pub struct Probe {
    tool: Tool,
    facts: Arc<FactStore>,
    /// Read WAV, MP3, PNG, JPEG, WebP and MP4/QuickTime headers natively where that gives
    /// ffprobe's answer.
    native_headers: bool,
}

/// What ffprobe says about a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaInfo {
    /// The demuxer that read it, e.g. `mp3`, `wav`, `png_pipe`, `mov,mp4,m4a,3gp,3g2,mj2`.
    pub format_name: String,
    /// The container's duration in seconds, when it has one.
    pub duration: Option<f64>,
    /// The streams in the file.
    pub streams: Vec<StreamInfo>,
}

/// The kind of one stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StreamKind {
    /// Pictures (a still image is one video frame).
    Video,
    /// Sound.
    Audio,
    /// Anything else (subtitles, data).
    Other,
}

/// One stream of a media file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// ffprobe at a path found by [`crate::locate`], remembering what it learns for this process.
    pub fn new(tool: Tool) -> Self {
        Self::with_facts(tool, Arc::new(FactStore::in_memory()))
    }

    /// ffprobe that remembers what it learns in `facts` (shared by every clone).
    pub fn with_facts(tool: Tool, facts: Arc<FactStore>) -> Self {
        Self { tool, facts, native_headers: true }
    }

    /// Always asks ffprobe, never the native header readers: to compare the two, or to rule the
    /// readers out when a file is judged differently than expected.
    pub fn ffprobe_only(mut self) -> Self {
        self.native_headers = false;
        self
    }

    /// The native reading of `path`, when allowed and understood.
    fn native(&self, path: &Path) -> Option<(MediaInfo, Option<f64>)> {
        if self.native_headers { crate::header::read(path) } else { None }
    }

    /// The native reading of `path` for [`Probe::probe`]: where the first audio stream's packets
    /// end is `None` when not reproduced.
    fn native_info(&self, path: &Path) -> Option<(MediaInfo, Option<Option<f64>>)> {
        if self.native_headers { crate::header::read_info(path) } else { None }
    }

    /// Where ffprobe is.
    pub fn path(&self) -> &Path {
        &self.tool.path
    }

    /// What this probe remembers; save it when a command ends.
    pub fn facts(&self) -> &FactStore {
        &self.facts
    }

    /// Probes one file (or recalls the probe of it as it is now).
    pub fn probe(&self, path: &Path) -> Result<MediaInfo, MediaError> {
        let key = absolute(path);
        let stamp = Stamp::of(&key);
        if let Some(info) = stamp.as_ref().and_then(|stamp| self.facts.recall(&key, stamp, Known::info)) {
            return Ok(info);
        }
        if let Some((info, end)) = self.native_info(&key) {
            if let Some(stamp) = &stamp {
                self.facts.learn(&key, stamp, |known| {
                    known.set_info(info.clone());
                    if let Some(end) = end.filter(|_| info.audio().is_some()) {
                        known.set_audio_end(end);
                    }
                });
            }
            return Ok(info);
        }
        let info = self.run_json(path, &[])?.into_info();
        if let Some(stamp) = &stamp {
            self.facts.learn(&key, stamp, |known| known.set_info(info.clone()));
        }
        Ok(info)
    }

    /// Probes an audio file and reads where its first audio stream's packets end (see
    /// [`Probe::audio_end`]), in one run of ffprobe.
    pub fn probe_audio(&self, path: &Path) -> Result<(MediaInfo, Option<f64>), MediaError> {
        let key = absolute(path);
        let stamp = Stamp::of(&key);
        if let Some(found) = stamp.as_ref().and_then(|stamp| self.facts.recall(&key, stamp, Known::audio)) {
            return Ok(found);
        }
        let (info, end) = match self.native(&key) {
            Some(native) => native,
            None => self.run_ffprobe_audio(path)?,
        };
        if let Some(stamp) = &stamp {
            self.facts.learn(&key, stamp, |known| {
                known.set_info(info.clone());
                known.set_audio_end(end);
            });
        }
        Ok((info, end))
    }

    /// What ffprobe itself says of a file and where its first audio stream's packets end,
    /// never the native header readers nor the facts: what those must agree with.
    pub(crate) fn run_ffprobe_audio(&self, path: &Path) -> Result<(MediaInfo, Option<f64>), MediaError> {
        let raw = self.run_json(path, &["-show_entries", "packet=stream_index,pts_time,duration_time"])?;
        let end = raw.audio_end();
        Ok((raw.into_info(), end))
    }

    /// Probes a video clip and reads where its first video stream's packets end: what the file
    /// really holds, whatever its header says. A clip cut short after its index was written
    /// (an MP4 with `moov` first) still declares its full length; only its packets show the cut.
    /// Reads packet headers only, nothing is decoded. The probe is remembered as [`Probe::probe`]'s.
    /// An MP4 whose every sample lies inside the file is read from its index, without ffprobe.
    pub fn probe_clip(&self, path: &Path) -> Result<(MediaInfo, Option<f64>), MediaError> {
        let key = absolute(path);
        let native = if self.native_headers { crate::header::read_clip(&key) } else { None };
        let (info, end) = match native {
            Some(read) => read,
            None => {
                let raw =
                    self.run_json(path, &["-show_entries", "packet=stream_index,pts_time,duration_time"])?;
                let end = raw.stream_end("video");
                (raw.into_info(), end)
            }
        };
        if let Some(stamp) = Stamp::of(&key) {
            self.facts.learn(&key, &stamp, |known| known.set_info(info.clone()));
        }
        Ok((info, end))
    }

    /// Records `info`, what a probe of these very bytes said under another name (a file probed
    /// where it was written, then renamed into place), as what probing `path` says now: a rename
    /// changes the file's stamp, and probing again would start ffprobe for the same answer.
    pub fn remember(&self, path: &Path, info: MediaInfo) {
        let key = absolute(path);
        if let Some(stamp) = Stamp::of(&key) {
            self.facts.learn(&key, &stamp, |known| known.set_info(info));
        }
    }

    /// sha256 (hex) and size of a file's bytes, read in full unless the file is unchanged since
    /// they were last read.
    pub fn hash(&self, path: &Path) -> std::io::Result<(String, u64)> {
        let key = absolute(path);
        let stamp = Stamp::of(&key);
        if let Some(found) = stamp.as_ref().and_then(|stamp| self.facts.recall(&key, stamp, Known::sha256)) {
            return Ok(found);
        }
        let mut file = std::fs::File::open(path)?;
        let mut hasher = Sha256::new();
        let size = std::io::copy(&mut file, &mut hasher)?;
        let sha256 = hex::encode(hasher.finalize());
        if let Some(stamp) = stamp.filter(|stamp| stamp.len() == size) {
            self.facts.learn(&key, &stamp, |known| known.set_sha256(sha256.clone()));
        }
        Ok((sha256, size))
    }

    /// Hashes and probes `paths` on `jobs` threads at once, so that the questions asked of them
    /// one by one afterwards are answered from memory: ffprobe's cost is mostly starting up, and
    /// one file after another leaves every core but one idle. Audio is probed as
    /// [`Probe::probe_audio`] does, anything else media as [`Probe::probe`] does; a file that
    /// cannot be read or probed is skipped here (asking again reports why).
    pub fn learn_all(&self, paths: &[PathBuf], jobs: usize) {
        let next = std::sync::atomic::AtomicUsize::new(0);
        let work = || {
            while let Some(path) = paths.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) {
                self.learn(path);
            }
        };
        std::thread::scope(|scope| {
            for _ in 1..jobs.clamp(1, paths.len().max(1)) {
                scope.spawn(work);
            }
            work();
        });
    }

    fn learn(&self, path: &Path) {
        if Stamp::of(path).is_none() || self.hash(path).is_err() {
            return;
        }
        match crate::sniff_file(path) {
            Ok(FileKind::Mp3 | FileKind::Aac | FileKind::Wav | FileKind::Ogg | FileKind::Flac) => {
                let _ = self.probe_audio(path);
            }
            Ok(FileKind::Unknown) | Err(_) => {}
            Ok(_) => {
                let _ = self.probe(path);
            }
        }
    }

    /// ffprobe's JSON of the streams and format, with `extra` arguments.
    fn run_json(&self, path: &Path, extra: &[&str]) -> Result<RawProbe, MediaError> {
        let mut line = vec!["-v", "error", "-print_format", "json", "-show_format", "-show_streams"];
        line.extend_from_slice(extra);
        let stdout = self.run(path, &line)?;
        serde_json::from_slice(&stdout).map_err(|err| MediaError::BadOutput {
            tool: "ffprobe",
            path: path.to_path_buf(),
            detail: err.to_string(),
        })
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
        Ok(self.probe_audio(path)?.1)
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
    #[serde(default)]
    packets: Vec<RawPacket>,
}

#[derive(Deserialize)]
struct RawPacket {
    stream_index: Option<u32>,
    pts_time: Option<String>,
    duration_time: Option<String>,
}

#[derive(Deserialize)]
struct RawFormat {
    format_name: Option<String>,
    duration: Option<String>,
}

#[derive(Deserialize)]
struct RawStream {
    index: Option<u32>,
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
    /// Where the first audio stream's last packet ends; packets without times do not count.
    fn audio_end(&self) -> Option<f64> {
        self.stream_end("audio")
    }

    /// Where the first stream of `codec_type`'s last packet ends.
    fn stream_end(&self, codec_type: &str) -> Option<f64> {
        let audio = self.streams.iter().find(|stream| stream.codec_type.as_deref() == Some(codec_type))?;
        let time = |text: &Option<String>| text.as_deref()?.parse::<f64>().ok().filter(|t| t.is_finite());
        self.packets
            .iter()
            .filter(|packet| packet.stream_index == audio.index)
            .filter_map(|packet| Some(time(&packet.pts_time)? + time(&packet.duration_time)?))
            .fold(None, |end: Option<f64>, packet| Some(end.map_or(packet, |end| end.max(packet))))
    }

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
    fn a_remembered_probe_is_recalled_without_ffprobe_until_the_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clip.mp4");
        std::fs::write(&path, b"a clip renamed into place").unwrap();
        // No ffprobe at all: only what was remembered can answer.
        let probe = Probe::new(Tool { name: "ffprobe", path: dir.path().join("no-ffprobe") });
        assert!(probe.probe(&path).is_err(), "nothing known, and no ffprobe to ask");
        let info =
            MediaInfo { format_name: "mov,mp4,m4a,3gp,3g2,mj2".into(), duration: Some(2.0), streams: vec![] };
        probe.remember(&path, info.clone());
        assert_eq!(probe.probe(&path).unwrap(), info);
        std::fs::write(&path, b"other bytes, and more of them").unwrap();
        assert!(probe.probe(&path).is_err(), "a changed file is not answered from memory");
    }

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(stderr_tail(b"a\n\nb\nc\nd\n"), "b; c; d");
        assert_eq!(stderr_tail(b""), "no details printed");
        assert_eq!(stderr_tail(b"[mp3 @ 0x557c1cf45180] Invalid frame size\n"), "Invalid frame size");
    }
}
