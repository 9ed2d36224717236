//! An episode joined by copying, without ffmpeg: every segment's H.264 samples and the episode's
//! AAC samples written into one MP4 under a new index.
//!
//! The join is the last step of a render, after the last compose. ffmpeg's concat demuxer spent a
//! tenth of a second of it starting, opening every segment and rewriting each keyframe's packets
//! (it puts the parameter sets in-band); the samples themselves only need copying. Here the
//! index is built from the segments' own (`stts`, `ctts`, `stss`, `stsz`, and each sample's place
//! from `stsc` and `stco`), so every packet is its segment's, byte for byte, and segment k starts
//! exactly where the video of segments 0..k ends: no timestamp is rounded at a boundary.
//!
//! Only what is understood is joined here: MP4 segments (not QuickTime) with one H.264 track whose
//! sample descriptions are the same, one edit each that starts at the same point of the media
//! (B-frames' delay) and covers it all, and an M4A with one AAC track. Anything else is left to
//! ffmpeg, which says what is wrong with a file in its own words.

use crate::MediaError;
use crate::header::isobmff::{be32, be64, children, find_moov, only};
use crate::output::Partial;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Whether the episode was written here, or why ffmpeg must join it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Joined {
    Written,
    NeedsFfmpeg(&'static str),
}

/// Joins `segments` (video) and `audio` into `out` when all are understood (see the module).
pub(crate) fn join(segments: &[PathBuf], audio: &Path, out: &Path) -> Result<Joined, MediaError> {
    let mut videos = Vec::with_capacity(segments.len());
    for path in segments {
        match read_movie(path)? {
            Some(movie) => videos.push(movie),
            None => return Ok(Joined::NeedsFfmpeg("a segment's index is not one this joiner reads")),
        }
    }
    let Some(sound) = read_movie(audio)? else {
        return Ok(Joined::NeedsFfmpeg("the episode's audio index is not one this joiner reads"));
    };
    let plan = match Plan::new(&videos, &sound) {
        Ok(plan) => plan,
        Err(reason) => return Ok(Joined::NeedsFfmpeg(reason)),
    };
    plan.write(segments, audio, &videos, &sound, out)?;
    Ok(Joined::Written)
}

/// One file's movie: its `mvhd` and its only track.
struct Movie {
    mvhd: Vec<u8>,
    movie_scale: u32,
    track: Track,
}

/// A track's boxes as found, and its samples unrolled.
struct Track {
    handler: [u8; 4],
    tkhd: Vec<u8>,
    /// `edts` body, kept as it is for the audio.
    edts: Option<Vec<u8>>,
    /// The one edit: its length (movie time scale) and where it starts in the media.
    edit: Option<(u64, u64)>,
    mdhd: Vec<u8>,
    scale: u32,
    hdlr: Vec<u8>,
    /// `vmhd` or `smhd`, as (type, body).
    media_header: ([u8; 4], Vec<u8>),
    dinf: Vec<u8>,
    stsd: Vec<u8>,
    /// The `stbl` boxes other than the sample tables read below (`sgpd`, `sbgp`), in order.
    other_tables: Vec<([u8; 4], Vec<u8>)>,
    durations: Vec<u32>,
    /// `ctts` version and each sample's offset, as stored.
    offsets: Option<(u8, Vec<u32>)>,
    /// 1-based numbers of the sync samples; `None` when every sample is one.
    sync: Option<Vec<u32>>,
    sizes: Vec<u32>,
    places: Vec<u64>,
}

impl Track {
    fn media_length(&self) -> u64 {
        self.durations.iter().map(|duration| u64::from(*duration)).sum()
    }
}

/// The movie of the file at `path`, or `None` when it is not one this joiner reads.
fn read_movie(path: &Path) -> Result<Option<Movie>, MediaError> {
    let io = |source| MediaError::Io { path: path.to_path_buf(), source };
    let mut file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut head = [0u8; 12];
    if file.read_exact(&mut head).is_err() || &head[4..8] != b"ftyp" || &head[8..12] == b"qt  " {
        return Ok(None);
    }
    let Some(moov) = find_moov(&mut file, len) else { return Ok(None) };
    Ok(parse_movie(&moov, len))
}

fn parse_movie(moov: &[u8], file_len: u64) -> Option<Movie> {
    let boxes = children(moov)?;
    let mvhd = only(&boxes, b"mvhd")?;
    let movie_scale = be32(mvhd, if mvhd.first()? == &1 { 20 } else { 12 })?;
    let trak = only(&boxes, b"trak")?;
    if boxes.iter().any(|(kind, _)| !matches!(kind, b"mvhd" | b"trak" | b"udta")) || movie_scale == 0 {
        return None;
    }
    Some(Movie { mvhd: mvhd.to_vec(), movie_scale, track: parse_track(trak, file_len)? })
}

fn parse_track(trak: &[u8], file_len: u64) -> Option<Track> {
    let boxes = children(trak)?;
    let tkhd = only(&boxes, b"tkhd")?;
    let edts = boxes.iter().find(|(kind, _)| kind == b"edts").map(|(_, body)| *body);
    let edit = match edts {
        Some(edts) => Some(single_edit(only(&children(edts)?, b"elst")?)?),
        None => None,
    };
    let mdia = children(only(&boxes, b"mdia")?)?;
    let mdhd = only(&mdia, b"mdhd")?;
    let scale = be32(mdhd, if mdhd.first()? == &1 { 20 } else { 12 })?;
    let hdlr = only(&mdia, b"hdlr")?;
    let handler: [u8; 4] = hdlr.get(8..12)?.try_into().ok()?;
    let minf = children(only(&mdia, b"minf")?)?;
    let media_header = match handler {
        [b'v', b'i', b'd', b'e'] => (*b"vmhd", only(&minf, b"vmhd")?),
        [b's', b'o', b'u', b'n'] => (*b"smhd", only(&minf, b"smhd")?),
        _ => return None,
    };
    let dinf = only(&minf, b"dinf")?;
    let stbl = children(only(&minf, b"stbl")?)?;
    let stsd = only(&stbl, b"stsd")?;
    let durations = unrolled(only(&stbl, b"stts")?)?;
    let offsets = match stbl.iter().find(|(kind, _)| kind == b"ctts") {
        Some((_, ctts)) => Some((*ctts.first()?, unrolled(ctts)?)),
        None => None,
    };
    let sync = match stbl.iter().find(|(kind, _)| kind == b"stss") {
        Some((_, stss)) => Some(numbers(stss)?),
        None => None,
    };
    let sizes = sample_sizes(only(&stbl, b"stsz")?)?;
    let places = sample_places(&stbl, &sizes)?;
    let other_tables = stbl
        .iter()
        .filter(|(kind, _)| {
            !matches!(kind, b"stsd" | b"stts" | b"ctts" | b"stss" | b"stsz" | b"stsc" | b"stco" | b"co64")
        })
        .map(|(kind, body)| (*kind, body.to_vec()))
        .collect();
    let fits = places
        .iter()
        .zip(&sizes)
        .all(|(place, size)| place.checked_add(u64::from(*size)).is_some_and(|end| end <= file_len));
    let counted = durations.len() == sizes.len()
        && offsets.as_ref().is_none_or(|(_, offsets)| offsets.len() == sizes.len())
        && sync
            .as_ref()
            .is_none_or(|sync| sync.iter().all(|number| (1..=sizes.len()).contains(&(*number as usize))));
    if !(fits && counted) || sizes.is_empty() || scale == 0 {
        return None;
    }
    Some(Track {
        handler,
        tkhd: tkhd.to_vec(),
        edts: edts.map(<[u8]>::to_vec),
        edit,
        mdhd: mdhd.to_vec(),
        scale,
        hdlr: hdlr.to_vec(),
        media_header: (media_header.0, media_header.1.to_vec()),
        dinf: dinf.to_vec(),
        stsd: stsd.to_vec(),
        other_tables,
        durations,
        offsets,
        sync,
        sizes,
        places,
    })
}

/// An `elst` of one entry at normal rate that starts inside the media: (length, media start).
fn single_edit(elst: &[u8]) -> Option<(u64, u64)> {
    if be32(elst, 4)? != 1 {
        return None;
    }
    let (duration, start, rate) = match elst.first()? {
        0 => (u64::from(be32(elst, 8)?), i64::from(be32(elst, 12)? as i32), be32(elst, 16)?),
        1 => (be64(elst, 8)?, be64(elst, 16)? as i64, be32(elst, 24)?),
        _ => return None,
    };
    (rate == 0x0001_0000 && start >= 0).then_some((duration, u64::try_from(start).ok()?))
}

/// A run-length table (`stts`, `ctts`) unrolled to one value a sample.
fn unrolled(table: &[u8]) -> Option<Vec<u32>> {
    let entries = be32(table, 4)? as usize;
    let mut values = Vec::new();
    for entry in 0..entries {
        let count = be32(table, 8 + entry * 8)? as usize;
        let value = be32(table, 12 + entry * 8)?;
        // A table claiming more samples than a file could hold is not read.
        if values.len() + count > 1 << 26 {
            return None;
        }
        values.extend(std::iter::repeat_n(value, count));
    }
    Some(values)
}

/// A table of 32-bit numbers (`stss`).
fn numbers(table: &[u8]) -> Option<Vec<u32>> {
    let entries = be32(table, 4)? as usize;
    (0..entries).map(|entry| be32(table, 8 + entry * 4)).collect()
}

fn sample_sizes(stsz: &[u8]) -> Option<Vec<u32>> {
    let (fixed, count) = (be32(stsz, 4)?, be32(stsz, 8)? as usize);
    if count > 1 << 26 {
        return None;
    }
    if fixed != 0 {
        return Some(vec![fixed; count]);
    }
    (0..count).map(|sample| be32(stsz, 12 + sample * 4)).collect()
}

/// Where each sample starts in its file, from the chunks (`stco` or `co64`) and how many samples
/// each holds (`stsc`).
fn sample_places(stbl: &[([u8; 4], &[u8])], sizes: &[u32]) -> Option<Vec<u64>> {
    let chunks: Vec<u64> = match (
        stbl.iter().find(|(kind, _)| kind == b"stco"),
        stbl.iter().find(|(kind, _)| kind == b"co64"),
    ) {
        (Some((_, stco)), None) => numbers(stco)?.into_iter().map(u64::from).collect(),
        (None, Some((_, co64))) => {
            let entries = be32(co64, 4)? as usize;
            (0..entries).map(|entry| be64(co64, 8 + entry * 8)).collect::<Option<_>>()?
        }
        _ => return None,
    };
    let stsc = only(stbl, b"stsc")?;
    let runs = be32(stsc, 4)? as usize;
    let mut places = Vec::with_capacity(sizes.len());
    for run in 0..runs {
        let first = be32(stsc, 8 + run * 12)? as usize;
        let per_chunk = be32(stsc, 12 + run * 12)? as usize;
        let next = if run + 1 < runs { be32(stsc, 8 + (run + 1) * 12)? as usize } else { chunks.len() + 1 };
        if first == 0 || next <= first || next > chunks.len() + 1 {
            return None;
        }
        for chunk in &chunks[first - 1..next - 1] {
            let mut at = *chunk;
            for _ in 0..per_chunk {
                let size = *sizes.get(places.len())?;
                places.push(at);
                at = at.saturating_add(u64::from(size));
            }
        }
    }
    (places.len() == sizes.len()).then_some(places)
}

/// The joined file's layout: which samples go in which chunk, in the order they are written.
struct Plan {
    /// Per segment: the audio samples written after its video, as a range.
    audio_chunks: Vec<std::ops::Range<usize>>,
    sample_entry: Vec<u8>,
}

impl Plan {
    fn new(videos: &[Movie], sound: &Movie) -> Result<Plan, &'static str> {
        let first = &videos.first().ok_or("no segments")?.track;
        let sample_entry =
            avc_entry(&first.stsd).ok_or("a segment's video is not H.264 as this joiner reads it")?;
        let edit_start = first.edit.map_or(0, |(_, start)| start);
        for movie in videos {
            let track = &movie.track;
            if &track.handler != b"vide" || movie.movie_scale != videos[0].movie_scale {
                return Err("a segment is not one video track on the first one's time scale");
            }
            if track.scale != first.scale || avc_entry(&track.stsd).as_ref() != Some(&sample_entry) {
                return Err("the segments' video is not encoded alike");
            }
            if track.offsets.as_ref().map(|(version, _)| *version)
                != first.offsets.as_ref().map(|(version, _)| *version)
            {
                return Err("the segments' composition offsets differ in kind");
            }
            // Each segment must show its whole media from the same point on: then its samples,
            // placed after the last segment's, show at the end of the last segment's video.
            let start = track.edit.map_or(0, |(_, start)| start);
            let shown = track.edit.map(|(length, _)| length);
            let media = track.media_length();
            let whole = shown.is_none_or(|length| {
                let media_in_movie = media as f64 * f64::from(movie.movie_scale) / f64::from(track.scale);
                (length as f64 - media_in_movie).abs() <= 1.0
            });
            if start != edit_start || !whole {
                return Err("a segment's edit does not show its whole video from the same point");
            }
        }
        let audio = &sound.track;
        if &audio.handler != b"soun" || sound.movie_scale != videos[0].movie_scale || !is_aac(&audio.stsd) {
            return Err("the episode's audio is not one AAC track on the segments' time scale");
        }
        // The audio after each segment's video: its samples that start before that video ends.
        let audio_start = audio.edit.map_or(0, |(_, start)| start);
        let mut audio_chunks = Vec::with_capacity(videos.len());
        let (mut video_end, mut audio_time, mut next) = (0u64, 0u64, 0usize);
        for (index, movie) in videos.iter().enumerate() {
            video_end += movie.track.media_length();
            let bound = audio_start as u128
                + u128::from(video_end) * u128::from(audio.scale) / u128::from(first.scale);
            let from = next;
            while next < audio.durations.len()
                && (index + 1 == videos.len() || u128::from(audio_time) < bound)
            {
                audio_time += u64::from(audio.durations[next]);
                next += 1;
            }
            audio_chunks.push(from..next);
        }
        Ok(Plan { audio_chunks, sample_entry })
    }

    /// Writes the file: `ftyp`, `moov` (index first, playable while downloading), `mdat`.
    fn write(
        &self,
        segments: &[PathBuf],
        audio: &Path,
        videos: &[Movie],
        sound: &Movie,
        out: &Path,
    ) -> Result<(), MediaError> {
        let payload: u64 =
            videos.iter().flat_map(|movie| &movie.track.sizes).map(|size| u64::from(*size)).sum::<u64>()
                + sound.track.sizes.iter().map(|size| u64::from(*size)).sum::<u64>();
        let ftyp = boxed(b"ftyp", &[b"isom".as_slice(), &512u32.to_be_bytes(), b"isomiso2avc1mp41"].concat());
        // The index's size depends on the chunks' count, not their places: measured with
        // placeholder places, then built again with the real ones.
        let wide = payload + 16 + ftyp.len() as u64 + (64 << 20) > u64::from(u32::MAX);
        let measured = self.moov(videos, sound, &vec![0; self.chunk_count()], wide).len() as u64;
        let mdat_header: u64 = if payload + 8 > u64::from(u32::MAX) { 16 } else { 8 };
        let mut at = ftyp.len() as u64 + measured + mdat_header;
        let mut places = Vec::with_capacity(self.chunk_count());
        for (movie, audio_range) in videos.iter().zip(&self.audio_chunks) {
            places.push(at);
            at += movie.track.sizes.iter().map(|size| u64::from(*size)).sum::<u64>();
            if !audio_range.is_empty() {
                places.push(at);
                at += sound.track.sizes[audio_range.clone()].iter().map(|size| u64::from(*size)).sum::<u64>();
            }
        }
        let moov = self.moov(videos, sound, &places, wide);
        debug_assert_eq!(moov.len() as u64, measured);

        let partial = Partial::beside(out)?;
        let written = |source| MediaError::Write { path: out.to_path_buf(), source };
        let mut writer = BufWriter::with_capacity(1 << 20, File::create(partial.path()).map_err(written)?);
        writer.write_all(&ftyp).map_err(written)?;
        writer.write_all(&moov).map_err(written)?;
        if mdat_header == 16 {
            writer.write_all(&1u32.to_be_bytes()).map_err(written)?;
            writer.write_all(b"mdat").map_err(written)?;
            writer.write_all(&(payload + 16).to_be_bytes()).map_err(written)?;
        } else {
            writer.write_all(&((payload + 8) as u32).to_be_bytes()).map_err(written)?;
            writer.write_all(b"mdat").map_err(written)?;
        }
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| MediaError::Io { path, source }
        };
        let audio_file = File::open(audio).map_err(io(audio))?;
        for ((path, movie), audio_range) in segments.iter().zip(videos).zip(&self.audio_chunks) {
            let file = File::open(path).map_err(io(path))?;
            copy_samples(&file, &movie.track, 0..movie.track.sizes.len(), &mut writer).map_err(io(path))?;
            copy_samples(&audio_file, &sound.track, audio_range.clone(), &mut writer).map_err(io(audio))?;
        }
        // Flushed and closed before the rename; like ffmpeg's output, not synced to disk here.
        writer.into_inner().map_err(|err| written(err.into_error()))?;
        partial.commit()
    }

    fn chunk_count(&self) -> usize {
        self.audio_chunks.len() + self.audio_chunks.iter().filter(|range| !range.is_empty()).count()
    }

    /// The `moov` box for chunks at `places` (video then audio, segment by segment).
    fn moov(&self, videos: &[Movie], sound: &Movie, places: &[u64], wide: bool) -> Vec<u8> {
        let (mut video_places, mut audio_places) = (Vec::new(), Vec::new());
        let mut next = places.iter();
        for range in &self.audio_chunks {
            video_places.extend(next.next());
            if !range.is_empty() {
                audio_places.extend(next.next());
            }
        }
        let first = &videos[0];
        let scale = first.track.scale;
        let edit_start = first.track.edit.map_or(0, |(_, start)| start);
        let media: u64 = videos.iter().map(|movie| movie.track.media_length()).sum();
        // Each segment shows all of its media (from `edit_start` on, the B-frames' delay), so the
        // episode shows all of its own.
        let video_length = rescale(media, scale, first.movie_scale);
        let audio_length = sound.track.edit.map_or_else(
            || rescale(sound.track.media_length(), sound.track.scale, sound.movie_scale),
            |(length, _)| length,
        );

        // Video: the segments' samples in order, one chunk a segment.
        let durations: Vec<u32> =
            videos.iter().flat_map(|movie| movie.track.durations.iter().copied()).collect();
        let mut stbl = boxed(b"stsd", &[&[0, 0, 0, 0][..], &1u32.to_be_bytes(), &self.sample_entry].concat());
        stbl.extend(boxed(b"stts", &run_lengths(0, &durations)));
        if let Some((version, _)) = &first.track.offsets {
            let offsets: Vec<u32> = videos
                .iter()
                .flat_map(|movie| movie.track.offsets.iter().flat_map(|(_, offsets)| offsets.iter().copied()))
                .collect();
            stbl.extend(boxed(b"ctts", &run_lengths(*version, &offsets)));
        }
        if videos.iter().any(|movie| movie.track.sync.is_some()) {
            let mut sync = Vec::new();
            let mut before = 0u32;
            for movie in videos {
                match &movie.track.sync {
                    Some(numbers) => sync.extend(numbers.iter().map(|number| before + number)),
                    None => sync.extend((1..=movie.track.sizes.len() as u32).map(|number| before + number)),
                }
                before += movie.track.sizes.len() as u32;
            }
            stbl.extend(boxed(
                b"stss",
                &table(0, sync.len(), sync.iter().flat_map(|number| number.to_be_bytes())),
            ));
        }
        let per_chunk: Vec<u32> = videos.iter().map(|movie| movie.track.sizes.len() as u32).collect();
        stbl.extend(boxed(b"stsc", &chunk_runs(&per_chunk)));
        let sizes: Vec<u32> = videos.iter().flat_map(|movie| movie.track.sizes.iter().copied()).collect();
        stbl.extend(boxed(b"stsz", &sizes_table(&sizes)));
        stbl.extend(chunk_places(&video_places, wide));
        let video =
            self::track(&first.track, 1, video_length, Some(edit(video_length, edit_start)), media, &stbl);

        // Audio: its tables as they are, but for where its chunks now lie.
        let audio = &sound.track;
        let mut stbl = boxed(b"stsd", &audio.stsd);
        stbl.extend(boxed(b"stts", &run_lengths(0, &audio.durations)));
        if let Some((version, offsets)) = &audio.offsets {
            stbl.extend(boxed(b"ctts", &run_lengths(*version, offsets)));
        }
        if let Some(sync) = &audio.sync {
            stbl.extend(boxed(
                b"stss",
                &table(0, sync.len(), sync.iter().flat_map(|number| number.to_be_bytes())),
            ));
        }
        let per_chunk: Vec<u32> = self
            .audio_chunks
            .iter()
            .filter(|range| !range.is_empty())
            .map(|range| range.len() as u32)
            .collect();
        stbl.extend(boxed(b"stsc", &chunk_runs(&per_chunk)));
        stbl.extend(boxed(b"stsz", &sizes_table(&audio.sizes)));
        stbl.extend(chunk_places(&audio_places, wide));
        for (kind, body) in &audio.other_tables {
            stbl.extend(boxed(kind, body));
        }
        let sound_track =
            self::track(audio, 2, audio_length, audio.edts.clone(), audio.media_length(), &stbl);

        let mut mvhd = first.mvhd.clone();
        patch_length(&mut mvhd, video_length.max(audio_length));
        let next_track = mvhd.len() - 4;
        mvhd[next_track..].copy_from_slice(&3u32.to_be_bytes());
        let mut body = boxed(b"mvhd", &mvhd);
        body.extend(video);
        body.extend(sound_track);
        boxed(b"moov", &body)
    }
}

