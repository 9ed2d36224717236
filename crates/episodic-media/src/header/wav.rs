//! WAV: the `wav` demuxer's reading of a RIFF/WAVE file's `fmt ` and `data` chunks.

use super::{MediaInfo, audio_info, byte, le16, le32, printed, printed_time, rescale};

/// `WAVE_FORMAT_EXTENSIBLE`'s sub-format GUID after its first two bytes.
pub(super) const KSDATAFORMAT_TAIL: [u8; 14] =
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

pub(super) fn wav(bytes: &[u8]) -> Option<(MediaInfo, Option<f64>)> {
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
