//! Captions end to end: lines voiced on the studio, their words in the `.srt`/`.vtt` sidecars at
//! the alignment's times shifted by each segment's start, burned into the video where a page is
//! shown and nowhere else, and a caption-only edit that re-composes without voicing or rendering.

use crate::support::{BENCH_KEY, Bench, assert_ok, copy_tree, repo, tool};
use episodic_media::captions::SafeArea;
use episodic_studio::StudioConfig;
use std::path::{Path, PathBuf};
use std::process::Command;

const MANIFEST: &str = "pipelines/demo-lines/episode.yaml";
const FPS: f64 = 30.0;
const FRAME: f64 = 1.0 / FPS;

/// The demo's lines, shortened: a line, a b-roll of known length, a line with an audio tag.
fn manifest(captions: &str) -> String {
    format!(
        r#"episode: captions-test
title: "Captions"
aspect_ratio: "16:9"
quality: pro
captions: {captions}
defaults:
  model: kling-avatar-v2-pro
cast:
  ninja:
    image: ../../assets/characters/ninja.png
    preset: gaming-news
    voice: JBFqnCBsd6RMkjVDRZzb
  glitch:
    image: ../../assets/characters/glitch.png
    preset: reaction
    voice: {{ id: 21m00Tcm4TlvDq8ikWAM, model: eleven_v3, stability: 0.5 }}
segments:
  - id: opener
    speaker: ninja
    line: "Breaking news from the arena. The patch is live."
  - id: crowd
    broll:
      model: kling-o3-standard-t2v
      prompt: "A crowd of cheering gamers in a neon-lit arena."
      duration: 5
      generate_audio: false
  - id: reply
    speaker: glitch
    line: "[excited] Live? Right now? That is four jumps!"
"#
    )
}

struct Episode {
    bench: Bench,
}

impl Episode {
    fn new() -> Episode {
        let bench = Bench::new(StudioConfig::default());
        copy_tree(&repo().join("pipelines/demo-lines"), &bench.root().join("pipelines/demo-lines"));
        let _ = std::fs::remove_dir_all(bench.root().join("pipelines/demo-lines/out"));
        Episode { bench }
    }

    fn render(&self, captions: &str) {
        std::fs::write(self.bench.root().join(MANIFEST), manifest(captions)).expect("write manifest");
        let mut command = self.bench.context().command(["render", MANIFEST]);
        command
            .args(["--backend", "fal", "--scale", "8", "--state-dir", ".state"])
            .envs(self.bench.fal_env(BENCH_KEY))
            .envs(self.bench.elevenlabs_env());
        assert_ok(&command.output().expect("run episodic render"));
    }

    fn out(&self, extension: &str) -> PathBuf {
        self.bench.root().join(format!("pipelines/demo-lines/out/captions-test.{extension}"))
    }

    fn report(&self) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.out("report.json")).expect("report")).expect("report json")
    }

    fn node(&self, id: &str) -> serde_json::Value {
        let report = self.report();
        let nodes = report["nodes"].as_array().expect("nodes");
        nodes.iter().find(|node| node["id"] == id).cloned().unwrap_or_else(|| panic!("no node {id}"))
    }

    /// The words of a line's alignment, as the report names it: tags dropped, split on spaces.
    fn aligned_words(&self, line: &str) -> Vec<(String, f64, f64)> {
        let path =
            self.node(&format!("speech/{line}"))["alignment"].as_str().expect("alignment path").to_owned();
        let alignment: serde_json::Value =
            serde_json::from_slice(&std::fs::read(self.bench.root().join(path)).expect("alignment"))
                .expect("json");
        let floats = |name: &str| -> Vec<f64> {
            alignment[name]
                .as_array()
                .expect(name)
                .iter()
                .map(|value| value.as_f64().expect("time"))
                .collect()
        };
        let (starts, ends) = (floats("character_start_times_seconds"), floats("character_end_times_seconds"));
        let mut words: Vec<(String, f64, f64)> = Vec::new();
        let (mut in_tag, mut open) = (false, false);
        for (at, character) in alignment["characters"].as_array().expect("characters").iter().enumerate() {
            let character = character.as_str().expect("character");
            if character == "[" {
                in_tag = true;
            }
            if in_tag || character.trim().is_empty() {
                in_tag &= character != "]";
                open = false;
                continue;
            }
            match words.last_mut() {
                Some(word) if open => {
                    word.0.push_str(character);
                    word.2 = ends[at];
                }
                _ => words.push((character.to_owned(), starts[at], ends[at])),
            }
            open = true;
        }
        words
    }
}

