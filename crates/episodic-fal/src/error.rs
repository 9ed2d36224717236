//! `FalError`: what went wrong, after how many retries and how long.
//!
//! Messages tell the user what to do next and never contain the API key: text that a server
//! sends back is scrubbed of it before it is stored here.

use crate::retry::Operation;
use crate::wire::ValidationDetail;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Longest piece of a server body kept in an error.
const EXCERPT_CHARS: usize = 300;

/// A failed call to fal.
#[derive(Debug, thiserror::Error)]
pub struct FalError {
    /// What went wrong.
    pub kind: FalErrorKind,
    /// The call that failed.
    pub operation: Operation,
    /// Retries made before giving up.
    pub retries: u32,
    /// Time spent on the call, retries and waits included.
    pub elapsed: Duration,
    /// `x-fal-request-id` of the failing answer, when fal sent one.
    pub fal_request_id: Option<String>,
    /// For a submit: the request may have been enqueued (and billed) despite the error, so
    /// resubmitting could pay twice.
    pub maybe_submitted: bool,
}

/// The kinds of failure, each with what the user can do about it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FalErrorKind {
    /// 401: no key, or a key fal does not accept.
    #[error("fal rejected the API key ({detail}); check FAL_KEY (or FAL_KEY_ID and FAL_KEY_SECRET)")]
    Unauthorized {
        /// Server message.
        detail: String,
    },
    /// 403 with "User is locked": out of credit or otherwise locked for billing.
    #[error(
        "fal refused the request because the account is locked: {detail}; top up or fix billing \
         in the fal dashboard, then rerun: finished work is kept and nothing is paid twice"
    )]
    OutOfCredit {
        /// Server message, e.g. `User is locked. Reason: Exhausted balance. …`.
        detail: String,
    },
    /// Any other 403.
    #[error("fal refused access ({detail}); check that the key may use this endpoint")]
    Forbidden {
        /// Server message.
        detail: String,
    },
    /// 422 (or a 400 that is not "still in progress"): the input was refused.
    #[error("fal refused the input (HTTP {status}): {detail}")]
    Validation {
        /// HTTP status, 422 or 400.
        status: u16,
        /// What was wrong, item by item when fal said so.
        detail: ValidationDetail,
    },
    /// 404: unknown endpoint, request or file.
    #[error("fal does not know this {what} ({detail}); check the endpoint id or request id")]
    NotFound {
        /// `endpoint or request` or `file`.
        what: &'static str,
        /// Server message.
        detail: String,
    },
    /// 429 after all retries.
    #[error("fal is rate limiting this key ({detail}); wait a little and rerun, it resumes")]
    RateLimited {
        /// Server message.
        detail: String,
        /// What the server asked for, if anything.
        retry_after: Option<Duration>,
    },
    /// The result was asked for before the request completed (400 "Request is still in progress").
    #[error("the request has not finished yet; poll its status until COMPLETED first")]
    NotReady,
    /// 5xx, or another status without a more specific kind.
    #[error("{}", server_message(*status, error_type.as_deref(), detail))]
    Server {
        /// HTTP status.
        status: u16,
        /// `error_type` from the body or the `X-Fal-Error-Type` header.
        error_type: Option<String>,
        /// Server message.
        detail: String,
    },
    /// Polling gave up at the caller's deadline; the request keeps running at fal.
    #[error(
        "the request did not complete within {}s; it keeps running at fal: rerun to re-attach, \
         or cancel it",
        waited.as_secs()
    )]
    Deadline {
        /// Time spent polling.
        waited: Duration,
    },
    /// No answer in time.
    #[error("fal did not answer in time; check the network and rerun, it resumes")]
    Timeout,
    /// The connection failed or broke.
    #[error("could not reach fal ({message}); check the network or the configured base URLs")]
    Transport {
        /// Cause, from the HTTP stack.
        message: String,
    },
    /// An answer that does not match the protocol.
    #[error("unexpected answer from fal: {message}; body starts with: {excerpt:?}")]
    Protocol {
        /// What did not match.
        message: String,
        /// The start of the body.
        excerpt: String,
    },
    /// A downloaded file has the wrong size.
    #[error("downloaded {actual} bytes but expected {expected}; rerun to fetch it again")]
    SizeMismatch {
        /// Bytes promised (by the output or `Content-Length`).
        expected: u64,
        /// Bytes received.
        actual: u64,
    },
    /// A local file could not be read or written.
    #[error("{action} `{}` failed: {message}", path.display())]
    Io {
        /// `reading` or `writing`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        message: String,
    },
    /// The caller passed something unusable (bad URL, bad option).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

fn server_message(status: u16, error_type: Option<&str>, detail: &str) -> String {
    let error_type = error_type.map(|t| format!(" ({t})")).unwrap_or_default();
    let advice = if status >= 500 { "; rerun later, it resumes" } else { "" };
    format!("fal answered HTTP {status}{error_type}: {detail}{advice}")
}

impl FalErrorKind {
    /// Whether the same call may succeed if made again later (by the engine, after this
    /// client's own retries were spent). For a submit, also check [`FalError::maybe_submitted`].
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::RateLimited { .. }
            | Self::Timeout
            | Self::Transport { .. }
            | Self::NotReady
            | Self::SizeMismatch { .. } => true,
            Self::Server { status, .. } => matches!(status, 408 | 409 | 500..=599),
            _ => false,
        }
    }
}

