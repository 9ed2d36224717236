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
        crate::FileKind::Wav => wav(bytes),
        crate::FileKind::Mp3 => mp3(bytes),
        crate::FileKind::Png => png(bytes).map(|info| (info, None)),
        crate::FileKind::Jpeg => jpeg(name, bytes).map(|info| (info, None)),
        crate::FileKind::Webp => webp(bytes).map(|info| (info, None)),
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

// ---------------------------------------------------------------------------------------------
// WAV

/// `WAVE_FORMAT_EXTENSIBLE`'s sub-format GUID after its first two bytes.
const KSDATAFORMAT_TAIL: [u8; 14] =
    [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];

struct WavFormat {
    codec: &'static str,
    channels: u16,
    rate: u32,
    byte_rate: u32,
    block_align: u16,
    /// Bits per sample of the codec (what ffmpeg divides by).
    bits: u16,
}

fn wav_format(body: &[u8]) -> Option<WavFormat> {
    let tag = le16(body, 0)?;
    let channels = le16(body, 2)?;
    let rate = le32(body, 4)?;
    let byte_rate = le32(body, 8)?;
    let block_align = le16(body, 12)?;
    let mut bits = le16(body, 14)?;
    let float = match tag {
        1 => false,
        3 => true,
        0xfffe => {
            // WAVEFORMATEXTENSIBLE: cbSize >= 22, valid bits, channel mask, sub-format GUID.
            if body.len() < 40 || le16(body, 16)? < 22 {
                return None;
            }
            let valid = le16(body, 18)?;
            if valid != 0 {
                bits = valid;
            }
            if body.get(26..40)? != KSDATAFORMAT_TAIL {
                return None;
            }
            match le16(body, 24)? {
                1 => false,
                3 => true,
                _ => return None,
            }
        }
        _ => return None,
    };
    if tag != 0xfffe && body.len() != 16 && !(body.len() >= 18 && le16(body, 16)? == 0) {
        return None;
    }
    // ffmpeg rounds the bits up to whole bytes to pick the codec.
    let bytes = bits.div_ceil(8);
    let (codec, bits) = match (float, bytes) {
        (false, 1) => ("pcm_u8", 8),
        (false, 2) => ("pcm_s16le", 16),
        (false, 3) => ("pcm_s24le", 24),
        (false, 4) => ("pcm_s32le", 32),
        (true, 4) => ("pcm_f32le", 32),
        (true, 8) => ("pcm_f64le", 64),
        _ => return None,
    };
    let consistent = channels > 0
        && channels <= 64
        && rate > 0
        && u32::from(block_align) == u32::from(channels) * u32::from(bits / 8)
        && u64::from(byte_rate) == u64::from(rate) * u64::from(block_align)
        && u64::from(byte_rate) * 8 <= i32::MAX as u64;
    consistent.then_some(WavFormat { codec, channels, rate, byte_rate, block_align, bits })
}

