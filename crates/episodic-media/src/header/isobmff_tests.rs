//! The ISO-BMFF reader against ffprobe itself: clips, segments and audio made the ways episodic,
//! the studio and the encoders it meets make them; shapes it must leave to ffprobe; cut and
//! damaged files.

use super::*;
use crate::header::tests::close;
use crate::{Probe, locate};
use std::path::{Path, PathBuf};
use std::process::Command;

/// ffprobe itself, never the native readers: what they must agree with.
fn ffprobe() -> Option<Probe> {
    crate::header::tests::ffprobe().map(Probe::ffprobe_only)
}

fn ffmpeg(dir: &Path, args: &str, name: &str) -> PathBuf {
    let output = Command::new("ffmpeg")
        .current_dir(dir)
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(args.split(' '))
        .arg(name)
        .output()
        .expect("ffmpeg runs");
    assert!(output.status.success(), "ffmpeg {args}: {}", String::from_utf8_lossy(&output.stderr));
    dir.join(name)
}

fn movie(path: &Path) -> Option<Movie> {
    let mut file = std::fs::File::open(path).expect("the file");
    let len = file.metadata().expect("its size").len();
    read(&mut file, len)
}

/// Compares the native reading of `path` with ffprobe's, field by field, and each stream's packet
/// end where the reader gives one; returns whether the reader answered.
fn agrees(probe: &Probe, path: &Path) -> bool {
    let Some(native) = movie(path) else { return false };
    let (want, audio_end) = probe.run_ffprobe_audio(path).expect("ffprobe reads what was read natively");
    let (_, video_end) = probe.probe_clip(path).expect("ffprobe reads its packets");
    let info = &native.info;
    let shown =
        format!("{}:\n native {native:?}\nffprobe {want:?} ends {audio_end:?} {video_end:?}", path.display());
    assert_eq!(info.format_name, want.format_name, "{shown}");
    assert!(close(info.duration, want.duration), "{shown}");
    assert_eq!(info.streams.len(), want.streams.len(), "{shown}");
    for (ours, theirs) in info.streams.iter().zip(&want.streams) {
        assert_eq!(ours.kind, theirs.kind, "{shown}");
        assert_eq!(ours.codec, theirs.codec, "{shown}");
        assert_eq!((ours.width, ours.height), (theirs.width, theirs.height), "{shown}");
        assert_eq!(ours.fps, theirs.fps, "{shown}");
        assert_eq!((ours.sample_rate, ours.channels), (theirs.sample_rate, theirs.channels), "{shown}");
        assert!(close(ours.duration, theirs.duration), "{shown}");
    }
    if let Some(end) = native.end_of(StreamKind::Audio) {
        assert!(close(end, audio_end), "audio end: {shown}");
    }
    if let Some(end) = native.end_of(StreamKind::Video) {
        assert!(close(end, video_end), "video end: {shown}");
    }
    true
}

/// (file name, ffmpeg arguments before it, whether the reader must answer).
const CASES: &[(&str, &str, bool)] = &[
    // A segment as compose writes it: H.264 with B-frames, PCM, QuickTime, 90 kHz video.
    (
        "segment.mov",
        "-f lavfi -i testsrc2=s=240x134:r=30:d=2.73 -f lavfi -i sine=r=48000:d=2.73 -ac 2 -c:v libx264 -preset veryfast -crf 20 -pix_fmt yuv420p -video_track_timescale 90000 -c:a pcm_s16le -movflags +faststart -f mov",
        true,
    ),
    // A clip as the studio and fal return them: H.264 and AAC in MP4, odd sizes, other rates.
    (
        "clip-30.mp4",
        "-f lavfi -i testsrc2=s=134x134:r=30:d=4.43 -f lavfi -i sine=r=48000:d=4.4 -ac 2 -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -b:a 96k -movflags +faststart",
        true,
    ),
    (
        "clip-25-moov-last.mp4",
        "-f lavfi -i testsrc2=s=320x180:r=25:d=3.1 -f lavfi -i sine=r=44100:d=3.3 -c:v libx264 -preset medium -pix_fmt yuv420p -c:a aac",
        true,
    ),
    (
        "clip-ntsc.mp4",
        "-f lavfi -i testsrc2=s=320x240:r=30000/1001:d=2.2 -f lavfi -i sine=r=48000:d=2 -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac",
        true,
    ),
    (
        "clip-24-no-bframes.mp4",
        "-f lavfi -i testsrc2=s=192x108:r=24:d=5 -c:v libx264 -preset ultrafast -bf 0 -pix_fmt yuv420p",
        true,
    ),
    (
        "clip-1080p.mp4",
        "-f lavfi -i testsrc2=s=1920x1080:r=30:d=0.5 -c:v libx264 -preset ultrafast -pix_fmt yuv420p",
        true,
    ),
    // The episode's audio: AAC alone.
    ("episode.m4a", "-f lavfi -i sine=r=48000:d=6.97 -ac 2 -c:a aac -b:a 128k -movflags +faststart", true),
    ("mono-44k.m4a", "-f lavfi -i sine=r=44100:d=1.01 -c:a aac", true),
    // Left to ffprobe: a low AAC rate (SBR may double it), another codec, fragments.
    ("low-rate.m4a", "-f lavfi -i sine=r=22050:d=1 -c:a aac", false),
    ("mpeg4.mp4", "-f lavfi -i testsrc2=s=160x120:r=25:d=1 -c:v mpeg4", false),
    (
        "fragmented.mp4",
        "-f lavfi -i testsrc2=s=160x120:r=25:d=2 -c:v libx264 -preset ultrafast -pix_fmt yuv420p -movflags frag_keyframe+empty_moov",
        false,
    ),
];

