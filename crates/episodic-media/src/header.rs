//! Reading what ffprobe would say of a WAV, MP3, PNG, JPEG or WebP from its headers (and of an
//! MP4 or QuickTime file from its index, in [`isobmff`]), without starting ffprobe (70–130 ms a
//! file, nearly all of it loading ffmpeg's libraries).
//!
//! A reader answers only when it understands the whole file the way ffmpeg 5.1 reads it, and
//! then answers exactly what ffprobe reports for every field of [`MediaInfo`] (the demuxer's name,
//! the container's and the stream's durations as ffprobe prints them, codec names, sizes, rates,
//! channels) and where the first audio stream's packets end. Anything odd (a chunk ffmpeg treats
//! specially, a length it estimates by rules not copied here, a header that could be read two
//! ways, a truncated or corrupt header) is "not understood", and the caller asks ffprobe. Every
//! reader is total: arbitrary bytes never panic.
//!
//! How ffmpeg decides each field, in short:
//! - WAV (`wav`): the `data` chunk's sample count when the chunk fits in the file, else the
//!   file's size over the header's byte rate; packets of 4096 bytes (whole blocks) up to the end.
//! - MP3 (`mp3`, time base 1/14112000): a Xing/Info/VBRI frame count, else (constant bit rate
//!   only) the bytes after the ID3v2 tag over the bit rate; one packet per frame, and a cut last
//!   frame is still a packet of a whole frame's duration.
//! - PNG, WebP (`png_pipe`, `webp_pipe`): no durations, 25 fps, the size in the header.
//! - JPEG: `image2` (0.04 s, 25 fps) when the name ends in an image extension, otherwise
//!   `jpeg_pipe`, which is left to ffprobe.

use crate::probe::{MediaInfo, StreamInfo, StreamKind};
use std::io::Read;
use std::path::Path;

pub(crate) mod isobmff;
mod jpeg;
mod mp3;
mod png;
mod wav;
mod webp;

/// Files larger than this are left to ffprobe rather than read whole.
const MAX_BYTES: u64 = 256 << 20;

/// What ffprobe would report for `path` (absolute, as ffprobe is given it) and where its first
/// audio stream's packets end, or `None` when the file is not fully understood.
pub(crate) fn read(path: &Path) -> Option<(MediaInfo, Option<f64>)> {
    match open(path)? {
        Opened::Movie(movie) => Some((movie.info.clone(), movie.end_of(StreamKind::Audio)?)),
        Opened::Bytes(name, bytes) => parse(&name, &bytes),
    }
}

/// What ffprobe would report for `path`, and where its first audio stream's packets end when
/// that is reproduced too (not for PCM in a QuickTime file, nor a cut MP4): what
/// [`crate::Probe::probe`] asks.
pub(crate) fn read_info(path: &Path) -> Option<(MediaInfo, Option<Option<f64>>)> {
    match open(path)? {
        Opened::Movie(movie) => {
            let end = movie.end_of(StreamKind::Audio);
            Some((movie.info, end))
        }
        Opened::Bytes(name, bytes) => parse(&name, &bytes).map(|(info, end)| (info, Some(end))),
    }
}

/// What ffprobe would report for the MP4 or QuickTime clip at `path` and where its first video
/// stream's packets end, or `None` when that is not reproduced (any other kind of file, a cut one).
pub(crate) fn read_clip(path: &Path) -> Option<(MediaInfo, Option<f64>)> {
    match open(path)? {
        Opened::Movie(movie) => Some((movie.info.clone(), movie.end_of(StreamKind::Video)?)),
        Opened::Bytes(..) => None,
    }
}

/// A file opened for a native reading: an ISO-BMFF movie is read from its index alone, anything
/// else whole.
enum Opened {
    Movie(isobmff::Movie),
    Bytes(String, Vec<u8>),
}

fn open(path: &Path) -> Option<Opened> {
    let name = path.to_str()?;
    let mut file = std::fs::File::open(path).ok()?;
    let metadata = file.metadata().ok()?;
    let len = metadata.len();
    if !metadata.is_file() {
        return None;
    }
    let mut head = [0u8; 16];
    let have = file.read(&mut head).ok()?;
    if crate::sniff(&head[..have]) == crate::FileKind::Mp4 {
        return isobmff::read(&mut file, len).map(Opened::Movie);
    }
    if len > MAX_BYTES {
        return None;
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).ok()?);
    bytes.extend_from_slice(&head[..have]);
    file.read_to_end(&mut bytes).ok()?;
    if bytes.len() as u64 != len {
        return None;
    }
    Some(Opened::Bytes(name.to_owned(), bytes))
}