fn wav(bytes: &[u8]) -> Option<(MediaInfo, Option<f64>)> {
    if bytes.get(0..4)? != b"RIFF" || bytes.get(8..12)? != b"WAVE" || bytes.len() <= 32 {
        return None;
    }
    // The ACT demuxer claims WAV-looking files with this pattern.
    if le32(bytes, 16) == Some(16)
        && bytes.len() >= 512
        && bytes.get(44..256).is_some_and(|zeros| zeros.iter().all(|b| *b == 0))
        && byte(bytes, 256) == Some(0x84)
    {
        return None;
    }
    let file_len = bytes.len() as u64;
    let mut at = 12usize;
    let mut format: Option<WavFormat> = None;
    let mut data: Option<(usize, u32)> = None;
    let mut fact = false;
    while at < bytes.len() {
        let (Some(id), Some(size)) = (bytes.get(at..at + 4), le32(bytes, at + 4)) else {
            // A few stray bytes at the end are ignored by ffmpeg too.
            if data.is_some() && bytes.len() - at < 8 {
                break;
            }
            return None;
        };
        let body = at + 8;
        let end = body.checked_add(usize::try_from(size).ok()?)?;
        match id {
            b"fmt " => {
                if format.is_some() || data.is_some() {
                    return None;
                }
                format = Some(wav_format(bytes.get(body..end)?)?);
            }
            b"data" => {
                if data.is_some() || format.is_none() || size == 0 || size == u32::MAX {
                    return None;
                }
                data = Some((body, size));
                if end >= bytes.len() {
                    break;
                }
            }
            b"fact" => {
                if data.is_some() {
                    return None;
                }
                fact = true;
                bytes.get(body..end)?;
            }
            b"LIST" | b"JUNK" | b"junk" | b"PAD " => {
                bytes.get(body..end)?;
            }
            _ => return None,
        }
        at = end.checked_add(size as usize % 2)?;
    }
    let format = format?;
    let (data_at, data_size) = data?;
    let data_at = data_at as u64;
    let data_end = data_at + u64::from(data_size);
    let fits = data_end <= file_len;
    if !fits && fact {
        // ffmpeg would take the `fact` chunk's sample count.
        return None;
    }
    let held = data_end.min(file_len) - data_at;
    // S/PDIF (AC-3, DTS) carried in PCM is detected by ffmpeg and probed as such.
    let window = bytes.get(data_at as usize..)?;
    let window = window.get(..window.len().min(1 << 16))?;
    if window.windows(4).any(|w| w == [0x72, 0xf8, 0x1f, 0x4e] || w == [0xf8, 0x72, 0x4e, 0x1f]) {
        return None;
    }
    let rate = u64::from(format.rate);
    let frame_bits = u64::from(format.channels) * u64::from(format.bits);
    let samples = if fits {
        u64::from(data_size) * 8 / frame_bits
    } else {
        // No usable length in the header: ffmpeg estimates from the bytes and the byte rate.
        rescale(file_len - data_at, 8 * rate, u64::from(format.byte_rate) * 8)?
    };
    let info = audio_info("wav", format.codec, format.rate, u32::from(format.channels), samples, rate)?;
    // Packets of 4096 bytes rounded down to whole blocks, the last one whatever is left.
    let block = u64::from(format.block_align).max(1);
    let packet = (4096u64.max(block) / block) * block;
    let count = held.div_ceil(packet);
    let end = if count == 0 {
        None
    } else {
        let last_bytes = held - (count - 1) * packet;
        let full = packet * 8 / frame_bits;
        let last = last_bytes * 8 / frame_bits;
        let pts = (count - 1) * full;
        match (last, count) {
            (0, 1) => None,
            (0, _) => Some(printed_time(pts - full, rate)? + printed(full, rate)?),
            _ => Some(printed_time(pts, rate)? + printed(last, rate)?),
        }
    };
    Some((info, end))
}

// ---------------------------------------------------------------------------------------------
// MP3

/// What ffmpeg reads from a 4-byte MPEG audio header, for layer III only.
#[derive(Clone, Copy)]
struct Frame {
    header: u32,
    rate: u32,
    channels: u32,
    /// Bits per second.
    bit_rate: u32,
    size: usize,
    /// Samples per frame.
    samples: u32,
    /// MPEG-2 or 2.5 (half the samples, different side-info size).
    lsf: bool,
}

const MP3_TB: u64 = 14_112_000;
/// Sync, version, layer, sample rate: what must not change between frames.
const SAME_HEADER_MASK: u32 = 0xffe0_0000 | (3 << 19) | (3 << 17) | (3 << 10);
/// What ffmpeg's mp3 demuxer compares between its first two frames.
const MP3_MASK: u32 = 0xfffe_0ccf;

fn frame(header: u32) -> Option<Frame> {
    if header & 0xffe0_0000 != 0xffe0_0000 {
        return None;
    }
    let version = (header >> 19) & 3; // 0: 2.5, 1: reserved, 2: MPEG-2, 3: MPEG-1
    let layer = (header >> 17) & 3; // 1: layer III
    let bitrate_index = (header >> 12) & 15;
    let rate_index = (header >> 10) & 3;
    if version == 1 || layer != 1 || bitrate_index == 0 || bitrate_index == 15 || rate_index == 3 {
        return None;
    }
    let padding = (header >> 9) & 1;
    let mode = (header >> 6) & 3;
    const MPEG1: [u32; 15] = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
    const MPEG2: [u32; 15] = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
    const RATES: [u32; 3] = [44100, 48000, 32000];
    let lsf = version != 3;
    let kbps = *if lsf { MPEG2.get(bitrate_index as usize)? } else { MPEG1.get(bitrate_index as usize)? };
    let base = *RATES.get(rate_index as usize)?;
    let rate = match version {
        3 => base,
        2 => base / 2,
        _ => base / 4,
    };
    let size = (kbps * 144_000) / (rate << u32::from(lsf)) + padding;
    Some(Frame {
        header,
        rate,
        channels: if mode == 3 { 1 } else { 2 },
        bit_rate: kbps * 1000,
        size: size as usize,
        samples: if lsf { 576 } else { 1152 },
        lsf,
    })
}

