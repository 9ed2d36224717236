//! Uploading input files to fal's CDN.
//!
//! The primary flow is the Python client's (`fal-protocol.md` §4.1): a CDN token from
//! `{rest}/storage/auth/token?storage_type=fal-cdn-v3`, cached until a minute before its
//! `expires_at`, then `POST {cdn}/files/upload` with the bytes.
//!
//! The fallback is the JS client's initiate flow (§4.2): `POST
//! {rest}/storage/upload/initiate?storage_type=fal-cdn-v3`, then `PUT` the bytes to the
//! returned signed `upload_url`. It is used only when the token route or the CDN upload route
//! answers **404 or 405**, i.e. the server does not have the v3 routes (an emulator or proxy
//! speaking only the JS flow). Any other failure (401, 403, 5xx after retries) is reported as
//! it is: the fallback runs against the same account and would fail alike, hiding the cause.
//! Once a client has fallen back it stays on the legacy flow.
//!
//! Files above 100 MiB would use fal's multipart upload, which is not implemented: episodic
//! uploads character images and speech audio, far below that.

use crate::client::{FalClient, parse_json, protocol};
use crate::error::{FalError, FalErrorKind};
use crate::retry::Operation;
use crate::timefmt;
use crate::wire::{
    CdnToken, CdnUploadResponse, InitiateUploadRequest, InitiateUploadResponse, ObjectLifecycle,
};
use bytes::Bytes;
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use std::fmt;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use url::Url;

/// Refresh a CDN token this long before fal says it expires.
const TOKEN_REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// How long to trust a token whose `expires_at` cannot be read.
const TOKEN_FALLBACK_LIFETIME: Duration = Duration::from_secs(300);
/// Largest single upload fal's simple route takes (Python's multipart threshold).
pub const MAX_SIMPLE_UPLOAD: usize = 100 * 1024 * 1024;

/// A file stored on fal's CDN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedFile {
    /// Public URL to pass as a model input.
    pub url: String,
    /// MIME type sent.
    pub content_type: String,
    /// File name sent (sanitised).
    pub file_name: String,
    /// Bytes uploaded.
    pub size: u64,
}

/// The cached CDN token, shared by concurrent uploads; one refresh at a time.
#[derive(Default)]
pub(crate) struct TokenCache {
    slot: tokio::sync::Mutex<Option<CachedToken>>,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenCache(***)")
    }
}

#[derive(Clone)]
struct CachedToken {
    authorization: HeaderValue,
    refresh_at: Instant,
}

/// Outcome of the v3 flow: a file, or "this server does not have the route".
enum V3 {
    Uploaded(String),
    Unsupported,
}

impl FalClient {
    /// Uploads `bytes` and returns its public URL.
    ///
    /// `lifecycle` sets `X-Fal-Object-Lifecycle(-Preference)`, e.g. an expiry.
    pub async fn upload(
        &self,
        bytes: impl Into<Bytes>,
        content_type: &str,
        file_name: &str,
        lifecycle: Option<&ObjectLifecycle>,
    ) -> Result<UploadedFile, FalError> {
        let bytes = bytes.into();
        let op = Operation::Upload;
        let invalid = |m: String| FalError::new(op, FalErrorKind::InvalidArgument(m));
        if bytes.len() > MAX_SIMPLE_UPLOAD {
            return Err(invalid(format!(
                "{} bytes is above the {MAX_SIMPLE_UPLOAD}-byte single-upload limit",
                bytes.len()
            )));
        }
        let content_type_value = HeaderValue::from_str(content_type)
            .map_err(|_| invalid(format!("content type {content_type:?}")))?;
        let file_name = sanitize_file_name(file_name);
        let lifecycle = lifecycle
            .map(|l| {
                serde_json::to_string(l)
                    .ok()
                    .and_then(|s| HeaderValue::from_str(&s).ok())
                    .ok_or_else(|| invalid("object lifecycle".to_owned()))
            })
            .transpose()?;
        let parts =
            Parts { bytes: &bytes, content_type: content_type_value, file_name: &file_name, lifecycle };
        let url = if self.inner.legacy_upload.load(Ordering::Relaxed) {
            self.upload_legacy(&parts).await?
        } else {
            match self.upload_v3(&parts).await? {
                V3::Uploaded(url) => url,
                V3::Unsupported => {
                    self.inner.legacy_upload.store(true, Ordering::Relaxed);
                    self.upload_legacy(&parts).await?
                }
            }
        };
        Ok(UploadedFile { url, content_type: content_type.to_owned(), file_name, size: bytes.len() as u64 })
    }

