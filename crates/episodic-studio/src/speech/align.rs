//! Forced alignment without a speech recogniser, honestly approximate:
//!
//! 1. The audio is decoded to mono samples and cut into speech spans: 20 ms windows louder than
//!    a threshold (3 % of the loudest window's RMS, at least -40 dBFS), silences of 150 ms or
//!    more between them.
//! 2. Every word of the text is voiced with espeak-ng; the lengths of those voicings are the
//!    words' relative durations.
//! 3. The words are laid on a "speech clock" that runs only during the speech spans, in
//!    proportion to those durations. Each silence between spans is snapped to the word
//!    boundary nearest to it on that clock (in order, one boundary per silence), and the words
//!    between two snapped silences share the speech between them in proportion again.
//! 4. The clock is mapped back to the audio's time: a word that ends at a snapped silence ends
//!    where the silence starts, the next starts where it ends.
//!
//! `loss` is the mean distance between each silence and the boundary it was snapped to, in
//! mean word lengths, capped at 1 (a silence no boundary was left for counts 1): 0 when the
//! text's rhythm, as espeak speaks it, puts a word boundary exactly at every pause.

/// Window over which loudness is measured.
const WINDOW_SECONDS: f64 = 0.02;
/// Shortest silence that separates two spans.
const MIN_SILENCE_SECONDS: f64 = 0.15;
/// -40 dBFS.
const FLOOR_RMS: f64 = 328.0;

/// The spans of `samples` (mono at `rate`) that hold sound, in seconds.
pub(crate) fn speech_spans(samples: &[i16], rate: u32) -> Vec<(f64, f64)> {
    let window = ((WINDOW_SECONDS * f64::from(rate)) as usize).max(1);
    let rms: Vec<f64> = samples
        .chunks(window)
        .map(|w| (w.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / w.len() as f64).sqrt())
        .collect();
    let peak = rms.iter().copied().fold(0.0, f64::max);
    let threshold = (peak * 0.03).max(FLOOR_RMS);
    let at = |index: usize| (index * window) as f64 / f64::from(rate);
    let end = samples.len() as f64 / f64::from(rate);
    let mut spans: Vec<(f64, f64)> = Vec::new();
    let mut open: Option<usize> = None;
    for (index, &level) in rms.iter().enumerate() {
        match (level > threshold, open) {
            (true, None) => open = Some(index),
            (false, Some(start)) => {
                spans.push((at(start), at(index)));
                open = None;
            }
            _ => {}
        }
    }
    if let Some(start) = open {
        spans.push((at(start), end));
    }
    // Join spans separated by less than a pause.
    let mut joined: Vec<(f64, f64)> = Vec::new();
    for span in spans {
        match joined.last_mut() {
            Some(last) if span.0 - last.1 < MIN_SILENCE_SECONDS => last.1 = span.1,
            _ => joined.push(span),
        }
    }
    joined
}

