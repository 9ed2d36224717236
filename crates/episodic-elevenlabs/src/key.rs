//! The ElevenLabs API key: read from the environment, shown to nobody.

use std::fmt;

/// The variable the key is read from.
pub const ELEVENLABS_API_KEY: &str = "ELEVENLABS_API_KEY";

/// A key that cannot be sent as a header. Names the variable, never the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the ElevenLabs key from {origin} contains whitespace or control characters; check that the \
     variable holds only the key"
)]
pub struct KeyError {
    /// `ELEVENLABS_API_KEY` or `the caller`.
    pub origin: &'static str,
}

/// An ElevenLabs API key, sent as the `xi-api-key` header.
///
/// `Debug` and `Display` print `ElevenLabsKey(***)`; the value leaves this type only as the header
/// the client builds.
#[derive(Clone, PartialEq, Eq)]
pub struct ElevenLabsKey {
    secret: String,
}

impl ElevenLabsKey {
    /// Wraps a key given by the caller.
    pub fn new(key: impl Into<String>) -> Result<Self, KeyError> {
        Self::checked(key.into(), "the caller")
    }

    /// Reads `ELEVENLABS_API_KEY` from the process environment; `None` when unset or blank.
    pub fn from_env() -> Result<Option<Self>, KeyError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// As [`ElevenLabsKey::from_env`], reading variables through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, KeyError> {
        match lookup(ELEVENLABS_API_KEY).filter(|v| !v.trim().is_empty()) {
            Some(key) => Self::checked(key, ELEVENLABS_API_KEY).map(Some),
            None => Ok(None),
        }
    }

    fn checked(secret: String, origin: &'static str) -> Result<Self, KeyError> {
        // A trailing newline from `$(cat keyfile)` is harmless; anything else that cannot sit in
        // a header is a mistake worth reporting before the first request.
        let trimmed = secret.trim();
        if trimmed.is_empty() || trimmed.bytes().any(|b| !b.is_ascii_graphic()) {
            return Err(KeyError { origin });
        }
        Ok(Self { secret: trimmed.to_owned() })
    }

    /// The raw key, for the `xi-api-key` header and for scrubbing server text.
    pub(crate) fn expose(&self) -> &str {
        &self.secret
    }
}

impl fmt::Debug for ElevenLabsKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ElevenLabsKey(***)")
    }
}

impl fmt::Display for ElevenLabsKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ElevenLabsKey(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_variable_and_trims_a_newline() {
        let key = ElevenLabsKey::from_lookup(|name| (name == ELEVENLABS_API_KEY).then(|| "sk_abc\n".into()))
            .unwrap()
            .unwrap();
        assert_eq!(key.expose(), "sk_abc");
        assert!(ElevenLabsKey::from_lookup(|_| Some("  ".into())).unwrap().is_none());
        assert!(ElevenLabsKey::from_lookup(|_| None).unwrap().is_none());
    }

    #[test]
    fn bad_keys_name_the_variable_not_the_value() {
        let err = ElevenLabsKey::from_lookup(|_| Some("sk_se cret".into())).unwrap_err();
        assert!(err.to_string().contains(ELEVENLABS_API_KEY), "{err}");
        assert!(!err.to_string().contains("cret"), "{err}");
    }

    #[test]
    fn debug_and_display_hide_the_key() {
        let key = ElevenLabsKey::new("sk_very_secret").unwrap();
        assert_eq!(format!("{key:?}"), "ElevenLabsKey(***)");
        assert_eq!(format!("{key}"), "ElevenLabsKey(***)");
        assert_eq!(format!("{:?}", Some(&key)), "Some(ElevenLabsKey(***))");
    }
}
