//! WebP: `webp_pipe`'s reading of a VP8, VP8L or VP8X header.

use super::{MediaInfo, byte, image_size_ok, le16, le32, picture};

pub(super) fn webp(bytes: &[u8]) -> Option<MediaInfo> {
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
