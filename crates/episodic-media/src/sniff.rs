//! What a file really is, from its first bytes rather than its name.

use crate::MediaError;
use std::io::Read;
use std::path::Path;

/// A file type recognised by its signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// PNG image.
    Png,
    /// JPEG image.
    Jpeg,
    /// WebP image.
    Webp,
    /// GIF image.
    Gif,
    /// BMP image.
    Bmp,
    /// TIFF image.
    Tiff,
    /// HEIF/AVIF image.
    Heif,
    /// MP3 audio (ID3 tag or MPEG audio frame).
    Mp3,
    /// RIFF WAVE audio.
    Wav,
    /// AAC audio in ADTS framing.
    Aac,
    /// Ogg container (Vorbis, Opus).
    Ogg,
    /// FLAC audio.
    Flac,
    /// ISO base media (MP4, M4A, MOV).
    Mp4,
    /// Matroska or WebM.
    Matroska,
    /// None of the above.
    Unknown,
}

impl FileKind {
    /// A short human name.
    pub fn name(self) -> &'static str {
        match self {
            FileKind::Png => "PNG",
            FileKind::Jpeg => "JPEG",
            FileKind::Webp => "WebP",
            FileKind::Gif => "GIF",
            FileKind::Bmp => "BMP",
            FileKind::Tiff => "TIFF",
            FileKind::Heif => "HEIF/AVIF",
            FileKind::Mp3 => "MP3",
            FileKind::Wav => "WAV",
            FileKind::Aac => "AAC",
            FileKind::Ogg => "Ogg",
            FileKind::Flac => "FLAC",
            FileKind::Mp4 => "MP4/M4A",
            FileKind::Matroska => "Matroska/WebM",
            FileKind::Unknown => "an unknown type",
        }
    }

    /// The MIME type to upload the file with.
    pub fn mime(self) -> &'static str {
        match self {
            FileKind::Png => "image/png",
            FileKind::Jpeg => "image/jpeg",
            FileKind::Webp => "image/webp",
            FileKind::Gif => "image/gif",
            FileKind::Bmp => "image/bmp",
            FileKind::Tiff => "image/tiff",
            FileKind::Heif => "image/heif",
            FileKind::Mp3 => "audio/mpeg",
            FileKind::Wav => "audio/wav",
            FileKind::Aac => "audio/aac",
            FileKind::Ogg => "audio/ogg",
            FileKind::Flac => "audio/flac",
            FileKind::Mp4 => "video/mp4",
            FileKind::Matroska => "video/x-matroska",
            FileKind::Unknown => "application/octet-stream",
        }
    }
}

/// Recognises a file type from its first bytes (16 are enough).
pub fn sniff(head: &[u8]) -> FileKind {
    let starts = |magic: &[u8]| head.starts_with(magic);
    let at = |offset: usize, magic: &[u8]| head.get(offset..offset + magic.len()) == Some(magic);
    if starts(b"\x89PNG\r\n\x1a\n") {
        FileKind::Png
    } else if starts(b"\xff\xd8\xff") {
        FileKind::Jpeg
    } else if starts(b"RIFF") && at(8, b"WEBP") {
        FileKind::Webp
    } else if starts(b"RIFF") && at(8, b"WAVE") {
        FileKind::Wav
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        FileKind::Gif
    } else if starts(b"BM") && head.len() >= 14 {
        FileKind::Bmp
    } else if starts(b"II*\0") || starts(b"MM\0*") {
        FileKind::Tiff
    } else if at(4, b"ftyp") && (at(8, b"heic") || at(8, b"heix") || at(8, b"avif") || at(8, b"mif1")) {
        FileKind::Heif
    } else if at(4, b"ftyp") {
        FileKind::Mp4
    } else if starts(b"ID3") {
        FileKind::Mp3
    } else if starts(b"OggS") {
        FileKind::Ogg
    } else if starts(b"fLaC") {
        FileKind::Flac
    } else if starts(b"\x1a\x45\xdf\xa3") {
        FileKind::Matroska
    } else if head.len() >= 2 && head[0] == 0xff && head[1] & 0xe0 == 0xe0 {
        // MPEG audio frame sync; the layer bits tell ADTS (00) from MP3 (layer III = 01).
        match head[1] & 0x06 {
            0x00 => FileKind::Aac,
            0x02 => FileKind::Mp3,
            _ => FileKind::Unknown,
        }
    } else {
        FileKind::Unknown
    }
}

/// Reads the first bytes of a file and recognises its type.
pub fn sniff_file(path: &Path) -> Result<FileKind, MediaError> {
    let io = |source| MediaError::Io { path: path.to_path_buf(), source };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut head = [0u8; 16];
    let mut filled = 0;
    while filled < head.len() {
        match file.read(&mut head[filled..]).map_err(io)? {
            0 => break,
            read => filled += read,
        }
    }
    Ok(sniff(&head[..filled]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), FileKind::Png);
        assert_eq!(sniff(b"\xff\xd8\xff\xe0\0\x10JFIF"), FileKind::Jpeg);
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), FileKind::Webp);
        assert_eq!(sniff(b"RIFF\0\0\0\0WAVEfmt "), FileKind::Wav);
        assert_eq!(sniff(b"GIF89a"), FileKind::Gif);
        assert_eq!(sniff(b"ID3\x04\0"), FileKind::Mp3);
        assert_eq!(sniff(b"\xff\xfb\x90\x64"), FileKind::Mp3);
        assert_eq!(sniff(b"\xff\xf1\x50\x80"), FileKind::Aac);
        assert_eq!(sniff(b"OggS\0\x02"), FileKind::Ogg);
        assert_eq!(sniff(b"fLaC\0\0"), FileKind::Flac);
        assert_eq!(sniff(b"\0\0\0\x20ftypM4A "), FileKind::Mp4);
        assert_eq!(sniff(b"\0\0\0\x1cftypavif"), FileKind::Heif);
        assert_eq!(sniff(b"episode: x\n"), FileKind::Unknown);
        assert_eq!(sniff(b""), FileKind::Unknown);
    }
}
