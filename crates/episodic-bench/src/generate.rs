//! The manifests the benchmarks render and plan, generated into a scratch folder.
//!
//! Every segment gets its own prompt and listener prompt, so no two renders share a key: a
//! benchmark of 40 renders must submit 40, not fewer that the planner deduplicated.

use std::fmt::Write;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The speech clips shipped in `assets/audio`, each at least 4.7 s long.
pub const SHIPPED_AUDIO: [&str; 7] = [
    "cold-open.mp3",
    "deep-dive.mp3",
    "glitch-reaction.mp3",
    "glitch-reply.mp3",
    "headline.mp3",
    "short-hook.mp3",
    "sign-off.mp3",
];

/// Copies the two characters and the shipped speech into `dir/characters` and `dir/audio`.
pub fn copy_assets(assets: &Path, dir: &Path) -> io::Result<()> {
    for (folder, names) in [("characters", &["ninja.png", "glitch.png"][..]), ("audio", &SHIPPED_AUDIO[..])] {
        std::fs::create_dir_all(dir.join(folder))?;
        for name in names {
            std::fs::copy(assets.join(folder).join(name), dir.join(folder).join(name))?;
        }
    }
    Ok(())
}

/// Cuts `count` distinct speech clips from the shipped ones into `dir/audio/line-NNN.mp3`, each a
/// tenth of a second longer than the one before (from 2.5 s), so every avatar render has its own
/// key and a length of its own. Stream copy: cutting MP3 frames needs no encoder.
pub fn cut_lines(ffmpeg: &Path, dir: &Path, count: usize) -> io::Result<Vec<String>> {
    let mut names = Vec::with_capacity(count);
    for index in 0..count {
        let source = dir.join("audio").join(SHIPPED_AUDIO[index % SHIPPED_AUDIO.len()]);
        let name = format!("line-{index:03}.mp3");
        // 2.5 s to 4.4 s over 20 lines, then around again: within every shipped clip's length.
        let seconds = 2.5 + 0.1 * (index % 20) as f64;
        let status = Command::new(ffmpeg)
            .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i"])
            .arg(&source)
            .args(["-t", &format!("{seconds:.2}"), "-map", "0:a", "-c:a", "copy"])
            .arg(dir.join("audio").join(&name))
            .status()?;
        if !status.success() {
            return Err(io::Error::other(format!("ffmpeg could not cut {}", source.display())));
        }
        names.push(format!("audio/{name}"));
    }
    Ok(names)
}

/// The sample rate of the clips [`click_lines`] writes.
pub const CLICK_RATE: u32 = 44_100;

/// As [`cut_lines`] (same lengths, `dir/audio/click-NNN.mp3`), but each clip starts with a click: 5 ms
/// of a full-scale 2 kHz tone at t = 0, over the speech turned down to a quarter (its peaks stay
/// under 0.25 of full scale), so the click is the only thing in the clip above half of full scale
/// and marks where the segment's audio starts wherever the clip ends up. Re-encoded to mono MP3
/// at 44.1 kHz (ffmpeg reads the encoder's delay from the LAME header, so the click decodes at 0).
pub fn click_lines(ffmpeg: &Path, dir: &Path, count: usize) -> io::Result<Vec<String>> {
    let mut names = Vec::with_capacity(count);
    for index in 0..count {
        let source = dir.join("audio").join(SHIPPED_AUDIO[index % SHIPPED_AUDIO.len()]);
        let name = format!("click-{index:03}.mp3");
        let seconds = 2.5 + 0.1 * (index % 20) as f64;
        let graph = format!(
            "[0:a]aformat=sample_fmts=fltp:sample_rates={CLICK_RATE}:channel_layouts=mono,\
             atrim=end={seconds:.2},volume=0.25[speech];\
             aevalsrc=exprs='0.98*sin(2*PI*2000*t)':s={CLICK_RATE}:d=0.005:c=mono[click];\
             [speech][click]amix=inputs=2:duration=first:dropout_transition=0:normalize=0[a]"
        );
        let status = Command::new(ffmpeg)
            .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i"])
            .arg(&source)
            .args(["-filter_complex", &graph, "-map", "[a]", "-c:a", "libmp3lame", "-b:a", "128k"])
            .arg(dir.join("audio").join(&name))
            .status()?;
        if !status.success() {
            return Err(io::Error::other(format!("ffmpeg could not write {name} from {}", source.display())));
        }
        names.push(format!("audio/{name}"));
    }
    Ok(names)
}

/// Copies one shipped clip to `count` distinct paths (`audio/copy-NNNNN.mp3`): the manifest crate
/// probes each path once, so this is how many probes a manifest of `count` clips costs.
pub fn copy_lines(dir: &Path, count: usize) -> io::Result<Vec<String>> {
    let source = dir.join("audio").join(SHIPPED_AUDIO[0]);
    (0..count)
        .map(|index| {
            let name = format!("audio/copy-{index:05}.mp3");
            std::fs::copy(&source, dir.join(&name))?;
            Ok(name)
        })
        .collect()
}

/// A dual-anchor episode of `segments` segments, the two characters taking turns, with `audio[i %
/// audio.len()]` as segment i's speech (paths relative to the manifest). With `layout` set,
/// every segment uses it.
pub fn dual_anchor_yaml(episode: &str, segments: usize, audio: &[String], layout: &str) -> String {
    dual_anchor_yaml_with(episode, segments, audio, layout, true)
}

