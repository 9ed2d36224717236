//! Long lines on capped models: a speech track longer than its avatar model renders (OmniHuman
//! v1.5 and VEED Fabric stop at 30 s) is cut at its pauses into pieces the model takes, each
//! rendered on its own and joined again by the engine.
//!
//! The cut is made here, while the manifest is resolved, not by a node of the plan: a render's
//! key names its input files by content hash, so the pieces must exist (and be hashed) before the
//! plan is built. Cutting decoded samples is exact and deterministic, so a piece whose samples did
//! not change keeps its hash, its render key and its paid render when another part of the line is
//! edited. The pieces live in the user's cache folder beside the remembered probes: losing them
//! only costs cutting again.

use crate::episode::MediaFile;
use episodic_catalog::AudioLimits;
use episodic_media::{DecodedSpeech, Ffmpeg, FileKind, MediaError, Probe, Silence, SilenceRule};
use std::path::{Path, PathBuf};

/// What counts as a pause to cut a long line at: quieter than `quieter_than_db` dBFS for at least
/// `at_least_seconds` (the manifest's `pauses`, on a segment or in `defaults`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct PauseRule {
    /// The level below which sound is a pause, in dBFS.
    pub quieter_than_db: f64,
    /// The shortest pause that counts, in seconds.
    pub at_least_seconds: f64,
}

impl PauseRule {
    /// Quieter than -35 dBFS for at least 0.3 s, unless the manifest says otherwise. Speech
    /// between sentences drops 40 dB or more below its peaks; 0.3 s is a short breath, longer
    /// than the gaps inside words and long enough to hold a crossfade of a few frames on each
    /// side of the cut.
    pub const DEFAULT: PauseRule = PauseRule { quieter_than_db: -35.0, at_least_seconds: 0.3 };

    /// Whether this is [`PauseRule::DEFAULT`].
    pub fn is_default(&self) -> bool {
        *self == PauseRule::DEFAULT
    }

    /// The rule as `silencedetect` takes it.
    pub fn silence(&self) -> SilenceRule {
        SilenceRule { noise_db: self.quieter_than_db, min_seconds: self.at_least_seconds }
    }
}

impl std::fmt::Display for PauseRule {
    /// `at least 0.3 s below -35 dB`, as diagnostics and `plan` say it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "at least {} s below {} dB", self.at_least_seconds, self.quieter_than_db)
    }
}

/// The longest crossfade between two pieces, in seconds: it stays inside the pause after the cut.
const MAX_FADE: f64 = 0.2;

/// The sample rate pieces are cut at, unless the track's own is lower.
const MAX_RATE: u32 = 48_000;

/// One piece of a long line, rendered on its own.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeechPiece {
    /// The cut audio (16-bit mono WAV).
    pub file: MediaFile,
    /// Where it starts in the line, in seconds.
    pub start: f64,
    /// How long it lasts, in seconds (its samples over its rate).
    pub seconds: f64,
    /// How long the picture crossfades from this piece into the next (0 on the last).
    pub fade: f64,
}

/// Where a line is cut: the middle of a pause.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Cut {
    /// The cut, in seconds from the line's start.
    pub(crate) at: f64,
    /// The pause it lies in.
    pub(crate) pause: Silence,
}

/// A line that cannot be cut within the model's limits: the longest stretch without a pause.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct NoPause {
    /// Where the stretch starts, in seconds.
    pub(crate) from: f64,
    /// Where it ends.
    pub(crate) to: f64,
}

/// Cuts long speech tracks into pieces: finds pauses with ffmpeg and writes the pieces to `dir`.
#[derive(Debug, Clone)]
pub struct Splitter {
    ffmpeg: Ffmpeg,
    dir: PathBuf,
}

impl Splitter {
    /// A splitter running `ffmpeg`, keeping pieces in `dir` (created when first needed).
    pub fn new(ffmpeg: Ffmpeg, dir: PathBuf) -> Self {
        Self { ffmpeg, dir }
    }