/// A `trak` from `source`'s headers, renumbered, with its new lengths and sample table.
fn track(source: &Track, id: u32, length: u64, edts: Option<Vec<u8>>, media: u64, stbl: &[u8]) -> Vec<u8> {
    let mut tkhd = source.tkhd.clone();
    let id_at = if tkhd.first() == Some(&1) { 20 } else { 12 };
    if let Some(field) = tkhd.get_mut(id_at..id_at + 4) {
        field.copy_from_slice(&id.to_be_bytes());
    }
    let (at, wide) = if tkhd.first() == Some(&1) { (28, true) } else { (20, false) };
    patch(&mut tkhd, at, wide, length);
    let mut mdhd = source.mdhd.clone();
    patch_length(&mut mdhd, media);
    let mut minf = boxed(&source.media_header.0, &source.media_header.1);
    minf.extend(boxed(b"dinf", &source.dinf));
    minf.extend(boxed(b"stbl", stbl));
    let mut mdia = boxed(b"mdhd", &mdhd);
    mdia.extend(boxed(b"hdlr", &source.hdlr));
    mdia.extend(boxed(b"minf", &minf));
    let mut trak = boxed(b"tkhd", &tkhd);
    if let Some(edts) = edts {
        trak.extend(boxed(b"edts", &edts));
    }
    trak.extend(boxed(b"mdia", &mdia));
    boxed(b"trak", &trak)
}

