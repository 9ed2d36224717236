//! Checking the files a manifest names: they exist, are what they claim, and are within the
//! limits of the model that will receive them. Each file is read, hashed and probed once.

use crate::episode::MediaFile;
use crate::{Problem, Spanned};
use episodic_catalog::{AudioFormat, AudioLimits, ImageFormat, ImageLimits};
use episodic_media::{FileKind, MediaError, MediaInfo, Probe, sniff_file};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Reads, hashes and probes input files, remembering each by path.
pub(crate) struct Inputs<'a> {
    base: PathBuf,
    probe: &'a Probe,
    seen: HashMap<PathBuf, Option<Inspected>>,
}

#[derive(Clone)]
struct Inspected {
    file: MediaFile,
    info: MediaInfo,
}

impl<'a> Inputs<'a> {
    pub(crate) fn new(base: &Path, probe: &'a Probe) -> Self {
        Self { base: base.to_path_buf(), probe, seen: HashMap::new() }
    }

    /// An image within `limits`; `role` names it in messages ("the image of `ninja`").
    pub(crate) fn image(
        &mut self,
        written: &Spanned<String>,
        limits: &ImageLimits,
        role: &str,
        problems: &mut Vec<Problem>,
    ) -> Option<MediaFile> {
        let inspected = self.inspect(written, problems)?;
        let file = &inspected.file;
        let Some(format) = image_format(file.kind) else {
            problems.push(
                Problem::error(
                    "image-format",
                    match file.kind {
                        FileKind::Unknown => {
                            format!("{role} is not an image: its bytes are not PNG, JPEG or WebP, whatever its name says")
                        }
                        other => format!("{role} is really {}; models take PNG, JPEG or WebP", other.name()),
                    },
                )
                .with_span(written.span, file.kind.name())
                .with_help(format!("convert it, e.g. `ffmpeg -i {} image.png`", written.value)),
            );
            return None;
        };
        if !limits.formats.contains(&format) {
            problems.push(
                Problem::error("image-format", format!("{role} is {format}, which this model does not take"))
                    .with_span(written.span, format.as_str()),
            );
            return None;
        }
        warn_misnamed(written, file.kind, problems);
        // ffprobe reports 0x0 for a picture it cannot decode; the PNG header then tells a bomb
        // (a huge declared size) from a file that is merely broken.
        let probed = inspected
            .info
            .video()
            .and_then(|video| Some((video.width?, video.height?)))
            .filter(|(width, height)| *width > 0 && *height > 0);
        let declared = || {
            png_declared_size(&file.path)
                .filter(|(width, height)| *width > MAX_IMAGE_SIDE || *height > MAX_IMAGE_SIDE)
        };
        let (width, height) = probed.or_else(declared).unwrap_or((0, 0));
        if width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE {
            problems.push(
                Problem::error(
                    "image-too-large",
                    format!("{role} declares {width}x{height}; images may be at most {MAX_IMAGE_SIDE} pixels on a side"),
                )
                .with_span(written.span, format!("{width}x{height}"))
                .with_help(format!(
                    "a real portrait needs no more than 2048 pixels: `ffmpeg -i {} -vf scale=2048:-1 image.png` (a file this small declaring that size is corrupt or a decompression bomb: export it again)",
                    written.value
                )),
            );
            return None;
        }
        if width == 0 || height == 0 {
            problems.push(
                Problem::error(
                    "media-unreadable",
                    format!(
                        "`{}` looks like {} but cannot be decoded: ffprobe finds no picture size",
                        written.value,
                        file.kind.name()
                    ),
                )
                .with_span(written.span, "unreadable")
                .with_help(
                    "the file may be truncated or corrupt: open it in an image editor and export it again",
                ),
            );
            return None;
        }
        if width < limits.min_width || height < limits.min_height {
            problems.push(
                Problem::error("image-too-small", format!("{role} is {width}x{height}; the model needs at least {}x{}", limits.min_width, limits.min_height))
                    .with_span(written.span, format!("{width}x{height}"))
                    .with_help("use a larger source image (upscaling a small one loses detail the avatar needs: the face should fill 60-70% of the frame)"),
            );
            return None;
        }
        Some(file.clone())
    }