/// The length of the ID3v2 tags at the start (ffmpeg skips consecutive tags), and whether any
/// may hold a picture (which ffprobe reports as a video stream).
fn id3v2(bytes: &[u8]) -> Option<(usize, bool)> {
    let mut at = 0usize;
    let mut picture = false;
    while bytes.get(at..at + 3) == Some(b"ID3") {
        let head = bytes.get(at..at + 10)?;
        if head.get(3) == Some(&0xff)
            || head.get(4) == Some(&0xff)
            || head.get(6..10)?.iter().any(|b| b & 0x80 != 0)
        {
            return None;
        }
        let size = head.get(6..10)?.iter().fold(0usize, |size, b| (size << 7) | usize::from(*b));
        let footer = if byte(head, 5)? & 0x10 != 0 { 10 } else { 0 };
        let end = at.checked_add(10 + size + footer)?;
        let tag = bytes.get(at..end)?;
        picture |= tag.windows(3).any(|w| w == b"PIC");
        at = end;
    }
    Some((at, picture))
}

/// The Xing/Info or VBRI frame count (and byte count, when given) of the frame at `at`.
fn vbr_tag(bytes: &[u8], at: usize, first: &Frame) -> Option<(Option<u32>, Option<u32>)> {
    let xing_at = at
        + 4
        + match (first.lsf, first.channels == 1) {
            (false, false) => 32,
            (false, true) | (true, false) => 17,
            (true, true) => 9,
        };
    let mut found = (None, None);
    let id = bytes.get(xing_at..xing_at + 4);
    if id == Some(b"Xing") || id == Some(b"Info") {
        let flags = be32(bytes, xing_at + 4)?;
        let mut field = xing_at + 8;
        let mut frames = None;
        let mut size = None;
        if flags & 1 != 0 {
            frames = Some(be32(bytes, field)?);
            field += 4;
        }
        if flags & 2 != 0 {
            size = Some(be32(bytes, field)?);
        }
        found = (frames, size);
    }
    let vbri_at = at + 36;
    if bytes.get(vbri_at..vbri_at + 4) == Some(b"VBRI") && be16(bytes, vbri_at + 4) == Some(1) {
        found = (Some(be32(bytes, vbri_at + 14)?), Some(be32(bytes, vbri_at + 10)?));
    }
    Some(found)
}

fn mp3(bytes: &[u8]) -> Option<(MediaInfo, Option<f64>)> {
    let (start, picture) = id3v2(bytes)?;
    if picture {
        return None;
    }
    // Tags at the end (ID3v1, APE) change where ffmpeg stops reading: left to ffprobe.
    let len = bytes.len();
    if len >= 128 && bytes.get(len - 128..len - 125) == Some(b"TAG") {
        return None;
    }
    let tail = bytes.get(len.saturating_sub(256)..)?;
    if tail.windows(8).any(|w| w == b"APETAGEX" || w == b"LYRICS20") {
        return None;
    }
    let first = frame(be32(bytes, start)?)?;
    let (frames, header_bytes) = vbr_tag(bytes, start, &first)?;
    let has_tag = frames.is_some() || header_bytes.is_some();
    if has_tag && frames.is_none_or(|frames| frames == 0) {
        // A byte count without a frame count: ffmpeg estimates from the bit rate.
        return None;
    }
    if let Some(header_bytes) = header_bytes {
        // ffmpeg ignores the frame count of a file much longer than its tag says.
        let header_bytes = u64::from(header_bytes);
        let whole = len as u64;
        let from_tag = whole - start as u64;
        if from_tag > header_bytes || (whole > header_bytes && whole - header_bytes > header_bytes >> 4) {
            return None;
        }
    }
    // The frames ffmpeg turns into packets start after the tag's frame.
    let audio_start = if has_tag { start.checked_add(first.size)? } else { start };
    // ffmpeg's demuxer wants a frame and the next frame's header, alike, where the audio starts.
    let lead = frame(be32(bytes, audio_start)?)?;
    let next = frame(be32(bytes, audio_start.checked_add(lead.size)?)?)?;
    if lead.header & MP3_MASK != next.header & MP3_MASK
        || first.header & SAME_HEADER_MASK != lead.header & SAME_HEADER_MASK
    {
        return None;
    }
    // Every frame to the end: one packet each, a cut last frame included.
    let mut at = audio_start;
    let mut packets = 0u64;
    let mut whole = 0u64;
    let mut constant = true;
    while at < len {
        let left = len - at;
        if left < 4 {
            let prefix = lead.header.to_be_bytes();
            if bytes.get(at..)? != prefix.get(..left)? {
                return None;
            }
            packets += 1;
            break;
        }
        let this = frame(be32(bytes, at)?)?;
        if this.header & SAME_HEADER_MASK != lead.header & SAME_HEADER_MASK || this.channels != lead.channels
        {
            return None;
        }
        constant &= this.bit_rate == lead.bit_rate;
        packets += 1;
        if this.size > left {
            break;
        }
        whole += 1;
        at += this.size;
    }
    if whole < 7 {
        return None;
    }
    let rate = u64::from(lead.rate);
    let ticks = u64::from(lead.samples) * (MP3_TB / rate);
    let duration = match frames {
        Some(frames) => u64::from(frames) * ticks,
        // Without a tag ffmpeg divides the bytes after the ID3v2 tag by the bit rate, which is
        // the first frames' running average: exact only when every frame has the same.
        None if constant => rescale(len as u64 - start as u64, 8 * MP3_TB, u64::from(lead.bit_rate))?,
        None => return None,
    };
    let info = audio_info("mp3", "mp3", lead.rate, lead.channels, duration, MP3_TB)?;
    let end = printed_time((packets - 1) * ticks, MP3_TB)? + printed(ticks, MP3_TB)?;
    Some((info, Some(end)))
}

