//! Previews: `--only ID[,ID...]` renders some segments, `--first SECONDS` the episode's first
//! seconds. A segment cut at N is rendered from its audio trimmed at a pause near N (ffmpeg's
//! `silencedetect`), so it is its own, shorter and cheaper render with its own key; every
//! segment kept whole keeps its key, so its render is reused by the full episode later.
//! Previews are written to `<output folder>/<episode>.preview.mp4`, never over the episode.

use super::plan_file::Choices;
use crate::error::CliError;
use episodic_catalog::Catalog;
use episodic_manifest::{Episode, MediaFile, SegmentKind, Speech};
use episodic_media::{Ffmpeg, Probe};
use std::path::{Path, PathBuf};

/// How far either side of the asked length a pause may be to cut there.
const CUT_WINDOW_SECONDS: f64 = 2.0;

/// What a preview keeps of the episode.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Preview {
    /// Segments kept (whole or cut).
    pub segments: Vec<String>,
    /// Segments in the episode.
    pub of: usize,
    /// Seconds of the preview.
    pub seconds: f64,
    /// Seconds of the full episode.
    pub full_seconds: f64,
    /// The segment cut short, if any.
    pub cut: Option<Cut>,
}

/// A segment cut at a pause.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Cut {
    /// The segment.
    pub segment: String,
    /// Where its audio was cut, in seconds from its start.
    pub at: f64,
    /// Its full length.
    pub of: f64,
}

/// The episode a preview renders, or `None` when the choices ask for the whole episode.
pub fn apply(
    episode: &Episode,
    choices: &Choices,
    catalog: &Catalog,
    probe: &Probe,
) -> Result<Option<(Episode, Preview)>, CliError> {
    if choices.only.is_empty() && choices.first.is_none() {
        return Ok(None);
    }
    let length = |kind: &SegmentKind| match kind {
        SegmentKind::Dialogue(dialogue) => dialogue.speech.seconds(),
        SegmentKind::Broll(broll) => f64::from(broll.duration),
    };
    let full_seconds: f64 = episode.segments.iter().map(|segment| length(&segment.kind)).sum();
    let mut preview = episode.clone();
    if !choices.only.is_empty() {
        let unknown: Vec<&str> = choices
            .only
            .iter()
            .filter(|id| !episode.segments.iter().any(|segment| &segment.id == *id))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            let known: Vec<&str> = episode.segments.iter().map(|segment| segment.id.as_str()).collect();
            return Err(CliError::Usage {
                message: format!(
                    "--only names segments `{}` does not have: {}; its segments are {}",
                    episode.manifest_path.display(),
                    unknown.join(", "),
                    known.join(", ")
                ),
            });
        }
        preview.segments.retain(|segment| choices.only.contains(&segment.id));
    }
    let mut cut = None;
    if let Some(first) = choices.first {
        if !(first.is_finite() && first > 0.0) {
            return Err(CliError::Usage { message: format!("--first takes seconds above 0, not {first}") });
        }
        let mut start = 0.0;
        let mut kept = Vec::new();
        for mut segment in std::mem::take(&mut preview.segments) {
            if start >= first {
                break;
            }
            let seconds = length(&segment.kind);
            let wanted = first - start;
            // Only recorded speech is cut: a b-roll clip's lengths are the model's few choices,
            // and a line has no audio until it is voiced, so both are kept whole (and reused by
            // the full episode).
            if let SegmentKind::Dialogue(dialogue) = &mut segment.kind
                && !dialogue.pieces.is_empty()
                && seconds > wanted + 0.05
            {
                let at = keep_pieces(dialogue, wanted);
                cut = Some(Cut { segment: segment.id.clone(), at, of: seconds });
            } else if let SegmentKind::Dialogue(dialogue) = &mut segment.kind
                && let Speech::Audio { file: audio, .. } = &dialogue.speech
                && seconds > wanted + 0.05
            {
                let shortest = catalog
                    .get(&dialogue.model)
                    .and_then(|model| model.audio.as_ref())
                    .map_or(2.0, |a| a.min_seconds);
                let (file, at) = trim(audio, wanted, seconds, shortest, probe)?;
                cut = Some(Cut { segment: segment.id.clone(), at, of: seconds });
                dialogue.speech = Speech::Audio { file, seconds: at };
            }
            start += length(&segment.kind);
            kept.push(segment);
        }
        preview.segments = kept;
    }
    preview.output = preview_path(&episode.output, &episode.id);
    let summary = Preview {
        segments: preview.segments.iter().map(|segment| segment.id.clone()).collect(),
        of: episode.segments.len(),
        seconds: preview.segments.iter().map(|segment| length(&segment.kind)).sum(),
        full_seconds,
        cut,
    };
    Ok(Some((preview, summary)))
}

