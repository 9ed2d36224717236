//! What ffprobe says of an MP4, M4A or QuickTime file, read from its `moov` box alone.
//!
//! Every clip a render returns, every segment a compose writes and the episode's audio are such
//! files; asking ffprobe about each costs 70 ms of CPU (loading ffmpeg's libraries), and after the
//! last render lands that CPU is the episode's tail. The index in `moov` holds all ffprobe reports:
//! the movie's length (`mvhd`), each track's kind (`hdlr`), codec and size (`stsd`), time scale and
//! length (`mdhd`), edit (`elst`) and every sample's time, length and place (`stts`, `ctts`,
//! `stsz`, `stsc`, `stco`).
//!
//! How ffmpeg 5.1's `mov` demuxer turns those into what ffprobe prints, for the files read here:
//! - the container's duration is `mvhd`'s, rescaled to microseconds;
//! - a stream's duration is its samples' total; an edit that starts into an audio track (the
//!   encoder's priming samples) is taken off it, and one that ends inside its last frame cuts
//!   that frame's packet short; an edit that starts into a video track only makes up for the
//!   first frame's composition offset (B-frames) and changes nothing;
//! - a video stream's frame rate is its sample count over its samples' total, reduced;
//! - a packet is a sample, presented at `dts + ctts - edit start`.
//!
//! Anything else is "not understood" and left to ffprobe: fragments (`mvex`), more than one
//! `moov`, an edit list of more than one entry or one that hides video frames, a track
//! that is neither sound nor pictures, a codec other than H.264, AAC-LC or 16-bit PCM, an AAC
//! stream at 24 kHz or less (whose decoder may find SBR and report twice the rate), sizes that
//! disagree between boxes, negative composition offsets. Packet ends are given only when every
//! sample lies wholly inside the file (a cut download is measured by ffprobe, packet by packet)
//! and only for streams whose packets are their samples (PCM is packed by chunks instead).

use super::{printed, rescale};
use crate::probe::{MediaInfo, StreamInfo, StreamKind};
use std::io::{Read, Seek, SeekFrom};

/// What ffprobe's demuxer is called for every file of this family.
const FORMAT_NAME: &str = "mov,mp4,m4a,3gp,3g2,mj2";

/// A `moov` larger than this is left to ffprobe rather than read whole (an hour of 60 fps video
/// indexes in under 3 MiB).
const MAX_MOOV: u64 = 64 << 20;

/// A file read natively: what ffprobe reports, and where each stream's packets end (in the order
/// of `info.streams`; `None` where that is not reproduced here).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Movie {
    pub(crate) info: MediaInfo,
    pub(crate) ends: Vec<Option<Option<f64>>>,
}

impl Movie {
    /// Where the first stream of `kind`'s packets end: `Some(None)` when it has none or there is
    /// no such stream, `None` when that end is not reproduced here.
    pub(crate) fn end_of(&self, kind: StreamKind) -> Option<Option<f64>> {
        match self.info.streams.iter().position(|stream| stream.kind == kind) {
            Some(index) => self.ends.get(index).copied().flatten(),
            None => Some(None),
        }
    }
}

/// Reads the file at `file` (`len` bytes long) when it is understood as described above.
pub(crate) fn read<F: Read + Seek>(file: &mut F, len: u64) -> Option<Movie> {
    let moov = find_moov(file, len)?;
    parse_moov(&moov, len)
}

