//! When to retry a failed call, and how long to wait first.
//!
//! The base is the official Python client's policy (`fal-protocol.md` §6.1): retry 408, 409
//! and 429, transport errors and timeouts, and 502/503/504 only when they come from the
//! ingress (no `x-fal-request-id` header and an nginx body); never 400/401/403/404/422, never
//! a 504 carrying `X-Fal-Request-Timeout-Type`, never 500. Delays grow as
//! `min(base · 2^(n−1), max) · U(0.5, 1.5)`.
//!
//! Two deliberate departures, both about money:
//!
//! * **Submit** is only retried when the failure proves nothing was enqueued: a connection that
//!   was never made, 408 (the server did not take the request), 429 (rejected), an ingress 503
//!   (no upstream to reach). fal has no idempotency key (`fal-platform-api.md` §5), so a
//!   timeout, a reset mid-request, an ingress 502/504 or a 409 may already have queued a paid
//!   render; resending would pay twice. Those errors surface with `maybe_submitted` set so the
//!   caller can report the ambiguity instead of resubmitting blindly.
//! * **Status** polls are pure reads that keep a paid render from being abandoned, so they
//!   also retry 500, 502, 503 and 504 wherever they came from (the JS client does the same).
//!   **Download** from the CDN is a plain idempotent `GET` and is treated alike.
//!
//! A body `error_type` of `runner_*` is not a reason to retry: the queue already retried the
//! runner up to ten times server-side (§6.3), and on a result it is the stored final outcome.

use crate::timefmt;
use rand::{Rng, RngExt};
use std::fmt;
use std::time::Duration;

/// The kind of call being made; the retry rules differ by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// `POST` to the queue: enqueues a paid request.
    Submit,
    /// `GET` of a request's status.
    Status,
    /// `GET` of a request's result.
    Result,
    /// `PUT` of a cancel.
    Cancel,
    /// `POST` for a CDN upload token.
    Token,
    /// Uploading a file (either flow).
    Upload,
    /// Downloading an output file.
    Download,
    /// Reading the account's request history (to find a request a crash left unjournaled).
    History,
    /// Building the client from its configuration; never retried.
    Setup,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Submit => "submitting the request",
            Self::Status => "reading the request status",
            Self::Result => "fetching the result",
            Self::Cancel => "cancelling the request",
            Self::Token => "getting an upload token",
            Self::Upload => "uploading a file",
            Self::Download => "downloading an output",
            Self::History => "reading the request history",
            Self::Setup => "setting up the fal client",
        })
    }
}

/// What went wrong below HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportFailure {
    /// The connection was never established, so the server saw nothing.
    Connect,
    /// No answer in time; the server may have acted.
    Timeout,
    /// Reset, broken body or similar after sending; the server may have acted.
    Other,
}

/// The facts about an HTTP error answer that the retry decision needs.
#[derive(Debug, Clone, Copy)]
pub struct ResponseFacts<'a> {
    /// HTTP status.
    pub status: u16,
    /// Whether `x-fal-request-id` was present: absent means fal's app never saw the request.
    pub has_fal_request_id: bool,
    /// Whether `X-Fal-Request-Timeout-Type` was present: the start deadline expired for good.
    pub has_timeout_type: bool,
    /// The body, searched for `nginx`.
    pub body: &'a [u8],
}

impl ResponseFacts<'_> {
    /// An error page from the ingress proxy rather than from fal's application.
    fn is_ingress_error(&self) -> bool {
        !self.has_fal_request_id && contains_ignore_ascii_case(self.body, b"nginx")
    }
}

fn contains_ignore_ascii_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
}