    /// Reads `path` and uploads it, with the content type guessed from its extension.
    pub async fn upload_file(
        &self,
        path: &Path,
        lifecycle: Option<&ObjectLifecycle>,
    ) -> Result<UploadedFile, FalError> {
        let bytes = tokio::fs::read(path).await.map_err(|e| {
            FalError::new(
                Operation::Upload,
                FalErrorKind::Io { action: "reading", path: path.to_owned(), message: e.to_string() },
            )
        })?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "upload.bin".to_owned());
        self.upload(bytes, content_type_for(path), &name, lifecycle).await
    }

    async fn upload_v3(&self, parts: &Parts<'_>) -> Result<V3, FalError> {
        let op = Operation::Upload;
        let url = Url::parse(&format!("{}/files/upload", self.inner.config.cdn_url))
            .map_err(|e| FalError::new(op, FalErrorKind::InvalidArgument(e.to_string())))?;
        let mut fresh_token_tried = false;
        loop {
            let Some((token, fresh)) = self.cdn_token(fresh_token_tried).await? else {
                return Ok(V3::Unsupported);
            };
            let answer = self
                .send_with_retry(op, false, || {
                    let mut request = self
                        .plain_request(Method::POST, url.clone())
                        .timeout(self.inner.config.upload_timeout)
                        .header(AUTHORIZATION, token.clone())
                        .header(CONTENT_TYPE, parts.content_type.clone())
                        .header("x-fal-file-name", parts.file_name)
                        .body(parts.bytes.clone());
                    if let Some(lifecycle) = &parts.lifecycle {
                        request = request
                            .header("x-fal-object-lifecycle", lifecycle.clone())
                            .header("x-fal-object-lifecycle-preference", lifecycle.clone());
                    }
                    request
                })
                .await?;
            match answer.status {
                404 | 405 => return Ok(V3::Unsupported),
                // A cached token may have been revoked early; one fresh token gets one more go.
                401 | 403 if !fresh && !fresh_token_tried => {
                    fresh_token_tried = true;
                    continue;
                }
                _ if answer.is_success() => {
                    let body: CdnUploadResponse = parse_json(op, &answer)?;
                    check_http_url(op, &body.access_url, &answer.body)?;
                    return Ok(V3::Uploaded(body.access_url));
                }
                _ => return Err(self.error_from_answer(op, &answer)),
            }
        }
    }

    /// The CDN `Authorization` value and whether it was just fetched; `None` when the token
    /// route does not exist (404/405). `force_refresh` skips the cache.
    async fn cdn_token(&self, force_refresh: bool) -> Result<Option<(HeaderValue, bool)>, FalError> {
        let mut slot = self.inner.token.slot.lock().await;
        if !force_refresh
            && let Some(cached) = slot.as_ref()
            && Instant::now() < cached.refresh_at
        {
            return Ok(Some((cached.authorization.clone(), false)));
        }
        let op = Operation::Token;
        let url =
            Url::parse(&format!("{}/storage/auth/token?storage_type=fal-cdn-v3", self.inner.config.rest_url))
                .map_err(|e| FalError::new(op, FalErrorKind::InvalidArgument(e.to_string())))?;
        let answer = self
            .send_with_retry(op, false, || {
                self.api_request(Method::POST, url.clone())
                    .header(CONTENT_TYPE, "application/json")
                    .body("{}")
            })
            .await?;
        if matches!(answer.status, 404 | 405) {
            return Ok(None);
        }
        if !answer.is_success() {
            return Err(self.error_from_answer(op, &answer));
        }
        let token: CdnToken = parse_json(op, &answer)?;
        let mut authorization = HeaderValue::from_str(&format!("{} {}", token.token_type, token.token))
            .map_err(|_| protocol(op, "the CDN token is not a valid header value", b""))?;
        authorization.set_sensitive(true);
        let now_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        let lifetime = token_lifetime(&token.expires_at, now_unix);
        *slot = lifetime.map(|lifetime| CachedToken {
            authorization: authorization.clone(),
            refresh_at: Instant::now() + lifetime,
        });
        Ok(Some((authorization, true)))
    }

    async fn upload_legacy(&self, parts: &Parts<'_>) -> Result<String, FalError> {
        let op = Operation::Upload;
        let url = Url::parse(&format!(
            "{}/storage/upload/initiate?storage_type=fal-cdn-v3",
            self.inner.config.rest_url
        ))
        .map_err(|e| FalError::new(op, FalErrorKind::InvalidArgument(e.to_string())))?;
        let content_type = parts.content_type.to_str().unwrap_or("application/octet-stream");
        let request_body = serde_json::to_vec(&InitiateUploadRequest {
            content_type: content_type.to_owned(),
            file_name: parts.file_name.to_owned(),
        })
        .map_err(|e| FalError::new(op, FalErrorKind::InvalidArgument(e.to_string())))?;
        let answer = self
            .send_with_retry(op, false, || {
                let mut request = self
                    .api_request(Method::POST, url.clone())
                    .header(CONTENT_TYPE, "application/json")
                    .body(request_body.clone());
                if let Some(lifecycle) = &parts.lifecycle {
                    request = request.header("x-fal-object-lifecycle", lifecycle.clone());
                }
                request
            })
            .await?;
        if !answer.is_success() {
            return Err(self.error_from_answer(op, &answer));
        }
        let initiated: InitiateUploadResponse = parse_json(op, &answer)?;
        let upload_url = check_http_url(op, &initiated.upload_url, &answer.body)?;
        check_http_url(op, &initiated.file_url, &answer.body)?;
        // The signed URL is the credential here; the fal key is not sent to it.
        let answer = self
            .send_with_retry(op, false, || {
                self.plain_request(Method::PUT, upload_url.clone())
                    .timeout(self.inner.config.upload_timeout)
                    .header(CONTENT_TYPE, parts.content_type.clone())
                    .body(parts.bytes.clone())
            })
            .await?;
        if !answer.is_success() {
            return Err(self.error_from_answer(op, &answer));
        }
        Ok(initiated.file_url)
    }
}

