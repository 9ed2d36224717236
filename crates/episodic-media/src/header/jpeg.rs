//! JPEG: `image2`'s reading of a JPEG's frame header, after the checks ffmpeg's probe makes.

use super::{MediaInfo, be16, byte, image_size_ok, picture};

/// Extensions for which ffmpeg's image2 demuxer claims a file (it then reads the codec from
/// the bytes). Only the common ones are listed; others are left to ffprobe.
const IMAGE2_EXTENSIONS: [&str; 4] = ["jpg", "jpeg", "png", "webp"];

pub(super) fn jpeg(name: &str, bytes: &[u8]) -> Option<MediaInfo> {
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