fn generate(dir: &Path) -> Vec<(PathBuf, bool)> {
    CASES.iter().map(|(name, args, native)| (ffmpeg(dir, args, name), *native)).collect()
}

#[test]
fn movies_read_natively_as_ffprobe_reads_them() {
    let Some(probe) = ffprobe() else { return };
    let dir = tempfile::tempdir().expect("a scratch folder");
    for (path, native) in generate(dir.path()) {
        assert_eq!(agrees(&probe, &path), native, "{}: native reader answered?", path.display());
    }
}

#[test]
fn the_packet_ends_of_pcm_are_left_to_ffprobe_and_its_info_is_not() {
    let Some(probe) = ffprobe() else { return };
    let dir = tempfile::tempdir().expect("a scratch folder");
    let (name, args, _) = CASES[0];
    let path = ffmpeg(dir.path(), args, name);
    let native = movie(&path).expect("a segment is read natively");
    assert_eq!(native.end_of(StreamKind::Audio), None, "PCM packets are chunks, not samples");
    assert!(native.end_of(StreamKind::Video).is_some());
    assert!(agrees(&probe, &path));
}

#[test]
fn a_cut_clip_is_measured_by_ffprobe_and_its_length_still_read() {
    let Some(probe) = ffprobe() else { return };
    let dir = tempfile::tempdir().expect("a scratch folder");
    let (name, args, _) = CASES[1];
    let path = ffmpeg(dir.path(), args, name);
    let bytes = std::fs::read(&path).expect("the clip");
    for fraction in [0.5, 0.9] {
        let cut = dir.path().join(format!("cut-{fraction}.mp4"));
        std::fs::write(&cut, &bytes[..(bytes.len() as f64 * fraction) as usize]).expect("written");
        let native = movie(&cut).expect("its index is whole");
        assert_eq!(native.end_of(StreamKind::Video), None, "a cut clip's end is ffprobe's to count");
        assert_eq!(native.end_of(StreamKind::Audio), None);
        // What probe_clip answers (through ffprobe) still sees the cut.
        let (_, end) =
            Probe::new(locate("ffprobe", None).expect("ffprobe")).probe_clip(&cut).expect("probed");
        let (_, want) = probe.probe_clip(&cut).expect("ffprobe counts its packets");
        assert_eq!(end, want);
        let full = native.info.video().and_then(|video| video.duration).expect("a length");
        assert!(end.is_some_and(|end| end < full - 0.1), "cut at {fraction}: end {end:?} of {full}");
    }
}

#[test]
fn damaged_indexes_never_panic() {
    let Some(_) = ffprobe() else { return };
    let dir = tempfile::tempdir().expect("a scratch folder");
    let (name, args, _) = CASES[1];
    let path = ffmpeg(dir.path(), args, name);
    let bytes = std::fs::read(&path).expect("the clip");
    let moov = bytes.windows(4).position(|w| w == b"moov").expect("a moov") - 4;
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..2000 {
        let mut damaged = bytes.clone();
        for _ in 0..1 + next() % 4 {
            let at = moov + (next() as usize) % 600;
            damaged[at] = next() as u8;
        }
        let cut = (next() as usize) % damaged.len() + 1;
        for candidate in [&damaged[..], &damaged[..cut], &bytes[..cut]] {
            let _ = read(&mut std::io::Cursor::new(candidate), candidate.len() as u64);
        }
    }
}
#[test]
fn an_audio_edit_ending_inside_its_last_frame_cuts_that_packet_as_ffprobe_does() {
    // The studio's clips end so: their AAC's last frame lasts longer than the edit shows of it.
    let Some(probe) = ffprobe() else { return };
    let dir = tempfile::tempdir().expect("a scratch folder");
    let path = ffmpeg(dir.path(), "-f lavfi -i sine=r=48000:d=2.9 -ac 2 -c:a aac", "edit.m4a");
    let mut bytes = std::fs::read(&path).expect("the audio");
    let at = |bytes: &[u8], kind: &[u8]| bytes.windows(4).position(|w| w == kind).expect("a box");
    let stts = at(&bytes, b"stts");
    let entries = u32::from_be_bytes(bytes[stts + 8..stts + 12].try_into().unwrap()) as usize;
    let last = stts + 12 + (entries - 1) * 8 + 4;
    let delta = u32::from_be_bytes(bytes[last..last + 4].try_into().unwrap());
    bytes[last..last + 4].copy_from_slice(&(delta + 32).to_be_bytes());
    let mdhd = at(&bytes, b"mdhd") + 4 + 16;
    let duration = u32::from_be_bytes(bytes[mdhd..mdhd + 4].try_into().unwrap());
    bytes[mdhd..mdhd + 4].copy_from_slice(&(duration + 32).to_be_bytes());
    std::fs::write(&path, &bytes).expect("written");
    let native = movie(&path).expect("read natively");
    let audio = native.info.audio().expect("audio");
    assert_eq!(audio.duration, Some(2.9), "the edit's length, not the samples' {native:?}");
    assert!(agrees(&probe, &path));
}
