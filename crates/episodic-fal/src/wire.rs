//! Request and response bodies of fal's queue, storage and webhook APIs.
//!
//! These types are the protocol as both sides see it: the client parses them and the local
//! studio emulator serialises them. Field names, nullability and which keys are always present
//! follow `fal-protocol.md`; where fal is known to send extra keys we keep them (`extra`) so a
//! round trip through these types loses nothing the studio or a report might need.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// Lifecycle state of a queued request (`status` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum QueueState {
    /// Waiting for a runner.
    InQueue,
    /// A runner is working on it.
    InProgress,
    /// Final: succeeded, failed or cancelled (fal has no separate failed state).
    Completed,
}

impl fmt::Display for QueueState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InQueue => "IN_QUEUE",
            Self::InProgress => "IN_PROGRESS",
            Self::Completed => "COMPLETED",
        })
    }
}

fn in_queue() -> QueueState {
    QueueState::InQueue
}

/// Answer to `POST {queue}/{endpoint_id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubmitResponse {
    /// Always `IN_QUEUE` in practice; defaults to it when absent.
    #[serde(default = "in_queue")]
    pub status: QueueState,
    /// Request id (a UUID) to keep for re-attaching after a crash.
    pub request_id: String,
    /// `GET` here for the result.
    pub response_url: String,
    /// `GET` here for the status.
    pub status_url: String,
    /// `PUT` here to cancel.
    pub cancel_url: String,
    /// Always `null` on submit; the key is kept present.
    #[serde(default)]
    pub logs: Option<Vec<LogEntry>>,
    /// Usually `{}` on submit.
    #[serde(default)]
    pub metrics: Metrics,
    /// Requests ahead of this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_position: Option<u64>,
    /// Present when a webhook was requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_request_id: Option<String>,
}

/// `metrics` object: `{"inference_time": seconds}` when completed, `{}` otherwise.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Seconds the runner spent on the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inference_time: Option<f64>,
    /// Any metric fal adds later.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Fields every status body carries besides the state-specific ones.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatusInfo {
    /// Request id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Result URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_url: Option<String>,
    /// Status URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_url: Option<String>,
    /// Cancel URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_url: Option<String>,
    /// `null` unless logs were asked for; always serialised because the Python client indexes it.
    #[serde(default)]
    pub logs: Option<Vec<LogEntry>>,
    /// Metrics; `inference_time` once completed.
    #[serde(default)]
    pub metrics: Metrics,
}

/// Answer to `GET {status_url}`, tagged by `status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status")]
pub enum QueueStatus {
    /// Waiting; HTTP 202.
    #[serde(rename = "IN_QUEUE")]
    InQueue {
        /// Requests ahead of this one; fal always sends it, but a missing one is tolerated.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        queue_position: Option<u64>,
        /// Common fields.
        #[serde(flatten)]
        info: StatusInfo,
    },
    /// Running; HTTP 202.
    #[serde(rename = "IN_PROGRESS")]
    InProgress {
        /// Common fields.
        #[serde(flatten)]
        info: StatusInfo,
    },
    /// Final; HTTP 200. `error` is set when the request failed or was cancelled.
    #[serde(rename = "COMPLETED")]
    Completed {
        /// Human-readable failure, e.g. `Runner disconnected`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// Machine-readable failure, e.g. `runner_disconnected`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error_type: Option<String>,
        /// Common fields.
        #[serde(flatten)]
        info: StatusInfo,
    },
}

impl QueueStatus {
    /// The state without its data.
    pub fn state(&self) -> QueueState {
        match self {
            Self::InQueue { .. } => QueueState::InQueue,
            Self::InProgress { .. } => QueueState::InProgress,
            Self::Completed { .. } => QueueState::Completed,
        }
    }

    /// The fields shared by all states.
    pub fn info(&self) -> &StatusInfo {
        match self {
            Self::InQueue { info, .. } | Self::InProgress { info } | Self::Completed { info, .. } => info,
        }
    }