/// As [`dual_anchor_yaml`]; with `distinct_listeners` false no segment sets `listener_prompt`, so
/// every listener clip of a character is the same request (its portrait, the default listening
/// prompt, the same length) and the plan renders it once for all of that character's segments.
pub fn dual_anchor_yaml_with(
    episode: &str,
    segments: usize,
    audio: &[String],
    layout: &str,
    distinct_listeners: bool,
) -> String {
    let mut yaml = format!(
        "# Generated by episodic-bench.\nepisode: {episode}\naspect_ratio: \"16:9\"\nquality: pro\n\
         layout: {layout}\ncast:\n  ninja:\n    image: characters/ninja.png\n    seat: left\n    \
         preset: gaming-news\n  glitch:\n    image: characters/glitch.png\n    seat: right\n    \
         preset: reaction\nsegments:\n"
    );
    for index in 0..segments {
        let (speaker, listener) = if index % 2 == 0 { ("ninja", "glitch") } else { ("glitch", "ninja") };
        let clip = audio.get(index % audio.len().max(1)).map(String::as_str).unwrap_or("audio/cold-open.mp3");
        let _ = write!(
            yaml,
            "  - id: line-{index:05}\n    speaker: {speaker}\n    audio: {clip}\n    listener: {listener}\n    \
             prompt: \"Line {index}: steady eye contact.\"\n"
        );
        if distinct_listeners {
            let _ = writeln!(
                yaml,
                "    listener_prompt: \"Listening to line {index}. Mouth closed, slow nods.\""
            );
        }
    }
    yaml
}

/// The ElevenLabs voices the studio knows (premade voices' ids), one per character of
/// [`dual_anchor_lines_yaml`].
pub const VOICES: [(&str, &str); 2] = [("ninja", "JBFqnCBsd6RMkjVDRZzb"), ("glitch", "21m00Tcm4TlvDq8ikWAM")];

/// The words the generated lines are made of.
const WORDS: [&str; 14] = [
    "the", "patch", "is", "live", "and", "ninjas", "double", "jump", "across", "the", "neon", "arena",
    "tonight", "again",
];

/// Segment `index`'s line: its number, then 3 to 6 words (about 2.5 to 4.5 s of the studio's speech, under the
/// 5 s of a listener clip whether the length is estimated from the text or measured on the
/// audio), so every line is a request of its own with a length of its own.
pub fn line_text(index: usize) -> String {
    let words = 3 + index % 4;
    let mut text = format!("Line {index}.");
    for word in 0..words {
        text.push(' ');
        text.push_str(WORDS[(index + word) % WORDS.len()]);
    }
    text.push('.');
    text
}

/// As [`dual_anchor_yaml_with`] with shared listener clips, but every segment speaks a `line:`
/// ([`line_text`]) that episodic has voiced (ElevenLabs' protocol, [`VOICES`]) before its avatar
/// renders: a speech node at the head of each speaker's chain.
pub fn dual_anchor_lines_yaml(episode: &str, segments: usize, layout: &str) -> String {
    let mut yaml = format!(
        "# Generated by episodic-bench.\nepisode: {episode}\naspect_ratio: \"16:9\"\nquality: pro\n\
         layout: {layout}\ncast:\n  ninja:\n    image: characters/ninja.png\n    seat: left\n    \
         preset: gaming-news\n    voice: {}\n  glitch:\n    image: characters/glitch.png\n    seat: right\n    \
         preset: reaction\n    voice: {}\nsegments:\n",
        VOICES[0].1, VOICES[1].1
    );
    for index in 0..segments {
        let (speaker, listener) = if index % 2 == 0 { ("ninja", "glitch") } else { ("glitch", "ninja") };
        let _ = write!(
            yaml,
            "  - id: line-{index:05}\n    speaker: {speaker}\n    line: \"{}\"\n    listener: {listener}\n    \
             prompt: \"Line {index}: steady eye contact.\"\n",
            line_text(index)
        );
    }
    yaml
}

/// Writes `yaml` as `dir/<name>` and returns its path.
pub fn write_manifest(dir: &Path, name: &str, yaml: &str) -> io::Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, yaml)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_manifests_read_without_problems() {
        let audio = vec!["audio/a.mp3".to_owned(), "audio/b.mp3".to_owned()];
        let yaml = dual_anchor_yaml("bench-20", 20, &audio, "side_by_side");
        let source = episodic_manifest::ManifestSource {
            display_name: "episode.yaml".into(),
            text: yaml.clone().into(),
        };
        let (manifest, problems) = episodic_manifest::read(&source);
        assert!(problems.is_empty(), "{problems:?}");
        let manifest = manifest.expect("a manifest");
        assert_eq!(manifest.segments.len(), 20);
        assert_eq!(yaml.matches("audio: audio/b.mp3").count(), 10);
        assert_eq!(yaml.matches("Listening to line").count(), 20);
        let shared = dual_anchor_yaml_with("bench-20", 20, &audio, "side_by_side", false);
        let source =
            episodic_manifest::ManifestSource { display_name: "episode.yaml".into(), text: shared.into() };
        let (manifest, problems) = episodic_manifest::read(&source);
        assert!(problems.is_empty(), "{problems:?}");
        assert!(
            manifest.expect("a manifest").segments.iter().all(|segment| segment.listener_prompt.is_none())
        );
    }

    #[test]
    fn generated_lines_read_without_problems_each_its_own() {
        let yaml = dual_anchor_lines_yaml("bench-lines", 20, "side_by_side");
        let source =
            episodic_manifest::ManifestSource { display_name: "episode.yaml".into(), text: yaml.into() };
        let (manifest, problems) = episodic_manifest::read(&source);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(manifest.expect("a manifest").segments.len(), 20);
        let lines: std::collections::BTreeSet<String> = (0..20).map(line_text).collect();
        assert_eq!(lines.len(), 20, "distinct lines");
        assert_eq!(line_text(3).split(' ').count(), 8, "{}", line_text(3));
    }
}