/// Sets the duration of an `mvhd` or `mdhd` body (the same place in both).
fn patch_length(body: &mut [u8], length: u64) {
    let (at, wide) = if body.first() == Some(&1) { (24, true) } else { (16, false) };
    patch(body, at, wide, length);
}

fn patch(body: &mut [u8], at: usize, wide: bool, value: u64) {
    if wide {
        if let Some(field) = body.get_mut(at..at + 8) {
            field.copy_from_slice(&value.to_be_bytes());
        }
    } else if let Some(field) = body.get_mut(at..at + 4) {
        field.copy_from_slice(&u32::try_from(value).unwrap_or(u32::MAX).to_be_bytes());
    }
}

/// `edts` with one edit of `length` (movie time scale) from `start` in the media: 32-bit fields
/// where they fit, as ffmpeg writes them.
fn edit(length: u64, start: u64) -> Vec<u8> {
    let narrow = match (u32::try_from(length), i32::try_from(start)) {
        (Ok(length), Ok(start)) => Some((length, start)),
        _ => None,
    };
    let mut elst = vec![u8::from(narrow.is_none()), 0, 0, 0];
    elst.extend(1u32.to_be_bytes());
    match narrow {
        Some((length, start)) => {
            elst.extend(length.to_be_bytes());
            elst.extend(start.to_be_bytes());
        }
        None => {
            elst.extend(length.to_be_bytes());
            elst.extend(start.to_be_bytes());
        }
    }
    elst.extend(0x0001_0000u32.to_be_bytes());
    boxed(b"elst", &elst)
}