/// The body of the one top-level `moov`, or `None` when there is none, more than one, a fragment,
/// or a box that runs past the end of the file.
pub(crate) fn find_moov<F: Read + Seek>(file: &mut F, len: u64) -> Option<Vec<u8>> {
    let mut at = 0u64;
    let mut found: Option<(u64, u64)> = None;
    while at < len {
        file.seek(SeekFrom::Start(at)).ok()?;
        let mut head = [0u8; 16];
        let have = read_up_to(file, &mut head)?;
        if have < 8 {
            return None;
        }
        let size = u64::from(u32::from_be_bytes(head[0..4].try_into().ok()?));
        let kind = &head[4..8];
        let (size, header) = match size {
            0 => (len - at, 8),
            1 if have == 16 => (u64::from_be_bytes(head[8..16].try_into().ok()?), 16),
            1 => return None,
            size => (size, 8),
        };
        if size < header {
            return None;
        }
        if at.checked_add(size)? > len {
            // A cut file: its index may be whole (moov first) while its samples are not; which
            // samples are missing is for `Samples::reaches_past` to say.
            if found.is_some() {
                break;
            }
            return None;
        }
        match kind {
            b"moov" if found.is_none() => found = Some((at + header, size - header)),
            b"moov" | b"moof" | b"mfra" => return None,
            _ => {}
        }
        at += size;
    }
    let (start, body) = found?;
    if body > MAX_MOOV {
        return None;
    }
    file.seek(SeekFrom::Start(start)).ok()?;
    let mut moov = vec![0u8; usize::try_from(body).ok()?];
    file.read_exact(&mut moov).ok()?;
    Some(moov)
}

/// Fills as much of `buf` as the file still has; how much that was.
fn read_up_to<F: Read>(file: &mut F, buf: &mut [u8]) -> Option<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    Some(filled)
}

/// The boxes directly inside `bytes`, as (type, body); `None` when one runs past the end.
pub(crate) fn children(bytes: &[u8]) -> Option<Vec<([u8; 4], &[u8])>> {
    let mut boxes = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() {
        let size = usize::try_from(be32(bytes, at)?).ok()?;
        let kind: [u8; 4] = bytes.get(at + 4..at + 8)?.try_into().ok()?;
        let (size, header) = match size {
            0 => (bytes.len() - at, 8),
            1 => (usize::try_from(be64(bytes, at + 8)?).ok()?, 16),
            size => (size, 8),
        };
        if size < header {
            return None;
        }
        let body = bytes.get(at + header..at.checked_add(size)?)?;
        boxes.push((kind, body));
        at += size;
    }
    Some(boxes)
}

/// The only child of `kind`; `None` when it is missing or repeated.
pub(crate) fn only<'a>(boxes: &[([u8; 4], &'a [u8])], kind: &[u8; 4]) -> Option<&'a [u8]> {
    let mut found = boxes.iter().filter(|(k, _)| k == kind).map(|(_, body)| *body);
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

fn parse_moov(moov: &[u8], file_len: u64) -> Option<Movie> {
    let boxes = children(moov)?;
    if boxes.iter().any(|(kind, _)| kind == b"mvex") {
        return None;
    }
    let (movie_scale, movie_duration) = times(only(&boxes, b"mvhd")?)?;
    if movie_duration == 0 {
        return None;
    }
    let micros = rescale(movie_duration, 1_000_000, movie_scale)?;
    let mut streams = Vec::new();
    let mut ends = Vec::new();
    for (_, trak) in boxes.iter().filter(|(kind, _)| kind == b"trak") {
        let track = track(trak, movie_scale, file_len)?;
        streams.push(track.stream);
        ends.push(track.end);
    }
    if streams.is_empty() {
        return None;
    }
    Some(Movie {
        info: MediaInfo { format_name: FORMAT_NAME.into(), duration: printed(micros, 1_000_000), streams },
        ends,
    })
}

/// The time scale and duration of an `mvhd` or `mdhd` (version 0 or 1).
fn times(body: &[u8]) -> Option<(u64, u64)> {
    let (scale, duration) = match byte(body, 0)? {
        0 => (be32(body, 12)?, u64::from(be32(body, 16)?)),
        1 => (be32(body, 20)?, be64(body, 24)?),
        _ => return None,
    };
    (scale > 0).then_some((u64::from(scale), duration))
}