// ---------------------------------------------------------------------------------------------
// PNG

fn png(bytes: &[u8]) -> Option<MediaInfo> {
    if bytes.get(..8)? != b"\x89PNG\r\n\x1a\n" {
        return None;
    }
    let mut at = 8usize;
    let mut size = None;
    let mut color = 0u8;
    let mut palette = false;
    let mut idat = false;
    loop {
        let length = be32(bytes, at)?;
        if length > 0x7fff_ffff {
            return None;
        }
        let kind = bytes.get(at + 4..at + 8)?;
        let body = at + 8;
        let end = body.checked_add(length as usize)?;
        let chunk = bytes.get(body..end)?;
        bytes.get(end..end + 4)?; // the CRC
        let first = size.is_none();
        if first != (kind == b"IHDR") {
            return None;
        }
        match kind {
            b"IHDR" => {
                if length != 13 {
                    return None;
                }
                let (width, height) = (be32(chunk, 0)?, be32(chunk, 4)?);
                let (depth, kind) = (byte(chunk, 8)?, byte(chunk, 9)?);
                let valid_depth = match kind {
                    0 => matches!(depth, 1 | 2 | 4 | 8 | 16),
                    3 => matches!(depth, 1 | 2 | 4 | 8),
                    2 | 4 | 6 => matches!(depth, 8 | 16),
                    _ => false,
                };
                if !valid_depth || byte(chunk, 10)? != 0 || byte(chunk, 11)? != 0 || byte(chunk, 12)? > 1 {
                    return None;
                }
                if !image_size_ok(width, height) {
                    return None;
                }
                color = kind;
                size = Some((width, height));
            }
            b"PLTE" => {
                if idat || palette || length == 0 || length % 3 != 0 || length > 768 {
                    return None;
                }
                palette = true;
            }
            b"tRNS" => {
                let fine = match color {
                    3 => palette && length <= 256,
                    0 => length == 2,
                    2 => length == 6,
                    _ => false,
                };
                if idat || !fine {
                    return None;
                }
            }
            b"IDAT" => idat = true,
            b"IEND" => {
                // Nothing may follow: ffmpeg's PNG parser would make it another picture.
                return (idat && length == 0 && end + 4 == bytes.len())
                    .then(|| size.map(|(width, height)| picture("png_pipe", "png", width, height, None)))
                    .flatten();
            }
            b"gAMA" | b"cHRM" | b"sRGB" | b"pHYs" | b"tEXt" | b"zTXt" | b"iTXt" | b"bKGD" | b"tIME"
            | b"sBIT" | b"hIST" | b"sPLT" => {}
            // iCCP and eXIf are decoded (and may fail) before the picture; acTL makes an APNG.
            _ => return None,
        }
        at = end + 4;
    }
}

