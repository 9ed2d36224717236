//! The native readers against ffprobe itself: shipped assets, files generated with ffmpeg, cut
//! files, and garbage.

use super::wav::KSDATAFORMAT_TAIL;
use super::*;
use crate::{Probe, locate};
use std::path::PathBuf;
use std::process::Command;

/// ffprobe, or `None` (with a message) when it is not installed; in CI its absence is a failure.
pub(crate) fn ffprobe() -> Option<Probe> {
    match locate("ffprobe", None) {
        Ok(tool) => Some(Probe::new(tool)),
        Err(err) if std::env::var_os("CI").is_none() => {
            eprintln!("SKIPPED: ffprobe is not installed ({err})");
            None
        }
        Err(err) => panic!("ffprobe is required in CI: {err}"),
    }
}

/// Runs ffmpeg in `dir` for a fixture; fails the test when it fails.
pub(crate) fn ffmpeg(dir: &Path, args: &[&str]) {
    let output = Command::new("ffmpeg")
        .current_dir(dir)
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg runs");
    assert!(output.status.success(), "ffmpeg {args:?}: {}", String::from_utf8_lossy(&output.stderr));
}

/// Whether two lengths agree to ffprobe's printed microsecond.
pub(crate) fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => (a - b).abs() <= 1e-6,
        _ => false,
    }
}

/// Compares the native reading of `path` with ffprobe's, field by field; returns whether the
/// native reader answered (ffprobe failing is fine only when it did not).
fn agrees(probe: &Probe, path: &Path) -> bool {
    let path = std::path::absolute(path).expect("an absolute path");
    let Some((info, end)) = read(&path) else { return false };
    let (want, want_end) = probe
        .run_ffprobe_audio(&path)
        .unwrap_or_else(|err| panic!("{}: read natively but ffprobe fails: {err}", path.display()));
    let shown =
        format!("{}:\n native {info:?} end {end:?}\nffprobe {want:?} end {want_end:?}", path.display());
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
    assert!(close(end, want_end), "{shown}");
    true
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn media_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("a readable folder") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                ["png", "jpg", "jpeg", "webp", "mp3", "wav", "aac", "gif", "ogg", "flac"].contains(&e)
            }) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

#[test]
fn shipped_media_read_natively_as_ffprobe_reads_them() {
    let Some(probe) = ffprobe() else { return };
    let mut native = Vec::new();
    for path in
        media_files(&root().join("assets")).into_iter().chain(media_files(&root().join("tests/fixtures")))
    {
        if agrees(&probe, &path) {
            native.push(path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned());
        }
    }
    // What must be served natively: every shipped portrait and speech track that ffprobe reads.
    for name in [
        "cold-open.mp3",
        "deep-dive.mp3",
        "glitch-reaction.mp3",
        "glitch-reply.mp3",
        "headline.mp3",
        "short-hook.mp3",
        "sign-off.mp3",
        "desk.png",
        "glitch.png",
        "ninja.png",
        "exactly-two.wav",
        "speech.wav",
        "speech.mp3",
        "forty.mp3",
        "sixty-one.mp3",
        "one-second.mp3",
        "photo.jpg",
        "not-really.png",
        "photo.webp",
        "portrait.png",
        "tiny.png",
    ] {
        assert!(native.contains(&name.to_owned()), "{name} is not read natively; native: {native:?}");
    }
    // Broken files are left to ffprobe, which reports why.
    for name in ["truncated.mp3", "text.png", "speech.aac", "anim.gif"] {
        assert!(!native.contains(&name.to_owned()), "{name} should be left to ffprobe");
    }
}

