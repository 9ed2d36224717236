//! Where fal lives and how patient to be with it.
//!
//! The three base URLs are configuration so the same client talks to fal.ai or to the local
//! studio emulator (any `http://` or `https://` base works).

use crate::retry::RetryPolicy;
use std::time::Duration;
use url::Url;

/// Overrides the queue base URL.
pub const ENV_QUEUE_URL: &str = "EPISODIC_FAL_QUEUE_URL";
/// Overrides the REST (storage token) base URL.
pub const ENV_REST_URL: &str = "EPISODIC_FAL_REST_URL";
/// Overrides the CDN upload base URL.
pub const ENV_CDN_URL: &str = "EPISODIC_FAL_CDN_URL";
/// Overrides [`FalConfig::api_url`].
pub const ENV_API_URL: &str = "EPISODIC_FAL_API_URL";

/// fal's queue host.
pub const DEFAULT_QUEUE_URL: &str = "https://queue.fal.run";
/// fal's REST control plane.
pub const DEFAULT_REST_URL: &str = "https://rest.fal.ai";
/// fal's CDN upload host.
pub const DEFAULT_CDN_URL: &str = "https://v3.fal.media";
/// fal's platform API (request history, pricing); paths start with `/v1`.
pub const DEFAULT_API_URL: &str = "https://api.fal.ai";

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

/// Base URLs, timeouts and retry policy of a [`crate::FalClient`].
#[derive(Debug, Clone, PartialEq)]
pub struct FalConfig {
    /// Queue API base, without trailing slash.
    pub queue_url: String,
    /// REST API base, without trailing slash.
    pub rest_url: String,
    /// CDN upload base, without trailing slash.
    pub cdn_url: String,
    /// Platform API base (request history), without trailing slash.
    pub api_url: String,
    /// Time allowed to open a connection.
    pub connect_timeout: Duration,
    /// Time allowed for one API call (submit, status, result, cancel, token).
    pub request_timeout: Duration,
    /// Time allowed for one upload of a file's bytes.
    pub upload_timeout: Duration,
    /// Longest silence while downloading before the attempt counts as failed; downloads of
    /// large videos have no overall limit.
    pub download_read_timeout: Duration,
    /// When and how to retry.
    pub retry: RetryPolicy,
}

impl Default for FalConfig {
    /// fal.ai's hosts; Python's 30 s connect and 120 s call timeouts.
    fn default() -> Self {
        Self {
            queue_url: DEFAULT_QUEUE_URL.to_owned(),
            rest_url: DEFAULT_REST_URL.to_owned(),
            cdn_url: DEFAULT_CDN_URL.to_owned(),
            api_url: DEFAULT_API_URL.to_owned(),
            connect_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(120),
            upload_timeout: Duration::from_secs(600),
            download_read_timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
        }
    }
}

impl FalConfig {
    /// Defaults with the base URLs from `EPISODIC_FAL_QUEUE_URL`, `EPISODIC_FAL_REST_URL` and
    /// `EPISODIC_FAL_CDN_URL` where set.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// As [`FalConfig::from_env`], reading variables through `lookup`. Blank values count as
    /// unset; trailing slashes are trimmed.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut config = Self::default();
        for (name, field) in [
            (ENV_QUEUE_URL, &mut config.queue_url),
            (ENV_REST_URL, &mut config.rest_url),
            (ENV_CDN_URL, &mut config.cdn_url),
            (ENV_API_URL, &mut config.api_url),
        ] {
            if let Some(value) = lookup(name).filter(|v| !v.trim().is_empty()) {
                *field = normalize_base(name, &value)?;
            }
        }
        Ok(config)
    }

    /// All three APIs on one base, as the studio serves them.
    pub fn single_host(base_url: &str) -> Result<Self, ConfigError> {
        let base = normalize_base("base URL", base_url)?;
        Ok(Self {
            queue_url: base.clone(),
            rest_url: base.clone(),
            cdn_url: base.clone(),
            api_url: base,
            ..Self::default()
        })
    }

    /// Checks the three base URLs; the client calls this once when it is built.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (name, value) in [
            ("queue_url", &self.queue_url),
            ("rest_url", &self.rest_url),
            ("cdn_url", &self.cdn_url),
            ("api_url", &self.api_url),
        ] {
            normalize_base(name, value)?;
        }
        Ok(())
    }
}

/// Trims and checks a base URL: `http(s)`, a host, no query or fragment.
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
    fn defaults_are_fal() {
        let c = FalConfig::from_lookup(|_| None).unwrap();
        assert_eq!(c.queue_url, "https://queue.fal.run");
        assert_eq!(c.rest_url, "https://rest.fal.ai");
        assert_eq!(c.cdn_url, "https://v3.fal.media");
        assert_eq!(c, FalConfig::default());
    }

    #[test]
    fn env_overrides_trim_slashes() {
        let c = FalConfig::from_lookup(|name| match name {
            "EPISODIC_FAL_QUEUE_URL" => Some("http://127.0.0.1:4000/".into()),
            "EPISODIC_FAL_REST_URL" => Some("http://127.0.0.1:4000/rest//".into()),
            "EPISODIC_FAL_CDN_URL" => Some("  ".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.queue_url, "http://127.0.0.1:4000");
        assert_eq!(c.rest_url, "http://127.0.0.1:4000/rest");
        assert_eq!(c.cdn_url, DEFAULT_CDN_URL);
    }

    #[test]
    fn bad_overrides_name_the_variable() {
        let err =
            FalConfig::from_lookup(|name| (name == "EPISODIC_FAL_CDN_URL").then(|| "ftp://x".to_owned()))
                .unwrap_err();
        assert_eq!(err.name, "EPISODIC_FAL_CDN_URL");
        for bad in ["not a url", "http://h/?q=1", "https://user:pw@h", "file:///tmp"] {
            assert!(FalConfig::single_host(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn single_host_sets_all_three() {
        let c = FalConfig::single_host("http://[::1]:9000/").unwrap();
        assert_eq!(c.queue_url, "http://[::1]:9000");
        assert_eq!(c.rest_url, c.queue_url);
        assert_eq!(c.cdn_url, c.queue_url);
        c.validate().unwrap();
    }
}