impl FalError {
    /// An error of `kind` raised by `operation` with no retries.
    pub fn new(operation: Operation, kind: FalErrorKind) -> Self {
        Self {
            kind,
            operation,
            retries: 0,
            elapsed: Duration::ZERO,
            fal_request_id: None,
            maybe_submitted: false,
        }
    }

    /// See [`FalErrorKind::is_retryable`].
    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }

    pub(crate) fn with_retries(mut self, retries: u32, elapsed: Duration) -> Self {
        self.retries = retries;
        self.elapsed = elapsed;
        self
    }
}

impl fmt::Display for FalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: {}", self.operation, self.kind)?;
        match self.retries {
            0 => {}
            1 => write!(f, " (after 1 retry)")?,
            n => write!(f, " (after {n} retries)")?,
        }
        if self.maybe_submitted {
            write!(
                f,
                "; the request may have been queued anyway: check the fal dashboard before \
                 submitting it again"
            )?;
        }
        Ok(())
    }
}

/// The start of `body` as text, control characters escaped, at most [`EXCERPT_CHARS`] chars.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text.chars().take(EXCERPT_CHARS).collect();
    if text.chars().nth(EXCERPT_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// Replaces every occurrence of `secret` in `text`; servers echo headers in odd places.
pub(crate) fn scrub(text: &str, secret: Option<&str>) -> String {
    match secret {
        Some(s) if !s.is_empty() && text.contains(s) => text.replace(s, "***"),
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{LocSegment, ValidationItem};

    #[test]
    fn display_counts_retries() {
        let e =
            FalError::new(Operation::Status, FalErrorKind::Timeout).with_retries(3, Duration::from_secs(2));
        assert_eq!(
            e.to_string(),
            "reading the request status failed: fal did not answer in time; check the network \
             and rerun, it resumes (after 3 retries)"
        );
        let e = FalError::new(Operation::Status, FalErrorKind::Timeout).with_retries(1, Duration::ZERO);
        assert!(e.to_string().ends_with("(after 1 retry)"));
    }

    #[test]
    fn unauthorized_points_at_the_key_variable() {
        let e = FalError::new(Operation::Submit, FalErrorKind::Unauthorized { detail: "Invalid key".into() });
        assert!(e.to_string().contains("check FAL_KEY"), "{e}");
    }

    #[test]
    fn out_of_credit_says_rerun_resumes() {
        let e = FalError::new(
            Operation::Submit,
            FalErrorKind::OutOfCredit { detail: "User is locked. Reason: Exhausted balance.".into() },
        );
        let text = e.to_string();
        assert!(text.contains("Exhausted balance"), "{text}");
        assert!(text.contains("rerun"), "{text}");
    }

    #[test]
    fn validation_lists_fields() {
        let kind = FalErrorKind::Validation {
            status: 422,
            detail: ValidationDetail::Items(vec![ValidationItem {
                loc: vec![LocSegment::Key("body".into()), LocSegment::Key("image_url".into())],
                msg: "Image too large".into(),
                kind: "image_too_large".into(),
                url: None,
                ctx: None,
                input: None,
            }]),
        };
        assert_eq!(
            kind.to_string(),
            "fal refused the input (HTTP 422): `image_url`: Image too large (image_too_large)"
        );
        assert!(!kind.is_retryable());
    }

    #[test]
    fn maybe_submitted_warns_about_paying_twice() {
        let mut e = FalError::new(Operation::Submit, FalErrorKind::Timeout);
        e.maybe_submitted = true;
        assert!(e.to_string().contains("may have been queued"), "{e}");
    }

    #[test]
    fn retryable_kinds() {
        assert!(FalErrorKind::Timeout.is_retryable());
        assert!(FalErrorKind::Server { status: 503, error_type: None, detail: String::new() }.is_retryable());
        assert!(
            !FalErrorKind::Server { status: 418, error_type: None, detail: String::new() }.is_retryable()
        );
        assert!(!FalErrorKind::Unauthorized { detail: String::new() }.is_retryable());
        assert!(!FalErrorKind::OutOfCredit { detail: String::new() }.is_retryable());
    }

    #[test]
    fn server_error_type_is_shown() {
        let k = FalErrorKind::Server {
            status: 503,
            error_type: Some("runner_scheduling_failure".into()),
            detail: "No runner".into(),
        };
        assert_eq!(
            k.to_string(),
            "fal answered HTTP 503 (runner_scheduling_failure): No runner; rerun later, it resumes"
        );
    }

    #[test]
    fn client_errors_do_not_promise_a_rerun_helps() {
        let k = FalErrorKind::Server { status: 405, error_type: None, detail: "Method Not Allowed".into() };
        assert_eq!(k.to_string(), "fal answered HTTP 405: Method Not Allowed");
    }

    #[test]
    fn excerpt_is_bounded() {
        let long = "x".repeat(1000);
        let e = excerpt(long.as_bytes());
        assert_eq!(e.chars().count(), EXCERPT_CHARS + 1);
        assert_eq!(excerpt(b"short"), "short");
        assert_eq!(excerpt(&[0xff, b'a']), "\u{fffd}a");
    }

    #[test]
    fn scrub_removes_the_secret() {
        assert_eq!(scrub("bad key id:sec", Some("id:sec")), "bad key ***");
        assert_eq!(scrub("fine", Some("id:sec")), "fine");
        assert_eq!(scrub("fine", None), "fine");
    }
}