    /// A speech track within `limits`, with its length in seconds. When `splittable`, a track
    /// longer than the model's cap passes: it will be cut into pieces the model takes.
    pub(crate) fn audio(
        &mut self,
        written: &Spanned<String>,
        limits: &AudioLimits,
        model: &str,
        splittable: bool,
        problems: &mut Vec<Problem>,
    ) -> Option<(MediaFile, f64)> {
        let inspected = self.inspect(written, problems)?;
        let file = &inspected.file;
        let Some(format) = audio_format(file.kind) else {
            problems.push(
                Problem::error(
                    "audio-format",
                    match file.kind {
                        FileKind::Unknown => format!(
                            "`{}` is not audio: its bytes are not MP3, WAV or AAC, whatever its name says",
                            written.value
                        ),
                        other => format!(
                            "`{}` is really {}; avatars take MP3, WAV or AAC",
                            written.value,
                            other.name()
                        ),
                    },
                )
                .with_span(written.span, file.kind.name())
                .with_help(format!(
                    "convert it: `ffmpeg -i {} -c:a libmp3lame -q:a 2 speech.mp3`",
                    written.value
                )),
            );
            return None;
        };
        if !limits.formats.contains(&format) {
            problems.push(
                Problem::error(
                    "audio-format",
                    format!("`{}` is {format}, which {model} does not take", written.value),
                )
                .with_span(written.span, format.as_str()),
            );
            return None;
        }
        warn_misnamed(written, file.kind, problems);
        if file.size > limits.max_bytes {
            problems.push(
                Problem::error(
                    "audio-too-large",
                    format!(
                        "`{}` is {}; the limit is {}",
                        written.value,
                        megabytes(file.size),
                        megabytes(limits.max_bytes)
                    ),
                )
                .with_span(written.span, "too large")
                .with_help(format!(
                    "compress it to MP3: `ffmpeg -i {} -ac 1 -b:a 96k speech.mp3` (speech needs no more)",
                    written.value
                )),
            );
            return None;
        }
        let Some(seconds) = inspected.info.audio().and(inspected.info.audio_seconds()) else {
            problems.push(
                Problem::error(
                    "audio-unreadable",
                    format!("`{}` has no audio that ffprobe can measure", written.value),
                )
                .with_span(written.span, "no audio stream")
                .with_help("the file may be truncated or corrupt: export it again from its source"),
            );
            return None;
        };
        if let Some(problem) = self.truncated_audio(written, file, seconds) {
            problems.push(problem);
            return None;
        }
        if seconds < limits.min_seconds {
            let shown = seconds_beside(seconds, limits.min_seconds);
            problems.push(
                Problem::error("audio-too-short", format!("`{}` lasts {shown} s; avatars need at least {} s of speech", written.value, limits.min_seconds))
                    .with_span(written.span, format!("{shown} s"))
                    .with_help("merge it with the next line, or pad it with silence: `ffmpeg -i in.mp3 -af apad=whole_dur=2 out.mp3`"),
            );
            return None;
        }
        if seconds > limits.max_seconds && !splittable {
            let shown = seconds_beside(seconds, limits.max_seconds);
            let (code, message, help) = if limits.max_seconds < 60.0 {
                (
                    "over-model-cap",
                    format!(
                        "`{}` lasts {shown} s, longer than {model} renders ({} s at most)",
                        written.value, limits.max_seconds
                    ),
                    "split the line into shorter segments, or use `model: kling-avatar-v2-pro` (up to 60 s)"
                        .to_owned(),
                )
            } else {
                (
                    "audio-too-long",
                    format!(
                        "`{}` lasts {shown} s; avatars take at most {} s",
                        written.value, limits.max_seconds
                    ),
                    "split the speech into two segments at a pause".to_owned(),
                )
            };
            problems.push(
                Problem::error(code, message).with_span(written.span, format!("{shown} s")).with_help(help),
            );
            return None;
        }
        Some((file.clone(), seconds))
    }

    /// A file whose header promises more audio than it holds: a WAV whose data chunk runs past
    /// the end of the file, or an MP3 whose frames stop well before the length its header
    /// states (a cut download). ffprobe reports the header's length, and the model would get
    /// less speech than the plan pays for, or a file it refuses.
    fn truncated_audio(&self, written: &Spanned<String>, file: &MediaFile, seconds: f64) -> Option<Problem> {
        let holds = match file.kind {
            FileKind::Wav => wav_shortfall(&file.path).map(|(declared, holds)| {
                (format!("its header says {declared:.2} s of audio but the file holds {holds:.2} s"), holds)
            }),
            _ => self.probe.audio_end(&file.path).ok().flatten().and_then(|holds| {
                let missing = seconds - holds;
                // Encoder padding makes the header's length a little longer than the frames.
                (missing > (0.5f64).max(seconds * 0.02)).then(|| {
                    (
                        format!("its header says {seconds:.2} s of audio but its frames end at {holds:.2} s"),
                        holds,
                    )
                })
            }),
        };
        let (detail, holds) = holds?;
        Some(
            Problem::error("audio-truncated", format!("`{}` is cut short: {detail}", written.value))
                .with_span(written.span, format!("{holds:.2} s of audio"))
                .with_help(
                    "the file was cut off while it was written or copied: export or download it again",
                ),
        )
    }