    /// Log lines, empty when the server sent `null`.
    pub fn logs(&self) -> &[LogEntry] {
        self.info().logs.as_deref().unwrap_or(&[])
    }
}

/// One log line of a request; every field is optional because real entries vary.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// The text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `STDERR`, `STDOUT`, `ERROR`, `INFO`, `WARN` or `DEBUG`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// Origin, e.g. `USER`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// ISO 8601 without zone, e.g. `2024-12-20T15:37:17.120314`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// Free-form labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Map<String, Value>>,
}

/// `status` of a cancel answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CancelStatus {
    /// Acknowledged (newer reference).
    Ok,
    /// Accepted (HTTP 202); the request may still run if it was about to start.
    CancellationRequested,
    /// Already finished (HTTP 400); nothing to cancel.
    AlreadyCompleted,
    /// Unknown request.
    NotFound,
}

/// Body of a cancel answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelResponse {
    /// Outcome.
    pub status: CancelStatus,
}

/// One segment of a validation error location: a field name or a list index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LocSegment {
    /// List index.
    Index(u64),
    /// Field name (or `body`, `query`).
    Key(String),
}

impl fmt::Display for LocSegment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Index(i) => write!(f, "{i}"),
            Self::Key(k) => f.write_str(k),
        }
    }
}

/// One item of a 422 `detail` list (FastAPI / pydantic style).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationItem {
    /// Path of the offending input, e.g. `["body", "prompt"]`.
    pub loc: Vec<LocSegment>,
    /// Message for people.
    pub msg: String,
    /// Machine-readable type, e.g. `value_error.missing`, `image_too_large`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Documentation link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Extra context, e.g. limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctx: Option<Value>,
    /// The rejected input value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
}

impl ValidationItem {
    /// `loc` joined with dots, without the leading `body` that every input path has.
    pub fn field_path(&self) -> String {
        let segments = match self.loc.first() {
            Some(LocSegment::Key(k)) if k == "body" && self.loc.len() > 1 => &self.loc[1..],
            _ => &self.loc[..],
        };
        let parts: Vec<String> = segments.iter().map(ToString::to_string).collect();
        parts.join(".")
    }
}

/// `detail` of a validation answer: a list of items or, from some endpoints, a plain string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ValidationDetail {
    /// Structured items.
    Items(Vec<ValidationItem>),
    /// A plain message.
    Message(String),
}

impl fmt::Display for ValidationDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Message(m) => f.write_str(m),
            Self::Items(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    let path = item.field_path();
                    if path.is_empty() {
                        write!(f, "{} ({})", item.msg, item.kind)?;
                    } else {
                        write!(f, "`{path}`: {} ({})", item.msg, item.kind)?;
                    }
                }
                Ok(())
            }
        }
    }
}

/// Body of a 422 answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationErrorBody {
    /// What was wrong.
    pub detail: ValidationDetail,
}

/// Body of a request or infrastructure error, also sent as the `X-Fal-Error-Type` header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InfraErrorBody {
    /// Message, e.g. `Request timed out`.
    pub detail: String,
    /// Type, e.g. `request_timeout`, `runner_disconnected`.
    pub error_type: String,
}

/// A file in a model's output (or any fal `File` object).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct File {
    /// Public download URL.
    pub url: String,
    /// MIME type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// File name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// Size in bytes; real outputs sometimes send `null`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_size: Option<u64>,
    /// Inline base64 data (rare).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_data: Option<String>,
    /// Keys some endpoints add (`duration`, `fps`, `width`, `height`, `num_frames`).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Output of the avatar endpoints (Kling AI Avatar, OmniHuman).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AvatarOutput {
    /// The rendered clip.
    pub video: File,
    /// Clip length in seconds.
    pub duration: f64,
}

/// Output of image-to-video and text-to-video endpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoOutput {
    /// The rendered clip.
    pub video: File,
}