/// Generated cases: (file name, ffmpeg arguments before the output, read natively?).
const CASES: &[(&str, &str, bool)] = &[
    ("u8-mono-8k.wav", "-f lavfi -i sine=f=300:d=1.3 -ar 8000 -c:a pcm_u8", true),
    ("s16-stereo-44k.wav", "-f lavfi -i sine=f=300:d=2.1 -ar 44100 -ac 2 -c:a pcm_s16le", true),
    ("s24-stereo-48k.wav", "-f lavfi -i sine=f=300:d=1.7 -ar 48000 -ac 2 -c:a pcm_s24le", true),
    ("s32-mono-16k.wav", "-f lavfi -i sine=f=300:d=0.9 -ar 16000 -c:a pcm_s32le", true),
    ("f32-mono-22k.wav", "-f lavfi -i sine=f=300:d=1.1 -ar 22050 -c:a pcm_f32le", true),
    ("f64-stereo-32k.wav", "-f lavfi -i sine=f=300:d=1.0 -ar 32000 -ac 2 -c:a pcm_f64le", true),
    ("s16-mono-96k.wav", "-f lavfi -i sine=f=300:d=1.0 -ar 96000 -c:a pcm_s16le", true),
    ("s16-six-48k.wav", "-f lavfi -i sine=f=300:d=1.0 -ar 48000 -ac 6 -c:a pcm_s16le", true),
    ("s16-mono-11k.wav", "-f lavfi -i sine=f=300:d=3.3 -ar 11025 -c:a pcm_s16le", true),
    ("s16-list.wav", "-f lavfi -i sine=f=300:d=1.0 -metadata title=hello -ar 8000 -c:a pcm_s16le", true),
    ("cbr-44k-mono.mp3", "-f lavfi -i sine=f=440:d=3 -ar 44100 -c:a libmp3lame -b:a 128k", true),
    ("cbr-48k-stereo.mp3", "-f lavfi -i sine=f=440:d=2.5 -ar 48000 -ac 2 -c:a libmp3lame -b:a 192k", true),
    ("cbr-22k-mono.mp3", "-f lavfi -i sine=f=440:d=4 -ar 22050 -c:a libmp3lame -b:a 32k", true),
    ("cbr-8k-mono.mp3", "-f lavfi -i sine=f=440:d=4 -ar 8000 -c:a libmp3lame -b:a 16k", true),
    ("cbr-320k.mp3", "-f lavfi -i sine=f=440:d=2 -ar 44100 -ac 2 -c:a libmp3lame -b:a 320k", true),
    (
        "cbr-noxing-44k.mp3",
        "-f lavfi -i sine=f=440:d=3 -ar 44100 -c:a libmp3lame -b:a 128k -write_xing 0",
        true,
    ),
    (
        "cbr-noxing-22k-stereo.mp3",
        "-f lavfi -i sine=f=440:d=3 -ar 22050 -ac 2 -c:a libmp3lame -b:a 64k -write_xing 0",
        true,
    ),
    ("vbr-44k-mono.mp3", "-f lavfi -i sine=f=440:d=3 -ar 44100 -c:a libmp3lame -q:a 4", true),
    ("vbr-48k-stereo.mp3", "-f lavfi -i anoisesrc=d=2.2:c=pink -ar 48000 -ac 2 -c:a libmp3lame -q:a 2", true),
    ("vbr-22k-mono.mp3", "-f lavfi -i anoisesrc=d=2.2:c=white:a=0.3 -ar 22050 -c:a libmp3lame -q:a 6", true),
    (
        "vbr-noxing.mp3",
        "-f lavfi -i anoisesrc=d=2:c=pink -ar 44100 -c:a libmp3lame -q:a 4 -write_xing 0",
        false,
    ),
    (
        "tagged-id3v23.mp3",
        "-f lavfi -i sine=f=440:d=2 -ar 44100 -c:a libmp3lame -b:a 96k -id3v2_version 3 -metadata title=Hi -metadata artist=Me",
        true,
    ),
    (
        "tagged-id3v24.mp3",
        "-f lavfi -i sine=f=440:d=2 -ar 24000 -c:a libmp3lame -b:a 48k -id3v2_version 4 -metadata album=Long-album-name",
        true,
    ),
    (
        "id3v1.mp3",
        "-f lavfi -i sine=f=440:d=2 -ar 44100 -c:a libmp3lame -b:a 96k -write_id3v1 1 -metadata title=Old",
        false,
    ),
    ("small.png", "-f lavfi -i testsrc=s=64x48 -frames:v 1", true),
    ("portrait.png", "-f lavfi -i testsrc=s=512x768 -frames:v 1", true),
    ("gray16.png", "-f lavfi -i testsrc=s=300x200 -frames:v 1 -pix_fmt gray16be", true),
    ("alpha.png", "-f lavfi -i testsrc=s=320x240 -frames:v 1 -pix_fmt rgba", true),
    ("palette.png", "-f lavfi -i testsrc=s=200x100 -frames:v 1 -pix_fmt pal8", true),
    ("photo.jpg", "-f lavfi -i testsrc=s=640x480 -frames:v 1", true),
    ("photo-gray.jpeg", "-f lavfi -i testsrc=s=333x222 -frames:v 1 -pix_fmt gray", true),
    ("photo-444.JPG", "-f lavfi -i testsrc=s=720x1280 -frames:v 1 -pix_fmt yuvj444p", true),
    ("lossy.webp", "-f lavfi -i testsrc=s=640x360 -frames:v 1 -c:v libwebp -lossless 0", true),
    ("lossless.webp", "-f lavfi -i testsrc=s=300x500 -frames:v 1 -c:v libwebp -lossless 1", true),
    (
        "alpha-lossy.webp",
        "-f lavfi -i testsrc=s=256x256 -frames:v 1 -pix_fmt yuva420p -c:v libwebp -lossless 0",
        true,
    ),
    (
        "alpha-lossless.webp",
        "-f lavfi -i testsrc=s=256x200 -frames:v 1 -pix_fmt yuva420p -c:v libwebp -lossless 1",
        true,
    ),
];

