//! Downloading an output file: streamed to `<dest>.part`, size-checked, renamed into place,
//! so a finished path never holds a half-written file.

use crate::client::{FalClient, classify_transport, transport_message};
use crate::error::{FalError, FalErrorKind};
use crate::retry::{Backoff, Operation, ResponseFacts, TransportFailure};
use bytes::Bytes;
use reqwest::Method;
use reqwest::header::CONTENT_LENGTH;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tokio::io::AsyncWriteExt;
use url::Url;

/// Why one download attempt failed, and whether another may succeed.
struct AttemptError {
    kind: FalErrorKind,
    retryable: bool,
}

impl AttemptError {
    fn transport(e: &reqwest::Error) -> Self {
        let kind = match classify_transport(e) {
            TransportFailure::Timeout => FalErrorKind::Timeout,
            _ => FalErrorKind::Transport { message: transport_message(e) },
        };
        Self { kind, retryable: true }
    }

    fn io(action: &'static str, path: &Path, e: &std::io::Error) -> Self {
        Self {
            kind: FalErrorKind::Io { action, path: path.to_owned(), message: e.to_string() },
            retryable: false,
        }
    }
}

/// `<dest>.part`, beside the target so the final rename stays on one file system.
fn part_path(dest: &Path) -> PathBuf {
    let mut name: OsString = dest.file_name().map(OsString::from).unwrap_or_default();
    name.push(".part");
    dest.with_file_name(name)
}

impl FalClient {
    /// Downloads `url` (no credentials are sent) to `dest` and returns the byte count.
    ///
    /// When `expected_size` is given (an output's `file_size`), a different size is an error
    /// and `dest` is left untouched. Failed attempts start over from the first byte.
    pub async fn download(
        &self,
        url: &str,
        dest: &Path,
        expected_size: Option<u64>,
    ) -> Result<u64, FalError> {
        let op = Operation::Download;
        let url = match Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => u,
            _ => {
                return Err(FalError::new(
                    op,
                    FalErrorKind::InvalidArgument(format!("not an http(s) URL: {url:?}")),
                ));
            }
        };
        let part = part_path(dest);
        let started = Instant::now();
        let mut backoff = Backoff::new(self.inner.config.retry.clone());
        loop {
            let outcome = self.download_once(&url, &part, expected_size).await;
            let attempt = match outcome {
                Ok(written) => match tokio::fs::rename(&part, dest).await {
                    Ok(()) => return Ok(written),
                    Err(e) => AttemptError::io("moving the download into", dest, &e),
                },
                Err(e) => e,
            };
            // Best effort: a stale part file is overwritten by the next attempt anyway.
            let _ = tokio::fs::remove_file(&part).await;
            if attempt.retryable {
                let delay = {
                    let mut rng = rand::rng();
                    backoff.next_delay(None, &mut rng)
                };
                if let Some(delay) = delay {
                    self.count_retry();
                    tokio::time::sleep(delay).await;
                    continue;
                }
            }
            return Err(FalError::new(op, attempt.kind).with_retries(backoff.retries(), started.elapsed()));
        }
    }

    async fn download_once(
        &self,
        url: &Url,
        part: &Path,
        expected_size: Option<u64>,
    ) -> Result<u64, AttemptError> {
        let mut response = self
            .plain_request(Method::GET, url.clone())
            .send()
            .await
            .map_err(|e| AttemptError::transport(&e))?;
        let status = response.status().as_u16();
        if !response.status().is_success() {
            let headers = response.headers().clone();
            let body = response.bytes().await.unwrap_or_else(|_| Bytes::new());
            let facts = ResponseFacts {
                status,
                has_fal_request_id: headers.contains_key(crate::client::X_FAL_REQUEST_ID),
                has_timeout_type: false,
                body: &body,
            };
            let retryable = self.inner.config.retry.should_retry_response(Operation::Download, &facts);
            let detail = crate::error::excerpt(&body);
            let kind = match status {
                404 | 410 => FalErrorKind::NotFound { what: "file", detail },
                _ => FalErrorKind::Server { status, error_type: None, detail },
            };
            return Err(AttemptError { kind, retryable });
        }
        let announced = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if let (Some(expected), Some(announced)) = (expected_size, announced)
            && expected != announced
        {
            return Err(AttemptError {
                kind: FalErrorKind::SizeMismatch { expected, actual: announced },
                retryable: false,
            });
        }
        let mut file =
            tokio::fs::File::create(part).await.map_err(|e| AttemptError::io("creating", part, &e))?;
        let mut written: u64 = 0;
        let limit = expected_size.or(announced);
        while let Some(chunk) = response.chunk().await.map_err(|e| AttemptError::transport(&e))? {
            written += chunk.len() as u64;
            if let Some(limit) = limit
                && written > limit
            {
                return Err(AttemptError {
                    kind: FalErrorKind::SizeMismatch { expected: limit, actual: written },
                    retryable: false,
                });
            }
            file.write_all(&chunk).await.map_err(|e| AttemptError::io("writing", part, &e))?;
        }
        file.flush().await.map_err(|e| AttemptError::io("writing", part, &e))?;
        file.sync_all().await.map_err(|e| AttemptError::io("syncing", part, &e))?;
        if let Some(limit) = limit
            && written != limit
        {
            // Short of what was announced: the connection dropped early, so try again.
            return Err(AttemptError {
                kind: FalErrorKind::SizeMismatch { expected: limit, actual: written },
                retryable: true,
            });
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FalConfig;

    #[test]
    fn part_file_sits_beside_the_target() {
        assert_eq!(part_path(Path::new("artifacts/ab/cd.mp4")), PathBuf::from("artifacts/ab/cd.mp4.part"));
    }

    #[tokio::test]
    async fn failed_download_leaves_no_files() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let mut config = FalConfig::default();
        config.retry.max_retries = 1;
        config.retry.base_delay = std::time::Duration::from_millis(1);
        let client = FalClient::new(config, None).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.mp4");
        let err =
            client.download(&format!("http://127.0.0.1:{port}/x.mp4"), &dest, Some(10)).await.unwrap_err();
        assert_eq!((err.operation, err.retries), (Operation::Download, 1));
        assert!(matches!(err.kind, FalErrorKind::Transport { .. }), "{err}");
        assert!(!dest.exists());
        assert!(!part_path(&dest).exists());
    }

    #[tokio::test]
    async fn refuses_non_http_urls_without_touching_disk() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.mp4");
        let client = FalClient::new(FalConfig::default(), None).unwrap();
        let err = client.download("file:///etc/passwd", &dest, None).await.unwrap_err();
        assert!(matches!(err.kind, FalErrorKind::InvalidArgument(_)), "{err}");
        assert!(!dest.exists());
        assert!(!part_path(&dest).exists());
    }
}