/// Answer to `POST {rest}/storage/auth/token?storage_type=fal-cdn-v3`.
///
/// `Debug` hides the token: it is a credential for the CDN.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct CdnToken {
    /// Bearer token for the CDN.
    pub token: String,
    /// Scheme for the `Authorization` header, `Bearer`.
    pub token_type: String,
    /// CDN host that files are served from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// RFC 3339 expiry, e.g. `2026-10-27T21:47:25.394105+00:00`.
    pub expires_at: String,
    /// RFC 3339 creation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
}

impl fmt::Debug for CdnToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CdnToken")
            .field("token", &"***")
            .field("token_type", &self.token_type)
            .field("base_url", &self.base_url)
            .field("expires_at", &self.expires_at)
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// Answer to `POST {cdn}/files/upload`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CdnUploadResponse {
    /// Public URL of the stored file.
    pub access_url: String,
    /// `true` when stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uploaded: Option<bool>,
}

/// Body of `POST {rest}/storage/upload/initiate` (the legacy two-step upload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitiateUploadRequest {
    /// MIME type of the bytes to come.
    pub content_type: String,
    /// File name to keep in the URL.
    pub file_name: String,
}

/// Answer to `POST {rest}/storage/upload/initiate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitiateUploadResponse {
    /// Signed URL to `PUT` the bytes to (no fal key).
    pub upload_url: String,
    /// Public URL of the file once uploaded.
    pub file_url: String,
}

/// Who may read an uploaded object by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AclDecision {
    /// Listed but not readable.
    Hide,
    /// Refused.
    Forbid,
    /// Readable.
    Allow,
}

/// One per-user access rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclRule {
    /// fal user id.
    pub user: String,
    /// Decision for that user.
    pub decision: AclDecision,
}

/// Initial access list of an uploaded object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitialAcl {
    /// Decision for everyone not listed.
    pub default: AclDecision,
    /// Per-user exceptions.
    #[serde(default)]
    pub rules: Vec<AclRule>,
}

/// Value of the `X-Fal-Object-Lifecycle(-Preference)` headers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectLifecycle {
    /// Delete the object after this many seconds; `None` keeps the account default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_duration_seconds: Option<u64>,
    /// Access list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_acl: Option<InitialAcl>,
}

impl ObjectLifecycle {
    /// Expire the object after `seconds`.
    pub fn expire_after_seconds(seconds: u64) -> Self {
        Self { expiration_duration_seconds: Some(seconds), initial_acl: None }
    }
}

/// `status` of a webhook delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum WebhookStatus {
    /// The model returned an output.
    Ok,
    /// The model or the platform failed.
    Error,
}

/// Body fal `POST`s to the webhook URL when a request finishes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookPayload {
    /// The request id from submit.
    pub request_id: String,
    /// Id of the last attempt; differs from `request_id` only after server-side retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_request_id: Option<String>,
    /// `OK` or `ERROR`.
    pub status: WebhookStatus,
    /// Model output on success, error body (e.g. a 422 `detail`) on failure, or `null`.
    #[serde(default)]
    pub payload: Value,
    /// Failure text, e.g. `Invalid status code: 422`; always present, `null` on success.
    #[serde(default)]
    pub error: Option<String>,
    /// Set when the output could not be serialised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_error: Option<String>,
}

/// One public key of a JSON Web Key Set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type; `OKP` for Ed25519.
    pub kty: String,
    /// Curve; `Ed25519`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// Key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Public key, base64url (fal sometimes keeps `=` padding).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// Intended use; `sig`.
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub key_use: Option<String>,
    /// Algorithm, when given (`EdDSA`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
}

/// JSON Web Key Set served at `/.well-known/jwks.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    /// Keys; a signature valid under any of them is accepted.
    pub keys: Vec<Jwk>,
}

/// One page of `GET {api}/v1/models/requests/by-endpoint` (fal-platform-api.md §4).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RequestHistoryPage {
    /// The requests on this page.
    #[serde(default)]
    pub items: Vec<RequestHistoryItem>,
    /// Pass as `cursor` for the next page.
    #[serde(default)]
    pub next_cursor: Option<String>,
    /// Whether there are more pages.
    #[serde(default)]
    pub has_more: bool,
}