struct Track {
    stream: StreamInfo,
    end: Option<Option<f64>>,
}

/// What one sample description says: the stream's kind and codec, and its size or sound.
struct Description {
    kind: StreamKind,
    codec: &'static str,
    size: Option<(u32, u32)>,
    sound: Option<(u32, u32)>,
    /// Packets are not samples (PCM): their ends are not reproduced.
    packed: bool,
}

fn track(trak: &[u8], movie_scale: u64, file_len: u64) -> Option<Track> {
    let boxes = children(trak)?;
    let mdia = children(only(&boxes, b"mdia")?)?;
    let (scale, media_duration) = times(only(&mdia, b"mdhd")?)?;
    let handler: [u8; 4] = only(&mdia, b"hdlr")?.get(8..12)?.try_into().ok()?;
    let minf = children(only(&mdia, b"minf")?)?;
    let stbl = children(only(&minf, b"stbl")?)?;
    let description = description(only(&stbl, b"stsd")?)?;
    let expected = match &handler {
        b"vide" => StreamKind::Video,
        b"soun" => StreamKind::Audio,
        _ => return None,
    };
    if description.kind != expected {
        return None;
    }
    let samples = Samples::read(&stbl)?;
    if samples.total != media_duration || samples.durations.is_empty() {
        return None;
    }
    let (start, length) = match boxes.iter().find(|(kind, _)| kind == b"edts") {
        Some((_, edts)) => edit(edts, movie_scale, scale)?,
        None => (0, samples.total),
    };
    let cut = start.checked_add(length)?.min(samples.total);
    let duration = match description.kind {
        // The edit skips the encoder's priming samples and may end inside the last frame.
        StreamKind::Audio => cut.checked_sub(start).filter(|&duration| duration > 0)?,
        _ => {
            // A video edit may only skip the B-frame delay (the first frame shown is its start)
            // and must show every frame.
            if start != samples.first_presentation()? || cut < samples.total {
                return None;
            }
            samples.total
        }
    };
    let fps = match description.kind {
        StreamKind::Video => Some(frame_rate(scale, samples.durations.len() as u64, samples.fps_total)?),
        _ => None,
    };
    let end = if description.packed || samples.reaches_past(file_len)? {
        None
    } else {
        Some(samples.end(start, cut, scale)?)
    };
    let (width, height) = description.size.unzip();
    let (sample_rate, channels) = description.sound.unzip();
    Some(Track {
        stream: StreamInfo {
            kind: description.kind,
            codec: description.codec.into(),
            width,
            height,
            fps,
            sample_rate,
            channels,
            duration: printed(duration, scale),
        },
        end,
    })
}

/// Where the presentation starts in the track's samples and how long it lasts, both in the
/// track's time scale, by its one edit, which must be played at normal rate.
fn edit(edts: &[u8], movie_scale: u64, scale: u64) -> Option<(u64, u64)> {
    let elst = only(&children(edts)?, b"elst")?;
    let version = byte(elst, 0)?;
    if be32(elst, 4)? != 1 {
        return None;
    }
    let (length, start, rate) = match version {
        0 => (u64::from(be32(elst, 8)?), i64::from(be32(elst, 12)? as i32), be32(elst, 16)?),
        1 => (be64(elst, 8)?, be64(elst, 16)? as i64, be32(elst, 24)?),
        _ => return None,
    };
    if rate != 0x0001_0000 || length == 0 {
        return None;
    }
    // ffmpeg rescales the edit's length (in the movie's scale) to the track's, to the nearest.
    Some((u64::try_from(start).ok()?, rescale(length, scale, movie_scale)?))
}

