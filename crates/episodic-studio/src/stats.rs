//! Counters served at `GET /_studio/stats`: what a real account would have seen and paid.

use episodic_catalog::Usd;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// The counters, as served (and as tests read them back).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatsSnapshot {
    /// Files stored through any upload flow.
    pub uploads: UploadStats,
    /// Accepted submits, in total and per endpoint id.
    pub submits: SubmitStats,
    /// Status requests answered.
    pub status_polls: u64,
    /// Result requests answered with a finished result (success or the model's error).
    pub results_served: u64,
    /// Cancel requests answered.
    pub cancels: u64,
    /// Renders by outcome, and seconds of media produced.
    pub renders: RenderStats,
    /// Webhook deliveries.
    pub webhooks: WebhookStats,
    /// What the renders would have cost on fal: seconds × catalog price, for successful renders.
    pub billed_usd: f64,
    /// The same, in exact micro-dollars.
    pub billed_micros: u64,
    /// Faults injected, by kind.
    pub faults: FaultStats,
    /// Requests refused, by reason.
    pub rejected: RejectedStats,
    /// ElevenLabs text to speech.
    #[serde(default)]
    pub tts: TtsStats,
}

/// ElevenLabs counters: what the account would have been billed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TtsStats {
    /// Speech requests voiced (answered 200, billed), with or without timestamps.
    pub requests: u64,
    /// Credits billed for them: characters × the model's rate, tags included.
    pub characters: u64,
    /// Forced alignments answered.
    #[serde(default)]
    pub alignments: u64,
    /// Requests refused 401 `quota_exceeded`.
    #[serde(default)]
    pub quota_exceeded: u64,
    /// Requests refused 429 `too_many_concurrent_requests`.
    #[serde(default)]
    pub concurrency_limited: u64,
    /// Speech and alignment requests being handled now (a gauge, not a counter).
    #[serde(default)]
    pub running: u64,
}

/// Upload counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UploadStats {
    /// Files stored.
    pub count: u64,
    /// Bytes stored.
    pub bytes: u64,
}

/// Submit counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SubmitStats {
    /// Accepted submits.
    pub total: u64,
    /// Accepted submits per endpoint id.
    pub by_endpoint: BTreeMap<String, u64>,
}

/// Render counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RenderStats {
    /// Finished with a result.
    pub completed: u64,
    /// Finished with an error.
    pub failed: u64,
    /// Cancelled before finishing.
    pub cancelled: u64,
    /// Seconds of media rendered successfully.
    pub seconds: f64,
    /// Successful renders whose stored video was cut short by fault injection (counted in
    /// `completed` too: fal reports them as successes).
    #[serde(default)]
    pub truncated: u64,
    /// The longest time from submit to result of a successful render, in milliseconds: the remote
    /// floor a benchmark compares a run's wall time with.
    #[serde(default)]
    pub longest_ms: u64,
    /// The sum of those times over every successful render, in milliseconds (their mean is the
    /// studio's latency as a client saw it).
    #[serde(default)]
    pub total_ms: u64,
}

/// Webhook counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WebhookStats {
    /// Accepted by the receiver (2xx).
    pub delivered: u64,
    /// Attempts that failed (each retry counts).
    pub failed_attempts: u64,
}

/// Fault counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultStats {
    /// 429s injected.
    pub rate_limited: u64,
    /// 5xx injected.
    pub server_errors: u64,
    /// Connections dropped before routing: nothing was done.
    pub dropped: u64,
    /// Connections dropped after the request was handled: a submit was queued, an upload stored,
    /// and only the answer was lost.
    #[serde(default)]
    pub answers_lost: u64,
}

/// Refusal counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RejectedStats {
    /// 401s.
    pub unauthorized: u64,
    /// 422s on submit.
    pub invalid: u64,
    /// 404s.
    pub not_found: u64,
    /// 403s because the account's balance is exhausted (submits and upload initiations).
    #[serde(default)]
    pub out_of_credit: u64,
}

/// The live counters behind a lock; every update is one short critical section.
#[derive(Default)]
pub(crate) struct Stats {
    inner: Mutex<(StatsSnapshot, Usd)>,
}

impl Stats {
    pub(crate) fn update(&self, change: impl FnOnce(&mut StatsSnapshot)) {
        let mut guard = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        change(&mut guard.0);
    }

    /// Adds a successful render's seconds and cost.
    pub(crate) fn bill(&self, seconds: f64, cost: Usd) {
        let mut guard = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.1 += cost;
        let total = guard.1;
        let stats = &mut guard.0;
        stats.renders.completed += 1;
        stats.renders.seconds += seconds;
        stats.billed_micros = total.micros();
        stats.billed_usd = total.dollars();
    }

    /// Everything billed so far, exactly.
    pub(crate) fn billed(&self) -> Usd {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).1
    }

    pub(crate) fn snapshot(&self) -> StatsSnapshot {
        let guard = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.0.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counters written before `answers_lost`, `truncated` and `out_of_credit` existed still read.
    #[test]
    fn older_snapshots_still_read() {
        let old = r#"{"uploads":{"count":1,"bytes":2},"submits":{"total":3,"by_endpoint":{}},
            "status_polls":0,"results_served":0,"cancels":0,
            "renders":{"completed":1,"failed":0,"cancelled":0,"seconds":5.0},
            "webhooks":{"delivered":0,"failed_attempts":0},"billed_usd":0.35,"billed_micros":350000,
            "faults":{"rate_limited":0,"server_errors":0,"dropped":2},
            "rejected":{"unauthorized":0,"invalid":0,"not_found":0}}"#;
        let snapshot: StatsSnapshot = serde_json::from_str(old).expect("old snapshot");
        assert_eq!((snapshot.faults.dropped, snapshot.faults.answers_lost), (2, 0));
        assert_eq!((snapshot.renders.truncated, snapshot.rejected.out_of_credit), (0, 0));
        assert_eq!(snapshot.tts, TtsStats::default());
    }
}