/// Cuts a line rendered in pieces after the piece that ends nearest `wanted` seconds (at least
/// one piece), and returns its new length. It is cut between pieces, not re-cut at a pause: the
/// pieces' renders are the full episode's, so the preview reuses them (and the full episode
/// reuses what the preview rendered). One piece left is rendered whole, with no join.
fn keep_pieces(dialogue: &mut episodic_manifest::Dialogue, wanted: f64) -> f64 {
    let end = |piece: &episodic_manifest::SpeechPiece| piece.start + piece.seconds;
    let keep = dialogue
        .pieces
        .iter()
        .enumerate()
        .min_by(|(_, a), (_, b)| (end(a) - wanted).abs().total_cmp(&(end(b) - wanted).abs()))
        .map_or(1, |(index, _)| index + 1);
    dialogue.pieces.truncate(keep);
    let Some(last) = dialogue.pieces.last_mut() else { return dialogue.speech.seconds() };
    last.fade = 0.0;
    let at = end(last);
    if let [only] = dialogue.pieces.as_slice() {
        dialogue.speech = Speech::Audio { file: only.file.clone(), seconds: only.seconds };
        dialogue.pieces.clear();
    } else if let Speech::Audio { seconds, .. } = &mut dialogue.speech {
        *seconds = at;
    }
    at
}

/// `<output folder>/<episode>.preview.mp4`.
pub fn preview_path(output: &Path, episode: &str) -> PathBuf {
    output.with_file_name(format!("{episode}.preview.mp4"))
}

/// The audio cut at a pause near `wanted` seconds, kept in the cache (same file, same cut, same
/// bytes: the plan and the render agree on its key).
fn trim(
    audio: &MediaFile,
    wanted: f64,
    seconds: f64,
    shortest: f64,
    probe: &Probe,
) -> Result<(MediaFile, f64), CliError> {
    let (ffmpeg, _) = super::media_tools()?;
    let ffmpeg = Ffmpeg::new(ffmpeg);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| CliError::Render(format!("cannot start the async runtime: {err}")))?;
    let rule = episodic_media::SilenceRule::WORD_GAP;
    let silences = runtime.block_on(episodic_media::silences(&ffmpeg, &audio.path, seconds, rule))?;
    let at = episodic_media::cut_point(&silences, wanted, CUT_WINDOW_SECONDS, shortest.min(seconds));
    let stem = audio
        .path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| "audio".into());
    let dir = previews_dir().join(&audio.sha256[..16]);
    let path = dir.join(format!("{stem}.first-{}ms.mp3", (at * 1000.0).round() as u64));
    if !path.is_file() {
        std::fs::create_dir_all(&dir).map_err(|err| CliError::Blocked {
            message: format!("cannot create `{}` for the preview's audio: {err}", dir.display()),
            help: "set EPISODIC_CACHE_DIR to a writable folder".into(),
        })?;
        // Written beside, then moved: a half-written cut is never taken for a whole one.
        let part = path.with_extension(format!("part-{}.mp3", std::process::id()));
        runtime.block_on(episodic_media::trim_audio(&ffmpeg, &audio.path, at, &part))?;
        std::fs::rename(&part, &path).map_err(|err| CliError::Blocked {
            message: format!("cannot keep the preview's audio at `{}`: {err}", path.display()),
            help: "set EPISODIC_CACHE_DIR to a writable folder".into(),
        })?;
    }
    let (sha256, size) = probe.hash(&path).map_err(|err| CliError::Blocked {
        message: format!("cannot read the preview's audio `{}`: {err}", path.display()),
        help: "set EPISODIC_CACHE_DIR to a writable folder".into(),
    })?;
    let (info, _) = probe.probe_audio(&path)?;
    let cut = info.audio_seconds().unwrap_or(at);
    let kind = episodic_media::sniff_file(&path)?;
    let written = format!("{} (first {:.2} s)", audio.written, cut);
    Ok((MediaFile { path, written, sha256, size, kind }, cut))
}

