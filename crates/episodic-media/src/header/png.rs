//! PNG: `png_pipe`'s reading of the IHDR chunk, after checking every chunk up to IDAT.

use super::{MediaInfo, be32, byte, image_size_ok, picture};

pub(super) fn png(bytes: &[u8]) -> Option<MediaInfo> {
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
