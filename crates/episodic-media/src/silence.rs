//! Pauses in speech (ffmpeg's `silencedetect`), and cutting a track at one: a preview of an
//! episode's first seconds ends a cut segment between two words, not inside one.

use crate::MediaError;
use crate::ffmpeg::{Ffmpeg, args, file_arg};
use std::path::Path;
use std::process::Stdio;

/// Quieter than this (dBFS) counts as silence: room tone under speech, not a soft syllable.
pub const SILENCE_NOISE_DB: f64 = -35.0;
/// Pauses shorter than this are not found: a gap between syllables is not a place to cut.
pub const SILENCE_MIN_SECONDS: f64 = 0.15;

/// One pause in a track, in seconds from its start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Silence {
    /// Where it starts.
    pub start: f64,
    /// Where it ends (the track's end when it runs to the end).
    pub end: f64,
}

/// The pauses of a file's first audio stream, in order, as ffmpeg's `silencedetect` finds them
/// ([`SILENCE_NOISE_DB`], at least [`SILENCE_MIN_SECONDS`]). `length` closes a pause that runs to
/// the end of the track.
pub async fn silences(ffmpeg: &Ffmpeg, path: &Path, length: f64) -> Result<Vec<Silence>, MediaError> {
    let filter = format!("silencedetect=noise={SILENCE_NOISE_DB}dB:d={SILENCE_MIN_SECONDS}");
    let mut line = args(["-hide_banner", "-nostats", "-nostdin", "-loglevel", "info", "-i"]);
    line.push(file_arg(path));
    line.extend(args(["-map", "0:a:0", "-af", &filter, "-f", "null", "-"]));
    let output = tokio::process::Command::new(ffmpeg.path())
        .args(&line)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|err| MediaError::ToolMissing {
            tool: "ffmpeg",
            looked: format!("could not run `{}`: {err}", ffmpeg.path().display()),
        })?;
    if !output.status.success() {
        return Err(MediaError::Failed {
            tool: "ffmpeg",
            detail: String::from_utf8_lossy(&output.stderr).lines().last().unwrap_or_default().to_owned(),
            command: format!("ffmpeg -i {} -af {filter} -f null -", path.display()),
        });
    }
    Ok(parse_silences(&String::from_utf8_lossy(&output.stderr), length))
}

/// The pauses in `silencedetect`'s log lines (`silence_start: 1.2`, `silence_end: 1.6 | ...`).
fn parse_silences(log: &str, length: f64) -> Vec<Silence> {
    let number = |line: &str, label: &str| -> Option<f64> {
        let rest = &line[line.find(label)? + label.len()..];
        rest.split_whitespace().next()?.parse().ok()
    };
    let mut found = Vec::new();
    let mut open = None;
    for line in log.lines() {
        if let Some(start) = number(line, "silence_start: ") {
            open = Some(start.max(0.0));
        } else if let Some(end) = number(line, "silence_end: ")
            && let Some(start) = open.take()
        {
            found.push(Silence { start, end });
        }
    }
    if let Some(start) = open {
        found.push(Silence { start, end: length });
    }
    found
}

/// Where to cut a track of `length` seconds near `target`: the middle of the pause nearest to
/// it within `window` seconds either side, else `target` itself; never before `shortest` (what
/// the model accepts) nor past the end.
pub fn cut_point(silences: &[Silence], target: f64, window: f64, shortest: f64) -> f64 {
    let best = silences
        .iter()
        .map(|silence| (silence.start + silence.end) / 2.0)
        .filter(|middle| (middle - target).abs() <= window && *middle >= shortest)
        .min_by(|a, b| (a - target).abs().total_cmp(&(b - target).abs()));
    best.unwrap_or(target).max(shortest)
}

/// Writes the first `seconds` of `input`'s audio to `output` as MP3, bit-exact (no encoder tag,
/// no metadata), so the same cut of the same file gives the same bytes and the same render key.
pub async fn trim_audio(
    ffmpeg: &Ffmpeg,
    input: &Path,
    seconds: f64,
    output: &Path,
) -> Result<(), MediaError> {
    let seconds = format!("{seconds:.3}");
    let mut line = args(["-i"]);
    line.push(file_arg(input));
    // Bit-exact, without metadata: the same cut gives the same bytes.
    line.extend(args(["-t", &seconds, "-map", "0:a:0", "-map_metadata", "-1", "-fflags", "+bitexact"]));
    line.extend(args(["-flags:a", "+bitexact", "-c:a", "libmp3lame", "-b:a", "192k", "-f", "mp3"]));
    line.push(file_arg(output));
    ffmpeg.run(&line).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silencedetect_lines_become_pauses() {
        let log = "Input #0, mp3\n[silencedetect @ 0x1] silence_start: 1.2\n\
                   [silencedetect @ 0x1] silence_end: 1.65 | silence_duration: 0.45\n\
                   [silencedetect @ 0x1] silence_start: -0.01\n[silencedetect @ 0x1] silence_end: 0.3 | x\n\
                   [silencedetect @ 0x1] silence_start: 7.5\nsize=N/A\n";
        assert_eq!(
            parse_silences(log, 8.0),
            [
                Silence { start: 1.2, end: 1.65 },
                Silence { start: 0.0, end: 0.3 },
                Silence { start: 7.5, end: 8.0 }
            ]
        );
    }

    #[test]
    fn the_cut_is_the_nearest_pause_in_the_window() {
        let pauses = [
            Silence { start: 1.0, end: 1.4 },
            Silence { start: 3.9, end: 4.3 },
            Silence { start: 6.0, end: 6.2 },
        ];
        assert!((cut_point(&pauses, 4.5, 2.0, 2.0) - 4.1).abs() < 1e-9);
        assert!((cut_point(&pauses, 5.5, 2.0, 2.0) - 6.1).abs() < 1e-9);
        assert_eq!(cut_point(&pauses, 9.0, 2.0, 2.0), 9.0, "no pause near: cut where asked");
        assert_eq!(cut_point(&pauses, 1.0, 2.0, 2.0), 2.0, "never shorter than the model takes");
    }
}