fn rescale(value: u64, from: u32, to: u32) -> u64 {
    let scaled = (u128::from(value) * u128::from(to)).div_ceil(u128::from(from.max(1)));
    u64::try_from(scaled).unwrap_or(u64::MAX)
}

/// The H.264 sample entry of an `stsd` body, without its `btrt` (bit rates of one segment, not of
/// the episode); `None` for anything but one `avc1` entry.
fn avc_entry(stsd: &[u8]) -> Option<Vec<u8>> {
    if be32(stsd, 4)? != 1 {
        return None;
    }
    let size = be32(stsd, 8)? as usize;
    let entry = stsd.get(8..8 + size)?;
    if entry.get(4..8)? != b"avc1" || stsd.len() != 8 + size {
        return None;
    }
    // 8 bytes of header, then 78 of the visual sample entry's fields, then its boxes.
    let boxes = children(entry.get(86..)?)?;
    if !boxes.iter().any(|(kind, _)| kind == b"avcC") {
        return None;
    }
    let mut body = entry.get(8..86)?.to_vec();
    for (kind, inner) in boxes.iter().filter(|(kind, _)| kind != b"btrt") {
        body.extend(boxed(kind, inner));
    }
    Some(boxed(b"avc1", &body))
}

/// Whether an `stsd` body holds one AAC (`mp4a`) entry.
fn is_aac(stsd: &[u8]) -> bool {
    be32(stsd, 4) == Some(1) && stsd.get(12..16) == Some(b"mp4a".as_slice())
}

fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 8);
    out.extend(u32::try_from(body.len() + 8).unwrap_or(u32::MAX).to_be_bytes());
    out.extend(kind);
    out.extend(body);
    out
}

/// A full box's body: version, no flags, `count`, then `entries`.
fn table(version: u8, count: usize, entries: impl IntoIterator<Item = u8>) -> Vec<u8> {
    let mut body = vec![version, 0, 0, 0];
    body.extend((count as u32).to_be_bytes());
    body.extend(entries);
    body
}

/// `stts` or `ctts`: each run of equal values as (count, value).
fn run_lengths(version: u8, values: &[u32]) -> Vec<u8> {
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for value in values {
        match runs.last_mut() {
            Some((count, last)) if last == value => *count += 1,
            _ => runs.push((1, *value)),
        }
    }
    table(
        version,
        runs.len(),
        runs.iter().flat_map(|(count, value)| [count.to_be_bytes(), value.to_be_bytes()]).flatten(),
    )
}

/// `stsc` for chunks holding `per_chunk` samples each.
fn chunk_runs(per_chunk: &[u32]) -> Vec<u8> {
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for (index, count) in per_chunk.iter().enumerate() {
        if runs.last().is_none_or(|(_, last)| last != count) {
            runs.push((index as u32 + 1, *count));
        }
    }
    table(
        0,
        runs.len(),
        runs.iter()
            .flat_map(|(first, count)| [first.to_be_bytes(), count.to_be_bytes(), 1u32.to_be_bytes()])
            .flatten(),
    )
}

