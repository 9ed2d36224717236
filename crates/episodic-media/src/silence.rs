//! Where a speech track pauses (ffmpeg's `silencedetect`), and cutting it there.
//!
//! Two callers share the pause finding: a preview of an episode's first seconds ends a cut segment
//! between two words, not inside one ([`silences`], [`cut_point`], [`trim_audio`]); and a line
//! longer than its avatar model renders is split into pieces at its pauses
//! ([`decode_with_silences`], [`write_wav_piece`]). For splitting, one ffmpeg run decodes the track
//! to 16-bit mono PCM (on stdout) while `silencedetect` reports its pauses (on stderr); the pieces
//! are then cut from those samples and written as WAV by hand. Cutting decoded samples is exact (a
//! piece starts on the sample after the previous one ends, so the pieces add up to the whole
//! track) and deterministic (the same track always gives byte-identical pieces, so a piece's
//! content hash, and with it its render's key, changes only when its own samples do).

use crate::MediaError;
use crate::ffmpeg::{Ffmpeg, args, file_arg};
use std::path::Path;
use std::process::{Command, Stdio};

/// A pause in a speech track, in seconds from its start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Silence {
    /// Where the pause starts.
    pub start: f64,
    /// Where it ends (the track's end for a pause that runs to the end).
    pub end: f64,
}

impl Silence {
    /// How long the pause lasts.
    pub fn seconds(&self) -> f64 {
        self.end - self.start
    }

    /// Its middle, where a cut disturbs least.
    pub fn middle(&self) -> f64 {
        (self.start + self.end) / 2.0
    }
}

/// What counts as a pause: quieter than `noise_db` for at least `min_seconds`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SilenceRule {
    /// The level below which sound is silence, in dBFS (e.g. -35).
    pub noise_db: f64,
    /// The shortest pause that counts, in seconds.
    pub min_seconds: f64,
}

impl SilenceRule {
    /// A gap between two words (quieter than -35 dBFS, room tone under speech rather than a soft
    /// syllable, for 0.15 s): where a preview cuts a segment short.
    pub const WORD_GAP: SilenceRule = SilenceRule { noise_db: -35.0, min_seconds: 0.15 };
}

/// A speech track decoded to 16-bit mono samples.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedSpeech {
    /// Samples per second.
    pub rate: u32,
    /// The samples.
    pub samples: Vec<i16>,
}

impl DecodedSpeech {
    /// The track's length in seconds, to the sample.
    pub fn seconds(&self) -> f64 {
        self.samples.len() as f64 / f64::from(self.rate)
    }
}

/// Decodes `path` to mono at `rate` samples per second and finds its pauses, in one ffmpeg run.
/// Synchronous: it runs while a manifest is resolved, which is not async.
pub fn decode_with_silences(
    ffmpeg: &Ffmpeg,
    path: &Path,
    rate: u32,
    rule: SilenceRule,
) -> Result<(DecodedSpeech, Vec<Silence>), MediaError> {
    let filter = format!("silencedetect=noise={}dB:duration={}", rule.noise_db, rule.min_seconds);
    let output = Command::new(ffmpeg.path())
        .args(["-hide_banner", "-nostdin", "-loglevel", "info", "-i"])
        .arg(path)
        .args(["-map", "0:a:0", "-af", &filter, "-ac", "1", "-ar", &rate.to_string()])
        .args(["-c:a", "pcm_s16le", "-f", "s16le", "pipe:1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|err| MediaError::ToolMissing {
            tool: "ffmpeg",
            looked: format!("could not run `{}`: {err}", ffmpeg.path().display()),
        })?;
    let log = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        let detail = log.lines().rev().take(3).collect::<Vec<_>>().join(" / ");
        return Err(MediaError::Unreadable { tool: "ffmpeg", path: path.to_path_buf(), detail });
    }
    let samples: Vec<i16> =
        output.stdout.chunks_exact(2).map(|pair| i16::from_le_bytes([pair[0], pair[1]])).collect();
    let speech = DecodedSpeech { rate, samples };
    let silences = parse_silences(&log, speech.seconds());
    Ok((speech, silences))
}