struct Parts<'a> {
    bytes: &'a Bytes,
    content_type: HeaderValue,
    file_name: &'a str,
    lifecycle: Option<HeaderValue>,
}

fn check_http_url(op: Operation, url: &str, body: &[u8]) -> Result<Url, FalError> {
    match Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(u),
        _ => Err(protocol(op, "the storage answer holds no usable URL", body)),
    }
}

/// How long to cache a token expiring at `expires_at`: until a minute before, or five minutes
/// when the time cannot be read; `None` when it is (nearly) expired already (use it once).
fn token_lifetime(expires_at: &str, now_unix: i64) -> Option<Duration> {
    let Some(expires) = timefmt::parse_rfc3339(expires_at) else {
        return Some(TOKEN_FALLBACK_LIFETIME);
    };
    let remaining = u64::try_from(expires.saturating_sub(now_unix)).ok()?;
    Duration::from_secs(remaining).checked_sub(TOKEN_REFRESH_MARGIN).filter(|d| !d.is_zero())
}

/// The name fal keeps in the public URL: ASCII letters, digits, `.`, `_`, `-` only (others
/// become `_`), so it is a valid header value and a clean URL; `upload.bin` when empty.
pub fn sanitize_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = base
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' })
        .collect();
    let trimmed = cleaned.trim_start_matches('.');
    if trimmed.is_empty() { "upload.bin".to_owned() } else { trimmed.chars().take(200).collect() }
}

/// MIME type for an input file, by extension (case-insensitive).
pub fn content_type_for(path: &Path) -> &'static str {
    let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "aac" => "audio/aac",
        "m4a" => "audio/mp4",
        "mp4" => "video/mp4",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_by_extension() {
        for (name, expected) in [
            ("a.png", "image/png"),
            ("a.PNG", "image/png"),
            ("a.jpg", "image/jpeg"),
            ("a.jpeg", "image/jpeg"),
            ("a.webp", "image/webp"),
            ("a.mp3", "audio/mpeg"),
            ("a.wav", "audio/wav"),
            ("a.aac", "audio/aac"),
            ("a.m4a", "audio/mp4"),
            ("a.mp4", "video/mp4"),
            ("a.gif", "application/octet-stream"),
            ("noext", "application/octet-stream"),
        ] {
            assert_eq!(content_type_for(Path::new(name)), expected, "{name}");
        }
    }

    #[test]
    fn file_names_are_sanitised() {
        assert_eq!(sanitize_file_name("line-01.wav"), "line-01.wav");
        assert_eq!(sanitize_file_name("dir/sub/ninja.png"), "ninja.png");
        assert_eq!(sanitize_file_name("C:\\x\\y.png"), "y.png");
        assert_eq!(sanitize_file_name("héllo wörld.png"), "h_llo_w_rld.png");
        assert_eq!(sanitize_file_name(""), "upload.bin");
        assert_eq!(sanitize_file_name(".."), "upload.bin");
        assert_eq!(sanitize_file_name(".hidden"), "hidden");
        assert_eq!(sanitize_file_name(&"a".repeat(500)).len(), 200);
        assert!(HeaderValue::from_str(&sanitize_file_name("x\r\ny")).is_ok());
    }

    #[test]
    fn token_lifetime_refreshes_a_minute_early() {
        let now = 1_793_137_645 - 3600; // an hour before 2026-10-27T21:47:25Z
        assert_eq!(
            token_lifetime("2026-10-27T21:47:25.394105+00:00", now),
            Some(Duration::from_secs(3600 - 60))
        );
        assert_eq!(token_lifetime("2026-10-27T21:47:25+00:00", 1_793_137_645 - 30), None);
        assert_eq!(token_lifetime("2026-10-27T21:47:25Z", 1_793_137_645 + 5), None);
        assert_eq!(token_lifetime("next tuesday", now), Some(TOKEN_FALLBACK_LIFETIME));
    }
}