/// Where cut audio is kept: the user cache (`EPISODIC_CACHE_DIR`), else the temporary folder.
fn previews_dir() -> PathBuf {
    match crate::env::facts_file().and_then(|file| file.parent().map(Path::to_path_buf)) {
        Some(cache) => cache.join("previews"),
        None => std::env::temp_dir().join("episodic-previews"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_never_overwrite_the_episode() {
        assert_eq!(
            preview_path(Path::new("out/ninja-news-demo.mp4"), "ninja-news-demo"),
            PathBuf::from("out/ninja-news-demo.preview.mp4")
        );
    }

    fn file(name: &str) -> MediaFile {
        MediaFile {
            path: PathBuf::from(name),
            written: name.to_owned(),
            sha256: name.to_owned(),
            size: 1,
            kind: episodic_media::FileKind::Wav,
        }
    }

    fn line_in_pieces(ends: &[f64]) -> episodic_manifest::Dialogue {
        let mut start = 0.0;
        let pieces = ends
            .iter()
            .enumerate()
            .map(|(index, end)| {
                let piece = episodic_manifest::SpeechPiece {
                    file: file(&format!("piece-{index}.wav")),
                    start,
                    seconds: end - start,
                    fade: 0.2,
                };
                start = *end;
                piece
            })
            .collect();
        episodic_manifest::Dialogue {
            speaker: 0,
            speech: Speech::Audio { file: file("line.wav"), seconds: start },
            text: None,
            model: "omnihuman-v1.5".to_owned(),
            prompt: String::new(),
            negative_prompt: String::new(),
            negative_prompt_explicit: false,
            cfg_scale: None,
            listener: None,
            pieces,
            pauses: episodic_manifest::PauseRule::DEFAULT,
            model_fallbacks: Vec::new(),
        }
    }

    #[test]
    fn a_line_in_pieces_is_cut_after_the_piece_ending_nearest_the_asked_time() {
        let mut dialogue = line_in_pieces(&[22.0, 44.0, 60.0]);
        assert_eq!(keep_pieces(&mut dialogue, 40.0), 44.0);
        assert_eq!(dialogue.pieces.len(), 2, "the pieces' renders are the full episode's");
        assert_eq!(dialogue.pieces[1].fade, 0.0, "nothing after the last piece to fade into");
        assert_eq!(dialogue.speech.seconds(), 44.0);

        let mut dialogue = line_in_pieces(&[22.0, 44.0, 60.0]);
        assert_eq!(keep_pieces(&mut dialogue, 5.0), 22.0);
        assert!(dialogue.pieces.is_empty(), "one piece is rendered whole, with no join");
        match &dialogue.speech {
            Speech::Audio { file, seconds } => {
                assert_eq!(file.written, "piece-0.wav");
                assert_eq!(*seconds, 22.0);
            }
            Speech::Line(_) => panic!("a recording stays a recording"),
        }
    }
}
