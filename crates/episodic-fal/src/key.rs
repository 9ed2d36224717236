//! The fal API key: read from the environment, shown to nobody.

use std::fmt;

/// Environment variables a key is read from, in order of preference.
pub const FAL_KEY: &str = "FAL_KEY";
/// Key id half of a split key; used with [`FAL_KEY_SECRET`].
pub const FAL_KEY_ID: &str = "FAL_KEY_ID";
/// Secret half of a split key; used with [`FAL_KEY_ID`].
pub const FAL_KEY_SECRET: &str = "FAL_KEY_SECRET";
/// Fallback name some tools use.
pub const FAL_AI_API_KEY: &str = "FAL_AI_API_KEY";

/// Where a key came from, so diagnostics can name the variable without showing the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeySource {
    /// `FAL_KEY`.
    FalKey,
    /// `FAL_KEY_ID` and `FAL_KEY_SECRET`, joined with `:`.
    FalKeyIdAndSecret,
    /// `FAL_AI_API_KEY`.
    FalAiApiKey,
    /// Given by the caller.
    Explicit,
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::FalKey => FAL_KEY,
            Self::FalKeyIdAndSecret => "FAL_KEY_ID and FAL_KEY_SECRET",
            Self::FalAiApiKey => FAL_AI_API_KEY,
            Self::Explicit => "the caller",
        })
    }
}

/// A key that cannot be used in an HTTP header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the fal key from {origin} contains whitespace or control characters; check that the \
     variable holds only the key"
)]
pub struct KeyError {
    /// Where the bad key came from.
    pub origin: KeySource,
}

/// A fal API key (`key_id:key_secret`).
///
/// `Debug` and `Display` print `FalKey(***)`; the value leaves this type only as the
/// `Authorization` header the client builds.
#[derive(Clone, PartialEq, Eq)]
pub struct FalKey {
    secret: String,
    source: KeySource,
}

impl FalKey {
    /// Wraps a key given by the caller.
    pub fn new(key: impl Into<String>) -> Result<Self, KeyError> {
        Self::checked(key.into(), KeySource::Explicit)
    }

    /// Reads the key from the process environment; see [`FalKey::from_lookup`].
    pub fn from_env() -> Result<Option<Self>, KeyError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the key through `lookup`: `FAL_KEY`, else `FAL_KEY_ID:FAL_KEY_SECRET` when both
    /// are set, else `FAL_AI_API_KEY`. Empty or blank values count as unset, so an exported
    /// but empty `FAL_KEY=` does not shadow a real key further down the list.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, KeyError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        if let Some(key) = get(FAL_KEY) {
            return Self::checked(key, KeySource::FalKey).map(Some);
        }
        if let (Some(id), Some(secret)) = (get(FAL_KEY_ID), get(FAL_KEY_SECRET)) {
            return Self::checked(format!("{id}:{secret}"), KeySource::FalKeyIdAndSecret).map(Some);
        }
        if let Some(key) = get(FAL_AI_API_KEY) {
            return Self::checked(key, KeySource::FalAiApiKey).map(Some);
        }
        Ok(None)
    }

    fn checked(secret: String, source: KeySource) -> Result<Self, KeyError> {
        // A trailing newline from `$(cat keyfile)` is common and harmless; anything else that
        // cannot sit in a header is a mistake worth reporting before the first request.
        let trimmed = secret.trim();
        if trimmed.is_empty() || trimmed.bytes().any(|b| !b.is_ascii_graphic()) {
            return Err(KeyError { origin: source });
        }
        Ok(Self { secret: trimmed.to_owned(), source })
    }

    /// Where the key came from.
    pub fn source(&self) -> KeySource {
        self.source
    }

    /// `Key <key>`, for the `Authorization` header only.
    pub(crate) fn authorization(&self) -> String {
        format!("Key {}", self.secret)
    }

    /// The raw key, so error text from a server can be scrubbed of it.
    pub(crate) fn expose(&self) -> &str {
        &self.secret
    }
}

impl fmt::Debug for FalKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FalKey(***)")
    }
}

impl fmt::Display for FalKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FalKey(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn fal_key_wins() {
        let k = FalKey::from_lookup(env(&[
            ("FAL_KEY", "id:secret"),
            ("FAL_KEY_ID", "other"),
            ("FAL_KEY_SECRET", "other"),
            ("FAL_AI_API_KEY", "third"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(k.authorization(), "Key id:secret");
        assert_eq!(k.source(), KeySource::FalKey);
    }

    #[test]
    fn id_and_secret_are_joined() {
        let k = FalKey::from_lookup(env(&[
            ("FAL_KEY_ID", "abc"),
            ("FAL_KEY_SECRET", "def"),
            ("FAL_AI_API_KEY", "third"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(k.authorization(), "Key abc:def");
        assert_eq!(k.source(), KeySource::FalKeyIdAndSecret);
    }

    #[test]
    fn half_a_split_key_falls_through() {
        let k =
            FalKey::from_lookup(env(&[("FAL_KEY_ID", "abc"), ("FAL_AI_API_KEY", "third")])).unwrap().unwrap();
        assert_eq!(k.authorization(), "Key third");
        assert_eq!(k.source(), KeySource::FalAiApiKey);
    }

    #[test]
    fn empty_values_count_as_unset() {
        let k = FalKey::from_lookup(env(&[("FAL_KEY", "  "), ("FAL_AI_API_KEY", "x:y")])).unwrap().unwrap();
        assert_eq!(k.authorization(), "Key x:y");
        assert!(FalKey::from_lookup(env(&[("FAL_KEY", "")])).unwrap().is_none());
        assert!(FalKey::from_lookup(env(&[])).unwrap().is_none());
    }

    #[test]
    fn trailing_newline_is_trimmed() {
        let k = FalKey::from_lookup(env(&[("FAL_KEY", "id:secret\n")])).unwrap().unwrap();
        assert_eq!(k.authorization(), "Key id:secret");
    }

    #[test]
    fn header_breaking_keys_are_refused_without_echoing_them() {
        let err = FalKey::from_lookup(env(&[("FAL_KEY", "id:sec\nret")])).unwrap_err();
        assert_eq!(err.origin, KeySource::FalKey);
        assert!(!err.to_string().contains("sec"), "{err}");
        assert!(err.to_string().contains("FAL_KEY"));
        assert!(FalKey::new("a b").is_err());
    }

    #[test]
    fn debug_and_display_hide_the_key() {
        let k = FalKey::new("id:very-secret").unwrap();
        assert_eq!(format!("{k:?}"), "FalKey(***)");
        assert_eq!(format!("{k}"), "FalKey(***)");
        assert_eq!(format!("{:?}", Some(&k)), "Some(FalKey(***))");
    }
}