/// The pauses of a file's first audio stream, in order, as ffmpeg's `silencedetect` finds them
/// under `rule`. `length` closes a pause that runs to the end of the track.
pub async fn silences(
    ffmpeg: &Ffmpeg,
    path: &Path,
    length: f64,
    rule: SilenceRule,
) -> Result<Vec<Silence>, MediaError> {
    let filter = format!("silencedetect=noise={}dB:duration={}", rule.noise_db, rule.min_seconds);
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

/// The pauses `silencedetect` reported in ffmpeg's log; one still open at the end runs to `end`.
pub(crate) fn parse_silences(log: &str, end: f64) -> Vec<Silence> {
    let value = |line: &str, label: &str| -> Option<f64> {
        let at = line.find(label)? + label.len();
        line[at..].trim_start().split(|c: char| c.is_whitespace() || c == '|').next()?.parse().ok()
    };
    let mut silences = Vec::new();
    let mut open: Option<f64> = None;
    for line in log.lines().filter(|line| line.contains("silencedetect")) {
        if let Some(start) = value(line, "silence_start:") {
            open = Some(start.max(0.0));
        } else if let (Some(stop), Some(start)) = (value(line, "silence_end:"), open.take()) {
            silences.push(Silence { start, end: stop.min(end) });
        }
    }
    if let Some(start) = open
        && start < end
    {
        silences.push(Silence { start, end });
    }
    silences
}

/// Where to cut a track of `length` seconds near `target`: the middle of the pause nearest to
/// it within `window` seconds either side, else `target` itself; never before `shortest` (what
/// the model accepts) nor past the end.
pub fn cut_point(silences: &[Silence], target: f64, window: f64, shortest: f64) -> f64 {
    let best = silences
        .iter()
        .map(Silence::middle)
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

/// Writes samples `from..to` of `speech` to `out` as a 16-bit mono WAV, atomically.
pub fn write_wav_piece(speech: &DecodedSpeech, from: usize, to: usize, out: &Path) -> Result<(), MediaError> {
    let samples = speech.samples.get(from..to).ok_or_else(|| MediaError::Invalid {
        detail: format!("samples {from}..{to} of a track of {}", speech.samples.len()),
    })?;
    let data_bytes = u32::try_from(samples.len() * 2)
        .map_err(|_| MediaError::Invalid { detail: "a piece over 4 GB".into() })?;
    let mut bytes = Vec::with_capacity(44 + samples.len() * 2);
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&(36 + data_bytes).to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    bytes.extend_from_slice(&16u32.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes()); // PCM
    bytes.extend_from_slice(&1u16.to_le_bytes()); // mono
    bytes.extend_from_slice(&speech.rate.to_le_bytes());
    bytes.extend_from_slice(&(speech.rate * 2).to_le_bytes());
    bytes.extend_from_slice(&2u16.to_le_bytes()); // block align
    bytes.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&data_bytes.to_le_bytes());
    for sample in samples {
        bytes.extend_from_slice(&sample.to_le_bytes());
    }
    let partial = crate::output::Partial::beside(out)?;
    std::fs::write(partial.path(), &bytes)
        .map_err(|source| MediaError::Write { path: out.to_path_buf(), source })?;
    partial.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silences_from_the_log() {
        let log = "[silencedetect @ 0x1] silence_start: 4.00052\n\
                   size=N/A time=00:00:05.00\n\
                   [silencedetect @ 0x1] silence_end: 4.8 | silence_duration: 0.79948\n\
                   [silencedetect @ 0x1] silence_start: -0.0001\n\
                   [silencedetect @ 0x1] silence_end: 0.5 | silence_duration: 0.5\n\
                   [silencedetect @ 0x1] silence_start: 9.5\n";
        let silences = parse_silences(log, 10.0);
        assert_eq!(
            silences,
            vec![
                Silence { start: 4.00052, end: 4.8 },
                Silence { start: 0.0, end: 0.5 },
                Silence { start: 9.5, end: 10.0 }
            ]
        );
        assert!((silences[0].middle() - 4.40026).abs() < 1e-9);
    }

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
