//! The two timestamp formats fal's answers use: RFC 3339 (`expires_at` of a CDN token) and
//! the HTTP date of a `Retry-After` header. Parsed by hand because a date crate would be the
//! heaviest dependency of this crate for two fields.

/// Seconds since the Unix epoch of a proleptic Gregorian civil date (Howard Hinnant's
/// `days_from_civil`), so no table of month lengths is needed.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01 (Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Unix seconds as `2026-10-27T21:47:25+00:00`, the form fal's CDN token carries.
pub fn format_rfc3339(unix: i64) -> String {
    let (year, month, day) = civil_from_days(unix.div_euclid(86_400));
    let rest = unix.rem_euclid(86_400);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}+00:00", rest / 3600, rest % 3600 / 60, rest % 60)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

fn unix_seconds(year: i64, month: u32, day: u32, hour: u32, min: u32, sec: u32) -> Option<i64> {
    let valid = (1..=12).contains(&month)
        && day >= 1
        && day <= days_in_month(year, month)
        && hour < 24
        && min < 60
        && sec <= 60;
    valid.then(|| {
        days_from_civil(year, month, day) * 86_400
            + i64::from(hour) * 3600
            + i64::from(min) * 60
            + i64::from(sec)
    })
}

fn number<T: std::str::FromStr>(s: &str, len: usize) -> Option<T> {
    (s.len() == len && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
}

/// Parses `2026-10-27T21:47:25.394105+00:00` (also `Z`, a space for `T`, no fraction) to Unix
/// seconds, fraction dropped.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.len() < 19 || !s.is_char_boundary(19) {
        return None;
    }
    let (date_time, zone) = s.split_at(19);
    let b = date_time.as_bytes();
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' {
        return None;
    }
    if b[16] != b':' {
        return None;
    }
    let base = unix_seconds(
        number(&date_time[0..4], 4)?,
        number(&date_time[5..7], 2)?,
        number(&date_time[8..10], 2)?,
        number(&date_time[11..13], 2)?,
        number(&date_time[14..16], 2)?,
        number(&date_time[17..19], 2)?,
    )?;
    let zone = match zone.strip_prefix('.') {
        Some(rest) => {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return None;
            }
            &rest[digits..]
        }
        None => zone,
    };
    let offset = match zone {
        "Z" | "z" => 0,
        _ => {
            let (sign, hm) = match zone.split_at_checked(1)? {
                ("+", hm) => (1, hm),
                ("-", hm) => (-1, hm),
                _ => return None,
            };
            let (h, m) = hm.split_once(':')?;
            let h: i64 = number(h, 2)?;
            let m: i64 = number(m, 2)?;
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 3600 + m * 60)
        }
    };
    Some(base - offset)
}

const MONTHS: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// Parses an IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`, to Unix seconds. The obsolete
/// RFC 850 and asctime forms are not accepted; a `Retry-After` we cannot read falls back to
/// the computed backoff, which is safe.
pub(crate) fn parse_http_date(s: &str) -> Option<i64> {
    let mut parts = s.split_ascii_whitespace();
    let _weekday = parts.next()?.strip_suffix(',')?;
    let day = parts.next()?;
    let month = parts.next()?;
    let year = parts.next()?;
    let time = parts.next()?;
    if parts.next()? != "GMT" || parts.next().is_some() {
        return None;
    }
    let month = u32::try_from(MONTHS.iter().position(|m| *m == month)? + 1).ok()?;
    let mut hms = time.split(':');
    let (h, m, sec) = (hms.next()?, hms.next()?, hms.next()?);
    if hms.next().is_some() {
        return None;
    }
    unix_seconds(number(year, 4)?, month, number(day, 2)?, number(h, 2)?, number(m, 2)?, number(sec, 2)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_examples() {
        // `date -u -d 2026-10-27T21:47:25Z +%s`
        assert_eq!(parse_rfc3339("2026-10-27T21:47:25.394105+00:00"), Some(1_793_137_645));
        assert_eq!(parse_rfc3339("2026-10-27T21:47:25Z"), Some(1_793_137_645));
        assert_eq!(parse_rfc3339("2026-10-27T23:47:25+02:00"), Some(1_793_137_645));
        assert_eq!(parse_rfc3339("2026-10-27T19:17:25-02:30"), Some(1_793_137_645));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2024-02-29T00:00:00Z"), Some(1_709_164_800));
    }

    #[test]
    fn rfc3339_rejects_garbage() {
        for bad in [
            "",
            "2026-10-27",
            "2026-10-27T21:47:25",
            "2026-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2026-10-27T21:47:25.+00:00",
            "2026-10-27T21:47:25+0000",
            "2026-10-27T25:47:25Z",
            "2026/10/27T21:47:25Z",
            "2026-10-27T21:47:25Zjunk",
            "2026-10-27T21:47:2é",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn http_date_examples() {
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(parse_http_date("Tue, 27 Oct 2026 21:47:25 GMT"), Some(1_793_137_645));
    }

    #[test]
    fn http_date_rejects_other_forms() {
        for bad in [
            "",
            "120",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 31 Nov 1994 08:49:37 GMT",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn format_round_trips() {
        for unix in [0, 1_784_206_014, 1_800_000_000, 951_782_400] {
            let text = super::format_rfc3339(unix);
            assert_eq!(super::parse_rfc3339(&text), Some(unix), "{text}");
        }
        assert_eq!(super::format_rfc3339(0), "1970-01-01T00:00:00+00:00");
    }
}
