//! Following a queued request to completion by polling its status.
//!
//! A callback rather than a `Stream` keeps `futures` out of the dependencies and matches how
//! the engine consumes events (`impl FnMut(Event)`).

use crate::client::FalClient;
use crate::error::{FalError, FalErrorKind};
use crate::handle::RequestHandle;
use crate::retry::Operation;
use crate::wire::{LogEntry, Metrics, QueueState, QueueStatus};
use std::time::{Duration, Instant};

/// How to poll.
#[derive(Debug, Clone, PartialEq)]
pub struct PollOptions {
    /// Ask for log lines (`?logs=1`) and report new ones.
    pub with_logs: bool,
    /// Wait before the second poll.
    pub initial_interval: Duration,
    /// Longest wait between polls.
    pub max_interval: Duration,
    /// Factor the wait grows by after each poll.
    pub growth: f64,
    /// The wait never exceeds this share of the time already waited (nor drops below
    /// `initial_interval`), so a result is seen at most about that share late: a fixed backoff
    /// would see a 2 s render up to 1.3 s late, and a 3 min one no more than 3 s late anyway.
    /// At 10 %, the last of forty 11 s renders was seen 0.9 s late, 6 % of the episode's wall.
    pub max_lateness: f64,
    /// Give up (without cancelling) after this long; `None` waits for as long as fal takes.
    pub deadline: Option<Duration>,
}

impl Default for PollOptions {
    /// Logs on; 100 ms (fal's Python client polls every 100 ms, always) growing by 1.5× to 3 s but
    /// at most 3 % of the time waited; no deadline. A 3 min render costs about 150 polls.
    fn default() -> Self {
        Self {
            with_logs: true,
            initial_interval: Duration::from_millis(100),
            max_interval: Duration::from_secs(3),
            growth: 1.5,
            max_lateness: 0.03,
            deadline: None,
        }
    }
}

/// A change seen while polling.
#[derive(Debug, Clone, PartialEq)]
pub enum PollEvent {
    /// Waiting in the queue; sent when first seen and whenever the position changes.
    Queued {
        /// Requests ahead.
        position: Option<u64>,
    },
    /// A runner started on it; sent once.
    Started,
    /// A log line not reported before.
    Log(LogEntry),
    /// Final state; the last event.
    Completed {
        /// Failure text when the request failed or was cancelled.
        error: Option<String>,
        /// Failure type, e.g. `runner_disconnected`.
        error_type: Option<String>,
    },
}

/// What the final status said.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// Failure text; `None` usually means success, but the result call is authoritative
    /// (it replays a model's error).
    pub error: Option<String>,
    /// Failure type.
    pub error_type: Option<String>,
    /// `inference_time` and friends.
    pub metrics: Metrics,
    /// Status calls made.
    pub polls: u32,
}

impl Completion {
    /// Whether the final status carried no error.
    pub fn succeeded(&self) -> bool {
        self.error.is_none() && self.error_type.is_none()
    }
}

/// Turns successive statuses into events: remembers the last state and how many log lines
/// were reported, since each status repeats all lines so far.
#[derive(Debug, Default)]
struct Tracker {
    last: Option<(QueueState, Option<u64>)>,
    logs_seen: usize,
}

impl Tracker {
    fn observe(&mut self, status: &QueueStatus, emit: &mut impl FnMut(PollEvent)) {
        let now = match status {
            QueueStatus::InQueue { queue_position, .. } => (QueueState::InQueue, *queue_position),
            other => (other.state(), None),
        };
        if self.last != Some(now) {
            match status {
                QueueStatus::InQueue { queue_position, .. } => {
                    emit(PollEvent::Queued { position: *queue_position })
                }
                QueueStatus::InProgress { .. } => emit(PollEvent::Started),
                QueueStatus::Completed { .. } => {}
            }
            self.last = Some(now);
        }
        // `null` says nothing about the lines; only a list moves the count.
        if let Some(logs) = status.info().logs.as_deref() {
            // A shorter list means fal restarted the request on another runner; its lines
            // are new.
            if logs.len() < self.logs_seen {
                self.logs_seen = 0;
            }
            for entry in &logs[self.logs_seen..] {
                emit(PollEvent::Log(entry.clone()));
            }
            self.logs_seen = logs.len();
        }
        if let QueueStatus::Completed { error, error_type, .. } = status {
            emit(PollEvent::Completed { error: error.clone(), error_type: error_type.clone() });
        }
    }
}

impl FalClient {
    /// Polls `handle` until COMPLETED, calling `on_event` for each change, with a wait that
    /// grows from `initial_interval` to `max_interval`.
    ///
    /// Transient failures of a single poll are retried by the client's policy; an error here
    /// means polling gave up, not that the request failed: it keeps running at fal, and
    /// polling again (even from another process, via [`RequestHandle::reattach`]) resumes.
    pub async fn poll(
        &self,
        handle: &RequestHandle,
        options: &PollOptions,
        mut on_event: impl FnMut(PollEvent),
    ) -> Result<Completion, FalError> {
        let started = Instant::now();
        let mut tracker = Tracker::default();
        let mut interval = options.initial_interval;
        let mut polls = 0u32;
        loop {
            let status = self.status(handle, options.with_logs).await?;
            polls = polls.saturating_add(1);
            tracker.observe(&status, &mut on_event);
            if let QueueStatus::Completed { error, error_type, info } = status {
                return Ok(Completion { error, error_type, metrics: info.metrics, polls });
            }
            if let Some(deadline) = options.deadline {
                let waited = started.elapsed();
                if waited + interval > deadline {
                    let mut err = FalError::new(Operation::Status, FalErrorKind::Deadline { waited });
                    err.elapsed = waited;
                    return Err(err);
                }
            }
            tokio::time::sleep(interval).await;
            interval = next_interval(interval, started.elapsed(), options);
        }
    }
}