/// ffmpeg's `av_image_check_size`.
fn image_size_ok(width: u32, height: u32) -> bool {
    width > 0 && height > 0 && (u64::from(width) + 128) * (u64::from(height) + 128) < (i32::MAX as u64) / 8
}

// ---------------------------------------------------------------------------------------------
// JPEG

/// Extensions for which ffmpeg's image2 demuxer claims a file (it then reads the codec from
/// the bytes). Only the common ones are listed; others are left to ffprobe.
const IMAGE2_EXTENSIONS: [&str; 4] = ["jpg", "jpeg", "png", "webp"];

fn jpeg(name: &str, bytes: &[u8]) -> Option<MediaInfo> {
    // Small enough for the probe to see its end, ffmpeg could read it as jpeg_pipe.
    if bytes.len() <= 4096 {
        return None;
    }
    let extension = name.rsplit_once('.')?.1;
    if !IMAGE2_EXTENSIONS.iter().any(|known| known.eq_ignore_ascii_case(extension)) {
        return None;
    }
    // image2 scores 50; jpeg_pipe wins over it when the first 2048 bytes hold a whole picture.
    let head = bytes.get(..bytes.len().min(2048))?;
    let pipe = jpeg_probe(head);
    if pipe == 0 || pipe > 50 {
        return None;
    }
    if head.windows(12).any(|w| w == b"Content-Type") {
        return None;
    }
    let (width, height) = jpeg_size(bytes)?;
    Some(picture("image2", "mjpeg", width, height, Some(0.04)))
}

/// ffmpeg's `jpeg_probe` (img2dec.c, 5.1) over the probe buffer: markers found by scanning,
/// DQT, APPn and COM skipped by their lengths.
fn jpeg_probe(buf: &[u8]) -> u32 {
    const SOI: u8 = 0xd8;
    const EOI: u8 = 0xd9;
    const SOS: u8 = 0xda;
    const SOF0: u8 = 0xc0;
    if buf.get(..2) != Some(&[0xff, 0xd8]) || buf.get(..4) == Some(&[0xff, 0xd8, 0xff, 0xf7]) {
        return 0;
    }
    // ffmpeg pads the probe buffer with zeros.
    let b = |i: usize| buf.get(i.saturating_add(2)).copied().unwrap_or(0);
    let len16 = |i: usize| usize::from(b(i + 2)) << 8 | usize::from(b(i + 3));
    let mut state = SOI;
    let mut i = 0usize;
    let limit = buf.len().saturating_sub(3);
    while i < limit {
        if b(i) != 0xff {
            i += 1;
            continue;
        }
        let c = b(i + 1);
        match c {
            SOI => return 0,
            0xc0..=0xc3 | 0xc5..=0xc7 => {
                i += len16(i) + 1;
                if state != SOI {
                    return 0;
                }
                state = SOF0;
            }
            SOS => {
                i += len16(i) + 1;
                if state != SOF0 && state != SOS {
                    return 0;
                }
                state = SOS;
            }
            EOI => {
                if state != SOS {
                    return 0;
                }
                state = EOI;
            }
            0xdb | 0xe0..=0xef | 0xfe => i += len16(i) + 1,
            0x02..=0xbf | 0xc8 => return 0,
            _ => {}
        }
        i += 1;
    }
    match state {
        EOI => 51,
        SOS => 25,
        _ => 7,
    }
}

/// The size in the first SOF0/1/2 segment, when every segment before it is one ffmpeg's MJPEG
/// decoder reads without error, a scan follows, and the file ends with EOI.
fn jpeg_size(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.get(..2)? != [0xff, 0xd8] || bytes.get(bytes.len().checked_sub(2)?..)? != [0xff, 0xd9] {
        return None;
    }
    let mut at = 2usize;
    let mut size = None;
    loop {
        if byte(bytes, at)? != 0xff {
            return None;
        }
        let marker = byte(bytes, at + 1)?;
        let length = usize::from(be16(bytes, at + 2)?);
        if length < 2 {
            return None;
        }
        let body = bytes.get(at + 4..at + 2 + length)?;
        match marker {
            0xe0..=0xef | 0xfe => {}
            0xdb => dqt_ok(body).then_some(())?,
            0xc4 => dht_ok(body).then_some(())?,
            0xdd => (length == 4).then_some(())?,
            0xc0..=0xc2 if size.is_none() => size = Some(sof(body, bytes.len())?),
            0xda if size.is_some() => return size,
            _ => return None,
        }
        at += 2 + length;
    }
}

