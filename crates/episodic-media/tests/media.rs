//! Every ffmpeg operation run for real on inputs made at test time, at small sizes (320x180, 10 fps),
//! and its output checked with ffprobe and by looking at pixels and samples.

use episodic_media::{
    AudioPart, ComposeExtras, ComposeJob, Composition, EncodeSettings, Ffmpeg, FileKind, Fill, JoinedBy,
    Layout, MediaError, MediaInfo, Probe, Seat, compose, compose_batch, compose_with, compose_with_thumbnail,
    concat, contact_sheet, episode_audio, find_font, locate, placeholder, reencode_concat, sheet_size,
    sniff_file, thumbnail,
};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const SIZE: (u32, u32) = (320, 180);
const FPS: u32 = 10;
const FRAME: f64 = 1.0 / FPS as f64;

/// ffmpeg, ffprobe and a scratch directory.
struct Kit {
    ffmpeg: Ffmpeg,
    probe: Probe,
    dir: tempfile::TempDir,
}

/// What to tell someone whose machine lacks ffmpeg.
const INSTALL: &str = "these tests run ffmpeg and ffprobe for real: install them \
    (`apt-get install ffmpeg`, or `bash .ci/setup` from the repository root) and run the tests again";

/// The tools and a scratch directory. A machine without ffmpeg fails every test here, saying how
/// to install it: a suite that passes without running anything would say nothing true.
fn kit() -> Kit {
    let tool = |name| locate(name, None).unwrap_or_else(|err| panic!("{err}: {INSTALL}"));
    Kit {
        ffmpeg: Ffmpeg::new(tool("ffmpeg")),
        probe: Probe::new(tool("ffprobe")),
        dir: tempfile::tempdir().expect("a scratch directory"),
    }
}

impl Kit {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs ffmpeg directly, for fixtures and measurements; returns stdout.
    fn ffmpeg_raw(&self, args: &[&str]) -> Vec<u8> {
        let output = Command::new(self.ffmpeg.path())
            .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
            .args(args)
            .output()
            .expect("ffmpeg runs");
        assert!(output.status.success(), "ffmpeg {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        output.stdout
    }

    /// A one-colour PNG.
    fn png(&self, name: &str, colour: &str, (width, height): (u32, u32)) -> PathBuf {
        let path = self.path(name);
        let source = format!("color=c={colour}:s={width}x{height},format=rgba");
        self.ffmpeg_raw(&["-f", "lavfi", "-i", &source, "-frames:v", "1", utf8(&path)]);
        path
    }

    /// A mono 440 Hz MP3 of `seconds`, at 44.1 kHz like most speech exports.
    fn speech(&self, name: &str, seconds: f64) -> PathBuf {
        let path = self.path(name);
        let source = format!("sine=f=440:r=44100:d={seconds}");
        self.ffmpeg_raw(&["-f", "lavfi", "-i", &source, "-c:a", "libmp3lame", "-b:a", "64k", utf8(&path)]);
        path
    }

    fn probe(&self, path: &Path) -> MediaInfo {
        self.probe.probe(path).expect("ffprobe reads the output")
    }

    /// The mean colour of an 8x8 patch centred on (x, y) in the frame at `seconds`.
    fn colour_at(&self, video: &Path, seconds: f64, (x, y): (u32, u32)) -> [u8; 3] {
        let crop = format!("crop=8:8:{}:{},scale=1:1:flags=area", x - 4, y - 4);
        let raw = self.ffmpeg_raw(&[
            "-ss",
            &seconds.to_string(),
            "-i",
            utf8(video),
            "-frames:v",
            "1",
            "-vf",
            &crop,
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ]);
        [raw[0], raw[1], raw[2]]
    }

    /// The frame at `seconds`, cropped to `area` (x, y, w, h), as grey bytes.
    fn grey(&self, video: &Path, seconds: f64, (x, y, w, h): (u32, u32, u32, u32)) -> Vec<u8> {
        let crop = format!("crop={w}:{h}:{x}:{y}");
        self.ffmpeg_raw(&[
            "-ss",
            &seconds.to_string(),
            "-i",
            utf8(video),
            "-frames:v",
            "1",
            "-vf",
            &crop,
            "-f",
            "rawvideo",
            "-pix_fmt",
            "gray",
            "-",
        ])
    }

    /// The decoded audio: 48 kHz stereo s16 little-endian, 4 bytes a sample.
    fn decoded_pcm(&self, video: &Path) -> Vec<u8> {
        self.ffmpeg_raw(&["-i", utf8(video), "-map", "0:a", "-f", "s16le", "-ac", "2", "-ar", "48000", "-"])
    }

    /// The decoded audio's length in samples.
    fn decoded_samples(&self, video: &Path) -> usize {
        self.decoded_pcm(video).len() / 4
    }

    /// Segments of `lengths`, the speaker first and the listener looping: with their own sound
    /// (QuickTime) or pictures only (MP4), as `sound` says.
    async fn segments(
        &self,
        (speaker, listener): (&Path, &Path),
        lengths: &[(Layout, f64)],
        encode: &EncodeSettings,
        sound: bool,
    ) -> Vec<PathBuf> {
        let mut segments = Vec::new();
        for (index, (layout, seconds)) in lengths.iter().enumerate() {
            let out = self.path(&format!("segment-{index}-{sound}.mov"));
            let c = Composition {
                layout: *layout,
                canvas: SIZE,
                fps: FPS,
                seconds: *seconds,
                main: speaker,
                main_seat: Seat::First,
                listener: Some((listener, Fill::Loop)),
                encode,
                sound,
            };
            compose(&self.ffmpeg, &self.probe, &c, &out).await.expect("a segment");
            segments.push(out);
        }
        segments
    }

    /// The episode's audio for segments of `lengths` spoken by `speaker`, and `segments` joined
    /// with it by `concat`: (`episode.m4a`, `episode.mp4`, how concat joined them).
    async fn episode(
        &self,
        speaker: &Path,
        lengths: &[(Layout, f64)],
        segments: &[PathBuf],
        encode: &EncodeSettings,
    ) -> (PathBuf, PathBuf, JoinedBy) {
        let audio = self.path("episode.m4a");
        let parts: Vec<AudioPart> =
            lengths.iter().map(|(_, length)| AudioPart { main: speaker, seconds: *length }).collect();
        episode_audio(&self.ffmpeg, &self.probe, &parts, encode, &audio).await.expect("the episode's audio");
        let episode = self.path("episode.mp4");
        let joined_by =
            concat(&self.ffmpeg, &self.probe, segments, &audio, encode, &episode).await.expect("the episode");
        (audio, episode, joined_by)
    }

    /// Size and checksum of every video packet, read without decoding.
    fn video_packets(&self, video: &Path) -> Vec<(u64, String)> {
        self.framemd5(&["-i", utf8(video), "-map", "0:v", "-c", "copy", "-f", "framemd5", "-"], 4)
            .into_iter()
            .map(|(size, hash)| (size.parse().expect("a packet size"), hash))
            .collect()
    }

    /// A checksum of every decoded video frame.
    fn frame_checksums(&self, video: &Path) -> Vec<String> {
        self.framemd5(&["-i", utf8(video), "-map", "0:v", "-f", "framemd5", "-"], 4)
            .into_iter()
            .map(|(_, hash)| hash)
            .collect()
    }

    /// Column `column` (2: the time, 4: the size) and the hash of each line of a framemd5 listing.
    fn framemd5(&self, args: &[&str], column: usize) -> Vec<(String, String)> {
        String::from_utf8(self.ffmpeg_raw(args))
            .expect("framemd5 is text")
            .lines()
            .filter(|line| !line.starts_with('#'))
            .map(|line| {
                let fields: Vec<&str> = line.split(',').map(str::trim).collect();
                (fields[column].to_string(), fields[5].to_string())
            })
            .collect()
    }
}

fn utf8(path: &Path) -> &str {
    path.to_str().expect("scratch paths are UTF-8")
}

fn mean_difference(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| f64::from(x.abs_diff(*y))).sum::<f64>() / a.len() as f64
}