/// The wait after `interval`, `waited` into the poll: grown, capped by `max_interval` and by
/// `max_lateness` of the time waited, never below `initial_interval`.
fn next_interval(interval: Duration, waited: Duration, options: &PollOptions) -> Duration {
    let lateness = if options.max_lateness.is_finite() && options.max_lateness > 0.0 {
        waited.mul_f64(options.max_lateness)
    } else {
        Duration::MAX
    };
    interval
        .mul_f64(options.growth.max(1.0))
        .min(options.max_interval)
        .min(lateness)
        .max(options.initial_interval)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(json: &str) -> QueueStatus {
        serde_json::from_str(json).unwrap()
    }

    fn run(statuses: &[&str]) -> Vec<PollEvent> {
        let mut tracker = Tracker::default();
        let mut events = Vec::new();
        for s in statuses {
            tracker.observe(&status(s), &mut |e| events.push(e));
        }
        events
    }

    fn log(message: &str) -> PollEvent {
        PollEvent::Log(LogEntry { message: Some(message.to_owned()), ..LogEntry::default() })
    }

    #[test]
    fn reports_changes_only() {
        let events = run(&[
            r#"{"status": "IN_QUEUE", "queue_position": 2, "logs": null}"#,
            r#"{"status": "IN_QUEUE", "queue_position": 2, "logs": null}"#,
            r#"{"status": "IN_QUEUE", "queue_position": 1, "logs": null}"#,
            r#"{"status": "IN_PROGRESS", "logs": [{"message": "a"}]}"#,
            r#"{"status": "IN_PROGRESS", "logs": [{"message": "a"}]}"#,
            r#"{"status": "IN_PROGRESS", "logs": [{"message": "a"}, {"message": "b"}, {"message": "c"}]}"#,
            r#"{"status": "COMPLETED", "logs": [{"message": "a"}, {"message": "b"}, {"message": "c"}, {"message": "d"}],
                "metrics": {"inference_time": 3.5}}"#,
        ]);
        assert_eq!(
            events,
            vec![
                PollEvent::Queued { position: Some(2) },
                PollEvent::Queued { position: Some(1) },
                PollEvent::Started,
                log("a"),
                log("b"),
                log("c"),
                log("d"),
                PollEvent::Completed { error: None, error_type: None },
            ]
        );
    }

    #[test]
    fn null_logs_do_not_reset_the_count_wrongly() {
        let events = run(&[
            r#"{"status": "IN_PROGRESS", "logs": [{"message": "a"}]}"#,
            r#"{"status": "IN_PROGRESS", "logs": null}"#,
            r#"{"status": "IN_PROGRESS", "logs": [{"message": "a"}, {"message": "b"}]}"#,
        ]);
        assert_eq!(events, vec![PollEvent::Started, log("a"), log("b")]);
    }

    #[test]
    fn restarted_log_list_is_reported_again() {
        let events = run(&[
            r#"{"status": "IN_PROGRESS", "logs": [{"message": "a"}, {"message": "b"}]}"#,
            r#"{"status": "IN_PROGRESS", "logs": [{"message": "retry"}]}"#,
        ]);
        assert_eq!(events, vec![PollEvent::Started, log("a"), log("b"), log("retry")]);
    }

    #[test]
    fn completed_with_error_is_reported() {
        let events = run(&[r#"{"status": "COMPLETED", "logs": null, "error": "Runner disconnected",
                "error_type": "runner_disconnected"}"#]);
        assert_eq!(
            events,
            vec![PollEvent::Completed {
                error: Some("Runner disconnected".into()),
                error_type: Some("runner_disconnected".into())
            }]
        );
    }

    #[test]
    fn waits_grow_but_never_beyond_a_small_share_of_the_wait() {
        let options = PollOptions::default();
        let ms = Duration::from_millis;
        // Early on the floor holds; a 2 s render is seen at most 100 ms late, not 1.3 s.
        assert_eq!(next_interval(ms(100), ms(100), &options), ms(100));
        assert_eq!(next_interval(ms(100), ms(2_000), &options), ms(100));
        assert_eq!(next_interval(ms(400), ms(12_000), &options), ms(360));
        // Minutes in, the ceiling holds.
        assert_eq!(next_interval(ms(3_000), ms(180_000), &options), ms(3_000));
        let unbounded = PollOptions { max_lateness: 0.0, ..PollOptions::default() };
        assert_eq!(next_interval(ms(100), ms(100), &unbounded), ms(150));
    }

    #[test]
    fn completion_success_flag() {
        let c = Completion { error: None, error_type: None, metrics: Metrics::default(), polls: 1 };
        assert!(c.succeeded());
        let failed = Completion { error: Some("x".into()), ..c };
        assert!(!failed.succeeded());
    }
}
