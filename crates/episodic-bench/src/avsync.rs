//! Audio against video at every segment boundary of a finished episode: each segment's speech
//! starts with a click ([`crate::generate::click_lines`]), and the click should sound when the
//! segment's first frame shows.
//!
//! Both are read from the final MP4 as a player would: the audio decoded with its timestamps
//! honoured (silence where a gap is, samples dropped where two overlap), the frames with their
//! presentation times, both on the timeline ffmpeg gives the file. Which frame starts segment i is
//! counted, not guessed: the frames of the segments before it, each read from that segment's own
//! file (a concat by copy keeps every frame).

use std::path::Path;
use std::process::Command;

/// The rate the audio is decoded at.
pub const RATE: u32 = 48_000;

/// Where the clicks are in `samples` (mono): the first sample above `threshold` (in magnitude)
/// after at least `gap` samples at or under it (or at the start).
pub fn onsets(samples: &[f32], threshold: f32, gap: usize) -> Vec<usize> {
    let mut found = Vec::new();
    let mut last_loud: Option<usize> = None;
    for (index, sample) in samples.iter().enumerate() {
        if sample.abs() > threshold {
            if last_loud.is_none_or(|last| index - last > gap) {
                found.push(index);
            }
            last_loud = Some(index);
        }
    }
    found
}

/// The clicks of `file`'s first audio stream, in seconds on the file's timeline.
pub fn clicks(ffmpeg: &Path, file: &Path) -> Result<Vec<f64>, String> {
    let output = Command::new(ffmpeg)
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-i"])
        .arg(file)
        .args([
            "-map",
            "0:a:0",
            // Samples placed at their timestamps from 0: gaps become silence, as a player plays them.
            "-af",
            "aresample=async=1:min_hard_comp=0.001:first_pts=0",
            "-ac",
            "1",
            "-ar",
            &RATE.to_string(),
            "-f",
            "f32le",
            "pipe:1",
        ])
        .output()
        .map_err(|err| err.to_string())?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    let samples: Vec<f32> = output
        .stdout
        .chunks_exact(4)
        .map(|bytes| f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
        .collect();
    // A click is 5 ms at full scale over speech kept under a quarter; clicks are 2.5 s or more apart.
    Ok(onsets(&samples, 0.5, RATE as usize / 2)
        .into_iter()
        .map(|index| index as f64 / f64::from(RATE))
        .collect())
}

/// The presentation time of every frame of `file`'s first video stream, in order, on the same
/// timeline as [`clicks`] (ffmpeg's, after its input offset).
pub fn frame_times(ffmpeg: &Path, file: &Path) -> Result<Vec<f64>, String> {
    let output = Command::new(ffmpeg)
        .args(["-hide_banner", "-loglevel", "info", "-nostdin", "-i"])
        .arg(file)
        .args(["-map", "0:v:0", "-vf", "showinfo", "-f", "null", "-"])
        .output()
        .map_err(|err| err.to_string())?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter(|line| line.contains("showinfo") && line.contains(" n:"))
        .filter_map(|line| line.split("pts_time:").nth(1)?.split_whitespace().next()?.parse().ok())
        .collect())
}

/// How many video frames `file` holds (its packets, counted).
pub fn frame_count(ffprobe: &Path, file: &Path) -> Result<usize, String> {
    let output = Command::new(ffprobe)
        .args(["-v", "error", "-select_streams", "v:0", "-count_packets"])
        .args(["-show_entries", "stream=nb_read_packets", "-of", "csv=p=0"])
        .arg(file)
        .output()
        .map_err(|err| err.to_string())?;
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .trim_end_matches(',')
        .parse()
        .map_err(|_| format!("no frame count for {}", file.display()))
}

/// Audio minus video at each boundary, seconds: for segment i (of `frames[i]` frames), the click
/// nearest to the time of its first frame in the episode, minus that time. Positive: the sound is
/// late.
pub fn offsets(frames: &[usize], times: &[f64], clicks: &[f64]) -> Result<Vec<f64>, String> {
    let mut first = 0;
    let mut offsets = Vec::with_capacity(frames.len());
    for (index, count) in frames.iter().enumerate() {
        let Some(&at) = times.get(first) else {
            return Err(format!(
                "segment {index} starts at frame {first}, past the episode's {}",
                times.len()
            ));
        };
        let click = clicks
            .iter()
            .copied()
            .min_by(|a, b| (a - at).abs().total_cmp(&(b - at).abs()))
            .ok_or("no click in the episode's audio")?;
        offsets.push(click - at);
        first += count;
    }
    Ok(offsets)
}

/// What the offsets of one episode come to.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// The largest |offset|, seconds.
    pub max_abs: f64,
    /// At the first boundary, seconds.
    pub first: f64,
    /// At the last boundary, seconds.
    pub last: f64,
    /// The least-squares slope against the segment index, seconds per segment.
    pub slope: f64,
}

