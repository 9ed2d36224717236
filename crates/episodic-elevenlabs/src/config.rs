//! Where ElevenLabs lives and how patient to be with it.

use crate::retry::RetryPolicy;
use std::time::Duration;
use url::Url;

/// Overrides [`ElevenLabsConfig::base_url`] (the local studio serves ElevenLabs on its one port).
pub const ENV_ELEVENLABS_URL: &str = "EPISODIC_ELEVENLABS_URL";

/// ElevenLabs' API host.
pub const DEFAULT_BASE_URL: &str = "https://api.elevenlabs.io";

/// A base URL that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name} is not a usable base URL ({reason}): `{value}`")]
pub struct ConfigError {
    /// The variable or field that held it.
    pub name: &'static str,
    /// The offending value.
    pub value: String,
    /// Why.
    pub reason: &'static str,
}

/// Base URL, timeouts and retry policy of an [`crate::ElevenLabsClient`].
#[derive(Debug, Clone, PartialEq)]
pub struct ElevenLabsConfig {
    /// API base, without trailing slash; paths start with `/v1`.
    pub base_url: String,
    /// Time allowed to open a connection.
    pub connect_timeout: Duration,
    /// Time allowed for one call, body included. Speech of a 5,000-character line takes tens of
    /// seconds; a call cut short here is an answer lost, not a failure (see [`crate::retry`]).
    pub request_timeout: Duration,
    /// When and how to retry.
    pub retry: RetryPolicy,
}

impl Default for ElevenLabsConfig {
    /// ElevenLabs' host; the Python SDK's 240 s call timeout.
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            connect_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(240),
            retry: RetryPolicy::default(),
        }
    }
}

impl ElevenLabsConfig {
    /// Defaults with the base URL from `EPISODIC_ELEVENLABS_URL` where set.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// As [`ElevenLabsConfig::from_env`], reading variables through `lookup`. A blank value
    /// counts as unset; trailing slashes are trimmed.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut config = Self::default();
        if let Some(value) = lookup(ENV_ELEVENLABS_URL).filter(|v| !v.trim().is_empty()) {
            config.base_url = normalize_base(ENV_ELEVENLABS_URL, &value)?;
        }
        Ok(config)
    }

    /// Defaults on `base_url` (a studio's `elevenlabs_url`).
    pub fn with_base_url(base_url: &str) -> Result<Self, ConfigError> {
        Ok(Self { base_url: normalize_base("base URL", base_url)?, ..Self::default() })
    }

    /// Checks the base URL; the client calls this once when it is built.
    pub fn validate(&self) -> Result<(), ConfigError> {
        normalize_base("base_url", &self.base_url).map(drop)
    }
}

/// Trims and checks a base URL: `http(s)`, a host, no query, fragment or credentials.
fn normalize_base(name: &'static str, value: &str) -> Result<String, ConfigError> {
    let trimmed = value.trim().trim_end_matches('/');
    let err = |reason| ConfigError { name, value: value.to_owned(), reason };
    let url = Url::parse(trimmed).map_err(|_| err("not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(err("scheme must be http or https"));
    }
    if url.host().is_none() {
        return Err(err("no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(err("no query or fragment allowed"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(err("credentials in the URL are not allowed"));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_elevenlabs_and_the_variable_overrides_it() {
        assert_eq!(ElevenLabsConfig::from_lookup(|_| None).unwrap(), ElevenLabsConfig::default());
        let c = ElevenLabsConfig::from_lookup(|name| {
            (name == ENV_ELEVENLABS_URL).then(|| "http://127.0.0.1:4000/".to_owned())
        })
        .unwrap();
        assert_eq!(c.base_url, "http://127.0.0.1:4000");
        let blank = ElevenLabsConfig::from_lookup(|_| Some(" ".to_owned())).unwrap();
        assert_eq!(blank.base_url, DEFAULT_BASE_URL);
    }

    #[test]
    fn bad_urls_name_the_variable() {
        let err = ElevenLabsConfig::from_lookup(|_| Some("ftp://x".to_owned())).unwrap_err();
        assert_eq!(err.name, ENV_ELEVENLABS_URL);
        for bad in ["not a url", "http://h/?q=1", "https://user:pw@h", "file:///tmp"] {
            assert!(ElevenLabsConfig::with_base_url(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
