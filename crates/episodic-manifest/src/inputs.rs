//! Checking the files a manifest names: they exist, are what they claim, and are within the
//! limits of the model that will receive them. Each file is read, hashed and probed once.

use crate::episode::MediaFile;
use crate::{Problem, Spanned};
use episodic_catalog::{AudioFormat, AudioLimits, ImageFormat, ImageLimits};
use episodic_media::{FileKind, MediaError, MediaInfo, Probe, sniff_file};
use sha2::{Digest, Sha256};
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
        let (width, height) =
            inspected.info.video().and_then(|video| Some((video.width?, video.height?))).unwrap_or((0, 0));
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

    /// A speech track within `limits`, with its length in seconds.
    pub(crate) fn audio(
        &mut self,
        written: &Spanned<String>,
        limits: &AudioLimits,
        model: &str,
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
        if seconds < limits.min_seconds {
            problems.push(
                Problem::error("audio-too-short", format!("`{}` lasts {seconds:.2} s; avatars need at least {} s of speech", written.value, limits.min_seconds))
                    .with_span(written.span, format!("{seconds:.2} s"))
                    .with_help("merge it with the next line, or pad it with silence: `ffmpeg -i in.mp3 -af apad=whole_dur=2 out.mp3`"),
            );
            return None;
        }
        if seconds > limits.max_seconds {
            let (code, message, help) = if limits.max_seconds < 60.0 {
                (
                    "over-model-cap",
                    format!(
                        "`{}` lasts {seconds:.2} s, longer than {model} renders ({} s at most)",
                        written.value, limits.max_seconds
                    ),
                    "split the line into shorter segments, or use `model: kling-avatar-v2-pro` (up to 60 s)"
                        .to_owned(),
                )
            } else {
                (
                    "audio-too-long",
                    format!(
                        "`{}` lasts {seconds:.2} s; avatars take at most {} s",
                        written.value, limits.max_seconds
                    ),
                    "split the speech into two segments at a pause".to_owned(),
                )
            };
            problems.push(
                Problem::error(code, message)
                    .with_span(written.span, format!("{seconds:.2} s"))
                    .with_help(help),
            );
            return None;
        }
        Some((file.clone(), seconds))
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
        let (sha256, size) = match hash_file(path) {
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
                match self.probe.probe(path) {
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

/// sha256 and size of a file, streamed.
pub fn hash_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let size = std::io::copy(&mut file, &mut hasher)?;
    Ok((hex::encode(hasher.finalize()), size))
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