fn is_red([r, g, b]: [u8; 3]) -> bool {
    r > 180 && g < 70 && b < 70
}

fn is_blue([r, g, b]: [u8; 3]) -> bool {
    b > 180 && r < 70 && g < 70
}

fn is_backdrop([r, g, b]: [u8; 3]) -> bool {
    r < 40 && g < 40 && b < 45
}

/// Checks a video's size, rate and length (video within a frame of `seconds`), and its audio.
fn assert_clip(info: &MediaInfo, seconds: f64, audio: bool) {
    let video = info.video().expect("a video stream");
    assert_eq!((video.codec.as_str(), video.width, video.height), ("h264", Some(SIZE.0), Some(SIZE.1)));
    assert!((video.fps.expect("a frame rate") - f64::from(FPS)).abs() < 1e-6, "fps {:?}", video.fps);
    let length = video.duration.expect("a video length");
    assert!((length - seconds).abs() <= FRAME + 1e-6, "video lasts {length}, not {seconds}");
    match (audio, info.audio()) {
        (true, Some(stream)) => {
            // Segments keep PCM; only an episode's audio is encoded (AAC).
            assert!(["pcm_s16le", "aac"].contains(&stream.codec.as_str()), "audio codec {}", stream.codec);
            assert_eq!((stream.sample_rate, stream.channels), (Some(48_000), Some(2)));
            let heard = stream.duration.expect("an audio length");
            assert!((heard - seconds).abs() <= FRAME + 1e-6, "audio lasts {heard}, not {seconds}");
        }
        (false, None) => {}
        (wanted, found) => panic!("audio wanted: {wanted}, found: {found:?}"),
    }
}

/// Nothing but `expected` is left in the scratch directory: no partial files.
fn assert_only(kit: &Kit, expected: &[&str]) {
    let mut names: Vec<String> = std::fs::read_dir(kit.dir.path())
        .expect("the scratch directory")
        .map(|entry| entry.expect("an entry").file_name().to_string_lossy().into())
        .collect();
    names.sort();
    let mut expected: Vec<String> = expected.iter().map(|name| name.to_string()).collect();
    expected.sort();
    assert_eq!(names, expected);
}

#[tokio::test]
async fn avatar_lasts_as_long_as_its_speech_and_fits_the_image() {
    let kit = kit();
    let image = kit.png("red.png", "red", (640, 640));
    let speech = kit.speech("speech.mp3", 2.5);
    let out = kit.path("avatar.mp4");
    let seconds =
        placeholder::avatar(&kit.ffmpeg, &kit.probe, &image, &speech, SIZE, FPS, &out).await.unwrap();

    let speech_seconds = kit.probe(&speech).audio_seconds().unwrap();
    assert!((seconds - speech_seconds).abs() <= FRAME, "{seconds} for {speech_seconds} s of speech");
    let info = kit.probe(&out);
    assert_clip(&info, seconds, true);
    assert!((info.audio().unwrap().duration.unwrap() - 2.5).abs() < 0.03, "the speech is kept whole");
    // A square picture in a 16:9 frame: the picture in the middle, the dark backdrop at the sides.
    assert!(is_red(kit.colour_at(&out, 1.0, (160, 90))));
    assert!(is_backdrop(kit.colour_at(&out, 1.0, (12, 90))));
    assert!(is_backdrop(kit.colour_at(&out, 1.0, (308, 90))));
    assert_only(&kit, &["red.png", "speech.mp3", "avatar.mp4"]);
}

