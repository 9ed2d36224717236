//! `Authorization: Key …` on queue and REST calls, as fal checks it.

use axum::http::HeaderMap;

/// Whether the headers carry the studio's key. Fal's Python client may also send `Bearer`
/// tokens from `fal auth login`; the studio has no user database, so only its key counts.
pub(crate) fn authorized(expected: Option<&str>, headers: &HeaderMap) -> bool {
    let Some(expected) = expected else { return true };
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    match value.split_once(' ') {
        Some((scheme, key)) if scheme.eq_ignore_ascii_case("key") => constant_time_eq(key.trim(), expected),
        _ => false,
    }
}

/// Compares without stopping at the first difference, so timing does not leak the key.
fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(axum::http::header::AUTHORIZATION, HeaderValue::from_str(value).expect("header"));
        headers
    }

    #[test]
    fn key_scheme_only() {
        assert!(authorized(Some("k1"), &headers("Key k1")));
        assert!(authorized(Some("k1"), &headers("key k1")));
        assert!(!authorized(Some("k1"), &headers("Key k2")));
        assert!(!authorized(Some("k1"), &headers("Bearer k1")));
        assert!(!authorized(Some("k1"), &HeaderMap::new()));
        assert!(authorized(None, &HeaderMap::new()));
    }
}
