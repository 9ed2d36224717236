//! Lines voiced end to end: the real binary with the fal backend and ElevenLabs both pointed at
//! the studio (which voices with espeak-ng), counted by the studio's `tts.*` stats: a line is
//! voiced once, an edited line alone again; ElevenLabs' refusals (401 quota, 429, 404 voice) as
//! users read them; a lost answer and a crash between claim and answer settled from the history.

use crate::support::{Bench, DEMO_LINES, assert_ok, wait_for_event};
use episodic_studio::{FaultConfig, StudioConfig};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

const AVATAR: &str = "fal-ai/kling-video/ai-avatar/v2/pro";

/// A short solo show (written by [`write_talk`]) of three lines, each 38 characters long, so
/// that a quota fitting one line fits whichever is voiced first.
const TALK: &str = "pipelines/demo-lines/talk.yaml";
const TALK_LINES: [&str; 3] = [
    "Breaking news from the arena, tonight.",
    "[excited] The patch is live right now!",
    "Ninjas can now double jump, two times.",
];

fn write_talk(root: &Path, glitch_voice: &str, lines: &[&str]) {
    let mut yaml = format!(
        "episode: talk\naspect_ratio: \"16:9\"\nlayout: solo\ncast:\n  \
         ninja: {{ image: ../../assets/characters/ninja.png, voice: JBFqnCBsd6RMkjVDRZzb }}\n  \
         glitch: {{ image: ../../assets/characters/glitch.png, voice: {glitch_voice} }}\nsegments:\n"
    );
    for (i, line) in lines.iter().enumerate() {
        let speaker = if i % 2 == 0 { "ninja" } else { "glitch" };
        yaml.push_str(&format!("  - {{ id: line-{}, speaker: {speaker}, line: \"{line}\" }}\n", i + 1));
    }
    std::fs::write(root.join(TALK), yaml).expect("write the manifest");
}

fn render(bench: &Bench, manifest: &str, extra: &[&str]) -> std::process::Output {
    bench.speech_command(manifest, extra).output().expect("run episodic render")
}