#[tokio::test]
async fn avatar_without_audio_is_refused() {
    let kit = kit();
    let image = kit.png("red.png", "red", (64, 64));
    let err = placeholder::avatar(&kit.ffmpeg, &kit.probe, &image, &image, SIZE, FPS, &kit.path("a.mp4"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no audio stream"), "{err}");
}

#[tokio::test]
async fn image_clip_is_silent_unless_asked_and_moves() {
    let kit = kit();
    // A portrait picture with a half-transparent colour, under a one-thread limit.
    let image = kit.png("portrait.png", "yellow@0.9", (300, 500));
    let ffmpeg = kit.ffmpeg.clone().with_threads(1);
    let silent = kit.path("silent.mp4");
    let seconds = placeholder::image_clip(&ffmpeg, &image, 3.0, SIZE, FPS, false, &silent).await.unwrap();
    assert_eq!(seconds, 3.0);
    assert_clip(&kit.probe(&silent), 3.0, false);
    assert!(is_backdrop(kit.colour_at(&silent, 0.0, (12, 90))));

    let loud = kit.path("loud.mp4");
    let seconds = placeholder::image_clip(&ffmpeg, &image, 1.26, SIZE, FPS, true, &loud).await.unwrap();
    assert!((seconds - 1.3).abs() < 1e-9, "rounded to whole frames: {seconds}");
    assert_clip(&kit.probe(&loud), 1.3, true);

    // The pan moves the picture: its left edge is further right at the end than at the start.
    // Two rows: 4:2:0 video cannot be cropped to one.
    let row = |at: f64| kit.grey(&silent, at, (0, 90, 320, 2))[..320].to_vec();
    let left_edge = |row: Vec<u8>| row.iter().position(|&v| v > 25).unwrap();
    assert!(left_edge(row(0.0)) > left_edge(row(2.9)) + 10, "the picture pans");
}

#[tokio::test]
async fn test_card_is_exact_with_and_without_text() {
    let kit = kit();
    let nasty = "It's 100% \"real\": C:\\path, [brackets]; {braces} %{pts} and more words than fit here";
    let plain = kit.path("plain.mp4");
    let seconds = placeholder::test_card(&kit.ffmpeg, nasty, 2.0, SIZE, FPS, false, &plain).await.unwrap();
    assert_eq!(seconds, 2.0);
    assert_clip(&kit.probe(&plain), 2.0, false);

    let toned = kit.path("toned.mp4");
    placeholder::test_card(&kit.ffmpeg, "", 1.0, SIZE, FPS, true, &toned).await.unwrap();
    assert_clip(&kit.probe(&toned), 1.0, true);

    let Some(font) = find_font() else {
        eprintln!("no font found: the card with text was not drawn");
        return;
    };
    let lettered = kit.path("lettered.mp4");
    let with_font = kit.ffmpeg.clone().with_font(Some(font));
    placeholder::test_card(&with_font, nasty, 2.0, SIZE, FPS, false, &lettered).await.unwrap();
    assert_clip(&kit.probe(&lettered), 2.0, false);
    // The caption's box darkens the middle of the card.
    let middle = |video: &Path| kit.grey(video, 1.0, (40, 80, 240, 20));
    assert!(mean_difference(&middle(&plain), &middle(&lettered)) > 20.0, "text was drawn");
}

/// A speaker (red, with speech) and a listener (blue, silent), both placeholders.
async fn cast(kit: &Kit) -> (PathBuf, PathBuf, f64) {
    let speaker_image = kit.png("speaker.png", "red", (640, 640));
    let listener_image = kit.png("listener.png", "blue", (640, 640));
    let speech = kit.speech("speech.mp3", 2.5);
    let speaker = kit.path("speaker.mp4");
    let seconds = placeholder::avatar(&kit.ffmpeg, &kit.probe, &speaker_image, &speech, SIZE, FPS, &speaker)
        .await
        .expect("the speaker renders");
    let listener = kit.path("listener.mp4");
    placeholder::image_clip(&kit.ffmpeg, &listener_image, 1.0, SIZE, FPS, false, &listener)
        .await
        .expect("the listener renders");
    (speaker, listener, seconds)
}

#[tokio::test]
async fn two_shots_keep_each_character_in_their_seat() {
    let kit = kit();
    let (speaker, listener, seconds) = cast(&kit).await;
    let encode = EncodeSettings::new(SIZE.0, SIZE.1, FPS);
    let cases = [
        (Layout::SideBySide, Seat::First, (80, 90), (240, 90)),
        (Layout::SideBySide, Seat::Second, (240, 90), (80, 90)),
        (Layout::Stacked, Seat::First, (160, 45), (160, 135)),
        (Layout::Stacked, Seat::Second, (160, 135), (160, 45)),
    ];
    for (layout, seat, speaker_at, listener_at) in cases {
        let out = kit.path(&format!("{layout:?}-{seat:?}.mp4"));
        let c = Composition {
            layout,
            canvas: SIZE,
            fps: FPS,
            seconds,
            main: &speaker,
            main_seat: seat,
            listener: Some((&listener, Fill::Loop)),
            encode: &encode,
            sound: true,
        };
        compose(&kit.ffmpeg, &kit.probe, &c, &out).await.unwrap();
        assert_clip(&kit.probe(&out), seconds, true);
        for at in [0.5, seconds - 0.2] {
            assert!(
                is_red(kit.colour_at(&out, at, speaker_at)),
                "{layout:?} {seat:?}: speaker at {speaker_at:?}"
            );
            assert!(
                is_blue(kit.colour_at(&out, at, listener_at)),
                "{layout:?} {seat:?}: listener at {listener_at:?}"
            );
        }
    }
}

#[tokio::test]
async fn one_run_writes_the_segment_and_its_middle_frame() {
    let kit = kit();
    let (speaker, listener, seconds) = cast(&kit).await;
    let encode = EncodeSettings::new(SIZE.0, SIZE.1, FPS);
    let c = Composition {
        layout: Layout::SideBySide,
        canvas: SIZE,
        fps: FPS,
        seconds,
        main: &speaker,
        main_seat: Seat::First,
        listener: Some((&listener, Fill::Loop)),
        encode: &encode,
        sound: true,
    };
    let (out, png) = (kit.path("with-thumb.mov"), kit.path("with-thumb.png"));
    compose_with_thumbnail(&kit.ffmpeg, &kit.probe, &c, &out, &png, 160).await.unwrap();
    let segment = kit.probe(&out);
    assert_clip(&segment, seconds, true);
    assert_eq!(segment.audio().map(|audio| audio.codec.as_str()), Some("pcm_s16le"), "a segment keeps PCM");
    let picture = kit.probe(&png);
    let video = picture.video().expect("a picture");
    assert_eq!((video.codec.as_str(), video.width, video.height), ("png", Some(160), Some(90)));
    // The speaker on the left, the listener on the right, at half the size.
    assert!(is_red(kit.colour_at(&png, 0.0, (40, 45))));
    assert!(is_blue(kit.colour_at(&png, 0.0, (120, 45))));
    let err = compose_with_thumbnail(&kit.ffmpeg, &kit.probe, &c, &out, &png, 1).await.unwrap_err();
    assert!(err.to_string().contains("1 px wide"), "{err}");
}

#[tokio::test]
async fn a_batch_writes_each_segment_as_a_run_of_its_own_would_and_a_bad_one_fails_alone() {
    let kit = kit();
    let (speaker, listener, seconds) = cast(&kit).await;
    let encode = EncodeSettings::new(SIZE.0, SIZE.1, FPS);
    let two_shot = |layout, seat, fill| Composition {
        layout,
        canvas: SIZE,
        fps: FPS,
        seconds,
        main: &speaker,
        main_seat: seat,
        listener: Some((&listener, fill)),
        encode: &encode,
        sound: true,
    };
    // A listener shared by three segments, a looping one, a solo segment, a silent one: one run.
    let segments = [
        two_shot(Layout::SideBySide, Seat::First, Fill::Trim),
        two_shot(Layout::Stacked, Seat::Second, Fill::Loop),
        Composition {
            layout: Layout::Solo,
            listener: None,
            seconds: 1.5,
            ..two_shot(Layout::Solo, Seat::First, Fill::Trim)
        },
        // Pictures only, as the engine composes them.
        Composition { sound: false, ..two_shot(Layout::SideBySide, Seat::Second, Fill::Trim) },
    ];
    let outs: Vec<PathBuf> = (0..segments.len()).map(|i| kit.path(&format!("batch-{i}.mov"))).collect();
    let thumbs: Vec<PathBuf> = (0..segments.len()).map(|i| kit.path(&format!("batch-{i}.png"))).collect();
    let jobs: Vec<ComposeJob> = segments
        .iter()
        .zip(outs.iter().zip(&thumbs))
        .map(|(composition, (out, thumb))| ComposeJob {
            composition: *composition,
            out,
            extras: ComposeExtras { thumbnail: Some((thumb, 160)), captions: None },
        })
        .collect();
    let ffmpeg = kit.ffmpeg.clone().with_threads(1);
    let results = compose_batch(&ffmpeg, &kit.probe, &jobs).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    for (index, (composition, out)) in segments.iter().zip(&outs).enumerate() {
        let alone = kit.path(&format!("alone-{index}.mov"));
        let alone_thumb = kit.path(&format!("alone-{index}.png"));
        let extras = ComposeExtras { thumbnail: Some((&alone_thumb, 160)), captions: None };
        compose_with(&ffmpeg, &kit.probe, composition, &alone, extras).await.unwrap();
        assert_eq!(kit.frame_checksums(out), kit.frame_checksums(&alone), "segment {index}: its frames");
        if composition.sound {
            assert_eq!(kit.decoded_pcm(out), kit.decoded_pcm(&alone), "segment {index}: its sound");
        }
        assert_eq!(
            kit.frame_checksums(&thumbs[index]),
            kit.frame_checksums(&alone_thumb),
            "thumbnail {index}"
        );
        assert_clip(&kit.probe(out), composition.seconds, composition.sound);
    }
    // A clip with no pictures in the middle of a batch: it fails, with its own error; the
    // others are still made.
    let sound_only = kit.speech("sound-only.mp3", 1.0);
    let broken = Composition { main: &sound_only, ..segments[0] };
    // And one whose listener is gone, which only ffmpeg finds: the shared run fails, each is
    // composed again alone.
    let gone = kit.path("gone.mp4");
    let lost = Composition { listener: Some((&gone, Fill::Trim)), ..segments[0] };
    let again: Vec<PathBuf> = (0..4).map(|i| kit.path(&format!("again-{i}.mov"))).collect();
    let jobs = [
        ComposeJob { composition: segments[0], out: &again[0], extras: ComposeExtras::default() },
        ComposeJob { composition: broken, out: &again[1], extras: ComposeExtras::default() },
        ComposeJob { composition: segments[2], out: &again[2], extras: ComposeExtras::default() },
        ComposeJob { composition: lost, out: &again[3], extras: ComposeExtras::default() },
    ];
    let results = compose_batch(&ffmpeg, &kit.probe, &jobs).await;
    assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
    let err = results[1].as_ref().unwrap_err().to_string();
    assert!(err.contains("no video stream"), "{err}");
    let err = results[3].as_ref().unwrap_err().to_string();
    assert!(err.contains("gone.mp4"), "{err}");
    assert!(again[0].is_file() && !again[1].exists() && again[2].is_file() && !again[3].exists());
    let leftovers: Vec<_> = std::fs::read_dir(kit.dir.path())
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".part") || name.ends_with(".ass"))
        .collect();
    assert_eq!(leftovers, Vec::<String>::new(), "no temporary file is left behind");
    assert_eq!(kit.frame_checksums(&again[2]), kit.frame_checksums(&outs[2]));
}