    /// Cuts `source` (`rate` samples per second) into pieces each within `limits`, at pauses as
    /// `rule` defines them; `Ok(Err(..))` when no set of pauses allows it. The pieces depend on
    /// the rule only through where it cuts: two rules that cut at the same places give the same
    /// files (and the same render keys).
    pub(crate) fn split(
        &self,
        source: &MediaFile,
        rate: Option<u32>,
        limits: &AudioLimits,
        probe: &Probe,
        rule: PauseRule,
    ) -> Result<Result<Vec<SpeechPiece>, NoPause>, MediaError> {
        let rate = rate.unwrap_or(MAX_RATE).min(MAX_RATE);
        let (speech, silences) =
            episodic_media::decode_with_silences(&self.ffmpeg, &source.path, rate, rule.silence())?;
        // A piece is 16-bit mono PCM: its bytes, not only the model's cap, bound its length.
        let by_bytes = limits.max_bytes.saturating_sub(44) as f64 / (f64::from(rate) * 2.0);
        let longest = limits.max_seconds.min(by_bytes);
        let cuts = match choose_cuts(speech.seconds(), &silences, limits.min_seconds, longest) {
            Ok(cuts) => cuts,
            Err(no_pause) => return Ok(Err(no_pause)),
        };
        self.write_pieces(source, &speech, &cuts, probe).map(Ok)
    }

    fn write_pieces(
        &self,
        source: &MediaFile,
        speech: &DecodedSpeech,
        cuts: &[Cut],
        probe: &Probe,
    ) -> Result<Vec<SpeechPiece>, MediaError> {
        let rate = f64::from(speech.rate);
        let mut bounds: Vec<usize> = vec![0];
        bounds.extend(cuts.iter().map(|cut| ((cut.at * rate).round() as usize).min(speech.samples.len())));
        bounds.push(speech.samples.len());
        let stem = file_stem(&source.path);
        // One folder per track and rate; each piece named by its span, so uploads read well.
        let dir = self.dir.join(format!("{}-{}", &source.sha256[..16], speech.rate));
        std::fs::create_dir_all(&dir).map_err(|source| MediaError::Write { path: dir.clone(), source })?;
        let mut pieces = Vec::with_capacity(cuts.len() + 1);
        for (index, pair) in bounds.windows(2).enumerate() {
            let (from, to) = (pair[0], pair[1]);
            let name = format!("{stem}.{:.3}-{:.3}.wav", from as f64 / rate, to as f64 / rate);
            let path = dir.join(name);
            let expected = 44 + 2 * (to - from) as u64;
            if std::fs::metadata(&path).map(|meta| meta.len()).ok() != Some(expected) {
                episodic_media::write_wav_piece(speech, from, to, &path)?;
            }
            let (sha256, size) =
                probe.hash(&path).map_err(|source| MediaError::Io { path: path.clone(), source })?;
            let fade = cuts.get(index).map_or(0.0, |cut| (cut.pause.end - cut.at).clamp(0.0, MAX_FADE));
            pieces.push(SpeechPiece {
                file: MediaFile {
                    path,
                    // The span too, so `plan` says "piece 1 of 2, 0.00-21.10 s → 0.00-23.40 s"
                    // when a cut moves (another pause rule, a re-recorded pause).
                    written: format!(
                        "{} (piece {} of {}, {:.2}-{:.2} s)",
                        source.written,
                        index + 1,
                        cuts.len() + 1,
                        from as f64 / rate,
                        to as f64 / rate
                    ),
                    sha256,
                    size,
                    kind: FileKind::Wav,
                },
                start: from as f64 / rate,
                seconds: (to - from) as f64 / rate,
                fade,
            });
        }
        Ok(pieces)
    }
}

