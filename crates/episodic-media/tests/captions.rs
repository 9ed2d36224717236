//! Burned-in captions, composed for real with ffmpeg and libass at reduced sizes and checked by
//! their pixels: drawn when a page is shown and nowhere else, inside the safe area, never at the
//! frame's edge, with the karaoke highlight moving from word to word.

use episodic_media::captions::{Alignment, CaptionFont, CaptionStyle, Track, Words, WordsPerPage};
use episodic_media::{
    BurnIn, ComposeExtras, Composition, EncodeSettings, Ffmpeg, Fill, Layout, MediaError, Probe, Seat,
    compose_with, locate, placeholder,
};
use std::path::{Path, PathBuf};
use std::process::Command;

const FPS: u32 = 10;
/// How long every test segment lasts, in seconds.
const SECONDS: f64 = 3.0;

/// What to tell someone whose machine lacks ffmpeg or the caption font.
const INSTALL: &str = "these tests run ffmpeg with libass and draw DejaVu Sans: install them \
    (`apt-get install ffmpeg fonts-dejavu-core`, or `bash .ci/setup` from the repository root) and \
    run the tests again";

struct Kit {
    ffmpeg: Ffmpeg,
    probe: Probe,
    font: CaptionFont,
    dir: tempfile::TempDir,
}

fn kit() -> Kit {
    let tool = |name| locate(name, None).unwrap_or_else(|err| panic!("{err}: {INSTALL}"));
    Kit {
        ffmpeg: Ffmpeg::new(tool("ffmpeg")),
        probe: Probe::new(tool("ffprobe")),
        font: CaptionFont::find().unwrap_or_else(|err| panic!("{err}: {INSTALL}")),
        dir: tempfile::tempdir().expect("a scratch directory"),
    }
}

/// One decoded frame, as RGB.
struct Frame {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
}

impl Frame {
    fn at(&self, x: usize, y: usize) -> [u8; 3] {
        let at = (y * self.width + x) * 3;
        [self.rgb[at], self.rgb[at + 1], self.rgb[at + 2]]
    }

    /// The bounding box (x0, y0, x1, y1, inclusive) of the pixels where `keep` holds.
    fn bounds(&self, keep: impl Fn(usize, usize) -> bool) -> Option<(usize, usize, usize, usize)> {
        let mut found: Option<(usize, usize, usize, usize)> = None;
        for y in 0..self.height {
            for x in 0..self.width {
                if keep(x, y) {
                    found = Some(match found {
                        None => (x, y, x, y),
                        Some((x0, y0, x1, y1)) => (x0.min(x), y0.min(y), x1.max(x), y1.max(y)),
                    });
                }
            }
        }
        found
    }
}

impl Kit {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn ffmpeg_raw(&self, args: &[&str]) -> Vec<u8> {
        let output = Command::new(self.ffmpeg.path())
            .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
            .args(args)
            .output()
            .expect("ffmpeg runs");
        assert!(output.status.success(), "ffmpeg {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        output.stdout
    }

    /// A speaker clip of `SECONDS` on `canvas`: a plain mid-grey picture (no white, no gold, so
    /// anything bright is a caption) with a tone.
    async fn speaker(&self, canvas: (u32, u32)) -> PathBuf {
        let image = self.path("grey.png");
        if !image.exists() {
            self.ffmpeg_raw(&[
                "-f",
                "lavfi",
                "-i",
                "color=c=0x505860:s=400x400",
                "-frames:v",
                "1",
                utf8(&image),
            ]);
        }
        let speech = self.path("speech.wav");
        if !speech.exists() {
            let tone = format!("sine=f=300:r=48000:d={SECONDS}");
            self.ffmpeg_raw(&["-f", "lavfi", "-i", &tone, utf8(&speech)]);
        }
        let clip = self.path(&format!("speaker-{}x{}.mp4", canvas.0, canvas.1));
        placeholder::avatar(&self.ffmpeg, &self.probe, &image, &speech, canvas, FPS, &clip)
            .await
            .expect("the speaker renders");
        clip
    }

    /// The speaker composed alone on `canvas`, with `captions` burned in when given.
    async fn compose(
        &self,
        speaker: &Path,
        canvas: (u32, u32),
        captions: Option<&str>,
        name: &str,
    ) -> PathBuf {
        let encode = EncodeSettings::new(canvas.0, canvas.1, FPS);
        let c = composition(speaker, canvas, &encode);
        let out = self.path(name);
        let extras = ComposeExtras {
            thumbnail: None,
            captions: captions.map(|script| BurnIn { script, font: &self.font }),
        };
        compose_with(&self.ffmpeg, &self.probe, &c, &out, extras).await.expect("the segment composes");
        out
    }