#[tokio::test]
async fn listener_loops_or_holds_its_last_frame() {
    let kit = kit();
    let speech = kit.speech("speech.mp3", 3.0);
    let speaker_image = kit.png("speaker.png", "red", (64, 64));
    let speaker = kit.path("speaker.mp4");
    placeholder::avatar(&kit.ffmpeg, &kit.probe, &speaker_image, &speech, SIZE, FPS, &speaker).await.unwrap();
    // A moving listener one second long.
    let listener = kit.path("listener.mp4");
    placeholder::test_card(&kit.ffmpeg, "", 1.0, SIZE, FPS, false, &listener).await.unwrap();
    let encode = EncodeSettings::new(SIZE.0, SIZE.1, FPS);
    let right_half = (160, 0, 160, 180);
    for fill in [Fill::Loop, Fill::Trim] {
        let out = kit.path(&format!("{fill:?}.mp4"));
        let c = Composition {
            layout: Layout::SideBySide,
            canvas: SIZE,
            fps: FPS,
            seconds: 3.0,
            main: &speaker,
            main_seat: Seat::First,
            listener: Some((&listener, fill)),
            encode: &encode,
            sound: true,
        };
        compose(&kit.ffmpeg, &kit.probe, &c, &out).await.unwrap();
        assert_clip(&kit.probe(&out), 3.0, true);
        let at = |seconds: f64| kit.grey(&out, seconds, right_half);
        let moving = mean_difference(&at(0.25), &at(0.75));
        let one_period_later = mean_difference(&at(0.25), &at(2.25));
        let late = mean_difference(&at(1.25), &at(2.75));
        assert!(moving > 3.0, "the listener moves: {moving}");
        match fill {
            Fill::Loop => {
                assert!(one_period_later < moving / 3.0, "a loop repeats: {one_period_later} vs {moving}");
                assert!(late > moving / 3.0, "a loop keeps moving: {late}");
            }
            Fill::Trim => {
                assert!(one_period_later > moving / 3.0, "a held frame is not the start: {one_period_later}");
                assert!(late < moving / 4.0, "the last frame is held: {late}");
            }
        }
    }
}