/// [`read`] over a file's bytes; `name` is the path ffprobe would be given.
pub(crate) fn parse(name: &str, bytes: &[u8]) -> Option<(MediaInfo, Option<f64>)> {
    // A name ffmpeg's image2 demuxer could read as a pattern (`%d`, globs) is left to ffprobe.
    if name.contains(['%', '*', '?', '{', '[']) {
        return None;
    }
    match crate::sniff(bytes) {
        crate::FileKind::Wav => wav::wav(bytes),
        crate::FileKind::Mp3 => mp3::mp3(bytes),
        crate::FileKind::Png => png::png(bytes).map(|info| (info, None)),
        crate::FileKind::Jpeg => jpeg::jpeg(name, bytes).map(|info| (info, None)),
        crate::FileKind::Webp => webp::webp(bytes).map(|info| (info, None)),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Numbers as ffprobe prints them.

/// `ts` in `1/den` seconds as ffprobe prints it (`%f` of `ts * (1.0 / den)`) and this crate
/// reads it back; 0 is printed as "N/A" for a duration.
fn printed(ts: u64, den: u64) -> Option<f64> {
    if ts == 0 || den == 0 {
        return None;
    }
    let seconds = ts as f64 * (1.0 / den as f64);
    format!("{seconds:.6}").parse().ok()
}

/// A position (not a duration): 0 prints as 0.
fn printed_time(ts: u64, den: u64) -> Option<f64> {
    if den == 0 {
        return None;
    }
    let seconds = ts as f64 * (1.0 / den as f64);
    format!("{seconds:.6}").parse().ok()
}

/// `a * b / c` rounded half away from zero, as `av_rescale` does.
fn rescale(a: u64, b: u64, c: u64) -> Option<u64> {
    if c == 0 {
        return None;
    }
    let product = u128::from(a).checked_mul(u128::from(b))?;
    u64::try_from((product + u128::from(c / 2)) / u128::from(c)).ok()
}

/// A stream duration of `ts` in `1/den` and the container duration ffprobe derives from it
/// (rescaled to microseconds first).
fn durations(ts: u64, den: u64) -> Option<(f64, f64)> {
    let stream = printed(ts, den)?;
    let micros = rescale(ts, 1_000_000, den)?;
    let container = printed(micros, 1_000_000)?;
    Some((container, stream))
}

fn audio_info(format: &str, codec: &str, rate: u32, channels: u32, ts: u64, den: u64) -> Option<MediaInfo> {
    let (container, stream) = durations(ts, den)?;
    Some(MediaInfo {
        format_name: format.into(),
        duration: Some(container),
        streams: vec![StreamInfo {
            kind: StreamKind::Audio,
            codec: codec.into(),
            width: None,
            height: None,
            fps: None,
            sample_rate: Some(rate),
            channels: Some(channels),
            duration: Some(stream),
        }],
    })
}

fn picture(format: &str, codec: &str, width: u32, height: u32, duration: Option<f64>) -> MediaInfo {
    MediaInfo {
        format_name: format.into(),
        duration,
        streams: vec![StreamInfo {
            kind: StreamKind::Video,
            codec: codec.into(),
            width: Some(width),
            height: Some(height),
            fps: Some(25.0),
            sample_rate: None,
            channels: None,
            duration,
        }],
    }
}
/// ffmpeg's `av_image_check_size`.
fn image_size_ok(width: u32, height: u32) -> bool {
    width > 0 && height > 0 && (u64::from(width) + 128) * (u64::from(height) + 128) < (i32::MAX as u64) / 8
}

fn le16(bytes: &[u8], at: usize) -> Option<u16> {
    let b = bytes.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([*b.first()?, *b.get(1)?]))
}

fn le32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(b.try_into().ok()?))
}

fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    let b = bytes.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
}

fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes(b.try_into().ok()?))
}

fn byte(bytes: &[u8], at: usize) -> Option<u8> {
    bytes.get(at).copied()
}

#[cfg(test)]
#[path = "header_tests.rs"]
pub(crate) mod tests;