    fn frame(&self, video: &Path, seconds: f64) -> Frame {
        let info = self.probe.probe(video).expect("ffprobe reads the segment");
        let stream = info.video().expect("a video stream");
        let (width, height) =
            (stream.width.expect("a width") as usize, stream.height.expect("a height") as usize);
        let rgb = self.ffmpeg_raw(&[
            "-ss",
            &seconds.to_string(),
            "-i",
            utf8(video),
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ]);
        assert_eq!(rgb.len(), width * height * 3);
        Frame { width, height, rgb }
    }
}

fn composition<'a>(speaker: &'a Path, canvas: (u32, u32), encode: &'a EncodeSettings) -> Composition<'a> {
    Composition {
        layout: Layout::Solo,
        canvas,
        fps: FPS,
        seconds: SECONDS,
        main: speaker,
        main_seat: Seat::First,
        listener: None::<(&Path, Fill)>,
        encode,
        sound: true,
    }
}

fn utf8(path: &Path) -> &str {
    path.to_str().expect("scratch paths are UTF-8")
}

/// A character alignment in which each `(word, start, end)` spreads its characters evenly over
/// its time, with an audio tag before the first word taking the time before it: the shape of an
/// ElevenLabs answer.
fn alignment(words: &[(&str, f64, f64)]) -> Alignment {
    let mut alignment = Alignment::default();
    let mut push = |text: &str, start: f64, end: f64| {
        let count = text.chars().count() as f64;
        for (at, c) in text.chars().enumerate() {
            alignment.characters.push(c.to_string());
            alignment.character_start_times_seconds.push(start + (end - start) * at as f64 / count);
            alignment.character_end_times_seconds.push(start + (end - start) * (at as f64 + 1.0) / count);
        }
    };
    push("[laughs] ", 0.0, words[0].1);
    for (at, (word, start, end)) in words.iter().enumerate() {
        push(word, *start, *end);
        if let Some(next) = words.get(at + 1) {
            push(" ", *end, next.1);
        }
    }
    alignment
}

fn luma([r, g, b]: [u8; 3]) -> f64 {
    0.2126 * f64::from(r) + 0.7152 * f64::from(g) + 0.0722 * f64::from(b)
}

fn is_gold([r, g, b]: [u8; 3]) -> bool {
    r > 190 && g > 150 && b < 110 && r.saturating_sub(b) > 110
}

fn is_white([r, g, b]: [u8; 3]) -> bool {
    r > 200 && g > 200 && b > 200
}

/// How many pixels differ by more than a compression artefact would make them.
fn changed(a: &Frame, b: &Frame, x: usize, y: usize) -> bool {
    (luma(a.at(x, y)) - luma(b.at(x, y))).abs() > 40.0
}

/// Composes `words` on `canvas` with and without captions and checks where they are drawn.
/// `safe` is (left, top, right, bottom) as fractions of the canvas the captions must stay inside.
async fn burn_in_lands_in_the_safe_area(canvas: (u32, u32), safe: (f64, f64, f64, f64)) {
    let kit = kit();
    let speaker = kit.speaker(canvas).await;
    // Page 1 (long, wide letters, so it must shrink or wrap to fit) from 0.5 to 1.5 s, shown until
    // 1.9 s; nothing until page 2 at 2.3 s.
    let words = Words::from_alignment(&alignment(&[
        ("WWWWWWW", 0.5, 0.65),
        ("MMMMMMM,", 0.65, 0.8),
        ("Wonderful", 0.8, 1.0),
        ("WWWWWWW", 1.0, 1.2),
        ("MMMMMMM", 1.2, 1.35),
        ("world.", 1.35, 1.5),
        ("Again.", 2.3, 2.6),
    ]))
    .expect("a well-formed alignment");
    let six = WordsPerPage::new(6).expect("six words a page are allowed");
    let track = Track::segment(&words, SECONDS, six);
    assert_eq!(track.pages().len(), 2, "{:?}", track.pages());
    let script = track.ass(canvas, CaptionStyle::Plain);
    let plain = kit.compose(&speaker, canvas, None, "plain.mov").await;
    let captioned = kit.compose(&speaker, canvas, Some(&script), "captioned.mov").await;

    let (width, height) = (f64::from(canvas.0), f64::from(canvas.1));
    let shown = (kit.frame(&plain, 1.2), kit.frame(&captioned, 1.2));
    let drawn = shown.1.bounds(|x, y| changed(&shown.0, &shown.1, x, y)).expect("the page is drawn");
    let bright = shown.1.bounds(|x, y| is_white(shown.1.at(x, y))).expect("white letters");
    let (x0, y0, x1, y1) = drawn;
    // Nothing touches the frame's edge, outline included...
    assert!(x0 > 0 && y0 > 0 && x1 + 1 < shown.1.width && y1 + 1 < shown.1.height, "drawn {drawn:?}");
    // ...and the letters stay inside the safe area.
    let (left, top, right, bottom) = safe;
    for (bx0, by0, bx1, by1) in [bright, drawn] {
        assert!(bx0 as f64 >= left * width && bx1 as f64 <= (1.0 - right) * width, "{bx0}..{bx1} of {width}");
        assert!(
            by0 as f64 >= top * height && by1 as f64 <= (1.0 - bottom) * height,
            "{by0}..{by1} of {height}"
        );
    }
    // The long page needed its room: it spans most of the safe width.
    assert!((x1 - x0) as f64 > 0.5 * width, "drawn {drawn:?}");

    // Where no page is shown, the captioned segment is the plain one (to compression noise).
    for seconds in [0.2, 2.05] {
        let (a, b) = (kit.frame(&plain, seconds), kit.frame(&captioned, seconds));
        assert_eq!(b.bounds(|x, y| changed(&a, &b, x, y)), None, "something drawn at {seconds} s");
        assert_eq!(b.bounds(|x, y| is_white(b.at(x, y))), None, "white pixels at {seconds} s");
    }
    // Page 2 is drawn in its own time.
    let (a, b) = (kit.frame(&plain, 2.5), kit.frame(&captioned, 2.5));
    assert!(b.bounds(|x, y| changed(&a, &b, x, y)).is_some(), "page 2 is missing");
}

#[tokio::test]
async fn portrait_captions_are_drawn_clear_of_the_overlays() {
    // 9:16: clear of the top 6 % and the bottom 16 %, and of the sides.
    burn_in_lands_in_the_safe_area((360, 640), (0.05, 0.06, 0.05, 0.16)).await;
}

#[tokio::test]
async fn landscape_captions_are_drawn_inside_title_safe() {
    // 16:9: inside the 5 % title-safe border.
    burn_in_lands_in_the_safe_area((640, 360), (0.05, 0.05, 0.05, 0.05)).await;
}

#[tokio::test]
async fn the_karaoke_highlight_moves_from_word_to_word() {
    let kit = kit();
    let canvas = (360, 640);
    let speaker = kit.speaker(canvas).await;
    let words = Words::from_alignment(&alignment(&[("HELLO", 0.5, 1.2), ("THERE", 1.2, 2.0)])).unwrap();
    let script = Track::segment(&words, SECONDS, WordsPerPage::default()).ass(canvas, CaptionStyle::Karaoke);
    let captioned = kit.compose(&speaker, canvas, Some(&script), "karaoke.mov").await;

    // Gold and white pixels left and right of the page's middle, at a time.
    let count = |seconds: f64| {
        let frame = kit.frame(&captioned, seconds);
        let (x0, _, x1, _) = frame
            .bounds(|x, y| is_white(frame.at(x, y)) || is_gold(frame.at(x, y)))
            .expect("the page is drawn");
        let middle = (x0 + x1) / 2;
        let mut counts = [[0_usize; 2]; 2];
        for y in 0..frame.height {
            for x in 0..frame.width {
                let side = usize::from(x > middle);
                let pixel = frame.at(x, y);
                if is_gold(pixel) {
                    counts[side][0] += 1;
                } else if is_white(pixel) {
                    counts[side][1] += 1;
                }
            }
        }
        counts
    };
    // While HELLO is said: HELLO gold, THERE still white.
    let [left, right] = count(0.85);
    assert!(left[0] > 20 && left[0] > 5 * left[1], "HELLO: {left:?}");
    assert!(right[1] > 20 && right[0] * 5 < right[1], "THERE: {right:?}");
    // While THERE is said: THERE gold too.
    let [left, right] = count(1.65);
    assert!(left[0] > 20 && right[0] > 20 && right[0] > 5 * right[1], "HELLO {left:?}, THERE {right:?}");
}

#[tokio::test]
async fn a_font_gone_missing_is_named() {
    let kit = kit();
    let stand_in = kit.path("DejaVuSans-Bold.ttf");
    std::fs::copy(kit.font.file(), &stand_in).unwrap();
    let font = CaptionFont::at(&stand_in).unwrap();
    std::fs::remove_file(&stand_in).unwrap();
    let canvas = (320, 180);
    let speaker = kit.speaker(canvas).await;
    let encode = EncodeSettings::new(canvas.0, canvas.1, FPS);
    let c = composition(&speaker, canvas, &encode);
    let script = Track::default().ass(canvas, CaptionStyle::Plain);
    let out = kit.path("no-font.mov");
    let extras = ComposeExtras { thumbnail: None, captions: Some(BurnIn { script: &script, font: &font }) };
    let err = compose_with(&kit.ffmpeg, &kit.probe, &c, &out, extras).await.unwrap_err();
    assert!(matches!(err, MediaError::FontMissing { .. }), "{err}");
    assert!(err.help().unwrap_or_default().contains("fonts-dejavu-core"));
    assert!(!out.exists());
}