#[tokio::test]
async fn segments_are_cut_and_padded_to_the_asked_length() {
    let kit = kit();
    let (speaker, listener, _) = cast(&kit).await;
    let encode = EncodeSettings::new(SIZE.0, SIZE.1, FPS);
    // Longer than the speech (video held, audio padded with silence), then shorter (both cut).
    for seconds in [3.4, 1.7] {
        let out = kit.path(&format!("{seconds}.mp4"));
        let c = Composition {
            layout: Layout::SideBySide,
            canvas: SIZE,
            fps: FPS,
            seconds,
            main: &speaker,
            main_seat: Seat::First,
            listener: Some((&listener, Fill::Trim)),
            encode: &encode,
            sound: true,
        };
        compose(&kit.ffmpeg, &kit.probe, &c, &out).await.unwrap();
        let info = kit.probe(&out);
        assert_clip(&info, seconds, true);
        let samples = kit.decoded_samples(&out) as f64;
        assert!((samples - seconds * 48_000.0).abs() <= 1024.0, "{samples} samples for {seconds} s");
    }
}

#[tokio::test]
async fn b_roll_gets_silence_and_the_whole_canvas() {
    let kit = kit();
    let image = kit.png("broll.png", "blue", (1280, 720));
    let broll = kit.path("broll.mp4");
    placeholder::image_clip(&kit.ffmpeg, &image, 2.0, (640, 360), 24, false, &broll).await.unwrap();
    let encode = EncodeSettings::new(SIZE.0, SIZE.1, FPS);
    let out = kit.path("segment.mp4");
    let c = Composition {
        layout: Layout::Solo,
        canvas: SIZE,
        fps: FPS,
        seconds: 2.0,
        main: &broll,
        main_seat: Seat::First,
        listener: None,
        encode: &encode,
        sound: true,
    };
    compose(&kit.ffmpeg, &kit.probe, &c, &out).await.unwrap();
    assert_clip(&kit.probe(&out), 2.0, true);
    assert!(is_blue(kit.colour_at(&out, 1.0, (160, 90))));
    let pcm = kit.ffmpeg_raw(&["-i", out.to_str().unwrap(), "-map", "0:a", "-f", "s16le", "-"]);
    assert!(pcm.iter().all(|&byte| byte == 0), "the added track is silent");
}

#[tokio::test]
async fn segments_join_by_copying_video_and_stay_in_sync() {
    let kit = kit();
    let (speaker, listener, seconds) = cast(&kit).await;
    let encode = EncodeSettings::new(SIZE.0, SIZE.1, FPS);
    let lengths = [(Layout::SideBySide, seconds), (Layout::Stacked, 1.3), (Layout::SideBySide, 2.2)];
    let segments = kit.segments((&speaker, &listener), &lengths, &encode, true).await;
    let total: f64 =
        segments.iter().map(|segment| kit.probe(segment).video().unwrap().duration.unwrap()).sum();

    let (_, copied, joined_by) = kit.episode(&speaker, &lengths, &segments, &encode).await;
    assert!(
        matches!(joined_by, JoinedBy::Demuxer { .. }),
        "segments with sound are ffmpeg's to join: {joined_by:?}"
    );
    let info = kit.probe(&copied);
    assert_clip(&info, total, true);
    assert_eq!(info.audio().map(|audio| audio.codec.as_str()), Some("aac"), "an episode's audio is AAC");
    assert!((info.duration.unwrap() - total).abs() < 0.1, "{:?} vs {total}", info.duration);
    // The video was copied, not re-encoded: decoded, every frame is the same as in its segment…
    let decoded = |video: &Path| kit.frame_checksums(video);
    let expected: Vec<String> = segments.iter().flat_map(|segment| decoded(segment)).collect();
    assert_eq!(decoded(&copied), expected);
    // …and every packet is the segment's, byte for byte, save that keyframes carry their parameter
    // sets in-band (the concat demuxer's conversion), all gaining the same few bytes.
    let segment_packets: Vec<(u64, String)> =
        segments.iter().flat_map(|segment| kit.video_packets(segment)).collect();
    let copied_packets = kit.video_packets(&copied);
    assert_eq!(copied_packets.len(), segment_packets.len());
    let mut grown = std::collections::BTreeSet::new();
    for ((size, hash), (old_size, old_hash)) in copied_packets.iter().zip(&segment_packets) {
        if hash != old_hash {
            grown.insert(size.checked_sub(*old_size).expect("a packet shrank"));
        }
    }
    assert!(grown.len() <= 1 && !grown.contains(&0), "packets changed: {grown:?}");
    // The audio is as long as the video, to within one AAC frame: no gaps or overlaps at boundaries.
    let samples = kit.decoded_samples(&copied) as f64;
    assert!((samples - total * 48_000.0).abs() <= 1024.0, "{samples} samples for {total} s");

    let reencoded = kit.path("reencoded.mp4");
    reencode_concat(&kit.ffmpeg, &kit.probe, &segments, &encode, &reencoded).await.unwrap();
    let info = kit.probe(&reencoded);
    assert_clip(&info, total, true);
    assert!((info.duration.unwrap() - total).abs() < 0.1);
    assert_ne!(kit.frame_checksums(&reencoded), expected, "re-encoded, not copied");
}

/// Presentation time and checksum of every frame or audio packet of `stream` (`v` or `a`).
fn timed_packets(kit: &Kit, file: &Path, stream: &str, decode: bool) -> Vec<(String, String)> {
    let map = format!("0:{stream}");
    let mut args = vec!["-i", utf8(file), "-map", map.as_str()];
    if !decode {
        args.extend(["-c", "copy"]);
    }
    args.extend(["-f", "framemd5", "-"]);
    kit.framemd5(&args, 2)
}