    /// The sample rate of an audio file already inspected.
    pub(crate) fn sample_rate(&self, written: &Spanned<String>) -> Option<u32> {
        let inspected = self.seen.get(&self.base.join(&written.value))?.as_ref()?;
        inspected.info.audio()?.sample_rate
    }

    /// The probe files are read with.
    pub(crate) fn probe(&self) -> &Probe {
        self.probe
    }

    /// Reads, hashes and probes a file once; later calls reuse the outcome.
    fn inspect(&mut self, written: &Spanned<String>, problems: &mut Vec<Problem>) -> Option<Inspected> {
        let path = self.base.join(&written.value);
        if let Some(known) = self.seen.get(&path) {
            return known.clone();
        }
        let outcome = self.inspect_new(&path, written, problems);
        self.seen.insert(path, outcome.clone());
        outcome
    }

    fn inspect_new(
        &self,
        path: &Path,
        written: &Spanned<String>,
        problems: &mut Vec<Problem>,
    ) -> Option<Inspected> {
        let metadata = match std::fs::metadata(path) {
            Ok(metadata) => metadata,
            Err(err) if crate::broken_link(path, &written.value, &err).is_some() => {
                if let Some((message, help)) = crate::broken_link(path, &written.value, &err) {
                    problems.push(
                        Problem::error("missing-file", message)
                            .with_span(written.span, "broken link")
                            .with_help(help),
                    );
                }
                return None;
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                problems.push(
                    Problem::error("missing-file", format!("`{}` does not exist", written.value))
                        .with_span(written.span, "no such file")
                        .with_help(
                            "paths are relative to the folder of the manifest; check the name and the folder",
                        ),
                );
                return None;
            }
            Err(err) => {
                problems.push(unreadable(written, &err.to_string()));
                return None;
            }
        };
        if metadata.is_dir() {
            problems.push(
                Problem::error("not-a-file", format!("`{}` is a folder, not a file", written.value))
                    .with_span(written.span, "a folder")
                    .with_help("name the file inside it"),
            );
            return None;
        }
        // A FIFO blocks the read until a writer appears and a device such as /dev/zero never
        // ends; only a regular file can be hashed, probed and uploaded.
        if !metadata.is_file() {
            problems.push(
                Problem::error(
                    "not-a-file",
                    format!("`{}` is not a regular file (a pipe, socket or device)", written.value),
                )
                .with_span(written.span, "not a file")
                .with_help("save the media to a file and name that file"),
            );
            return None;
        }
        if metadata.len() == 0 {
            problems.push(
                Problem::error("empty-file", format!("`{}` is empty (0 bytes)", written.value))
                    .with_span(written.span, "empty")
                    .with_help("its export or download did not finish: export it again from its source"),
            );
            return None;
        }
        let (sha256, size) = match self.probe.hash(path) {
            Ok(hashed) => hashed,
            Err(err) => {
                problems.push(unreadable(written, &err.to_string()));
                return None;
            }
        };
        let kind = match sniff_file(path) {
            Ok(kind) => kind,
            Err(err) => {
                problems.push(unreadable(written, &err.to_string()));
                return None;
            }
        };
        let info = match kind {
            FileKind::Unknown => {
                MediaInfo { format_name: String::new(), duration: None, streams: Vec::new() }
            }
            _ => {
                // Speech is probed with its packets, for the truncation check, in the same run.
                let probed = match kind {
                    FileKind::Mp3 | FileKind::Aac => self.probe.probe_audio(path).map(|(info, _)| info),
                    _ => self.probe.probe(path),
                };
                match probed {
                    Ok(info) => info,
                    Err(MediaError::Unreadable { detail, .. }) => {
                        problems.push(
                        Problem::error("media-unreadable", format!("`{}` looks like {} but cannot be decoded", written.value, kind.name()))
                            .with_span(written.span, "unreadable")
                            .with_help(format!("ffprobe says: {detail}. The file may be truncated or corrupt: export it again")),
                    );
                        return None;
                    }
                    Err(err) => {
                        let mut problem = Problem::error("probe-failed", err.to_string())
                            .with_span(written.span, "while probing this");
                        if let Some(help) = err.help() {
                            problem = problem.with_help(help);
                        }
                        problems.push(problem);
                        return None;
                    }
                }
            }
        };
        let file = MediaFile { path: path.to_path_buf(), written: written.value.clone(), sha256, size, kind };
        Some(Inspected { file, info })
    }
}

fn unreadable(written: &Spanned<String>, reason: &str) -> Problem {
    Problem::error("unreadable-file", format!("cannot read `{}`: {reason}", written.value))
        .with_span(written.span, "unreadable")
        .with_help("check the file's permissions")
}