/// `scale * frames / total` as ffmpeg reduces it (to terms under 2^31), as a number.
fn frame_rate(scale: u64, frames: u64, total: u64) -> Option<f64> {
    let num = scale.checked_mul(frames)?;
    let divisor = gcd(num, total);
    if divisor == 0 {
        return None;
    }
    let (num, den) = (num / divisor, total / divisor);
    (num <= i32::MAX as u64 && den <= i32::MAX as u64 && den > 0).then(|| num as f64 / den as f64)
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn description(stsd: &[u8]) -> Option<Description> {
    if be32(stsd, 4)? != 1 {
        return None;
    }
    let entries = children(stsd.get(8..)?)?;
    let [(format, entry)] = entries.as_slice() else { return None };
    // `entry` starts after the 8-byte box header: 6 reserved bytes and a data reference index.
    match format {
        b"avc1" | b"avc3" => {
            let (width, height) = (u32::from(be16(entry, 24)?), u32::from(be16(entry, 26)?));
            (width > 0 && height > 0).then_some(Description {
                kind: StreamKind::Video,
                codec: "h264",
                size: Some((width, height)),
                sound: None,
                packed: false,
            })
        }
        b"mp4a" | b"sowt" | b"twos" => {
            let version = be16(entry, 8)?;
            let channels = u32::from(be16(entry, 16)?);
            let bits = be16(entry, 18)?;
            let rate = be32(entry, 24)? >> 16;
            let extensions = match version {
                0 => entry.get(28..)?,
                1 => entry.get(44..)?,
                _ => return None,
            };
            if format == b"mp4a" {
                // ffprobe reports the decoder's configuration: its channels (ffmpeg's muxer writes 2
                // in the sample entry whatever the layout), and its rate, which must agree.
                let (asc_rate, channels) = aac_config(extensions)?;
                if asc_rate != rate || rate <= 24_000 {
                    return None;
                }
                return Some(Description {
                    kind: StreamKind::Audio,
                    codec: "aac",
                    size: None,
                    sound: Some((rate, channels)),
                    packed: false,
                });
            }
            if bits != 16 || channels == 0 || rate == 0 || version != 0 {
                return None;
            }
            Some(Description {
                kind: StreamKind::Audio,
                codec: if format == b"sowt" { "pcm_s16le" } else { "pcm_s16be" },
                size: None,
                sound: Some((rate, channels)),
                packed: true,
            })
        }
        _ => None,
    }
}

/// The sample rate and channel count of an AAC-LC `esds`; `None` for any other audio object.
fn aac_config(extensions: &[u8]) -> Option<(u32, u32)> {
    let esds = only(&children(extensions)?, b"esds")?;
    // Version and flags, then descriptors: ES (3) holds DecoderConfig (4) holds DecoderSpecific (5).
    let mut at = 4;
    let (tag, body) = descriptor(esds, &mut at)?;
    if tag != 3 {
        return None;
    }
    let flags = byte(body, 2)?;
    let mut inner = 3;
    if flags & 0x80 != 0 {
        inner += 2;
    }
    if flags & 0x40 != 0 {
        inner += 1 + usize::from(byte(body, inner)?);
    }
    if flags & 0x20 != 0 {
        inner += 2;
    }
    let (tag, config) = descriptor(body, &mut inner)?;
    if tag != 4 || !matches!(byte(config, 0)?, 0x40 | 0x66 | 0x67 | 0x68) {
        return None;
    }
    let mut at = 13;
    let (tag, specific) = descriptor(config, &mut at)?;
    if tag != 5 {
        return None;
    }
    let bits = u32::from(be16(specific, 0)?);
    let object = bits >> 11;
    let index = (bits >> 7) & 0x0f;
    let channels = (bits >> 3) & 0x0f;
    const RATES: [u32; 13] =
        [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];
    let rate = *RATES.get(usize::try_from(index).ok()?)?;
    // LC only, and a plain channel configuration (7 is 7.1, which ffmpeg reports as 8).
    (object == 2 && (1..=6).contains(&channels)).then_some((rate, channels))
}

/// One MPEG-4 descriptor at `*at`: its tag and body; moves `*at` past it.
fn descriptor<'a>(bytes: &'a [u8], at: &mut usize) -> Option<(u8, &'a [u8])> {
    let tag = byte(bytes, *at)?;
    let mut len = 0usize;
    let mut next = *at + 1;
    for _ in 0..4 {
        let b = byte(bytes, next)?;
        next += 1;
        len = (len << 7) | usize::from(b & 0x7f);
        if b & 0x80 == 0 {
            break;
        }
    }
    let body = bytes.get(next..next.checked_add(len)?)?;
    *at = next + len;
    Some((tag, body))
}