#[tokio::test]
async fn picture_only_segments_join_without_ffmpeg_as_ffmpeg_joins_them() {
    let kit = kit();
    let (speaker, listener, seconds) = cast(&kit).await;
    let encode = EncodeSettings::new(SIZE.0, SIZE.1, FPS);
    let lengths = [seconds, 1.3, 2.2, 0.7].map(|length| (Layout::SideBySide, length));
    let segments = kit.segments((&speaker, &listener), &lengths, &encode, false).await;
    let (audio, joined, joined_by) = kit.episode(&speaker, &lengths, &segments, &encode).await;
    assert_eq!(joined_by, JoinedBy::Samples);

    // What ffmpeg's concat demuxer makes of the same files, by hand.
    let list = kit.path("list.ffconcat");
    let lines: Vec<String> = segments.iter().map(|segment| format!("file '{}'", utf8(segment))).collect();
    std::fs::write(&list, format!("ffconcat version 1.0\n{}\n", lines.join("\n"))).unwrap();
    let reference = kit.path("reference.mp4");
    kit.ffmpeg_raw(&[
        "-f",
        "concat",
        "-safe",
        "0",
        "-i",
        utf8(&list),
        "-i",
        utf8(&audio),
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-c",
        "copy",
        "-movflags",
        "+faststart",
        utf8(&reference),
    ]);

    // Every packet is its segment's, byte for byte (the demuxer adds parameter sets in-band).
    let segment_packets: Vec<(u64, String)> =
        segments.iter().flat_map(|segment| kit.video_packets(segment)).collect();
    assert_eq!(kit.video_packets(&joined), segment_packets, "packets copied as they are");
    assert_ne!(
        kit.video_packets(&reference),
        segment_packets,
        "the demuxer's packets differ: this was not it"
    );
    // Decoded, the same frames at the same times, and the same sound at the same times.
    assert_eq!(timed_packets(&kit, &joined, "v", true), timed_packets(&kit, &reference, "v", true));
    assert_eq!(timed_packets(&kit, &joined, "a", false), timed_packets(&kit, &reference, "a", false));
    assert_eq!(kit.decoded_pcm(&joined), kit.decoded_pcm(&reference));
    let (info, expected) = (kit.probe(&joined), kit.probe(&reference));
    let stream_lengths =
        |info: &MediaInfo| (info.video().unwrap().duration.unwrap(), info.audio().unwrap().duration.unwrap());
    let ((video, sound), (video_then, sound_then)) = (stream_lengths(&info), stream_lengths(&expected));
    assert!(
        (video - video_then).abs() < 1e-4 && (sound - sound_then).abs() < 1e-6,
        "{video} {sound} vs {video_then} {sound_then}"
    );
    assert!((info.duration.unwrap() - expected.duration.unwrap()).abs() < 1e-3);
    // Its index first, so it plays while it downloads; read by the native reader and ffprobe alike.
    let bytes = std::fs::read(&joined).unwrap();
    let moov = bytes.windows(4).position(|window| window == b"moov").unwrap();
    let mdat = bytes.windows(4).position(|window| window == b"mdat").unwrap();
    assert!(moov < mdat, "moov at {moov}, mdat at {mdat}");
    let ffprobe = Probe::new(locate("ffprobe", None).unwrap()).ffprobe_only();
    assert_eq!(
        Probe::new(locate("ffprobe", None).unwrap()).probe(&joined).unwrap(),
        ffprobe.probe(&joined).unwrap()
    );
}

#[tokio::test]
async fn concat_refuses_segments_that_cannot_be_copied() {
    let kit = kit();
    let image = kit.png("broll.png", "blue", (64, 64));
    let odd = kit.path("odd.mp4");
    placeholder::image_clip(&kit.ffmpeg, &image, 1.0, (640, 360), FPS, true, &odd).await.unwrap();
    let encode = EncodeSettings::new(SIZE.0, SIZE.1, FPS);
    let out = kit.path("episode.mp4");
    let audio = kit.path("episode.m4a");
    let part = AudioPart { main: &odd, seconds: 1.0 };
    episode_audio(&kit.ffmpeg, &kit.probe, &[part], &encode, &audio).await.unwrap();
    let odd_one = std::slice::from_ref(&odd);
    let err = concat(&kit.ffmpeg, &kit.probe, odd_one, &audio, &encode, &out).await.unwrap_err();
    assert!(matches!(err, MediaError::Invalid { .. }), "{err}");
    assert!(err.to_string().contains("640x360"), "{err}");
    assert!(concat(&kit.ffmpeg, &kit.probe, &[], &audio, &encode, &out).await.is_err());
    // Audio made for other segments is refused rather than copied out of step.
    let segment = kit.path("segment.mov");
    let c = Composition {
        layout: Layout::Solo,
        canvas: SIZE,
        fps: FPS,
        seconds: 2.0,
        main: &odd,
        main_seat: Seat::First,
        listener: None,
        encode: &encode,
        sound: true,
    };
    compose(&kit.ffmpeg, &kit.probe, &c, &segment).await.unwrap();
    let segment_one = std::slice::from_ref(&segment);
    let err = concat(&kit.ffmpeg, &kit.probe, segment_one, &audio, &encode, &out).await.unwrap_err();
    assert!(err.to_string().contains("1.000 s of audio"), "{err}");
    assert!(!out.exists());
    // Re-encoding fits it to the canvas instead.
    reencode_concat(&kit.ffmpeg, &kit.probe, &[odd], &encode, &out).await.unwrap();
    assert_clip(&kit.probe(&out), 1.0, true);
}