/// Word spans for words of relative durations `weights`, fitted onto `spans`; and the loss.
pub(crate) fn fit(weights: &[f64], spans: &[(f64, f64)]) -> (Vec<(f64, f64)>, f64) {
    let n = weights.len();
    if n == 0 || spans.is_empty() {
        return (vec![(0.0, 0.0); n], 0.0);
    }
    // The speech clock: where each span starts on it, and its total.
    let mut clock_starts = Vec::with_capacity(spans.len());
    let mut total = 0.0;
    for (start, end) in spans {
        clock_starts.push(total);
        total += end - start;
    }
    let mut cumulative = vec![0.0; n + 1];
    for (j, w) in weights.iter().enumerate() {
        cumulative[j + 1] = cumulative[j] + w.max(1e-6);
    }
    let weight_total = cumulative[n];
    let boundary = |j: usize| total * cumulative[j] / weight_total;
    let mean_word = total / n as f64;

    // Snap each silence to the nearest free boundary after the previous one.
    let mut anchors: Vec<(usize, f64)> = vec![(0, 0.0)];
    let mut distances = Vec::new();
    for gap in clock_starts.iter().skip(1) {
        let first_free = anchors.last().map_or(1, |a| a.0 + 1);
        let best = (first_free..n).min_by(|&a, &b| {
            (boundary(a) - gap)
                .abs()
                .partial_cmp(&(boundary(b) - gap).abs())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        match best {
            Some(j) => {
                distances.push(((boundary(j) - gap).abs() / mean_word).min(1.0));
                anchors.push((j, *gap));
            }
            None => distances.push(1.0),
        }
    }
    anchors.push((n, total));

    // Clock positions of every boundary, proportional between anchors.
    let mut clock = vec![0.0; n + 1];
    for pair in anchors.windows(2) {
        let ((ja, ca), (jb, cb)) = (pair[0], pair[1]);
        let span_weight = cumulative[jb] - cumulative[ja];
        for j in ja..=jb {
            let share = if span_weight > 0.0 { (cumulative[j] - cumulative[ja]) / span_weight } else { 0.0 };
            clock[j] = ca + (cb - ca) * share;
        }
    }
    let to_time = |c: f64, prefer_later: bool| {
        let index = clock_starts
            .iter()
            .rposition(|&s| if prefer_later { s <= c + 1e-9 } else { s < c - 1e-9 })
            .unwrap_or(0);
        spans[index].0 + (c - clock_starts[index]).min(spans[index].1 - spans[index].0)
    };
    let words = (0..n)
        .map(|j| (to_time(clock[j], true), to_time(clock[j + 1], false).max(to_time(clock[j], true))))
        .collect();
    let loss =
        if distances.is_empty() { 0.0 } else { distances.iter().sum::<f64>() / distances.len() as f64 };
    (words, loss)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(seconds: f64, rate: u32) -> Vec<i16> {
        (0..(seconds * f64::from(rate)) as usize).map(|i| ((i as f64 * 0.3).sin() * 8000.0) as i16).collect()
    }

    #[test]
    fn spans_are_found_between_silences() {
        let rate = 16_000;
        let mut samples = vec![0i16; 8000];
        samples.extend(tone(1.0, rate));
        samples.extend(vec![0i16; 8000]);
        samples.extend(tone(0.5, rate));
        samples.extend(vec![0i16; 1000]); // too short to split anything
        let spans = speech_spans(&samples, rate);
        assert_eq!(spans.len(), 2, "{spans:?}");
        assert!((spans[0].0 - 0.5).abs() < 0.03 && (spans[0].1 - 1.5).abs() < 0.03, "{spans:?}");
        assert!((spans[1].0 - 2.0).abs() < 0.03 && (spans[1].1 - 2.5).abs() < 0.03, "{spans:?}");
    }

    #[test]
    fn silences_snap_to_word_boundaries() {
        // Three words of equal weight, two spans: the silence lands between words 2 and 3 when
        // the first span is twice as long as the second.
        let (words, loss) = fit(&[1.0, 1.0, 1.0], &[(0.5, 1.5), (2.0, 2.5)]);
        assert_eq!(words.len(), 3);
        assert!((words[0].0 - 0.5).abs() < 1e-9);
        assert!((words[1].1 - 1.5).abs() < 1e-9, "{words:?}");
        assert!((words[2].0 - 2.0).abs() < 1e-9, "{words:?}");
        assert!((words[2].1 - 2.5).abs() < 1e-9);
        assert!(loss < 1e-9, "{loss}");
        for pair in words.windows(2) {
            assert!(pair[0].1 <= pair[1].0 + 1e-9, "{words:?}");
        }
    }

    #[test]
    fn a_poor_fit_has_a_loss() {
        let (_, loss) = fit(&[1.0, 1.0], &[(0.0, 0.2), (1.0, 2.6)]);
        assert!(loss > 0.5, "{loss}");
        assert_eq!(fit(&[], &[(0.0, 1.0)]).0.len(), 0);
    }
}
