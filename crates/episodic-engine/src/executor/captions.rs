//! Captions from what a node's inputs hold: a segment's timed words (from its line's alignment,
//! rescaled to the audio as decoded), the ASS a compose burns in, and the episode's `.srt` and
//! `.vtt` sidecars written beside its video.
//!
//! Built here, from the speech's artifacts, rather than in a node of their own: the words are a
//! few microseconds of work from files already on disk, so recomputing them in the compose and
//! in the concat costs less than journaling them would.

use super::{Context, Inputs, Output, compose::encoding};
use crate::NodeError;
use episodic_media::captions::{Alignment, CaptionStyle, Track, Words, WordsPerPage};
use episodic_plan::{BurnedCaptions, SidecarSpec};
use std::path::{Path, PathBuf};

/// The words of the line `speech` voiced, with its audio's decoded length: times rescaled to it
/// when the model's clock drifted. `None` when ElevenLabs sent no alignment.
pub(crate) fn spoken_words(inputs: &Inputs, speech: &str) -> Result<Option<(Words, f64)>, NodeError> {
    let Some(Output::Speech { alignment, seconds: Some(seconds), .. }) = inputs.get(speech) else {
        return Err(NodeError::Unexpected(format!("the audio of {speech} is not measured")));
    };
    let Some(path) = alignment else { return Ok(None) };
    let bytes = std::fs::read(path)
        .map_err(|source| NodeError::Io { what: format!("cannot read `{}`", path.display()), source })?;
    let alignment: Alignment = serde_json::from_slice(&bytes).map_err(|error| {
        NodeError::Unexpected(format!(
            "the alignment of {speech} (`{}`) is unreadable: {error}",
            path.display()
        ))
    })?;
    let caption = |error: episodic_media::captions::CaptionError| {
        NodeError::Unexpected(format!("the captions of {speech}: {error}"))
    };
    let mut words = Words::from_alignment(&alignment).map_err(caption)?;
    words.rescale_to(*seconds).map_err(caption)?;
    Ok(Some((words, *seconds)))
}

/// The words an align node timed in a recording (forced alignment: no rescale, the times are
/// the recording's own).
pub(crate) fn aligned_words(inputs: &Inputs, align: &str) -> Result<Words, NodeError> {
    let Some(Output::Artifact { path }) = inputs.get(align) else {
        return Err(NodeError::Unexpected(format!("the words of {align} are missing")));
    };
    let bytes = std::fs::read(path)
        .map_err(|source| NodeError::Io { what: format!("cannot read `{}`", path.display()), source })?;
    serde_json::from_slice(&bytes).map_err(|error| {
        NodeError::Unexpected(format!("the words of {align} (`{}`) are unreadable: {error}", path.display()))
    })
}

/// A segment's timed words: its line's (`speech`), or its recording's (`align`).
pub(crate) fn segment_words(
    inputs: &Inputs,
    speech: Option<&str>,
    align: Option<&str>,
) -> Result<Option<Words>, NodeError> {
    match (speech, align) {
        (Some(speech), _) => Ok(spoken_words(inputs, speech)?.map(|(words, _)| words)),
        (None, Some(align)) => aligned_words(inputs, align).map(Some),
        (None, None) => Ok(None),
    }
}

/// The ASS script burned into one segment `segment_seconds` long.
pub(crate) fn burn_script(
    words: &Words,
    segment_seconds: f64,
    canvas: (u32, u32),
    burn: BurnedCaptions,
) -> Result<String, NodeError> {
    let per_page = WordsPerPage::new(u32::from(burn.words_per_page))
        .map_err(|error| NodeError::Unexpected(format!("captions: {error}")))?;
    let style = match burn.style {
        episodic_manifest::CaptionStyle::Karaoke => CaptionStyle::Karaoke,
        episodic_manifest::CaptionStyle::Plain => CaptionStyle::Plain,
    };
    Ok(Track::segment(words, segment_seconds, per_page).ass(canvas, style))
}

/// Writes `<output stem>.srt` and `.vtt`: each segment's words shifted by where it starts in the
/// final video (the sum of the segments before it, each as many whole frames as its compose cut).
/// Returns the two paths.
pub(crate) async fn write_sidecars(
    ctx: &Context,
    spec: &SidecarSpec,
    output: &Path,
    canvas: (u32, u32),
    fps: u32,
    inputs: &Inputs,
) -> Result<[PathBuf; 2], NodeError> {
    let per_page = WordsPerPage::new(u32::from(spec.words_per_page))
        .map_err(|error| NodeError::Unexpected(format!("captions: {error}")))?;
    let encode = encoding(ctx, canvas, fps);
    let mut tracks = Vec::with_capacity(spec.segments.len());
    let mut start = 0.0;
    for segment in &spec.segments {
        let seconds = super::spoken_seconds(inputs, segment.speech.as_deref(), segment.seconds)?;
        let length = encode.frames(seconds) as f64 / f64::from(fps);
        if let Some(words) = segment_words(inputs, segment.speech.as_deref(), segment.align.as_deref())? {
            tracks.push((start, Track::segment(&words, length, per_page)));
        }
        start += length;
    }
    let episode = Track::episode(tracks.iter().map(|(offset, track)| (*offset, track)));
    let srt = output.with_extension("srt");
    let vtt = output.with_extension("vtt");
    for (path, text) in [(&srt, episode.srt()), (&vtt, episode.vtt())] {
        write_whole(path, text.as_bytes()).await?;
    }
    Ok([srt, vtt])
}

/// Writes `path` through a temporary file beside it, so a reader never sees half a file.
async fn write_whole(path: &Path, bytes: &[u8]) -> Result<(), NodeError> {
    let io = |what: String| move |source| NodeError::Io { what, source };
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(dir).await.map_err(io(format!("cannot create `{}`", dir.display())))?;
    }
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.part", std::process::id()));
    let temp = path.with_file_name(name);
    tokio::fs::write(&temp, bytes).await.map_err(io(format!("cannot write `{}`", temp.display())))?;
    tokio::fs::rename(&temp, path).await.map_err(io(format!("cannot write `{}`", path.display())))
}