fn generate(dir: &Path) -> Vec<(PathBuf, bool)> {
    let mut made = Vec::new();
    for (name, args, native) in CASES {
        let mut line: Vec<&str> = args.split(' ').collect();
        line.push(name);
        ffmpeg(dir, &line);
        made.push((dir.join(name), *native));
    }
    // A progressive JPEG and an extensible WAV header, made from the files above.
    made.push((progressive_jpeg(dir), true));
    made.push((png_bomb(dir), true));
    made.push((extensible(dir), true));
    made
}

/// A progressive JPEG's frame header: ffmpeg's encoder writes only baseline ones, so one is
/// rewritten with SOF2 (the frame header is all ffprobe reads of it).
fn progressive_jpeg(dir: &Path) -> PathBuf {
    let mut bytes = std::fs::read(dir.join("photo.jpg")).expect("the jpeg");
    let at = bytes.windows(2).position(|w| w == [0xff, 0xc0]).expect("an SOF0");
    bytes[at + 1] = 0xc2;
    let path = dir.join("sof2.jpg");
    std::fs::write(&path, bytes).expect("written");
    path
}

/// A 200-byte PNG declaring 16000x16000: ffprobe reports the declared size, and so must we.
fn png_bomb(dir: &Path) -> PathBuf {
    fn chunk(out: &mut Vec<u8>, kind: &[u8], body: &[u8]) {
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out.extend_from_slice(&[0; 4]); // ffmpeg does not check CRCs by default
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&16000u32.to_be_bytes());
    ihdr.extend_from_slice(&16000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &[0x78, 0x9c, 0x63, 0x60, 0x18, 0x05, 0xa3, 0x60, 0x14, 0x0c]);
    chunk(&mut out, b"IEND", &[]);
    let path = dir.join("bomb.png");
    std::fs::write(&path, out).expect("written");
    path
}

/// A 16-bit mono WAV rewritten with a WAVE_FORMAT_EXTENSIBLE header.
fn extensible(dir: &Path) -> PathBuf {
    let plain = std::fs::read(dir.join("s16-mono-11k.wav")).expect("the wav");
    let data = plain.windows(4).position(|w| w == b"data").expect("a data chunk");
    let mut fmt = Vec::new();
    fmt.extend_from_slice(&0xfffeu16.to_le_bytes());
    fmt.extend_from_slice(&1u16.to_le_bytes());
    fmt.extend_from_slice(&11025u32.to_le_bytes());
    fmt.extend_from_slice(&22050u32.to_le_bytes());
    fmt.extend_from_slice(&2u16.to_le_bytes());
    fmt.extend_from_slice(&16u16.to_le_bytes());
    fmt.extend_from_slice(&22u16.to_le_bytes());
    fmt.extend_from_slice(&16u16.to_le_bytes());
    fmt.extend_from_slice(&4u32.to_le_bytes()); // front centre
    fmt.extend_from_slice(&[1, 0]);
    fmt.extend_from_slice(&KSDATAFORMAT_TAIL);
    let mut out = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
    out.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
    out.extend_from_slice(&fmt);
    out.extend_from_slice(&plain[data..]);
    let riff = (out.len() - 8) as u32;
    out[4..8].copy_from_slice(&riff.to_le_bytes());
    let path = dir.join("extensible.wav");
    std::fs::write(&path, out).expect("written");
    path
}

#[test]
fn generated_media_read_natively_as_ffprobe_reads_them() {
    let Some(probe) = ffprobe() else { return };
    let dir = tempfile::tempdir().expect("a scratch folder");
    for (path, native) in generate(dir.path()) {
        assert_eq!(agrees(&probe, &path), native, "{}: native reader answered?", path.display());
    }
}