fn file_stem(path: &Path) -> String {
    path.file_stem().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Where to cut a line of `total` seconds so every piece lasts `min..=max` seconds, cutting only in
/// the middle of a pause (one that touches neither end of the line). The line is cut into as few
/// pieces as its pauses allow, each cut near the even split (`k · total / n`): the longest pause
/// within a quarter piece of it wins, else the longest anywhere the limits allow. Even targets keep
/// the pieces balanced (no last piece of a second), and a cut moves only when the pauses near it
/// or the line's length change.
pub(crate) fn choose_cuts(total: f64, silences: &[Silence], min: f64, max: f64) -> Result<Vec<Cut>, NoPause> {
    let candidates: Vec<Cut> = silences
        .iter()
        .filter(|pause| pause.start > 0.0 && pause.end < total)
        .map(|pause| Cut { at: on_grid(pause), pause: *pause })
        .collect();
    if total <= max {
        return Ok(Vec::new());
    }
    if max > min && min >= 0.0 {
        let fewest = (total / max).ceil().max(2.0) as usize;
        for count in fewest..fewest + 3 {
            if let Some(cuts) = cuts_into(total, &candidates, count, min, max) {
                return Ok(cuts);
            }
        }
    }
    Err(longest_stretch(total, &candidates))
}

/// The middle of a pause, on a 20 ms grid: `silencedetect` places a pause's edges by the first loud
/// sample, so re-recording the speech after a pause moves its middle by a few samples, which would
/// change the piece before it (its hash, its render) for nothing. On the grid the cut stays put
/// unless the pause itself moves.
fn on_grid(pause: &Silence) -> f64 {
    ((pause.middle() / CUT_GRID).round() * CUT_GRID).clamp(pause.start, pause.end)
}

/// The grid cuts are placed on, in seconds (a pause is at least 0.1 s, so it holds a grid point
/// or the cut is clamped into it).
const CUT_GRID: f64 = 0.02;

fn cuts_into(total: f64, candidates: &[Cut], count: usize, min: f64, max: f64) -> Option<Vec<Cut>> {
    let piece = total / count as f64;
    let mut cuts = Vec::with_capacity(count - 1);
    let mut previous = 0.0;
    for k in 1..count {
        let left = (count - k) as f64;
        let low = (previous + min).max(total - left * max);
        let high = (previous + max).min(total - left * min);
        let ideal = piece * k as f64;
        let allowed: Vec<&Cut> = candidates.iter().filter(|cut| cut.at >= low && cut.at <= high).collect();
        let near: Vec<&Cut> =
            allowed.iter().copied().filter(|cut| (cut.at - ideal).abs() <= piece / 4.0).collect();
        let pool = if near.is_empty() { allowed } else { near };
        let best = pool.into_iter().max_by(|a, b| {
            a.pause
                .seconds()
                .total_cmp(&b.pause.seconds())
                .then_with(|| (b.at - ideal).abs().total_cmp(&(a.at - ideal).abs()))
        })?;
        cuts.push(*best);
        previous = best.at;
    }
    (total - previous <= max && total - previous >= min).then_some(cuts)
}

/// The longest stretch of the line between two usable pauses (or an end).
fn longest_stretch(total: f64, candidates: &[Cut]) -> NoPause {
    let mut edges: Vec<(f64, f64)> = candidates.iter().map(|cut| (cut.pause.start, cut.pause.end)).collect();
    edges.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut longest = NoPause { from: 0.0, to: 0.0 };
    let mut from = 0.0;
    for (start, end) in edges.into_iter().chain([(total, total)]) {
        if start - from > longest.to - longest.from {
            longest = NoPause { from, to: start };
        }
        from = end.max(from);
    }
    longest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pause(start: f64, end: f64) -> Silence {
        Silence { start, end }
    }

    #[test]
    fn a_line_within_the_cap_is_not_cut() {
        assert_eq!(choose_cuts(29.9, &[pause(10.0, 11.0)], 2.0, 30.0), Ok(Vec::new()));
    }

    #[test]
    fn the_longest_pause_near_the_even_split_wins() {
        // 45 s: two pieces, ideally cut at 22.5 s; pauses at 20 s (0.4 s) and 24 s (0.8 s).
        let pauses =
            [pause(0.0, 0.5), pause(8.0, 9.0), pause(19.8, 20.2), pause(23.6, 24.4), pause(44.5, 45.0)];
        let cuts = choose_cuts(45.0, &pauses, 2.0, 30.0).unwrap();
        assert_eq!(cuts.len(), 1);
        assert!((cuts[0].at - 24.0).abs() < 1e-9, "{cuts:?}");
        // The 1 s pause at 8.5 s is longer, but far from the even split: it is not chosen.
    }

    #[test]
    fn a_far_pause_is_taken_when_nothing_near_is_allowed() {
        let cuts = choose_cuts(45.0, &[pause(15.0, 15.5)], 2.0, 30.0).unwrap();
        assert_eq!(cuts.iter().map(|cut| (cut.at * 1000.0).round()).collect::<Vec<_>>(), vec![15260.0]);
        // A cut at 10 s would leave 35 s: over the cap, so that pause is useless.
        assert!(choose_cuts(45.0, &[pause(9.75, 10.25)], 2.0, 30.0).is_err());
    }

    #[test]
    fn more_pieces_when_the_pauses_need_them() {
        // 50 s with pauses every 12 s: two pieces, cut at the pause nearest 25 s.
        let pauses: Vec<Silence> =
            (1..5).map(|k| pause(12.0 * k as f64 - 0.2, 12.0 * k as f64 + 0.2)).collect();
        let cuts = choose_cuts(50.0, &pauses, 2.0, 30.0).unwrap();
        assert_eq!(cuts.iter().map(|cut| cut.at.round()).collect::<Vec<_>>(), vec![24.0]);
        // With a 20 s cap three pieces cannot be cut from these pauses (12 s, then nothing
        // between 30 s and 32 s): four are.
        let cuts = choose_cuts(50.0, &pauses, 2.0, 20.0).unwrap();
        assert_eq!(cuts.iter().map(|cut| cut.at.round()).collect::<Vec<_>>(), vec![12.0, 24.0, 36.0]);
        for pair in cuts.windows(2) {
            assert!(pair[1].at - pair[0].at <= 20.0);
        }
    }

    #[test]
    fn a_cut_stays_put_when_a_pause_edge_moves_by_a_few_samples() {
        let before = choose_cuts(45.0, &[pause(23.0, 23.8)], 2.0, 30.0).unwrap();
        let after = choose_cuts(45.0, &[pause(23.0, 23.79996)], 2.0, 30.0).unwrap();
        assert_eq!(before[0].at, after[0].at);
        assert!((before[0].at - 23.4).abs() < 1e-9);
    }

    /// A 45 s tone at 16 kHz, silent at `pauses`, written by the real ffmpeg; hashed as the
    /// resolver would.
    fn generated_line(dir: &Path, pauses: &[(f64, f64)]) -> (Ffmpeg, Probe, MediaFile) {
        let tool = |name| {
            episodic_media::locate(name, None).unwrap_or_else(|err| {
                panic!("{err}: install it (`apt-get install ffmpeg` or `bash .ci/setup`)")
            })
        };
        let ffmpeg = Ffmpeg::new(tool("ffmpeg"));
        let silent: Vec<String> = pauses.iter().map(|(from, to)| format!("between(t,{from},{to})")).collect();
        let path = dir.join("line.wav");
        let status = std::process::Command::new(ffmpeg.path())
            .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i"])
            .arg(format!("aevalsrc='if({},0,0.3*sin(2*PI*220*t))':s=16000:d=45", silent.join("+")))
            .args(["-ac", "1", "-c:a", "pcm_s16le"])
            .arg(&path)
            .status()
            .expect("run ffmpeg");
        assert!(status.success());
        let probe = Probe::new(tool("ffprobe"));
        let (sha256, size) = probe.hash(&path).expect("hash");
        let file = MediaFile { path, written: "line.wav".into(), sha256, size, kind: FileKind::Wav };
        (ffmpeg, probe, file)
    }

    #[test]
    fn the_rule_decides_which_pauses_a_line_is_cut_at() {
        let dir = tempfile::tempdir().expect("temporary folder");
        // 0.5 s at 15.75 s (far from the even split) and 0.22 s at 22.51 s (near it).
        let (ffmpeg, probe, file) = generated_line(dir.path(), &[(15.5, 16.0), (22.4, 22.62)]);
        let splitter = Splitter::new(ffmpeg, dir.path().join("pieces"));
        let limits =
            AudioLimits { formats: Vec::new(), max_bytes: 5_000_000, min_seconds: 2.0, max_seconds: 30.0 };
        let cut = |rule: PauseRule| {
            let pieces =
                splitter.split(&file, Some(16_000), &limits, &probe, rule).expect("ffmpeg").expect("cut");
            assert_eq!(pieces.len(), 2, "{pieces:?}");
            pieces[1].start
        };
        let default = cut(PauseRule::DEFAULT);
        assert!((default - 15.75).abs() < 0.03, "the default rule sees only the 0.5 s pause: {default}");
        let short = cut(PauseRule { at_least_seconds: 0.2, ..PauseRule::DEFAULT });
        assert!((short - 22.51).abs() < 0.03, "0.2 s counts the pause near the even split: {short}");

        // Only the short pause: refused by default, cut with 0.2 s.
        let (ffmpeg, probe, file) = generated_line(dir.path(), &[(22.4, 22.62)]);
        let splitter = Splitter::new(ffmpeg, dir.path().join("pieces"));
        let refused =
            splitter.split(&file, Some(16_000), &limits, &probe, PauseRule::DEFAULT).expect("ffmpeg");
        assert_eq!(refused.map(|_| ()), Err(NoPause { from: 0.0, to: 45.0 }));
        let rule = PauseRule { at_least_seconds: 0.2, ..PauseRule::DEFAULT };
        let pieces =
            splitter.split(&file, Some(16_000), &limits, &probe, rule).expect("ffmpeg").expect("cut");
        assert_eq!(pieces[1].file.written, "line.wav (piece 2 of 2, 22.52-45.00 s)");
    }

    #[test]
    fn no_pause_names_the_longest_stretch_without_one() {
        let err = choose_cuts(45.0, &[pause(0.0, 0.4), pause(3.0, 3.5)], 2.0, 30.0).unwrap_err();
        assert_eq!(err, NoPause { from: 3.5, to: 45.0 });
        let err = choose_cuts(45.0, &[], 2.0, 30.0).unwrap_err();
        assert_eq!(err, NoPause { from: 0.0, to: 45.0 });
    }
}