fn sof(body: &[u8], file_len: usize) -> Option<(u32, u32)> {
    let bits = byte(body, 0)?;
    let height = u32::from(be16(body, 1)?);
    let width = u32::from(be16(body, 3)?);
    let components = usize::from(byte(body, 5)?);
    if bits != 8 || !(1..=4).contains(&components) || body.len() != 6 + 3 * components {
        return None;
    }
    if !image_size_ok(width, height) {
        return None;
    }
    // ffmpeg refuses a picture far larger than its bytes could encode.
    if u64::from(width.div_ceil(8)) * u64::from(height.div_ceil(8)) > file_len as u64 * 4 {
        return None;
    }
    for component in 0..components {
        let sampling = byte(body, 6 + 3 * component + 1)?;
        let (h, v) = (sampling >> 4, sampling & 15);
        if !(1..=4).contains(&h) || !(1..=4).contains(&v) || byte(body, 6 + 3 * component + 2)? >= 4 {
            return None;
        }
    }
    Some((width, height))
}

fn dqt_ok(body: &[u8]) -> bool {
    let mut at = 0usize;
    while body.len() - at >= 65 {
        let Some(spec) = byte(body, at) else { return false };
        let (precision, index) = (spec >> 4, spec & 15);
        if precision > 1 || index >= 4 {
            return false;
        }
        let width = 1 + usize::from(precision);
        let Some(values) = body.get(at + 1..at + 1 + 64 * width) else { return false };
        if values.chunks(width).any(|value| value.iter().all(|b| *b == 0)) {
            return false;
        }
        at += 1 + 64 * width;
    }
    at == body.len()
}

fn dht_ok(body: &[u8]) -> bool {
    let mut at = 0usize;
    while at < body.len() {
        let Some(spec) = byte(body, at) else { return false };
        if spec >> 4 >= 2 || spec & 15 >= 4 {
            return false;
        }
        let Some(counts) = body.get(at + 1..at + 17) else { return false };
        let total: usize = counts.iter().map(|c| usize::from(*c)).sum();
        // The code lengths must form a prefix code.
        let mut space = 0u64;
        for (length, count) in counts.iter().enumerate() {
            space += u64::from(*count) << (16 - length - 1);
        }
        if total > 256 || space > 1 << 16 || body.get(at + 17..at + 17 + total).is_none() {
            return false;
        }
        at += 17 + total;
    }
    true
}

// ---------------------------------------------------------------------------------------------
// WebP

fn webp(bytes: &[u8]) -> Option<MediaInfo> {
    if bytes.get(..4)? != b"RIFF" || bytes.get(8..12)? != b"WEBP" {
        return None;
    }
    // The webp parser cuts pictures at the RIFF length: it must be the file's.
    if u64::from(le32(bytes, 4)?) + 8 != bytes.len() as u64 {
        return None;
    }
    let mut at = 12usize;
    let mut canvas = None;
    let mut size = None;
    while at < bytes.len() {
        let kind = bytes.get(at..at + 4)?;
        let length = le32(bytes, at + 4)?;
        let body = at + 8;
        let end = body.checked_add(usize::try_from(length).ok()?)?;
        let chunk = bytes.get(body..end)?;
        match kind {
            b"VP8X" if at == 12 => {
                let flags = byte(chunk, 0)?;
                if flags & 0x02 != 0 || length != 10 {
                    return None; // animation
                }
                let width = u32::from(le16(chunk, 4)?) | u32::from(byte(chunk, 6)?) << 16;
                let height = u32::from(le16(chunk, 7)?) | u32::from(byte(chunk, 9)?) << 16;
                canvas = Some((width + 1, height + 1));
            }
            b"VP8 " if size.is_none() => size = Some(vp8(chunk)?),
            b"VP8L" if size.is_none() => size = Some(vp8l(chunk)?),
            b"ALPH" if canvas.is_some() && size.is_none() => {}
            b"ICCP" if canvas.is_some() && size.is_none() => {}
            b"EXIF" | b"XMP " if canvas.is_some() && size.is_some() => {}
            _ => return None,
        }
        at = end.checked_add(length as usize % 2)?;
    }
    let (width, height) = size?;
    if canvas.is_some_and(|canvas| canvas != (width, height)) || !image_size_ok(width, height) {
        return None;
    }
    Some(picture("webp_pipe", "webp", width, height, None))
}