/// What a user reads in `stderr` about what went wrong (insta filters times, paths, ids).
fn problems(stderr: &str) -> String {
    stderr
        .lines()
        .filter(|line| {
            // The failures and the summary; progress lines (in whatever order lines finish, with
            // history ids) are left out.
            !line.starts_with('[') || line.contains("FAILED") || line.contains("(not voiced")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn lines_are_voiced_once_a_rerun_voices_nothing_and_an_edited_line_revoices_only_its_segment() {
    let bench = Bench::new(StudioConfig::default());
    let started = std::time::Instant::now();
    let first = render(&bench, DEMO_LINES, &[]);
    assert_ok(&first);
    let wall = started.elapsed();
    let voiced = bench.stats();
    assert_eq!(voiced.tts.requests, 4, "one request a line: {voiced:?}");
    let characters: u64 = [
        "Breaking news from the arena. The patch is live.",
        "[excited] Live? Right now? I have to tell everyone!",
        "Ninjas can now double jump. Twice.",
        "[whispers] Double jump twice. That is four jumps.",
    ]
    .iter()
    .map(|line| line.chars().count() as u64)
    .sum();
    assert_eq!(voiced.tts.characters, characters, "billed by character, tags included");
    assert_eq!(voiced.submits.total, 8);
    let episode = bench.root().join("pipelines/demo-lines/out/ninja-news-lines.mp4");
    assert!(episode.exists());
    eprintln!("demo-lines at scale 8: {wall:?}, {} tts requests", voiced.tts.requests);

    let rerun = render(&bench, DEMO_LINES, &[]);
    assert_ok(&rerun);
    let after = bench.stats();
    assert_eq!(after.tts.requests, voiced.tts.requests, "a rerun voices nothing");
    assert_eq!(after.submits.total, voiced.submits.total, "and renders nothing");

    // One line edited (still under 5 s, so its listener clip keeps its length and key).
    let manifest = bench.root().join(DEMO_LINES);
    let yaml = std::fs::read_to_string(&manifest).expect("manifest");
    let edited = yaml.replace("Ninjas can now double jump. Twice.", "Ninjas can now triple jump. Once.");
    assert_ne!(yaml, edited);
    std::fs::write(&manifest, edited).expect("edit");
    let third = render(&bench, DEMO_LINES, &["--json"]);
    assert_ok(&third);
    let edit = bench.stats();
    assert_eq!(edit.tts.requests, after.tts.requests + 1, "only the edited line is voiced");
    assert_eq!(edit.submits.total, after.submits.total + 1, "and only its speaker rendered");
    assert_eq!(
        edit.submits.by_endpoint.get(AVATAR).copied(),
        after.submits.by_endpoint.get(AVATAR).map(|n| n + 1),
        "{edit:?}"
    );
    let events = String::from_utf8_lossy(&third.stdout);
    let ran: Vec<String> = events
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|event| event["event"] == "node_finished" && event["cache_hit"] == false)
        .filter_map(|event| event["node"].as_str().map(str::to_owned))
        .filter(|node| node.starts_with("speech/") || node.starts_with("render/"))
        .collect();
    assert_eq!(ran, ["speech/headline", "render/headline/speaker"], "{events}");
}

#[test]
fn a_spent_quota_stops_new_speech_keeps_what_was_voiced_and_a_rerun_voices_the_rest() {
    // Room for one line, whichever is voiced first (the order lines start in is not fixed).
    let line = TALK_LINES[0].chars().count() as u64;
    assert!(TALK_LINES.iter().all(|text| text.chars().count() as u64 == line));
    let mut bench = Bench::new(StudioConfig { tts_quota_chars: Some(line + 5), ..StudioConfig::default() });
    write_talk(bench.root(), "21m00Tcm4TlvDq8ikWAM", &TALK_LINES);
    let output = render(&bench, TALK, &["--speech-jobs", "1"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let stats = bench.stats();
    assert_eq!(stats.tts.requests, 1, "one line fits the quota: {stats:?}");
    assert_eq!(stats.tts.quota_exceeded, 1, "refused once, then nothing more is sent: {stats:?}");
    assert_eq!(stats.submits.total, 1, "what was voiced is rendered anyway: {stats:?}");
    let mut settings = bench.context().insta_settings();
    // Which line is voiced first varies, and with it the length of the one clip rendered (so
    // what was billed); the estimate and the quota's figures do not.
    settings.add_filter(r"line-\d", "line-[N]");
    settings.add_filter(r"(failed\s+\d+\s+\d+\s+|billed in this run: )\$\d+\.\d+", "$1[BILLED]");
    settings.bind(|| insta::assert_snapshot!("speech_quota", problems(&stderr)));

    // Credits added (a studio with no quota): only the lines never voiced are voiced.
    bench.switch_studio(StudioConfig::default());
    let resumed = render(&bench, TALK, &["--speech-jobs", "1"]);
    assert_ok(&resumed);
    let stats = bench.stats();
    assert_eq!(stats.tts.requests, 2, "{stats:?}");
    assert_eq!(stats.submits.total, 2, "{stats:?}");
    assert!(bench.root().join("pipelines/demo-lines/out/talk.mp4").exists());
}

#[test]
fn too_many_concurrent_requests_are_retried_until_every_line_is_voiced() {
    let bench = Bench::new(StudioConfig { tts_concurrency: Some(1), ..StudioConfig::default() });
    write_talk(bench.root(), "21m00Tcm4TlvDq8ikWAM", &TALK_LINES);
    let output = render(&bench, TALK, &["--speech-jobs", "3"]);
    assert_ok(&output);
    let stats = bench.stats();
    assert!(stats.tts.concurrency_limited >= 1, "three lines at once met the limit of one: {stats:?}");
    assert_eq!(stats.tts.requests, 3, "each line voiced once, the 429s unbilled: {stats:?}");
    let billed: u64 = TALK_LINES.iter().map(|line| line.chars().count() as u64).sum();
    assert_eq!(stats.tts.characters, billed);
}

#[test]
fn an_unknown_voice_fails_its_line_naming_the_voice_and_the_others_are_voiced() {
    let bench = Bench::new(StudioConfig::default());
    write_talk(bench.root(), "NoSuchVoiceAtAll0000", &TALK_LINES);
    let output = render(&bench, TALK, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("NoSuchVoiceAtAll0000"), "the voice is named: {stderr}");
    assert!(stderr.contains("line-2"), "the line is named: {stderr}");
    let stats = bench.stats();
    assert_eq!(stats.tts.requests, 2, "ninja's lines are voiced: {stats:?}");
    assert_eq!(stats.submits.total, 2, "and rendered: {stats:?}");
    bench
        .context()
        .insta_settings()
        .bind(|| insta::assert_snapshot!("speech_unknown_voice", problems(&stderr)));

    // Refused by ElevenLabs, the line is not sent again by a plain rerun.
    let again = render(&bench, TALK, &[]);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(bench.stats().tts.requests, 2, "a refused request is not sent blindly again");
}

#[test]
fn a_crash_between_claim_and_answer_is_settled_from_the_history_not_voiced_again() {
    // Every speech answer is lost after the studio voiced (and billed) it, and the history lists
    // a line only 3 s after it was voiced: the killed run cannot have settled it before the kill.
    let studio = StudioConfig {
        history_lag: Duration::from_secs(3),
        faults: FaultConfig {
            seed: 5,
            drop_rate: 1.0,
            drop_after_share: 1.0,
            only_paths_containing: Some("with-timestamps".into()),
            ..FaultConfig::default()
        },
        ..StudioConfig::default()
    };
    let bench = Bench::new(studio);
    write_talk(bench.root(), "21m00Tcm4TlvDq8ikWAM", &TALK_LINES[..1]);

    // Killed while its line's answer is unknown: claimed, voiced by the studio, never journaled.
    let mut child = bench
        .speech_command(TALK, &["--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    wait_for_event(&mut child, |event| event["event"] == "awaiting_history");
    child.kill().expect("kill -9");
    child.wait().expect("reaped");
    let voiced = bench.stats();
    assert_eq!(voiced.tts.requests, 1, "{voiced:?}");
    assert_eq!(voiced.faults.answers_lost, 1, "{voiced:?}");

    // The rerun finds the dead run's line in the history and takes its audio from there.
    let rerun = render(&bench, TALK, &[]);
    let stderr = String::from_utf8_lossy(&rerun.stderr);
    assert_ok(&rerun);
    assert!(stderr.contains("found in ElevenLabs' history"), "{stderr}");
    let after = bench.stats();
    assert_eq!(after.tts.requests, voiced.tts.requests, "not voiced again: {after:?}");
    assert_eq!(after.tts.characters, voiced.tts.characters, "not billed again: {after:?}");
    assert_eq!(after.submits.total, 1, "{after:?}");
    // The history keeps audio, not timings: the line is timed again, so its captions are there.
    let captions = || std::fs::read_to_string(bench.root().join("pipelines/demo-lines/out/talk.srt"));
    let srt = captions().expect("the captions of a line taken from the history");
    assert!(srt.contains("Breaking news"), "{srt}");
    assert_eq!(after.tts.alignments, 1, "{after:?}");

    // Within one run too: a new line's lost answer is settled from the history.
    write_talk(bench.root(), "21m00Tcm4TlvDq8ikWAM", &TALK_LINES[..2]);
    let second = render(&bench, TALK, &[]);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_ok(&second);
    let end = bench.stats();
    assert_eq!(end.tts.requests, after.tts.requests + 1, "the new line voiced once: {end:?}");
    assert_eq!(end.faults.answers_lost, 2, "{end:?}");
    assert!(stderr.contains("found in ElevenLabs' history"), "{stderr}");
    let srt = captions().expect("the captions");
    assert!(srt.contains("Breaking news") && srt.contains("The patch is"), "{srt}\n{stderr}");
}

#[test]
fn without_an_elevenlabs_key_a_plan_with_lines_stops_before_anything_starts_naming_the_key() {
    let bench = Bench::new(StudioConfig::default());
    // The fal backend, and neither ELEVENLABS_API_KEY nor EPISODIC_ELEVENLABS_URL.
    let output = bench
        .context()
        .command(["render", DEMO_LINES, "--backend", "fal", "--scale", "8", "--state-dir", ".state"])
        .envs(bench.fal_env(crate::support::BENCH_KEY))
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let stats = bench.stats();
    assert_eq!((stats.uploads.count, stats.submits.total, stats.tts.requests), (0, 0, 0), "{stats:?}");
    bench.context().insta_settings().bind(|| insta::assert_snapshot!("speech_without_key", stderr));
}

#[test]
fn a_wrong_elevenlabs_key_is_refused_by_name_and_never_shown() {
    const SECRET: &str = "sk_SECRET-5d2a-do-not-leak";
    let bench =
        Bench::new(StudioConfig { elevenlabs_key: Some("the-right-key".into()), ..StudioConfig::default() });
    write_talk(bench.root(), "21m00Tcm4TlvDq8ikWAM", &TALK_LINES[..1]);
    let output =
        bench.speech_command(TALK, &["--json"]).env("ELEVENLABS_API_KEY", SECRET).output().expect("run");
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("ElevenLabs refused the API key"), "{stderr}");
    assert!(!stderr.contains(SECRET) && !stdout.contains(SECRET), "the key leaked");
    let mut leaked = Vec::new();
    for dir in [bench.root().join(".state"), bench.root().join("pipelines/demo-lines/out")] {
        for entry in walk(&dir) {
            if std::fs::read(&entry)
                .is_ok_and(|bytes| bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()))
            {
                leaked.push(entry);
            }
        }
    }
    assert!(leaked.is_empty(), "the key was stored: {leaked:?}");
    assert_eq!(bench.stats().tts.requests, 0);
    bench.context().insta_settings().bind(|| insta::assert_snapshot!("speech_wrong_key", problems(&stderr)));
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files = Vec::new();
    for path in entries.filter_map(Result::ok).map(|entry| entry.path()) {
        if path.is_dir() { files.extend(walk(&path)) } else { files.push(path) }
    }
    files
}