/// A track's samples: their durations and composition offsets in decoding order, and where in
/// the file each chunk of them ends.
struct Samples {
    durations: Vec<u32>,
    offsets: Vec<u32>,
    total: u64,
    /// The total ffmpeg divides the sample count by for the frame rate.
    fps_total: u64,
    chunk_ends: Vec<u64>,
}

impl Samples {
    fn read(stbl: &[([u8; 4], &[u8])]) -> Option<Samples> {
        let stts = only(stbl, b"stts")?;
        let entries = be32(stts, 4)? as usize;
        let mut durations = Vec::new();
        let mut total = 0u64;
        for index in 0..entries {
            let count = be32(stts, 8 + index * 8)?;
            let delta = be32(stts, 12 + index * 8)?;
            // ffmpeg shortens a long lone last sample when estimating; such files are left to it.
            if index + 1 == entries && index > 0 && count == 1 && durations.len() > 100 {
                let mean = total / durations.len() as u64;
                if u64::from(delta) / 10 > mean {
                    return None;
                }
            }
            if durations.len().checked_add(count as usize)? > 50_000_000 {
                return None;
            }
            durations.extend(std::iter::repeat_n(delta, count as usize));
            total = total.checked_add(u64::from(delta).checked_mul(u64::from(count))?)?;
        }
        let sizes = sample_sizes(only(stbl, b"stsz")?)?;
        if sizes.len() != durations.len() || total == 0 {
            return None;
        }
        let offsets = match stbl.iter().find(|(kind, _)| kind == b"ctts") {
            Some((_, ctts)) => composition_offsets(ctts, durations.len())?,
            None => vec![0; durations.len()],
        };
        let chunk_ends = chunk_ends(stbl, &sizes)?;
        Some(Samples { fps_total: total, durations, offsets, total, chunk_ends })
    }

    /// The earliest presentation time of any sample (before an edit).
    fn first_presentation(&self) -> Option<u64> {
        let mut dts = 0u64;
        let mut first = u64::MAX;
        for (duration, offset) in self.durations.iter().zip(&self.offsets) {
            first = first.min(dts.checked_add(u64::from(*offset))?);
            dts += u64::from(*duration);
        }
        Some(first)
    }

    /// Whether any sample's bytes run past `file_len`.
    fn reaches_past(&self, file_len: u64) -> Option<bool> {
        Some(self.chunk_ends.iter().any(|&end| end > file_len))
    }

    /// Where the packets end as ffprobe prints it: the latest `pts_time + duration_time`, each
    /// printed to the microsecond and read back, over every packet. The edit shows the samples
    /// from `start` to `cut` (decoding times): a packet crossing `cut` is shortened to it, and
    /// one after it is dropped, as ffmpeg does.
    fn end(&self, start: u64, cut: u64, scale: u64) -> Option<Option<f64>> {
        let mut dts = 0u64;
        let mut end: Option<f64> = None;
        for (duration, offset) in self.durations.iter().zip(&self.offsets) {
            if dts >= cut {
                break;
            }
            let shown = u64::from(*duration).min(cut - dts);
            let pts = i64::try_from(i128::from(dts) + i128::from(*offset) - i128::from(start)).ok()?;
            let here = printed_signed(pts, scale)? + printed_signed(i64::try_from(shown).ok()?, scale)?;
            end = Some(end.map_or(here, |end: f64| end.max(here)));
            dts += u64::from(*duration);
        }
        Some(end)
    }
}