#[tokio::test]
async fn thumbnails_and_a_contact_sheet() {
    let kit = kit();
    let image = kit.png("red.png", "red", (64, 64));
    let clip = kit.path("clip.mp4");
    placeholder::image_clip(&kit.ffmpeg, &image, 2.0, SIZE, FPS, false, &clip).await.unwrap();
    let mut thumbs = Vec::new();
    for index in 0..3 {
        let png = kit.path(&format!("thumb-{index}.png"));
        thumbnail(&kit.ffmpeg, &clip, 0.5 * f64::from(index), 160, &png).await.unwrap();
        assert_eq!(sniff_file(&png).unwrap(), FileKind::Png);
        let video = kit.probe(&png).video().cloned().unwrap();
        assert_eq!((video.width, video.height), (Some(160), Some(90)));
        thumbs.push(png);
    }
    let past_end = kit.path("late.png");
    let err = thumbnail(&kit.ffmpeg, &clip, 30.0, 160, &past_end).await.unwrap_err();
    assert!(err.to_string().contains("no frame at 30.000 s"), "{err}");
    assert!(!past_end.exists());

    let sheet = kit.path("sheet.png");
    contact_sheet(&kit.ffmpeg, &thumbs, 2, &sheet).await.unwrap();
    assert_eq!(sniff_file(&sheet).unwrap(), FileKind::Png);
    let video = kit.probe(&sheet).video().cloned().unwrap();
    let (width, height) = sheet_size(3, 2, (160, 90));
    assert_eq!((video.width, video.height), (Some(width), Some(height)));
    assert_eq!((width, height), (342, 202));
    let thumbs_names: Vec<String> = (0..3).map(|index| format!("thumb-{index}.png")).collect();
    let mut expected: Vec<&str> = vec!["red.png", "clip.mp4", "sheet.png"];
    expected.extend(thumbs_names.iter().map(String::as_str));
    assert_only(&kit, &expected);
}

#[tokio::test]
async fn failures_name_the_command_and_leave_no_partial_file() {
    let kit = kit();
    let not_an_image = kit.path("notes.png");
    std::fs::write(&not_an_image, "not a picture").unwrap();
    let out = kit.path("clip.mp4");
    let err =
        placeholder::image_clip(&kit.ffmpeg, &not_an_image, 1.0, SIZE, FPS, false, &out).await.unwrap_err();
    let MediaError::Failed { tool, detail, command } = &err else { panic!("{err:?}") };
    assert_eq!(*tool, "ffmpeg");
    assert!(!detail.contains("@ 0x") && !detail.is_empty(), "{detail}");
    assert!(command.starts_with("ffmpeg -hide_banner") && command.contains("notes.png"), "{command}");
    assert_only(&kit, &["notes.png"]);

    let err = placeholder::image_clip(&kit.ffmpeg, &not_an_image, 1.0, (321, 180), FPS, false, &out)
        .await
        .unwrap_err();
    assert!(matches!(err, MediaError::Invalid { .. }), "{err}");
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_cancelled_run_kills_ffmpeg() {
    let kit = kit();
    let out = kit.path("endless.mp4");
    let marker = out.to_string_lossy().into_owned();
    let line: Vec<OsString> = ["-re", "-f", "lavfi", "-i", "testsrc2=s=64x64:r=10", "-f", "mp4", &marker]
        .iter()
        .map(OsString::from)
        .collect();
    let running = |marker: &str| {
        std::fs::read_dir("/proc").unwrap().filter_map(Result::ok).any(|entry| {
            std::fs::read(entry.path().join("cmdline"))
                .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).contains(marker))
        })
    };
    let mut run = Box::pin(kit.ffmpeg.run(&line));
    tokio::select! {
        result = &mut run => panic!("the endless run ended: {result:?}"),
        () = tokio::time::sleep(Duration::from_millis(800)) => {}
    }
    assert!(running(&marker), "ffmpeg was started");
    drop(run);
    // The future is gone: ffmpeg must go away promptly.
    for _ in 0..50 {
        if !running(&marker) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("ffmpeg still runs after its future was dropped");
}

/// Without ffmpeg on PATH the tests fail (whether or not `CI` is set) and say how to install it.
#[test]
fn without_ffmpeg_the_tests_fail_saying_how_to_install_it() {
    let empty = tempfile::tempdir().expect("an empty folder");
    let output = Command::new(std::env::current_exe().expect("this test binary"))
        .args(["--exact", "avatar_without_audio_is_refused", "--nocapture", "--test-threads=1"])
        .env("PATH", empty.path())
        .env_remove("CI")
        .output()
        .expect("run this test binary");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "passed without ffmpeg:\n{stdout}{stderr}");
    assert!(stdout.contains("1 failed"), "{stdout}");
    assert!(stderr.contains("apt-get install ffmpeg") && stderr.contains(".ci/setup"), "{stderr}");
}

/// Lengths that are not whole frames at [`SYNC_FPS`]; main clips alternately longer and shorter than
/// their segment, so the audio is both cut and padded.
const SYNC_LENGTHS: [f64; 8] = [2.37, 1.91, 2.03, 1.47, 2.66, 1.18, 2.21, 1.74];

/// The sync test's rate: a frame is 33 ms, finer than the other tests' 100 ms.
const SYNC_FPS: u32 = 30;