/// How many times to retry and how long to wait.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt; 9 gives Python's 10 attempts.
    pub max_retries: u32,
    /// Delay before the first retry, before jitter.
    pub base_delay: Duration,
    /// Cap of the computed delay.
    pub max_delay: Duration,
    /// Cap of a server's `Retry-After`, so a bogus value cannot stall a run for hours.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// Python's async client: 10 attempts, 0.1 s base, 10 s cap; `Retry-After` capped at 60 s.
    fn default() -> Self {
        Self {
            max_retries: 9,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries, for callers that handle failures themselves.
    pub fn never() -> Self {
        Self { max_retries: 0, ..Self::default() }
    }

    /// Whether an HTTP error answer to `op` is worth another attempt.
    pub fn should_retry_response(&self, op: Operation, r: &ResponseFacts<'_>) -> bool {
        if r.status == 504 && r.has_timeout_type {
            return false;
        }
        match op {
            Operation::Setup => false,
            Operation::Submit => match r.status {
                408 | 429 => true,
                503 => r.is_ingress_error(),
                _ => false,
            },
            Operation::Status | Operation::Download | Operation::History => {
                matches!(r.status, 408 | 409 | 429 | 500 | 502 | 503 | 504)
            }
            Operation::Result | Operation::Cancel | Operation::Token | Operation::Upload => match r.status {
                408 | 409 | 429 => true,
                502..=504 => r.is_ingress_error(),
                _ => false,
            },
        }
    }

    /// Whether a transport failure of `op` is worth another attempt. `had_start_timeout` is
    /// whether the request carried `X-Fal-Request-Timeout` (Python does not retry those
    /// timeouts: the server-side deadline is the one that counts).
    pub fn should_retry_transport(
        &self,
        op: Operation,
        failure: TransportFailure,
        had_start_timeout: bool,
    ) -> bool {
        match failure {
            _ if op == Operation::Setup => false,
            TransportFailure::Connect => true,
            TransportFailure::Timeout if had_start_timeout => false,
            TransportFailure::Timeout | TransportFailure::Other => op != Operation::Submit,
        }
    }

    /// Delay before retry number `retry` (1-based): exponential, capped, jittered by
    /// U(0.5, 1.5) and capped again; never shorter than a server's `Retry-After` (itself
    /// capped at [`RetryPolicy::max_retry_after`]).
    pub fn delay<R: Rng + ?Sized>(&self, retry: u32, retry_after: Option<Duration>, rng: &mut R) -> Duration {
        let exponent = retry.saturating_sub(1).min(30);
        let grown = self.base_delay.saturating_mul(1u32 << exponent);
        let capped = grown.min(self.max_delay);
        let jittered = capped.mul_f64(rng.random_range(0.5..1.5)).min(self.max_delay);
        match retry_after {
            Some(after) => jittered.max(after.min(self.max_retry_after)),
            None => jittered,
        }
    }
}

/// Counts retries of one call against a policy.
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: RetryPolicy,
    retries: u32,
}

impl Backoff {
    /// Starts counting at zero retries.
    pub fn new(policy: RetryPolicy) -> Self {
        Self { policy, retries: 0 }
    }

    /// Retries taken so far.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// The policy in force.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Records one more retry and returns how long to wait first, or `None` when the budget is
    /// spent.
    pub fn next_delay<R: Rng + ?Sized>(
        &mut self,
        retry_after: Option<Duration>,
        rng: &mut R,
    ) -> Option<Duration> {
        if self.retries >= self.policy.max_retries {
            return None;
        }
        self.retries += 1;
        Some(self.policy.delay(self.retries, retry_after, rng))
    }
}

