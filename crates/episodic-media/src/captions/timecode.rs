//! Times as each caption format writes them, rounded once to the format's unit.
//!
//! A time is rounded to whole units (milliseconds for SRT and WebVTT, centiseconds for ASS)
//! before it is split into hours, minutes and seconds, so `59.9996` s is `00:01:00,000` and never
//! `00:00:59,1000`.

/// `seconds` in whole `per_second` units (1000 for milliseconds), rounded to the nearest; negative
/// or not-a-number times are 0.
pub(crate) fn units(seconds: f64, per_second: u64) -> u64 {
    let scaled = (seconds * per_second as f64).round();
    if scaled.is_finite() && scaled > 0.0 { scaled as u64 } else { 0 }
}

/// `HH:MM:SS,mmm` (SRT) from milliseconds; hours grow past two digits when they must.
pub(crate) fn srt(millis: u64) -> String {
    let (hours, minutes, seconds, rest) = split(millis, 1000);
    format!("{hours:02}:{minutes:02}:{seconds:02},{rest:03}")
}

/// `HH:MM:SS.mmm` (WebVTT, which always may carry hours) from milliseconds.
pub(crate) fn vtt(millis: u64) -> String {
    let (hours, minutes, seconds, rest) = split(millis, 1000);
    format!("{hours:02}:{minutes:02}:{seconds:02}.{rest:03}")
}

/// `H:MM:SS.cc` (ASS) from centiseconds.
pub(crate) fn ass(centis: u64) -> String {
    let (hours, minutes, seconds, rest) = split(centis, 100);
    format!("{hours}:{minutes:02}:{seconds:02}.{rest:02}")
}

fn split(units: u64, per_second: u64) -> (u64, u64, u64, u64) {
    let whole = units / per_second;
    (whole / 3600, whole / 60 % 60, whole % 60, units % per_second)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_happens_before_splitting() {
        assert_eq!(srt(units(59.9996, 1000)), "00:01:00,000");
        assert_eq!(srt(units(59.9994, 1000)), "00:00:59,999");
        assert_eq!(ass(units(59.996, 100)), "0:01:00.00");
        assert_eq!(ass(units(1.234, 100)), "0:00:01.23");
        assert_eq!(ass(units(1.235_000_1, 100)), "0:00:01.24");
        assert_eq!(vtt(units(0.0005, 1000)), "00:00:00.001");
    }

    #[test]
    fn hours_and_odd_inputs() {
        assert_eq!(srt(units(3600.0, 1000)), "01:00:00,000");
        assert_eq!(vtt(units(12_307.0, 1000)), "03:25:07.000");
        assert_eq!(srt(units(100.0 * 3600.0 + 0.5, 1000)), "100:00:00,500");
        assert_eq!(ass(units(10.0 * 3600.0 + 61.01, 100)), "10:01:01.01");
        assert_eq!(units(-1.0, 1000), 0);
        assert_eq!(units(f64::NAN, 1000), 0);
    }
}