/// One request in the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestHistoryItem {
    /// The request id.
    pub request_id: String,
    /// The endpoint it went to.
    pub endpoint_id: String,
    /// When it was sent (RFC 3339).
    #[serde(default)]
    pub sent_at: Option<String>,
    /// When it started.
    #[serde(default)]
    pub started_at: Option<String>,
    /// When it ended, if it has.
    #[serde(default)]
    pub ended_at: Option<String>,
    /// The HTTP status it ended with.
    #[serde(default)]
    pub status_code: Option<u16>,
    /// The input, with `expand=payloads`.
    #[serde(default)]
    pub json_input: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::DeserializeOwned;

    /// Parses `json`, serialises it back and checks nothing was lost or invented.
    fn round_trip<T: Serialize + DeserializeOwned + PartialEq + fmt::Debug>(json: &str) -> T {
        let original: Value = serde_json::from_str(json).unwrap();
        let parsed: T = serde_json::from_str(json).unwrap();
        let back = serde_json::to_value(&parsed).unwrap();
        assert_eq!(back, original, "round trip changed the JSON");
        let reparsed: T = serde_json::from_value(back).unwrap();
        assert_eq!(reparsed, parsed);
        parsed
    }

    #[test]
    fn submit_response_round_trips() {
        let r: SubmitResponse = round_trip(
            r#"{"status": "IN_QUEUE",
             "request_id": "727028ec-aa98-4073-9bcd-0acb386abcfc",
             "response_url": "https://queue.fal.run/fal-ai/kling-video/requests/727028ec-aa98-4073-9bcd-0acb386abcfc",
             "status_url":   "https://queue.fal.run/fal-ai/kling-video/requests/727028ec-aa98-4073-9bcd-0acb386abcfc/status",
             "cancel_url":   "https://queue.fal.run/fal-ai/kling-video/requests/727028ec-aa98-4073-9bcd-0acb386abcfc/cancel",
             "logs": null, "metrics": {}, "queue_position": 0}"#,
        );
        assert_eq!(r.status, QueueState::InQueue);
        assert_eq!(r.queue_position, Some(0));
        assert_eq!(r.gateway_request_id, None);
    }

    #[test]
    fn submit_response_keeps_gateway_request_id() {
        let r: SubmitResponse = round_trip(
            r#"{"status": "IN_QUEUE", "request_id": "a", "gateway_request_id": "b",
                "response_url": "u", "status_url": "u/status", "cancel_url": "u/cancel",
                "logs": null, "metrics": {}, "queue_position": 3}"#,
        );
        assert_eq!(r.gateway_request_id.as_deref(), Some("b"));
    }

    #[test]
    fn submit_response_requires_urls() {
        let err = serde_json::from_str::<SubmitResponse>(r#"{"request_id": "a"}"#);
        assert!(err.is_err());
    }

    #[test]
    fn status_in_queue_round_trips() {
        let s: QueueStatus = round_trip(
            r#"{"status": "IN_QUEUE", "request_id": "r1", "response_url": "u",
                "status_url": "u/status", "cancel_url": "u/cancel",
                "logs": null, "metrics": {}, "queue_position": 2}"#,
        );
        assert_eq!(s.state(), QueueState::InQueue);
        assert!(matches!(s, QueueStatus::InQueue { queue_position: Some(2), .. }));
    }

    #[test]
    fn status_in_progress_with_logs_round_trips() {
        let s: QueueStatus = round_trip(
            r#"{"status": "IN_PROGRESS", "request_id": "r1",
                "logs": [{"message": "step 1", "level": "INFO", "source": "USER",
                          "timestamp": "2024-12-20T15:37:17.120314"},
                         {"timestamp": "2024-12-20T15:37:18.0", "message": "step 2", "labels": {}}],
                "metrics": {}}"#,
        );
        assert_eq!(s.logs().len(), 2);
        assert_eq!(s.logs()[1].message.as_deref(), Some("step 2"));
        assert_eq!(s.logs()[1].level, None);
    }

    #[test]
    fn status_logs_key_is_always_serialised() {
        let s = QueueStatus::InProgress { info: StatusInfo::default() };
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v, serde_json::json!({"status": "IN_PROGRESS", "logs": null, "metrics": {}}));
    }

    #[test]
    fn status_completed_with_error_round_trips() {
        let s: QueueStatus = round_trip(
            r#"{"status": "COMPLETED", "request_id": "r1", "logs": null,
                "metrics": {"inference_time": 12.5},
                "error": "Runner disconnected", "error_type": "runner_disconnected"}"#,
        );
        match s {
            QueueStatus::Completed { error, error_type, info } => {
                assert_eq!(error.as_deref(), Some("Runner disconnected"));
                assert_eq!(error_type.as_deref(), Some("runner_disconnected"));
                assert_eq!(info.metrics.inference_time, Some(12.5));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn status_tolerates_missing_logs_and_metrics() {
        let s: QueueStatus = serde_json::from_str(r#"{"status": "COMPLETED"}"#).unwrap();
        assert_eq!(s.state(), QueueState::Completed);
        assert!(s.logs().is_empty());
    }

    #[test]
    fn status_rejects_unknown_state() {
        assert!(serde_json::from_str::<QueueStatus>(r#"{"status": "FAILED", "logs": null}"#).is_err());
    }

    #[test]
    fn cancel_responses_parse() {
        let c: CancelResponse = round_trip(r#"{"status": "CANCELLATION_REQUESTED"}"#);
        assert_eq!(c.status, CancelStatus::CancellationRequested);
        let c: CancelResponse = round_trip(r#"{"status": "ALREADY_COMPLETED"}"#);
        assert_eq!(c.status, CancelStatus::AlreadyCompleted);
        let c: CancelResponse = round_trip(r#"{"status": "NOT_FOUND"}"#);
        assert_eq!(c.status, CancelStatus::NotFound);
        let c: CancelResponse = round_trip(r#"{"status": "OK"}"#);
        assert_eq!(c.status, CancelStatus::Ok);
    }

    #[test]
    fn validation_list_round_trips() {
        let b: ValidationErrorBody = round_trip(
            r#"{"detail":[{"loc":["body","prompt"],"msg":"field required","type":"value_error.missing"}]}"#,
        );
        assert_eq!(b.detail.to_string(), "`prompt`: field required (value_error.missing)");
    }

    #[test]
    fn validation_item_with_all_fields_round_trips() {
        let b: ValidationErrorBody = round_trip(
            r#"{"detail":[{"loc":["body","images",0,"url"],"msg":"Image too large",
                "type":"image_too_large","url":"https://docs.fal.ai/errors#image_too_large",
                "ctx":{"max_height":4096},"input":"https://example.com/x.png"}]}"#,
        );
        let ValidationDetail::Items(items) = &b.detail else { panic!("expected items") };
        assert_eq!(items[0].field_path(), "images.0.url");
        assert_eq!(items[0].loc[2], LocSegment::Index(0));
    }

    #[test]
    fn validation_plain_string_round_trips() {
        let b: ValidationErrorBody = round_trip(r#"{"detail": "Invalid storage type"}"#);
        assert_eq!(b.detail, ValidationDetail::Message("Invalid storage type".into()));
    }

    #[test]
    fn infra_error_round_trips() {
        let b: InfraErrorBody =
            round_trip(r#"{"detail": "Request timed out", "error_type": "request_timeout"}"#);
        assert_eq!(b.error_type, "request_timeout");
    }

    #[test]
    fn video_output_round_trips() {
        let o: VideoOutput = round_trip(
            r#"{"video": {"url": "https://v3b.fal.media/files/b/abc/x.mp4", "content_type": "video/mp4",
                "file_name": "x.mp4", "file_size": 123456}}"#,
        );
        assert_eq!(o.video.file_size, Some(123456));
    }

    #[test]
    fn file_keeps_extra_video_fields() {
        let o: VideoOutput = round_trip(
            r#"{"video": {"url": "u", "duration": 5.04, "fps": 24, "width": 720, "height": 1280,
                "num_frames": 121}}"#,
        );
        assert_eq!(o.video.extra.get("fps"), Some(&serde_json::json!(24)));
    }

    #[test]
    fn file_size_may_be_null() {
        let f: File = serde_json::from_str(r#"{"url": "u", "file_size": null}"#).unwrap();
        assert_eq!(f.file_size, None);
    }

    #[test]
    fn avatar_output_round_trips() {
        let o: AvatarOutput = round_trip(
            r#"{"video": {"url": "https://v3b.fal.media/files/b/abc/out.mp4",
                "content_type": "video/mp4", "file_name": "out.mp4", "file_size": 4521},
                "duration": 7.2}"#,
        );
        assert!((o.duration - 7.2).abs() < f64::EPSILON);
    }

    #[test]
    fn cdn_token_round_trips_and_hides_token() {
        let t: CdnToken = round_trip(
            r#"{"token": "tok-secret", "token_type": "Bearer", "base_url": "https://v3b.fal.media",
                "expires_at": "2026-10-27T21:47:25.394105+00:00",
                "created_at": "2026-09-27T21:47:25.394105+00:00"}"#,
        );
        let debug = format!("{t:?}");
        assert!(!debug.contains("tok-secret"), "{debug}");
    }

    #[test]
    fn upload_responses_round_trip() {
        let r: CdnUploadResponse = round_trip(
            r#"{"access_url": "https://v3b.fal.media/files/b/0aac27e0/hzumoERxCN0OZTqbpMb2L_line.wav", "uploaded": true}"#,
        );
        assert!(r.access_url.ends_with("_line.wav"));
        let _: InitiateUploadRequest =
            round_trip(r#"{"content_type": "audio/wav", "file_name": "line.wav"}"#);
        let _: InitiateUploadResponse =
            round_trip(r#"{"upload_url": "https://up/x?sig=1", "file_url": "https://cdn/x"}"#);
    }

    #[test]
    fn lifecycle_serialises_like_the_header() {
        let l = ObjectLifecycle::expire_after_seconds(3600);
        assert_eq!(serde_json::to_string(&l).unwrap(), r#"{"expiration_duration_seconds":3600}"#);
        let _: ObjectLifecycle = round_trip(
            r#"{"expiration_duration_seconds": 60,
                "initial_acl": {"default": "hide", "rules": [{"user": "u1", "decision": "allow"}]}}"#,
        );
    }

    #[test]
    fn webhook_payloads_round_trip() {
        let ok: WebhookPayload = round_trip(
            r#"{"request_id": "r", "gateway_request_id": "g", "status": "OK",
                "payload": {"video": {"url": "u"}}, "error": null}"#,
        );
        assert_eq!(ok.status, WebhookStatus::Ok);
        let err: WebhookPayload = round_trip(
            r#"{"request_id": "r", "gateway_request_id": "g", "status": "ERROR",
                "error": "Invalid status code: 422",
                "payload": {"detail": [{"loc": ["body","prompt"], "msg": "field required", "type": "value_error.missing"}]}}"#,
        );
        assert_eq!(err.error.as_deref(), Some("Invalid status code: 422"));
        let perr: WebhookPayload = round_trip(
            r#"{"request_id": "r", "gateway_request_id": "g", "status": "OK", "payload": null,
                "error": null,
                "payload_error": "Response payload is not JSON serializable. Either return a JSON serializable object or use the queue endpoint to retrieve the response."}"#,
        );
        assert_eq!(perr.payload, Value::Null);
        assert!(perr.payload_error.is_some());
    }

    #[test]
    fn jwks_round_trips() {
        let j: Jwks = round_trip(
            r#"{"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k1",
                "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo=", "use": "sig"}]}"#,
        );
        assert_eq!(j.keys[0].key_use.as_deref(), Some("sig"));
    }
}