fn image_format(kind: FileKind) -> Option<ImageFormat> {
    match kind {
        FileKind::Png => Some(ImageFormat::Png),
        FileKind::Jpeg => Some(ImageFormat::Jpeg),
        FileKind::Webp => Some(ImageFormat::Webp),
        _ => None,
    }
}

fn audio_format(kind: FileKind) -> Option<AudioFormat> {
    match kind {
        FileKind::Mp3 => Some(AudioFormat::Mp3),
        FileKind::Wav => Some(AudioFormat::Wav),
        FileKind::Aac => Some(AudioFormat::Aac),
        _ => None,
    }
}

/// Images larger than this on a side are refused: no portrait needs it, and a tiny file that
/// declares such a size is corrupt or a decompression bomb for whatever decodes it (WebP's own
/// limit is 16383).
const MAX_IMAGE_SIDE: u32 = 16_384;

/// The size a PNG's header declares, read from its first 24 bytes: ffprobe reports 0x0 for a
/// PNG it cannot decode, including one declaring a size too large to allocate.
fn png_declared_size(path: &Path) -> Option<(u32, u32)> {
    let mut head = [0u8; 24];
    std::io::Read::read_exact(&mut std::fs::File::open(path).ok()?, &mut head).ok()?;
    if !head.starts_with(b"\x89PNG\r\n\x1a\n") || &head[12..16] != b"IHDR" {
        return None;
    }
    let width = u32::from_be_bytes([head[16], head[17], head[18], head[19]]);
    let height = u32::from_be_bytes([head[20], head[21], head[22], head[23]]);
    Some((width, height))
}

/// For a WAV whose `data` chunk declares more bytes than follow it: the declared and the real
/// length in seconds. Streaming writers leave the size 0 or `0xFFFFFFFF` (unknown); those are
/// not lies, and ffprobe measures them by the file's size.
fn wav_shortfall(path: &Path) -> Option<(f64, f64)> {
    let mut file = std::fs::File::open(path).ok()?;
    let file_len = file.metadata().ok()?.len();
    let mut head = vec![0u8; 4096];
    let read = std::io::Read::read(&mut file, &mut head).ok()?;
    head.truncate(read);
    if !head.starts_with(b"RIFF") || head.get(8..12) != Some(b"WAVE") {
        return None;
    }
    let mut at = 12usize;
    let mut byte_rate = None;
    while let Some(chunk) = head.get(at..at + 8) {
        let size = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
        let body = at + 8;
        match &chunk[..4] {
            b"fmt " => {
                byte_rate =
                    head.get(body + 8..body + 12).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            }
            b"data" => {
                let rate = f64::from(byte_rate.filter(|rate| *rate > 0)?);
                let holds = file_len.saturating_sub(body as u64);
                if size == 0 || size == u32::MAX || u64::from(size) <= holds {
                    return None;
                }
                return Some((f64::from(size) / rate, holds as f64 / rate));
            }
            _ => {}
        }
        // Chunks are padded to an even length.
        at = body.checked_add(usize::try_from(size).ok()?)?.checked_add(size as usize % 2)?;
    }
    None
}

/// A length shown beside the limit it breaks, with enough decimals that the two differ:
/// 1.999875 s against a 2 s minimum is "1.9999", not "2.00".
/// `seconds` with as few decimals (at least 2) as tell it apart from `limit`.
pub(crate) fn seconds_beside(seconds: f64, limit: f64) -> String {
    for decimals in 2..=6 {
        let shown = format!("{seconds:.decimals$}");
        if shown.parse::<f64>().is_ok_and(|value| value != limit) {
            return shown;
        }
    }
    seconds.to_string()
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}

/// A file whose name says one type and whose bytes another is accepted for what it is, and named.
fn warn_misnamed(written: &Spanned<String>, kind: FileKind, problems: &mut Vec<Problem>) {
    let extension = Path::new(&written.value).extension().and_then(|ext| ext.to_str()).map(str::to_lowercase);
    let expected: &[&str] = match kind {
        FileKind::Png => &["png"],
        FileKind::Jpeg => &["jpg", "jpeg"],
        FileKind::Webp => &["webp"],
        FileKind::Mp3 => &["mp3"],
        FileKind::Wav => &["wav", "wave"],
        FileKind::Aac => &["aac"],
        _ => return,
    };
    if let Some(extension) = extension
        && !expected.contains(&extension.as_str())
    {
        problems.push(
            Problem::warning(
                "misnamed-file",
                format!("`{}` is really {} despite its name", written.value, kind.name()),
            )
            .with_span(written.span, kind.name())
            .with_help(format!(
                "it will be uploaded as {}; rename it to end in .{} to avoid confusion",
                kind.mime(),
                expected[0]
            )),
        );
    }
}
