//! Escaping: the one way text from a report enters a page.

use std::fmt::Write;

/// `text` safe inside HTML or SVG text and inside a quoted attribute value: `& < > " '` become
/// character references.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A relative path (`/`-separated) as a URL path: every byte outside RFC 3986's unreserved set
/// and `/` is percent-encoded, so a file named `a b#1.mp4` links to itself, not to a fragment.
pub fn url_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// Dollars as the terminal shows them: cents, or three decimals under a cent so a small charge
/// does not read as free.
pub fn dollars(usd: f64) -> String {
    // Whole micro-dollars first (the engine's unit), then integer rounding half up, as the
    // terminal's `Usd` does: 4.985 reads $4.99 whatever its f64 is.
    let micros = (usd.max(0.0) * 1e6).round() as u64;
    if micros > 0 && micros < 10_000 {
        let mills = (micros + 500) / 1_000;
        format!("${}.{:03}", mills / 1_000, mills % 1_000)
    } else {
        let cents = (micros + 5_000) / 10_000;
        format!("${}.{:02}", cents / 100, cents % 100)
    }
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS UTC` (the proleptic Gregorian calendar; no time zone
/// database needed, so the page reads the same everywhere).
pub fn utc(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC", secs / 3_600, secs % 3_600 / 60, secs % 60)
}

/// Seconds: to a hundredth under one, a tenth under a minute, then minutes and seconds.
pub fn seconds(secs: f64) -> String {
    if secs < 1.0 {
        format!("{secs:.2} s")
    } else if secs < 60.0 {
        format!("{secs:.1} s")
    } else {
        let whole = secs.round() as u64;
        format!("{} min {:02} s", whole / 60, whole % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_quotes_are_escaped() {
        assert_eq!(
            escape(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        assert_eq!(escape("plain ünïcode"), "plain ünïcode");
    }

    #[test]
    fn url_paths_keep_slashes_and_encode_the_rest() {
        assert_eq!(url_path("out/a b#1?.mp4"), "out/a%20b%231%3F.mp4");
        assert_eq!(url_path("épisode.mp4"), "%C3%A9pisode.mp4");
        assert_eq!(url_path("../x/ep-1_v2.mp4"), "../x/ep-1_v2.mp4");
    }

    #[test]
    fn money_and_time_read_like_the_terminal() {
        assert_eq!(dollars(0.0), "$0.00");
        assert_eq!(dollars(0.004), "$0.004");
        assert_eq!(dollars(4.985), "$4.99");
        assert_eq!(dollars(1.295), "$1.30");
        assert_eq!(seconds(0.041), "0.04 s");
        assert_eq!(seconds(3.12), "3.1 s");
        assert_eq!(seconds(125.4), "2 min 05 s");
    }

    #[test]
    fn unix_times_read_as_utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_796_042_096), "2026-11-30 12:34:56 UTC");
    }
}