#[test]
fn cut_files_end_where_ffprobe_says() {
    let Some(probe) = ffprobe() else { return };
    let dir = tempfile::tempdir().expect("a scratch folder");
    let made = generate(dir.path());
    let mut cuts = Vec::new();
    for (path, _) in
        made.iter().filter(|(path, _)| path.extension().is_some_and(|e| e == "mp3" || e == "wav"))
    {
        let bytes = std::fs::read(path).expect("the file");
        for fraction in [0.37, 0.81] {
            for extra in [0usize, 1, 4, 5] {
                let cut = ((bytes.len() as f64 * fraction) as usize + extra).min(bytes.len());
                let name = format!(
                    "cut-{}-{cut}.{}",
                    path.file_stem().and_then(|s| s.to_str()).unwrap_or("x"),
                    path.extension().and_then(|e| e.to_str()).unwrap_or("bin")
                );
                let target = dir.path().join(name);
                std::fs::write(&target, &bytes[..cut]).expect("written");
                cuts.push(target);
            }
        }
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let native = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                while let Some(path) = cuts.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) {
                    if agrees(&probe, path) {
                        native.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let native = native.into_inner();
    assert!(native > 120, "only {native} cut files were read natively");
}

/// A small deterministic generator for garbage.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn garbage_and_truncated_headers_never_panic() {
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    let magics: [&[u8]; 8] = [
        b"RIFF\x24\0\0\0WAVEfmt \x10\0\0\0",
        b"RIFF\x24\0\0\0WEBPVP8X\x0a\0\0\0",
        b"RIFF\x24\0\0\0WEBPVP8 ",
        b"RIFF\x24\0\0\0WEBPVP8L",
        b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR",
        b"\xff\xd8\xff\xe0\0\x10JFIF",
        b"ID3\x04\0\0\0\0\0\x10",
        b"\xff\xfb\x90\x64",
    ];
    for round in 0..20_000 {
        let len = (noise.next() % 3000) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| noise.next() as u8).collect();
        let magic = magics[round % magics.len()];
        if round % 3 != 0 {
            let keep = magic.len().min(bytes.len());
            bytes[..keep].copy_from_slice(&magic[..keep]);
        }
        let _ = parse("/tmp/x.jpg", &bytes);
        let _ = parse("/tmp/x.bin", &bytes);
    }
    // Every prefix and many single-byte changes of real files.
    let dir = tempfile::tempdir().expect("a scratch folder");
    let real: Vec<PathBuf> = if locate("ffmpeg", None).is_ok() {
        generate(dir.path()).into_iter().map(|(path, _)| path).collect()
    } else {
        media_files(&root().join("tests/fixtures"))
    };
    for path in real {
        let bytes = std::fs::read(&path).expect("the file");
        let name = path.to_string_lossy().into_owned();
        let step = (bytes.len() / 150).max(1);
        for cut in (0..bytes.len()).step_by(step).chain(0..bytes.len().min(200)) {
            let _ = parse(&name, &bytes[..cut]);
        }
        for _ in 0..100 {
            let mut changed = bytes.clone();
            let at = (noise.next() as usize) % changed.len().clamp(1, 4096);
            if let Some(byte) = changed.get_mut(at) {
                *byte = noise.next() as u8;
            }
            let _ = parse(&name, &changed);
        }
    }
}

/// Not a test of behaviour: how long probing the shipped media takes natively and with ffprobe.
/// `cargo test -p episodic-media --release -- --ignored --nocapture probe_timing`
#[test]
#[ignore = "a measurement, run by hand"]
fn probe_timing() {
    let Some(probe) = ffprobe() else { return };
    let files: Vec<PathBuf> = media_files(&root().join("assets"))
        .into_iter()
        .chain(media_files(&root().join("tests/fixtures")))
        .map(|path| std::path::absolute(path).expect("absolute"))
        .collect();
    let start = std::time::Instant::now();
    let served = files.iter().filter(|path| read(path).is_some()).count();
    let native = start.elapsed();
    let start = std::time::Instant::now();
    for path in &files {
        let _ = probe.run_ffprobe_audio(path);
    }
    let spawned = start.elapsed();
    let start = std::time::Instant::now();
    for path in &files {
        let _ = Probe::new(locate("ffprobe", None).expect("ffprobe")).probe_audio(path);
    }
    let mixed = start.elapsed();
    eprintln!(
        "{} files, {served} read natively: native readers {native:?}; ffprobe {spawned:?}; probe_audio (native, else ffprobe) {mixed:?}",
        files.len()
    );
}
