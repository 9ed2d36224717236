//! When to retry a failed call, and how long to wait first.
//!
//! ElevenLabs has no idempotency key (`elevenlabs-tts.md` §7): a generation whose answer is lost
//! may have been voiced and billed, and sending it again can pay twice. So the rules depend on
//! whether the call costs credits:
//!
//! * **Billable calls** (speech, forced alignment) are retried only when the failure proves the
//!   request was turned away unbilled: a 429 (`too_many_concurrent_requests` is rejected at once,
//!   not queued; `system_busy` is overload), or a connection that was never made. A timeout, a
//!   reset after sending or a 5xx is an *answer lost*: the caller looks in `GET /v1/history`
//!   before voicing the line again. The official SDKs retry 5xx and timeouts; we do not.
//! * **Reads** (history, history audio, models) retry 408, 409, 429, 5xx and every transport
//!   failure.
//!
//! Delays grow as `min(base · 2^(n−1), max) · U(0.5, 1.5)`.

use rand::{Rng, RngExt};
use std::fmt;
use std::time::Duration;

/// The kind of call being made; the retry rules differ by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// `POST /v1/text-to-speech/{voice_id}[/with-timestamps]`: voiced and billed.
    Speak,
    /// `POST /v1/forced-alignment`: billed.
    ForcedAlignment,
    /// `GET /v1/history`.
    History,
    /// `GET /v1/history/{id}/audio`.
    HistoryAudio,
    /// `GET /v1/models`.
    Models,
    /// Building the client; never retried.
    Setup,
}

impl Operation {
    /// Whether a request that reached ElevenLabs may have cost credits.
    pub fn is_billable(self) -> bool {
        matches!(self, Self::Speak | Self::ForcedAlignment)
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Speak => "voicing the line",
            Self::ForcedAlignment => "aligning the text to the audio",
            Self::History => "reading the speech history",
            Self::HistoryAudio => "downloading audio from the history",
            Self::Models => "listing the models",
            Self::Setup => "setting up the ElevenLabs client",
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

/// How many times to retry and how long to wait.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Delay before the first retry, before jitter.
    pub base_delay: Duration,
    /// Cap of the computed delay.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 8 retries from 0.25 s up to 8 s: about a minute for a concurrency slot to free up, which
    /// a line of speech (a few seconds each) always gives.
    fn default() -> Self {
        Self { max_retries: 8, base_delay: Duration::from_millis(250), max_delay: Duration::from_secs(8) }
    }
}

impl RetryPolicy {
    /// A policy that never retries, for callers that handle failures themselves.
    pub fn never() -> Self {
        Self { max_retries: 0, ..Self::default() }
    }

    /// Whether an HTTP error answer to `op` is worth another attempt.
    pub fn should_retry_response(&self, op: Operation, status: u16) -> bool {
        match op {
            Operation::Setup => false,
            Operation::Speak | Operation::ForcedAlignment => status == 429,
            Operation::History | Operation::HistoryAudio | Operation::Models => {
                matches!(status, 408 | 409 | 429 | 500..=599)
            }
        }
    }

    /// Whether a transport failure of `op` is worth another attempt.
    pub fn should_retry_transport(&self, op: Operation, failure: TransportFailure) -> bool {
        match op {
            Operation::Setup => false,
            _ if failure == TransportFailure::Connect => true,
            op => !op.is_billable(),
        }
    }

    /// Delay before retry number `retry` (1-based): exponential, capped, jittered by U(0.5, 1.5)
    /// and capped again.
    pub fn delay<R: Rng + ?Sized>(&self, retry: u32, rng: &mut R) -> Duration {
        let exponent = retry.saturating_sub(1).min(30);
        let grown = self.base_delay.saturating_mul(1u32 << exponent);
        grown.min(self.max_delay).mul_f64(rng.random_range(0.5..1.5)).min(self.max_delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn billable_calls_retry_only_what_was_turned_away() {
        let p = RetryPolicy::default();
        for op in [Operation::Speak, Operation::ForcedAlignment] {
            assert!(p.should_retry_response(op, 429));
            for status in [400, 401, 404, 408, 409, 422, 500, 502, 503, 504] {
                assert!(!p.should_retry_response(op, status), "{op:?} {status}");
            }
            assert!(p.should_retry_transport(op, TransportFailure::Connect));
            assert!(!p.should_retry_transport(op, TransportFailure::Timeout));
            assert!(!p.should_retry_transport(op, TransportFailure::Other));
        }
    }

    #[test]
    fn reads_retry_transient_trouble() {
        let p = RetryPolicy::default();
        for op in [Operation::History, Operation::HistoryAudio, Operation::Models] {
            for status in [408, 409, 429, 500, 503] {
                assert!(p.should_retry_response(op, status), "{op:?} {status}");
            }
            for status in [400, 401, 404, 422] {
                assert!(!p.should_retry_response(op, status), "{op:?} {status}");
            }
            assert!(p.should_retry_transport(op, TransportFailure::Timeout));
            assert!(p.should_retry_transport(op, TransportFailure::Other));
        }
        assert!(!p.should_retry_transport(Operation::Setup, TransportFailure::Connect));
    }

    #[test]
    fn delays_grow_within_jitter_bounds() {
        let p = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(5);
        for retry in 1..=10u32 {
            let nominal = p.base_delay.saturating_mul(1 << (retry - 1)).min(p.max_delay);
            for _ in 0..20 {
                let d = p.delay(retry, &mut rng);
                assert!(d >= nominal.mul_f64(0.5) && d <= p.max_delay, "retry {retry}: {d:?}");
            }
        }
    }
}