fn vp8l(chunk: &[u8]) -> Option<(u32, u32)> {
    if byte(chunk, 0)? != 0x2f {
        return None;
    }
    let bits = le32(chunk, 1)?;
    if bits >> 29 != 0 {
        return None; // version
    }
    Some(((bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1))
}

/// A lossy key frame's size, when ffmpeg's VP8 decoder gets as far as setting it: the frame
/// header and the coefficient partitions it announces fit in the chunk.
fn vp8(chunk: &[u8]) -> Option<(u32, u32)> {
    let tag = u32::from(byte(chunk, 0)?) | u32::from(byte(chunk, 1)?) << 8 | u32::from(byte(chunk, 2)?) << 16;
    if tag & 1 != 0 {
        return None; // not a key frame
    }
    let first_partition = (tag >> 5) as usize;
    if chunk.get(3..6)? != [0x9d, 0x01, 0x2a] || first_partition == 0 {
        return None;
    }
    let width = u32::from(le16(chunk, 6)? & 0x3fff);
    let height = u32::from(le16(chunk, 8)? & 0x3fff);
    if chunk.len() - 3 < first_partition + 7 {
        return None;
    }
    let header = chunk.get(10..10 + first_partition)?;
    let partitions = vp8_partitions(header)?;
    let mut rest = chunk.get(10 + first_partition..)?;
    let sizes = rest.get(..3 * (partitions - 1))?;
    rest = rest.get(3 * (partitions - 1)..)?;
    for size in sizes.chunks(3) {
        let size = size.iter().rev().fold(0usize, |n, b| n << 8 | usize::from(*b));
        if size == 0 || size > rest.len() {
            return None;
        }
        rest = rest.get(size..)?;
    }
    if rest.is_empty() || width == 0 || height == 0 {
        return None;
    }
    Some((width, height))
}

/// The number of coefficient partitions a VP8 key frame header announces (RFC 6386 9.2–9.5).
fn vp8_partitions(header: &[u8]) -> Option<usize> {
    let mut bits = BoolDecoder::new(header);
    bits.literal(2); // colour space, clamping
    if bits.flag() {
        let update_map = bits.flag();
        if bits.flag() {
            bits.literal(1);
            for _ in 0..4 {
                if bits.flag() {
                    bits.literal(8); // 7 bits and a sign
                }
            }
            for _ in 0..4 {
                if bits.flag() {
                    bits.literal(7); // 6 bits and a sign
                }
            }
        }
        if update_map {
            for _ in 0..3 {
                if bits.flag() {
                    bits.literal(8);
                }
            }
        }
    }
    bits.literal(1 + 6 + 3); // filter type, level, sharpness
    if bits.flag() && bits.flag() {
        for _ in 0..8 {
            if bits.flag() {
                bits.literal(7);
            }
        }
    }
    Some(1 << bits.literal(2))
}

/// VP8's boolean entropy decoder; past the end it reads zeros, as ffmpeg's does.
struct BoolDecoder<'a> {
    bytes: &'a [u8],
    at: usize,
    value: u32,
    range: u32,
    count: u32,
}

impl<'a> BoolDecoder<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        let mut decoder = BoolDecoder { bytes, at: 0, value: 0, range: 255, count: 0 };
        decoder.value = (u32::from(decoder.next()) << 8) | u32::from(decoder.next());
        decoder
    }

    fn next(&mut self) -> u8 {
        let byte = self.bytes.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        byte
    }

    fn bool(&mut self, probability: u32) -> bool {
        let split = 1 + (((self.range - 1) * probability) >> 8);
        let big = split << 8;
        let bit = if self.value >= big {
            self.range -= split;
            self.value -= big;
            true
        } else {
            self.range = split;
            false
        };
        while self.range < 128 {
            self.value = (self.value << 1) & 0xffff;
            self.range <<= 1;
            self.count += 1;
            if self.count == 8 {
                self.count = 0;
                self.value |= u32::from(self.next());
            }
        }
        bit
    }

    fn flag(&mut self) -> bool {
        self.bool(128)
    }

    fn literal(&mut self, bits: u32) -> u32 {
        (0..bits).fold(0, |value, _| (value << 1) | u32::from(self.flag()))
    }
}

#[cfg(test)]
#[path = "header_tests.rs"]
pub(crate) mod tests;