/// Where each segment's sound starts against its first frame in an episode of `count` segments made
/// as a run makes them (compose, episode audio, concat), in seconds, boundary by boundary.
/// `sound`: segments with their own sound (QuickTime, joined by ffmpeg's concat demuxer) or
/// pictures only as the engine composes them (MP4, joined natively).
async fn sync_errors(kit: &Kit, count: usize, sound: bool) -> Vec<f64> {
    let encode = EncodeSettings::new(SIZE.0, SIZE.1, SYNC_FPS);
    let listener = kit.path("sync-listener.mp4");
    let grey = format!("color=c=0x404040:s=160x180:r={SYNC_FPS}:d=1");
    kit.ffmpeg_raw(&["-f", "lavfi", "-i", &grey, "-c:v", "libx264", "-pix_fmt", "yuv420p", utf8(&listener)]);
    let mut mains = Vec::new();
    let mut segments = Vec::new();
    for (index, seconds) in SYNC_LENGTHS[..count].iter().copied().enumerate() {
        // Black but for a white first frame; a 10 ms full-scale burst at the very start of the sound,
        // silence after; AAC at 44.1 kHz like fal's clips.
        let clip_seconds = if index % 2 == 0 { seconds } else { seconds + 0.3 };
        let main = kit.path(&format!("sync-{count}-main-{index}.mp4"));
        let video = format!(
            "color=c=black:s=160x180:r={SYNC_FPS}:d={clip_seconds},drawbox=c=white:t=fill:enable='eq(n,0)'"
        );
        let click =
            format!("aevalsrc=exprs='if(lt(t,0.01),0.9*cos(2*PI*1000*t),0)':s=44100:d={clip_seconds}");
        kit.ffmpeg_raw(&[
            "-f",
            "lavfi",
            "-i",
            &video,
            "-f",
            "lavfi",
            "-i",
            &click,
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-b:a",
            "128k",
            utf8(&main),
        ]);
        let segment = kit.path(&format!("sync-{count}-{sound}-segment-{index}.mov"));
        let c = Composition {
            layout: Layout::SideBySide,
            canvas: SIZE,
            fps: SYNC_FPS,
            seconds,
            main: &main,
            main_seat: Seat::First,
            listener: Some((&listener, Fill::Loop)),
            encode: &encode,
            sound,
        };
        compose(&kit.ffmpeg, &kit.probe, &c, &segment).await.expect("a segment");
        mains.push((main, seconds));
        segments.push(segment);
    }
    let parts: Vec<AudioPart> =
        mains.iter().map(|(main, seconds)| AudioPart { main, seconds: *seconds }).collect();
    let audio = kit.path(&format!("sync-{count}-{sound}.m4a"));
    episode_audio(&kit.ffmpeg, &kit.probe, &parts, &encode, &audio).await.expect("the episode's audio");
    let episode = kit.path(&format!("sync-{count}-{sound}.mp4"));
    let joined_by =
        concat(&kit.ffmpeg, &kit.probe, &segments, &audio, &encode, &episode).await.expect("the episode");
    assert_eq!(joined_by == JoinedBy::Samples, !sound, "{joined_by:?}");

    // As long as its segments, both streams, as the concat that encoded the audio itself made it.
    let frames: u64 = SYNC_LENGTHS[..count].iter().map(|seconds| encode.frames(*seconds)).sum();
    let length = frames as f64 / f64::from(SYNC_FPS);
    let info = kit.probe(&episode);
    let video = info.video().and_then(|video| video.duration).expect("a video length");
    let audio = info.audio().and_then(|audio| audio.duration).expect("an audio length");
    assert!(
        (video - length).abs() < 1e-3 && (audio - length).abs() < 1e-3,
        "{video} s, {audio} s, not {length} s"
    );
    assert!((info.duration.expect("a length") - length).abs() < 1e-3, "{:?} vs {length}", info.duration);

    // Each segment's first frame, by the white patch in the speaker's seat.
    let starts = |stream: &str| -> f64 {
        let text = String::from_utf8(
            Command::new(kit.probe.path())
                .args(["-v", "error", "-select_streams", stream, "-show_entries", "stream=start_time"])
                .args(["-of", "csv=p=0", utf8(&episode)])
                .output()
                .expect("ffprobe runs")
                .stdout,
        )
        .expect("ffprobe writes text");
        text.trim().parse().expect("a start time")
    };
    let times: Vec<f64> = String::from_utf8(
        Command::new(kit.probe.path())
            .args(["-v", "error", "-select_streams", "v:0", "-show_entries", "frame=pts_time"])
            .args(["-of", "csv=p=0", utf8(&episode)])
            .output()
            .expect("ffprobe runs")
            .stdout,
    )
    .expect("ffprobe writes text")
    .lines()
    // Side data (the first frame's) is printed as an empty section of its own.
    .map(|line| line.trim().trim_end_matches(','))
    .filter(|line| !line.is_empty())
    .map(|line| line.parse().expect("a frame time"))
    .collect();
    let lumas = kit.ffmpeg_raw(&[
        "-i",
        utf8(&episode),
        "-map",
        "0:v",
        "-fps_mode",
        "passthrough",
        "-vf",
        "crop=8:8:76:86,scale=1:1",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "gray",
        "-",
    ]);
    assert_eq!(lumas.len(), times.len(), "one luma per frame");
    assert_eq!(times.len() as u64, frames);
    let firsts: Vec<f64> = (0..lumas.len())
        .filter(|&at| lumas[at] > 128 && (at == 0 || lumas[at - 1] <= 128))
        .map(|at| times[at])
        .collect();
    assert_eq!(firsts.len(), count, "one white first frame per segment: {lumas:?}");

    // Each segment's click, by the first sample past half of full scale in the decoded sound.
    let pcm = kit.decoded_pcm(&episode);
    let left: Vec<i16> = pcm.chunks_exact(4).map(|frame| i16::from_le_bytes([frame[0], frame[1]])).collect();
    let audio_start = starts("a:0");
    let mut clicks = Vec::new();
    let mut at = 0;
    while at < left.len() {
        if left[at].unsigned_abs() > i16::MAX as u16 / 2 {
            clicks.push(audio_start + at as f64 / 48_000.0);
            at += 4_800; // past the 10 ms burst and its ringing: the next segment is over 1 s away
        } else {
            at += 1;
        }
    }
    assert_eq!(clicks.len(), count, "one click per segment: {clicks:?}");
    assert!(starts("v:0").abs() < 1e-6, "the video starts at 0");
    clicks.iter().zip(&firsts).map(|(click, frame)| click - frame).collect()
}

#[tokio::test]
async fn every_segment_starts_its_sound_with_its_first_frame() {
    let kit = kit();
    let mut worst = Vec::new();
    // Joined natively (as the engine's segments are), and by ffmpeg (segments with sound).
    for (count, sound) in [(3, false), (8, false), (3, true)] {
        let errors = sync_errors(&kit, count, sound).await;
        for (boundary, error) in errors.iter().enumerate() {
            assert!(
                error.abs() <= 0.001,
                "{count} segments: segment {boundary} is {error:+.6} s out: {errors:?}"
            );
        }
        worst.push(errors.iter().fold(0.0_f64, |worst, error| worst.max(error.abs())));
        // No drift: the last boundary is no further out than the first.
        let (first, last) = (errors[0], errors[errors.len() - 1]);
        assert!((last - first).abs() <= 0.000_25, "{count} segments: {first:+.6} s, then {last:+.6} s");
    }
    // Eight segments are no further out than three.
    assert!(worst[1] <= worst[0] + 0.000_25, "{worst:?}");
    assert!(worst[2] <= 0.001, "{worst:?}");
}