impl Summary {
    /// The summary of one episode's offsets, in segment order.
    pub fn of(offsets: &[f64]) -> Summary {
        let n = offsets.len() as f64;
        let mean_x = (n - 1.0) / 2.0;
        let mean_y = offsets.iter().sum::<f64>() / n.max(1.0);
        let (mut sxy, mut sxx) = (0.0, 0.0);
        for (index, offset) in offsets.iter().enumerate() {
            let dx = index as f64 - mean_x;
            sxy += dx * (offset - mean_y);
            sxx += dx * dx;
        }
        Summary {
            max_abs: offsets.iter().fold(0.0, |max, offset| f64::max(max, offset.abs())),
            first: offsets.first().copied().unwrap_or(0.0),
            last: offsets.last().copied().unwrap_or(0.0),
            slope: if sxx > 0.0 { sxy / sxx } else { 0.0 },
        }
    }

    /// Whether the offset grows with the segment index: the fitted line moves by more than
    /// `tolerance` seconds from the first boundary to the last.
    pub fn grows(&self, segments: usize, tolerance: f64) -> bool {
        (self.slope * segments.saturating_sub(1) as f64).abs() > tolerance
    }

    /// One line for the report: the worst, first → last, the trend.
    pub fn describe(&self, segments: usize, tolerance: f64) -> String {
        format!(
            "max {:.1} ms; first {:+.1} ms → last {:+.1} ms; trend {:+.2} ms per segment: {}",
            self.max_abs * 1000.0,
            self.first * 1000.0,
            self.last * 1000.0,
            self.slope * 1000.0,
            if self.grows(segments, tolerance) { "grows with the index" } else { "does not grow" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_are_found_once_each() {
        let mut samples = vec![0.1_f32; 1000];
        for index in [10, 11, 14, 500, 503, 990] {
            samples[index] = if index % 2 == 0 { 0.9 } else { -0.9 };
        }
        assert_eq!(onsets(&samples, 0.5, 100), [10, 500, 990]);
        assert_eq!(onsets(&samples, 0.95, 100), Vec::<usize>::new());
    }

    #[test]
    fn offsets_follow_the_segments_frames() {
        // Three segments of 3, 2 and 4 frames at 10 fps; the audio runs 5 ms late more each time.
        let times: Vec<f64> = (0..9).map(|frame| f64::from(frame) / 10.0).collect();
        let clicks = [0.0, 0.305, 0.51];
        let offsets = offsets(&[3, 2, 4], &times, &clicks).expect("offsets");
        assert!(
            offsets.iter().zip([0.0, 0.005, 0.01]).all(|(got, want)| (got - want).abs() < 1e-9),
            "{offsets:?}"
        );
        let summary = Summary::of(&offsets);
        assert!((summary.slope - 0.005).abs() < 1e-9);
        assert!((summary.max_abs - 0.01).abs() < 1e-9);
        assert!(summary.grows(3, 0.005) && !summary.grows(3, 0.02));
        assert!(offsets_past_the_end());
    }

    /// An MP4 of two 1 s segments (30 frames each) whose clicks sound 40 ms after each segment's
    /// first frame: the whole chain (decode, onsets, frame times, offsets) must read +40 ms.
    #[test]
    fn a_late_sound_is_measured_late() {
        let Ok(ffmpeg) = episodic_media::locate("ffmpeg", None) else { return };
        let Ok(ffprobe) = episodic_media::locate("ffprobe", None) else { return };
        let dir = tempfile::tempdir().expect("a scratch folder");
        let file = dir.path().join("late.mp4");
        let status = Command::new(&ffmpeg.path)
            .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
            .args(["-f", "lavfi", "-i", "testsrc2=s=64x36:r=30:d=2"])
            .args([
                "-f",
                "lavfi",
                "-i",
                "aevalsrc=exprs='0.98*lt(mod(t,1),0.005)*sin(2*PI*2000*t)':s=48000:d=2",
            ])
            .args(["-filter_complex", "[1:a]adelay=40[a]", "-map", "0:v", "-map", "[a]"])
            .args(["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac"])
            .arg(&file)
            .status()
            .expect("run ffmpeg");
        assert!(status.success());
        assert_eq!(frame_count(&ffprobe.path, &file), Ok(60));
        let times = frame_times(&ffmpeg.path, &file).expect("frame times");
        let clicks = clicks(&ffmpeg.path, &file).expect("clicks");
        assert_eq!(clicks.len(), 2, "{clicks:?}");
        let offsets = offsets(&[30, 30], &times, &clicks).expect("offsets");
        assert!(offsets.iter().all(|offset| (offset - 0.040).abs() < 0.002), "{offsets:?}");
    }

    fn offsets_past_the_end() -> bool {
        offsets(&[5, 5], &[0.0, 0.1], &[0.0]).is_err()
    }
}
