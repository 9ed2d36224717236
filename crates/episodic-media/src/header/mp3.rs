//! MP3: the `mp3` demuxer's reading of ID3v2 tags, the first frames and a Xing/Info or VBRI header.

use super::{MediaInfo, audio_info, be16, be32, byte, printed, printed_time, rescale};

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

pub(super) fn mp3(bytes: &[u8]) -> Option<(MediaInfo, Option<f64>)> {
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