fn sizes_table(sizes: &[u32]) -> Vec<u8> {
    let mut body = vec![0, 0, 0, 0, 0, 0, 0, 0];
    body.extend((sizes.len() as u32).to_be_bytes());
    body.extend(sizes.iter().flat_map(|size| size.to_be_bytes()));
    body
}

/// `stco`, or `co64` when the file may pass 4 GiB.
fn chunk_places(places: &[u64], wide: bool) -> Vec<u8> {
    if wide {
        boxed(b"co64", &table(0, places.len(), places.iter().flat_map(|place| place.to_be_bytes())))
    } else {
        boxed(b"stco", &table(0, places.len(), places.iter().flat_map(|place| (*place as u32).to_be_bytes())))
    }
}

/// Copies samples `range` of `track` from `file`, a read per run of adjacent samples.
fn copy_samples(
    mut file: &File,
    track: &Track,
    range: std::ops::Range<usize>,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let mut sample = range.start;
    while sample < range.end {
        let start = track.places[sample];
        let mut end = start + u64::from(track.sizes[sample]);
        sample += 1;
        while sample < range.end && track.places[sample] == end {
            end += u64::from(track.sizes[sample]);
            sample += 1;
        }
        file.seek(SeekFrom::Start(start))?;
        // `Take<&File>` into a `BufWriter<File>`: std copies file to file in the kernel.
        let copied = std::io::copy(&mut file.take(end - start), out)?;
        if copied != end - start {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "a sample ends past the file",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::tests::ffmpeg;

    #[test]
    fn tables_are_written_run_length_encoded() {
        assert_eq!(
            run_lengths(0, &[3000, 3000, 3000, 2999]),
            table(0, 2, [0, 0, 0, 3, 0, 0, 0x0b, 0xb8, 0, 0, 0, 1, 0, 0, 0x0b, 0xb7])
        );
        // Chunks of 85, 85, 40 samples: two runs, each from its first chunk.
        let stsc = chunk_runs(&[85, 85, 40]);
        assert_eq!(be32(&stsc, 4), Some(2));
        assert_eq!(
            (be32(&stsc, 8), be32(&stsc, 12), be32(&stsc, 20), be32(&stsc, 24)),
            (Some(1), Some(85), Some(3), Some(40))
        );
        let elst = edit(2834, 6000);
        assert_eq!(single_edit(&elst[8..]), Some((2834, 6000)));
        assert_eq!(rescale(255_000, 90_000, 1000), 2834, "rounded up, as ffmpeg writes an edit");
    }

    #[test]
    fn files_it_does_not_read_are_left_to_ffmpeg() {
        let dir = tempfile::tempdir().unwrap();
        let video = [
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=64x36:rate=10:d=1",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
        ];
        ffmpeg(dir.path(), &[&video[..], &["-f", "mp4", "a.mp4"]].concat());
        ffmpeg(dir.path(), &[&video[..], &["-f", "mov", "a.mov"]].concat());
        ffmpeg(dir.path(), &["-f", "lavfi", "-i", "sine=d=1", "-c:a", "aac", "a.m4a"]);
        ffmpeg(dir.path(), &["-f", "lavfi", "-i", "sine=d=1", "-c:a", "libmp3lame", "a.mp3"]);
        ffmpeg(
            dir.path(),
            &[
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=64x36:rate=10:d=1",
                "-f",
                "lavfi",
                "-i",
                "sine=d=1",
                "-c:v",
                "libx264",
                "-pix_fmt",
                "yuv420p",
                "-c:a",
                "aac",
                "-shortest",
                "both.mp4",
            ],
        );
        let at = |name: &str| dir.path().join(name);
        let out = at("episode.mp4");
        let needs_ffmpeg = |segments: &[&str], audio: &str| {
            let segments: Vec<PathBuf> = segments.iter().map(|name| at(name)).collect();
            matches!(join(&segments, &at(audio), &out).unwrap(), Joined::NeedsFfmpeg(_))
        };
        assert!(needs_ffmpeg(&["a.mov"], "a.m4a"), "QuickTime");
        assert!(needs_ffmpeg(&["a.mp4"], "a.mp3"), "MP3 audio");
        assert!(needs_ffmpeg(&["both.mp4"], "a.m4a"), "a segment with sound of its own");
        assert!(needs_ffmpeg(&["a.mp4"], "a.mp4"), "pictures for the sound");
        assert!(!out.exists());
        assert_eq!(join(&[at("a.mp4"), at("a.mp4")], &at("a.m4a"), &out).unwrap(), Joined::Written);
        assert!(out.exists());
        // A segment that is not there is an error, not a reason to try ffmpeg.
        assert!(matches!(join(&[at("gone.mp4")], &at("a.m4a"), &out), Err(MediaError::Io { .. })));
    }
}
