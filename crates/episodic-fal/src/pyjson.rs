//! Python's `json.dumps(obj, sort_keys=True)` byte for byte.
//!
//! fal serialises webhook bodies this way and signs the bytes, so the studio must produce the
//! same bytes for a receiver that re-serialises (as some do) to still verify: separators
//! `", "` and `": "`, keys sorted by code point at every level, everything outside printable
//! ASCII escaped as lowercase `\uXXXX` (surrogate pairs above the BMP), floats as Python's
//! `repr`.

use serde_json::{Map, Number, Value};
use std::fmt::Write as _;

/// Serialises `value` as `json.dumps(value, sort_keys=True)` would.
pub fn dumps_sorted(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => write_object(out, map),
    }
}

fn write_object(out: &mut String, map: &Map<String, Value>) {
    // Sorted here even though serde_json's default map is ordered: another crate in the build
    // may turn on `preserve_order`, which would silently change the signed bytes.
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    out.push('{');
    for (i, (key, value)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_string(out, key);
        out.push_str(": ");
        write_value(out, value);
    }
    out.push('}');
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    // Writing to a String cannot fail.
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

fn write_number(out: &mut String, n: &Number) {
    if let Some(i) = n.as_i64() {
        let _ = write!(out, "{i}");
    } else if let Some(u) = n.as_u64() {
        let _ = write!(out, "{u}");
    } else if let Some(f) = n.as_f64() {
        out.push_str(&python_float_repr(f));
    }
}

/// Python's `repr(float)`: the shortest digits that round-trip, positional for decimal
/// exponents in [-4, 16), scientific (`1e+16`, `1.5e-07`) outside, always with a `.0` or an
/// exponent so it reads back as a float.
fn python_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.to_owned();
    }
    // `{:e}` gives Rust's shortest round-trip digits, e.g. `1.2345e-5`.
    let sci = format!("{f:e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let n_digits = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    if (-4..16).contains(&exponent) {
        let point = exponent + 1;
        let body = if point <= 0 {
            format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
        } else if point >= n_digits {
            format!("{digits}{}.0", "0".repeat((point - n_digits).unsigned_abs() as usize))
        } else {
            let (int, frac) = digits.split_at(point.unsigned_abs() as usize);
            format!("{int}.{frac}")
        };
        format!("{sign}{body}")
    } else {
        let (first, rest) = digits.split_at(1);
        let mantissa = if rest.is_empty() { first.to_owned() } else { format!("{first}.{rest}") };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}e{exp_sign}{:02}", exponent.unsigned_abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matches_python_for_nested_objects() {
        // python3 -c 'import json; print(json.dumps({...}, sort_keys=True))'
        let v = json!({
            "status": "OK",
            "request_id": "r-1",
            "payload": {"video": {"url": "https://x/y.mp4", "file_size": 12, "content_type": "video/mp4"},
                        "duration": 5.0},
            "error": null,
            "list": [1, true, false, null, "a\"b\\c\n"],
            "empty": {},
            "none": []
        });
        assert_eq!(
            dumps_sorted(&v),
            r#"{"empty": {}, "error": null, "list": [1, true, false, null, "a\"b\\c\n"], "none": [], "payload": {"duration": 5.0, "video": {"content_type": "video/mp4", "file_size": 12, "url": "https://x/y.mp4"}}, "request_id": "r-1", "status": "OK"}"#
        );
    }

    #[test]
    fn escapes_like_ensure_ascii() {
        let v = json!("é 😀 \u{1} \u{7f} \u{8}\u{c}\t\r ~");
        assert_eq!(dumps_sorted(&v), r#""\u00e9 \ud83d\ude00 \u0001 \u007f \b\f\t\r ~""#);
    }

    #[test]
    fn keys_sort_by_code_point() {
        let v = json!({"b": 1, "a": 2, "B": 3, "é": 4, "aa": 5});
        assert_eq!(dumps_sorted(&v), r#"{"B": 3, "a": 2, "aa": 5, "b": 1, "\u00e9": 4}"#);
    }

    #[test]
    fn floats_like_python_repr() {
        for (f, expected) in [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (123456.789, "123456.789"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (9999999999999998.0, "9999999999999998.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1.2345678901234568e17, "1.2345678901234568e+17"),
            (5e-324, "5e-324"),
            (1e100, "1e+100"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (7.2, "7.2"),
            (12.5, "12.5"),
        ] {
            assert_eq!(python_float_repr(f), expected, "{f:e}");
        }
    }

    #[test]
    fn large_integers_stay_integers() {
        assert_eq!(dumps_sorted(&json!(u64::MAX)), "18446744073709551615");
        assert_eq!(dumps_sorted(&json!(-5)), "-5");
    }
}