/// Reads a `Retry-After` value: delta seconds or an HTTP date (relative to `now_unix`).
/// A date in the past means "now".
pub fn parse_retry_after(value: &str, now_unix: i64) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse::<u64>().ok().map(Duration::from_secs);
    }
    let at = timefmt::parse_http_date(value)?;
    Some(Duration::from_secs(u64::try_from(at.saturating_sub(now_unix)).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn facts(status: u16, request_id: bool, timeout_type: bool, body: &str) -> ResponseFacts<'_> {
        ResponseFacts {
            status,
            has_fal_request_id: request_id,
            has_timeout_type: timeout_type,
            body: body.as_bytes(),
        }
    }

    const NGINX_502: &str =
        "<html><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></html>";

    #[test]
    fn python_status_rules_for_ordinary_calls() {
        let p = RetryPolicy::default();
        for op in [Operation::Result, Operation::Cancel, Operation::Token, Operation::Upload] {
            for status in [408, 409, 429] {
                assert!(p.should_retry_response(op, &facts(status, true, false, "")), "{op:?} {status}");
            }
            for status in [400, 401, 403, 404, 422, 500] {
                assert!(
                    !p.should_retry_response(op, &facts(status, false, false, "nginx")),
                    "{op:?} {status}"
                );
            }
            for status in [502, 503, 504] {
                assert!(p.should_retry_response(op, &facts(status, false, false, NGINX_502)));
                assert!(!p.should_retry_response(op, &facts(status, true, false, NGINX_502)));
                assert!(!p.should_retry_response(
                    op,
                    &facts(
                        status,
                        false,
                        false,
                        r#"{"detail":"Runner disconnected","error_type":"runner_disconnected"}"#
                    )
                ));
            }
            assert!(!p.should_retry_response(op, &facts(504, false, true, NGINX_502)));
        }
    }

    #[test]
    fn submit_is_only_retried_when_nothing_was_enqueued() {
        let p = RetryPolicy::default();
        let op = Operation::Submit;
        assert!(p.should_retry_response(op, &facts(429, true, false, "")));
        assert!(p.should_retry_response(op, &facts(408, false, false, "")));
        assert!(p.should_retry_response(op, &facts(503, false, false, NGINX_502)));
        for status in [409, 500, 502, 504] {
            assert!(!p.should_retry_response(op, &facts(status, false, false, NGINX_502)), "{status}");
        }
        assert!(!p.should_retry_response(op, &facts(503, true, false, "")));
        assert!(p.should_retry_transport(op, TransportFailure::Connect, false));
        assert!(!p.should_retry_transport(op, TransportFailure::Timeout, false));
        assert!(!p.should_retry_transport(op, TransportFailure::Other, false));
    }

    #[test]
    fn status_polls_retry_any_gateway_error_but_not_client_errors() {
        let p = RetryPolicy::default();
        for status in [500, 502, 503, 504] {
            assert!(p.should_retry_response(Operation::Status, &facts(status, true, false, "")));
        }
        for status in [400, 401, 403, 404, 422] {
            assert!(!p.should_retry_response(Operation::Status, &facts(status, false, false, "")));
        }
        assert!(!p.should_retry_response(Operation::Status, &facts(504, true, true, "")));
    }

    #[test]
    fn transport_failures() {
        let p = RetryPolicy::default();
        for op in [Operation::Status, Operation::Result, Operation::Upload] {
            assert!(p.should_retry_transport(op, TransportFailure::Connect, true));
            assert!(p.should_retry_transport(op, TransportFailure::Timeout, false));
            assert!(!p.should_retry_transport(op, TransportFailure::Timeout, true));
            assert!(p.should_retry_transport(op, TransportFailure::Other, false));
        }
    }

    #[test]
    fn delays_grow_and_stay_within_jitter_bounds() {
        let p = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(7);
        for retry in 1..=12u32 {
            let nominal = Duration::from_millis(100).saturating_mul(1 << (retry - 1)).min(p.max_delay);
            for _ in 0..50 {
                let d = p.delay(retry, None, &mut rng);
                assert!(d >= nominal.mul_f64(0.5), "retry {retry}: {d:?} < half of {nominal:?}");
                assert!(d <= nominal.mul_f64(1.5).min(p.max_delay), "retry {retry}: {d:?}");
            }
        }
    }

    #[test]
    fn jitter_is_reproducible_with_a_seed_and_varies() {
        let p = RetryPolicy::default();
        let a: Vec<Duration> = {
            let mut rng = StdRng::seed_from_u64(42);
            (1..=5).map(|n| p.delay(n, None, &mut rng)).collect()
        };
        let b: Vec<Duration> = {
            let mut rng = StdRng::seed_from_u64(42);
            (1..=5).map(|n| p.delay(n, None, &mut rng)).collect()
        };
        assert_eq!(a, b);
        let mut rng = StdRng::seed_from_u64(42);
        let same_retry: Vec<Duration> = (0..10).map(|_| p.delay(1, None, &mut rng)).collect();
        assert!(same_retry.windows(2).any(|w| w[0] != w[1]), "no jitter: {same_retry:?}");
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let p = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(1);
        let d = p.delay(1, Some(Duration::from_secs(5)), &mut rng);
        assert_eq!(d, Duration::from_secs(5));
        let d = p.delay(1, Some(Duration::from_secs(3600)), &mut rng);
        assert_eq!(d, p.max_retry_after);
        // A zero Retry-After does not shorten the computed backoff.
        let d = p.delay(3, Some(Duration::ZERO), &mut rng);
        assert!(d >= Duration::from_millis(200), "{d:?}");
    }

    #[test]
    fn backoff_counts_and_stops() {
        let policy = RetryPolicy { max_retries: 3, ..RetryPolicy::default() };
        let mut b = Backoff::new(policy);
        let mut rng = StdRng::seed_from_u64(3);
        assert!(b.next_delay(None, &mut rng).is_some());
        assert!(b.next_delay(None, &mut rng).is_some());
        assert!(b.next_delay(None, &mut rng).is_some());
        assert_eq!(b.retries(), 3);
        assert_eq!(b.next_delay(None, &mut rng), None);
        assert_eq!(b.retries(), 3);
        let mut never = Backoff::new(RetryPolicy::never());
        assert_eq!(never.next_delay(None, &mut rng), None);
    }

    #[test]
    fn retry_after_parsing() {
        let now = 784_111_777; // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("1.5", now), None);
    }
}
