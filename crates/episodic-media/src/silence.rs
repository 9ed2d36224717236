//! Where a speech track pauses, and cutting it there to the sample.
//!
//! A line longer than its avatar model renders is split into pieces at its pauses. One ffmpeg run
//! decodes the track to 16-bit mono PCM (on stdout) while `silencedetect` reports its pauses (on
//! stderr); the pieces are then cut from those samples and written as WAV by hand. Cutting decoded
//! samples is exact (a piece starts on the sample after the previous one ends, so the pieces add up
//! to the whole track) and deterministic (the same track always gives byte-identical pieces, so a
//! piece's content hash, and with it its render's key, changes only when its own samples do).

use crate::Ffmpeg;
use crate::MediaError;
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

/// A speech track decoded to 16-bit mono samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Speech {
    /// Samples per second.
    pub rate: u32,
    /// The samples.
    pub samples: Vec<i16>,
}

impl Speech {
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
) -> Result<(Speech, Vec<Silence>), MediaError> {
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
    let speech = Speech { rate, samples };
    let silences = parse_silences(&log, speech.seconds());
    Ok((speech, silences))
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

/// Writes samples `from..to` of `speech` to `out` as a 16-bit mono WAV, atomically.
pub fn write_wav_piece(speech: &Speech, from: usize, to: usize, out: &Path) -> Result<(), MediaError> {
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
}