/// `(start, end, text)` of every cue of an SRT or VTT file.
fn cues(text: &str) -> Vec<(f64, f64, String)> {
    let seconds = |stamp: &str| -> f64 {
        let stamp = stamp.trim().replace(',', ".");
        let parts: Vec<f64> = stamp.split(':').map(|part| part.parse().expect("timecode")).collect();
        parts[0] * 3600.0 + parts[1] * 60.0 + parts[2]
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut cues = Vec::new();
    for (at, line) in lines.iter().enumerate() {
        if let Some((start, end)) = line.split_once(" --> ") {
            cues.push((
                seconds(start),
                seconds(end),
                lines.get(at + 1).copied().unwrap_or_default().to_owned(),
            ));
        }
    }
    cues
}

/// The frame of `video` at `seconds`, as RGB bytes.
fn frame(video: &Path, seconds: f64) -> Vec<u8> {
    let output = Command::new(tool("ffmpeg").path)
        .args(["-v", "error", "-ss", &format!("{seconds:.3}"), "-i"])
        .arg(video)
        .args(["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .expect("run ffmpeg");
    assert!(
        output.status.success() && !output.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

fn canvas(video: &Path) -> (u32, u32) {
    let info = crate::support::probe().probe(video).expect("probe");
    let stream = info.streams.iter().find(|stream| stream.width.is_some()).expect("video stream");
    (stream.width.expect("width"), stream.height.expect("height"))
}

/// How many pixels of the rectangle differ (any channel by more than 48) between two frames.
fn differing(
    a: &[u8],
    b: &[u8],
    width: u32,
    rows: std::ops::Range<u32>,
    cols: std::ops::Range<u32>,
) -> usize {
    let mut count = 0;
    for y in rows {
        for x in cols.clone() {
            let at = ((y * width + x) * 3) as usize;
            if (0..3).any(|c| a[at + c].abs_diff(b[at + c]) > 48) {
                count += 1;
            }
        }
    }
    count
}

#[test]
fn lines_get_sidecars_at_their_aligned_times_and_captions_burned_only_where_a_page_is_shown() {
    let episode = Episode::new();
    episode.render("{ burn: true, style: karaoke, words_per_page: 1 }");
    let voiced = episode.bench.stats();

    // The sidecars: one cue per word (a page of one), no tag, at the alignment's times shifted
    // by where each segment starts.
    let (srt, vtt) = (
        std::fs::read_to_string(episode.out("srt")).expect("srt"),
        std::fs::read_to_string(episode.out("vtt")).expect("vtt"),
    );
    assert!(vtt.starts_with("WEBVTT"), "{vtt}");
    for text in [&srt, &vtt] {
        assert!(!text.contains('[') && !text.contains("excited"), "a tag reached the captions:\n{text}");
    }
    let (srt_cues, vtt_cues) = (cues(&srt), cues(&vtt));
    assert_eq!(srt_cues, vtt_cues, "the two sidecars say the same");
    let (opener, reply) = (episode.aligned_words("opener"), episode.aligned_words("reply"));
    assert_eq!(srt_cues.len(), opener.len() + reply.len(), "{srt}");
    let (opener_cues, reply_cues) = srt_cues.split_at(opener.len());
    for ((start, end, text), (word, word_start, word_end)) in opener_cues.iter().zip(&opener) {
        assert_eq!(text, word);
        assert!((start - word_start).abs() <= FRAME, "{word}: cue at {start}, said at {word_start}");
        assert!(*end >= word_end - FRAME, "{word}: cue ends at {end}, said until {word_end}");
    }
    // The reply starts after the opener (whole frames, about as long as its speech) and the
    // five-second b-roll.
    let offset = reply_cues[0].0 - reply[0].1;
    let opener_seconds = offset - 5.0;
    let opener_said = opener.last().expect("opener words").2;
    assert!(
        (opener_said - 0.1..=opener_said + 0.1 + FRAME).contains(&opener_seconds),
        "the reply starts {offset} s in: the opener would last {opener_seconds} s, its speech ends at {opener_said}"
    );
    assert!(((opener_seconds * FPS) - (opener_seconds * FPS).round()).abs() < 0.05, "{opener_seconds} s");
    for ((start, _, text), (word, word_start, _)) in reply_cues.iter().zip(&reply) {
        assert_eq!(text, word);
        assert!(
            (start - (word_start + offset)).abs() <= FRAME,
            "{word}: cue at {start}, said at {word_start}+{offset}"
        );
    }

    let video = episode.out("mp4");
    let burned = episode.bench.root().join("burned.mp4");
    std::fs::copy(&video, &burned).expect("keep the burned episode");
    let sidecars = (srt.clone(), vtt.clone());

    // A caption-only edit re-composes the lines: nothing voiced, nothing rendered.
    episode.render("{ burn: true, style: plain, words_per_page: 1 }");
    let restyled = episode.bench.stats();
    assert_eq!(restyled.tts.requests, voiced.tts.requests, "a style edit voiced a line");
    assert_eq!(restyled.submits.total, voiced.submits.total, "a style edit rendered a clip");
    for (id, recomposed) in [("compose/opener", true), ("compose/crowd", false), ("compose/reply", true)] {
        assert_eq!(episode.node(id)["cache_hit"], !recomposed, "{id}");
    }
    assert_eq!(
        std::fs::read_to_string(episode.out("srt")).expect("srt"),
        sidecars.0,
        "same words, same cues"
    );

    // Not burned: the same episode without the words in its pictures, sidecars still written.
    episode.render("{ burn: false, style: karaoke, words_per_page: 1 }");
    assert_eq!(episode.bench.stats().submits.total, voiced.submits.total);
    assert_eq!(std::fs::read_to_string(episode.out("vtt")).expect("vtt"), sidecars.1);
    let (width, height) = canvas(&video);
    let safe = SafeArea::of((width, height));
    let (word, start, end) = &opener[opener.len() / 2];
    let shown = (start + end) / 2.0;
    let (with, without) = (frame(&burned, shown), frame(&video, shown));
    let captions_rows = height / 2..height - safe.bottom;
    let inside = differing(&with, &without, width, captions_rows.clone(), safe.left..width - safe.right);
    assert!(inside > 40, "`{word}` at {shown} s: only {inside} pixels of the caption area differ");
    let (below, sides) = (
        differing(&with, &without, width, height - safe.bottom..height, 0..width),
        differing(&with, &without, width, captions_rows, 0..safe.left),
    );
    assert!(below + sides < 8, "captions drawn outside the safe area: {below} below it, {sides} beside it");
    // During the b-roll nothing is said: its frames are the same, burned or not.
    let broll = opener_seconds + 2.5;
    assert!(frame(&burned, broll) == frame(&video, broll), "the b-roll at {broll} s changed");
}

/// A recorded segment that says what it says (`text:`) and a line.
fn recorded_manifest(text: &str) -> String {
    format!(
        r#"episode: captions-test
title: "Captions"
aspect_ratio: "16:9"
quality: pro
captions: {{ burn: true, style: plain, words_per_page: 2 }}
defaults:
  model: kling-avatar-v2-pro
cast:
  ninja:
    image: ../../assets/characters/ninja.png
    preset: gaming-news
    voice: JBFqnCBsd6RMkjVDRZzb
segments:
  - id: recorded
    speaker: ninja
    audio: ../../assets/audio/headline.mp3
    text: "{text}"
  - id: voiced
    speaker: ninja
    line: "That is all the news for tonight, folks."
"#
    )
}

impl Episode {
    fn render_manifest(&self, manifest: &str) {
        std::fs::write(self.bench.root().join(MANIFEST), manifest).expect("write manifest");
        let mut command = self.bench.context().command(["render", MANIFEST]);
        command
            .args(["--backend", "fal", "--scale", "8", "--state-dir", ".state"])
            .envs(self.bench.fal_env(BENCH_KEY))
            .envs(self.bench.elevenlabs_env());
        assert_ok(&command.output().expect("run episodic render"));
    }
}

#[test]
fn a_recording_with_text_gets_captions_from_forced_alignment_once() {
    let episode = Episode::new();
    let text = "Ninjas can now [laughs] double jump. Twice.";
    std::fs::write(episode.bench.root().join(MANIFEST), recorded_manifest(text)).expect("write manifest");
    let plan = episode.bench.context().run(episode.bench.root(), &["plan", MANIFEST, "--json"], &[]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).expect("plan json");
    let kinds: Vec<&str> =
        plan["nodes"].as_array().expect("nodes").iter().filter_map(|n| n["kind"].as_str()).collect();
    assert_eq!(kinds.iter().filter(|kind| **kind == "align").count(), 1, "{kinds:?}");
    assert_eq!(plan["totals"]["alignments"], 1);
    let table = episode.bench.context().run(episode.bench.root(), &["plan", MANIFEST], &[]);
    assert!(table.stdout.contains("price unknown"), "{}", table.stdout);

    episode.render_manifest(&recorded_manifest(text));
    let first = episode.bench.stats();
    assert_eq!(first.tts.alignments, 1, "one recording aligned");
    assert_eq!(first.tts.requests, 1, "one line voiced");
    let recorded_seconds = crate::support::probe()
        .probe(&repo().join("assets/audio/headline.mp3"))
        .expect("probe")
        .duration
        .expect("duration");
    let cues = cues(&std::fs::read_to_string(episode.out("srt")).expect("srt"));
    let texts: Vec<&str> = cues.iter().map(|cue| cue.2.as_str()).collect();
    assert_eq!(
        texts,
        ["Ninjas can", "now double", "jump.", "Twice.", "That is", "all the", "news for", "tonight, folks."],
        "pages of two (a sentence ends a page), no tag"
    );
    let (recorded, voiced) = cues.split_at(4);
    for (start, end, text) in recorded {
        assert!(*start >= 0.0 && *end <= recorded_seconds + FRAME && start < end, "{text}: {start}..{end}");
    }
    assert!(voiced[0].0 >= recorded_seconds - FRAME, "the line starts after the recording: {voiced:?}");
    assert_eq!(episode.node("align/recorded")["cache_hit"], false);

    // A rerun aligns nothing again; an edited text aligns (and re-composes) only that segment.
    episode.render_manifest(&recorded_manifest(text));
    assert_eq!(episode.bench.stats().tts.alignments, 1, "a rerun aligned again");
    assert_eq!(episode.node("align/recorded")["cache_hit"], true);
    episode.render_manifest(&recorded_manifest("Ninjas can now double jump, twice."));
    let edited = episode.bench.stats();
    assert_eq!(edited.tts.alignments, 2);
    assert_eq!((edited.tts.requests, edited.submits.total), (first.tts.requests, first.submits.total));
    assert_eq!(episode.node("compose/voiced")["cache_hit"], true);
    assert_eq!(episode.node("compose/recorded")["cache_hit"], false);
    assert!(std::fs::read_to_string(episode.out("vtt")).expect("vtt").contains("jump, twice."));
}