/// `ts` in `1/den` seconds as ffprobe prints a time (`%f`), read back; negative times included.
fn printed_signed(ts: i64, den: u64) -> Option<f64> {
    if den == 0 {
        return None;
    }
    let seconds = ts as f64 * (1.0 / den as f64);
    format!("{seconds:.6}").parse().ok()
}

fn sample_sizes(stsz: &[u8]) -> Option<Vec<u32>> {
    let fixed = be32(stsz, 4)?;
    let count = be32(stsz, 8)? as usize;
    if count > 50_000_000 {
        return None;
    }
    if fixed != 0 {
        return Some(vec![fixed; count]);
    }
    (0..count).map(|index| be32(stsz, 12 + index * 4)).collect()
}

fn composition_offsets(ctts: &[u8], samples: usize) -> Option<Vec<u32>> {
    let entries = be32(ctts, 4)? as usize;
    let mut offsets = Vec::with_capacity(samples);
    for index in 0..entries {
        let count = be32(ctts, 8 + index * 8)? as usize;
        let offset = be32(ctts, 12 + index * 8)?;
        // Negative offsets (version 1) make ffmpeg shift decoding times: left to it.
        if offset > i32::MAX as u32 || offsets.len().checked_add(count)? > samples {
            return None;
        }
        offsets.extend(std::iter::repeat_n(offset, count));
    }
    (offsets.len() == samples).then_some(offsets)
}

/// Where each chunk's samples end in the file, from `stsc`, `stco`/`co64` and the sample sizes;
/// `None` when the tables do not account for every sample exactly.
fn chunk_ends(stbl: &[([u8; 4], &[u8])], sizes: &[u32]) -> Option<Vec<u64>> {
    let offsets: Vec<u64> = match (only(stbl, b"stco"), only(stbl, b"co64")) {
        (Some(stco), None) => {
            let count = be32(stco, 4)? as usize;
            (0..count).map(|index| be32(stco, 8 + index * 4).map(u64::from)).collect::<Option<_>>()?
        }
        (None, Some(co64)) => {
            let count = be32(co64, 4)? as usize;
            (0..count).map(|index| be64(co64, 8 + index * 8)).collect::<Option<_>>()?
        }
        _ => return None,
    };
    let stsc = only(stbl, b"stsc")?;
    let runs = be32(stsc, 4)? as usize;
    let mut table = Vec::with_capacity(runs);
    for index in 0..runs {
        let first = be32(stsc, 8 + index * 12)? as usize;
        let per_chunk = be32(stsc, 12 + index * 12)? as usize;
        table.push((first, per_chunk));
    }
    let mut ends = Vec::with_capacity(offsets.len());
    let mut sample = 0usize;
    for (index, (first, per_chunk)) in table.iter().enumerate() {
        let last = match table.get(index + 1) {
            Some((next, _)) if next > first => next - 1,
            Some(_) => return None,
            None => offsets.len(),
        };
        if *first == 0 || last > offsets.len() {
            return None;
        }
        for chunk in *first..=last {
            let mut end = *offsets.get(chunk - 1)?;
            for _ in 0..*per_chunk {
                end = end.checked_add(u64::from(*sizes.get(sample)?))?;
                sample += 1;
            }
            ends.push(end);
        }
    }
    (sample == sizes.len()).then_some(ends)
}

fn byte(bytes: &[u8], at: usize) -> Option<u8> {
    bytes.get(at).copied()
}

fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(bytes.get(at..at.checked_add(2)?)?.try_into().ok()?))
}

pub(crate) fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

pub(crate) fn be64(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.get(at..at.checked_add(8)?)?.try_into().ok()?))
}

#[cfg(test)]
#[path = "isobmff_tests.rs"]
mod tests;
