//! The queue: every submitted request, its state, its logs, and the task that runs it.

use episodic_catalog::Model;
use episodic_fal::wire::LogEntry;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::Notify;

/// How a request ended.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    /// The model's output, and how long the runner took.
    Succeeded { output: Value, inference_time: f64 },
    /// The model's error: the HTTP status and body the result endpoint replays.
    Failed { status: u16, body: Value, error: String, error_type: String },
    /// Cancelled by the client.
    Cancelled,
}

/// Where a request is.
#[derive(Debug, Clone)]
pub(crate) enum JobState {
    Queued,
    Running,
    Completed(Outcome),
}

/// One submitted request.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) seq: u64,
    /// `owner/alias` (with a namespace, if any): the part status URLs use.
    pub(crate) app: String,
    pub(crate) endpoint: String,
    pub(crate) model: Model,
    pub(crate) args: Value,
    pub(crate) webhook: Option<String>,
    pub(crate) state: JobState,
    pub(crate) logs: Vec<LogEntry>,
    pub(crate) cancel_requested: bool,
    /// Unix seconds of the submit, for the request history.
    pub(crate) submitted_at: i64,
    /// When it was submitted, on the monotonic clock: the history lists it only once
    /// `history_lag` has passed since.
    pub(crate) submitted: std::time::Instant,
}

/// All jobs, by request id.
#[derive(Default)]
pub(crate) struct Queue {
    jobs: Mutex<HashMap<String, Job>>,
    next_seq: Mutex<u64>,
    /// Wakes a job's task when it is cancelled.
    pub(crate) cancelled: Notify,
}

impl Queue {
    fn jobs(&self) -> std::sync::MutexGuard<'_, HashMap<String, Job>> {
        self.jobs.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds a queued job.
    pub(crate) fn insert(
        &self,
        id: String,
        app: String,
        endpoint: String,
        model: Model,
        args: Value,
        webhook: Option<String>,
    ) {
        let seq = {
            let mut next = self.next_seq.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            *next += 1;
            *next
        };
        let job = Job {
            seq,
            app,
            endpoint,
            model,
            args,
            webhook,
            state: JobState::Queued,
            logs: Vec::new(),
            cancel_requested: false,
            submitted_at: crate::server::now_unix(),
            submitted: std::time::Instant::now(),
        };
        self.jobs().insert(id, job);
    }

    /// Runs `read` on a job, if it exists.
    pub(crate) fn with<T>(&self, id: &str, read: impl FnOnce(&Job) -> T) -> Option<T> {
        self.jobs().get(id).map(read)
    }

    /// Runs `change` on a job, if it exists.
    pub(crate) fn update<T>(&self, id: &str, change: impl FnOnce(&mut Job) -> T) -> Option<T> {
        self.jobs().get_mut(id).map(change)
    }

    /// Every job submitted at least `lag` ago, as the platform API's request history lists them,
    /// oldest first.
    pub(crate) fn history(
        &self,
        endpoint: &str,
        since: i64,
        lag: std::time::Duration,
    ) -> Vec<episodic_fal::wire::RequestHistoryItem> {
        let jobs = self.jobs();
        let mut found: Vec<(&String, &Job)> = jobs
            .iter()
            .filter(|(_, job)| {
                job.endpoint == endpoint && job.submitted_at >= since && job.submitted.elapsed() >= lag
            })
            .collect();
        found.sort_by_key(|(_, job)| job.seq);
        found
            .into_iter()
            .map(|(id, job)| episodic_fal::wire::RequestHistoryItem {
                request_id: id.clone(),
                endpoint_id: job.endpoint.clone(),
                sent_at: Some(episodic_fal::timefmt::format_rfc3339(job.submitted_at)),
                started_at: None,
                ended_at: None,
                status_code: match &job.state {
                    JobState::Completed(Outcome::Succeeded { .. }) => Some(200),
                    JobState::Completed(Outcome::Failed { status, .. }) => Some(*status),
                    _ => None,
                },
                json_input: Some(job.args.clone()),
            })
            .collect()
    }

    /// Appends a log line to a job.
    pub(crate) fn log(&self, id: &str, message: impl Into<String>) {
        let entry = LogEntry {
            message: Some(message.into()),
            level: Some("INFO".into()),
            source: Some("USER".into()),
            timestamp: Some(timestamp()),
            labels: None,
        };
        self.update(id, |job| job.logs.push(entry));
    }

    /// How many queued jobs were submitted before this one.
    pub(crate) fn position(&self, id: &str) -> u64 {
        let jobs = self.jobs();
        let Some(seq) = jobs.get(id).map(|job| job.seq) else { return 0 };
        jobs.values().filter(|job| matches!(job.state, JobState::Queued) && job.seq < seq).count() as u64
    }
}

/// Log timestamps in fal's form: `2024-12-20T15:37:17.120314`.
fn timestamp() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let text = episodic_fal::timefmt::format_rfc3339(now.as_secs() as i64);
    format!("{}.{:06}", text.trim_end_matches("+00:00"), now.subsec_micros())
}
