//! `ElevenLabsError`: what went wrong, from the documented error bodies (`elevenlabs-tts.md` §3).
//!
//! Messages say what to do next and never contain the key: server text is scrubbed of it before
//! it is stored here. Hints that name episodic's own flags belong to the CLI, not here.

use crate::retry::Operation;
use crate::wire::{ErrorBody, ErrorDetail, StatusDetail, ValidationItem};
use std::fmt;
use std::time::Duration;

/// Longest piece of a server body kept in an error.
const EXCERPT_CHARS: usize = 300;

/// A failed call to ElevenLabs.
#[derive(Debug, thiserror::Error)]
pub struct ElevenLabsError {
    /// What went wrong.
    pub kind: ElevenLabsErrorKind,
    /// The call that failed.
    pub operation: Operation,
    /// Retries made before giving up.
    pub retries: u32,
    /// Time spent on the call, retries and waits included.
    pub elapsed: Duration,
    /// `request-id` of the failing answer, when one came.
    pub request_id: Option<String>,
}

/// The kinds of failure.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ElevenLabsErrorKind {
    /// 401 `invalid_api_key` (or any 401 other than a spent quota).
    #[error("ElevenLabs rejected the API key ({message}); check ELEVENLABS_API_KEY")]
    InvalidApiKey {
        /// Server message.
        message: String,
    },
    /// 401 `quota_exceeded`: the account's credits are spent. Nothing was voiced.
    #[error(
        "ElevenLabs refused: the account's character quota is spent ({message}); add credits, then rerun"
    )]
    QuotaExceeded {
        /// Server message (says how many credits remain and how many were needed).
        message: String,
    },
    /// 429 `too_many_concurrent_requests`: more requests at once than the plan allows; rejected
    /// at once and not billed.
    #[error("ElevenLabs refused: too many concurrent requests for this plan ({message})")]
    TooManyConcurrentRequests {
        /// Server message.
        message: String,
    },
    /// 429 `system_busy` (or another 429): ElevenLabs is overloaded; not billed.
    #[error("ElevenLabs is busy ({message}); wait a little and rerun")]
    SystemBusy {
        /// Server message.
        message: String,
    },
    /// 400 `text_too_long` / `max_character_limit_exceeded`.
    #[error("the text is too long for the model ({message}); split the line")]
    TextTooLong {
        /// Server message (says the length and the limit).
        message: String,
    },
    /// 400 `unsupported_model` (a model unknown, or a field the model does not take).
    #[error("ElevenLabs does not support this with the model ({message})")]
    UnsupportedModel {
        /// Server message.
        message: String,
        /// The field at fault, when named (`model_id`, `previous_text`).
        param: Option<String>,
    },
    /// 400 `invalid_voice_settings`.
    #[error("ElevenLabs refused the voice settings ({message})")]
    InvalidVoiceSettings {
        /// Server message.
        message: String,
    },
    /// 404 (or 400) `voice_not_found`.
    #[error("ElevenLabs has no voice `{voice_id}` ({message}); check the voice id")]
    VoiceNotFound {
        /// The voice asked for.
        voice_id: String,
        /// Server message.
        message: String,
    },
    /// Another 404: a history item or route that does not exist.
    #[error("ElevenLabs has no such {what} ({message})")]
    NotFound {
        /// `history item`, `route`, …
        what: &'static str,
        /// Server message.
        message: String,
    },
    /// 422: a field was refused.
    #[error("ElevenLabs refused `{field}`: {message}")]
    Validation {
        /// The field, dotted (`voice_settings.stability`).
        field: String,
        /// What was wrong.
        message: String,
    },
    /// Another 4xx with a `status` (402 `paid_plan_required`, 403 `only_for_creator+`, …).
    #[error("ElevenLabs refused the request (HTTP {http_status}, {status}): {message}")]
    Refused {
        /// HTTP status.
        http_status: u16,
        /// `detail.status`.
        status: String,
        /// Server message.
        message: String,
    },
    /// 5xx: ElevenLabs failed. For a billable call the answer is as good as lost: the line may
    /// have been voiced (look in the history before voicing it again).
    #[error("ElevenLabs answered HTTP {status}: {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// Server message or body excerpt.
        message: String,
    },
    /// The request was sent but its answer never came (reset, timeout). ElevenLabs has no
    /// idempotency key, so a billable call may have been voiced and billed: look in
    /// `GET /v1/history` before sending it again.
    #[error(
        "the answer from ElevenLabs was lost after the request was sent ({cause}); it may have been \
         voiced and billed: look in the history before voicing it again"
    )]
    AnswerLost {
        /// What broke.
        cause: String,
    },
    /// A read (history, models) could not reach ElevenLabs, or no connection was ever made.
    #[error("could not reach ElevenLabs ({message}); check the network or EPISODIC_ELEVENLABS_URL")]
    Transport {
        /// Cause, from the HTTP stack.
        message: String,
    },
    /// An answer that does not match the protocol.
    #[error("unexpected answer from ElevenLabs: {message}; body starts with: {excerpt:?}")]
    Protocol {
        /// What did not match.
        message: String,
        /// The start of the body.
        excerpt: String,
    },
    /// The caller passed something unusable.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl ElevenLabsErrorKind {
    /// Whether the same call may succeed later with nothing changed (and was not billed).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::TooManyConcurrentRequests { .. } | Self::SystemBusy { .. } | Self::Transport { .. }
        )
    }

    /// Whether a billable call that failed this way may still have been voiced and billed, so
    /// the history must be searched before voicing it again.
    pub fn may_have_been_billed(&self) -> bool {
        matches!(self, Self::AnswerLost { .. } | Self::Server { .. })
    }

    /// Reads an error answer: `status` and `body` (already scrubbed of the key). `voice_id` is
    /// the voice asked for, for [`ElevenLabsErrorKind::VoiceNotFound`].
    pub fn from_answer(op: Operation, status: u16, body: &str, voice_id: Option<&str>) -> Self {
        let detail = serde_json::from_str::<ErrorBody>(body).ok().map(|b| b.detail);
        let message_of = |detail: &Option<ErrorDetail>| match detail {
            Some(ErrorDetail::Status(s)) => s.message.clone(),
            Some(ErrorDetail::Message(m)) => m.clone(),
            Some(ErrorDetail::Items(items)) => {
                items.iter().map(|i| i.msg.clone()).collect::<Vec<_>>().join("; ")
            }
            None => {
                let text = excerpt(body.as_bytes());
                if text.trim().is_empty() { format!("HTTP {status} with an empty body") } else { text }
            }
        };
        let message = message_of(&detail);
        match (status, &detail) {
            (422, Some(ErrorDetail::Items(items))) => validation(items),
            (_, Some(ErrorDetail::Status(s))) => from_status(op, status, s, voice_id),
            (401, _) => Self::InvalidApiKey { message },
            (429, _) => Self::SystemBusy { message },
            (404, _) => Self::NotFound { what: not_found_what(op), message },
            (422, _) => Self::Validation { field: String::new(), message },
            (500..=599, _) => Self::Server { status, message },
            (status, _) => Self::Refused { http_status: status, status: String::new(), message },
        }
    }
}

fn validation(items: &[ValidationItem]) -> ElevenLabsErrorKind {
    let field = items.first().map(ValidationItem::field).unwrap_or_default();
    let message = items
        .iter()
        .map(|i| if i.kind.is_empty() { i.msg.clone() } else { format!("{} ({})", i.msg, i.kind) })
        .collect::<Vec<_>>()
        .join("; ");
    ElevenLabsErrorKind::Validation { field, message }
}

fn from_status(op: Operation, http: u16, s: &StatusDetail, voice_id: Option<&str>) -> ElevenLabsErrorKind {
    use ElevenLabsErrorKind as K;
    let message = s.message.clone();
    let is = |name: &str| s.status == name || s.code.as_deref() == Some(name);
    if is("quota_exceeded") {
        K::QuotaExceeded { message }
    } else if is("invalid_api_key") || (http == 401 && !is("quota_exceeded")) {
        K::InvalidApiKey { message }
    } else if is("too_many_concurrent_requests") || is("concurrent_limit_exceeded") {
        K::TooManyConcurrentRequests { message }
    } else if is("system_busy") || http == 429 {
        K::SystemBusy { message }
    } else if is("text_too_long") || is("max_character_limit_exceeded") {
        K::TextTooLong { message }
    } else if is("unsupported_model") {
        K::UnsupportedModel { message, param: s.param.clone() }
    } else if is("invalid_voice_settings") {
        K::InvalidVoiceSettings { message }
    } else if is("voice_not_found") {
        K::VoiceNotFound { voice_id: voice_id.unwrap_or_default().to_owned(), message }
    } else if http == 404 {
        K::NotFound { what: not_found_what(op), message }
    } else if (500..=599).contains(&http) {
        K::Server { status: http, message }
    } else {
        K::Refused { http_status: http, status: s.status.clone(), message }
    }
}

fn not_found_what(op: Operation) -> &'static str {
    match op {
        Operation::History | Operation::HistoryAudio => "history item",
        Operation::Models => "route",
        _ => "voice or route",
    }
}

impl ElevenLabsError {
    /// An error of `kind` raised by `operation`, with no retries.
    pub fn new(operation: Operation, kind: ElevenLabsErrorKind) -> Self {
        Self { kind, operation, retries: 0, elapsed: Duration::ZERO, request_id: None }
    }

    /// See [`ElevenLabsErrorKind::is_retryable`].
    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }

    /// Whether this billable call may have been voiced and billed despite the error: the caller
    /// must look in the history before sending it again. Always false for reads.
    pub fn may_have_been_billed(&self) -> bool {
        self.operation.is_billable() && self.kind.may_have_been_billed()
    }

    pub(crate) fn with_retries(mut self, retries: u32, elapsed: Duration) -> Self {
        self.retries = retries;
        self.elapsed = elapsed;
        self
    }
}

impl fmt::Display for ElevenLabsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: {}", self.operation, self.kind)?;
        match self.retries {
            0 => {}
            1 => write!(f, " (after 1 retry)")?,
            n => write!(f, " (after {n} retries)")?,
        }
        if self.may_have_been_billed() && !matches!(self.kind, ElevenLabsErrorKind::AnswerLost { .. }) {
            f.write_str("; it may have been voiced anyway: look in the history before voicing it again")?;
        }
        Ok(())
    }
}

/// The start of `body` as text, at most [`EXCERPT_CHARS`] characters.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text.chars().take(EXCERPT_CHARS).collect();
    if text.chars().nth(EXCERPT_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// Replaces every occurrence of `secret` in `text`.
pub(crate) fn scrub(text: &str, secret: Option<&str>) -> String {
    match secret {
        Some(s) if !s.is_empty() && text.contains(s) => text.replace(s, "***"),
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ElevenLabsErrorKind as K;

    fn speak(status: u16, body: &str) -> K {
        K::from_answer(Operation::Speak, status, body, Some("voice123"))
    }

    #[test]
    fn quota_exceeded() {
        let k = speak(
            401,
            r#"{"detail":{"status":"quota_exceeded","message":"This request exceeds your quota of 10000. You have 0 credits remaining, while 91 credits are required for this request."}}"#,
        );
        let K::QuotaExceeded { message } = &k else { panic!("{k:?}") };
        assert!(message.contains("91 credits"), "{message}");
        assert!(!k.is_retryable() && !k.may_have_been_billed());
    }

    #[test]
    fn invalid_api_key() {
        let k = speak(401, r#"{"detail":{"status":"invalid_api_key","message":"Invalid API key"}}"#);
        assert_eq!(k, K::InvalidApiKey { message: "Invalid API key".into() });
        assert!(k.to_string().contains("ELEVENLABS_API_KEY"));
        assert!(matches!(speak(401, "unauthorized"), K::InvalidApiKey { .. }));
    }

    #[test]
    fn concurrency_and_busy_are_retryable() {
        let k = speak(
            429,
            r#"{"detail":{"status":"too_many_concurrent_requests","message":"Too many","code":"concurrent_limit_exceeded"}}"#,
        );
        assert!(matches!(k, K::TooManyConcurrentRequests { .. }), "{k:?}");
        assert!(k.is_retryable());
        let busy = speak(429, r#"{"detail":{"status":"system_busy","message":"busy"}}"#);
        assert!(matches!(busy, K::SystemBusy { .. }) && busy.is_retryable());
        assert!(matches!(speak(429, ""), K::SystemBusy { .. }));
    }

    #[test]
    fn text_too_long_and_unsupported_model() {
        let k = speak(
            400,
            r#"{"detail":{"status":"text_too_long","message":"Request text length (5001) exceeds the maximum text length of 5000 characters."}}"#,
        );
        assert!(matches!(k, K::TextTooLong { .. }), "{k:?}");
        let coded =
            speak(400, r#"{"detail":{"status":"invalid_request","code":"text_too_long","message":"x"}}"#);
        assert!(matches!(coded, K::TextTooLong { .. }), "{coded:?}");
        let k = speak(
            400,
            r#"{"detail":{"status":"unsupported_model","message":"Model not supported","type":"validation_error","param":"model_id"}}"#,
        );
        assert_eq!(
            k,
            K::UnsupportedModel { message: "Model not supported".into(), param: Some("model_id".into()) }
        );
        assert!(matches!(
            speak(400, r#"{"detail":{"status":"invalid_voice_settings","message":"speed"}}"#),
            K::InvalidVoiceSettings { .. }
        ));
    }

    #[test]
    fn voice_not_found_under_404_and_400() {
        for status in [404, 400] {
            let k = speak(
                status,
                r#"{"detail":{"status":"voice_not_found","message":"A voice with the voice_id voice123 was not found."}}"#,
            );
            let K::VoiceNotFound { voice_id, .. } = &k else { panic!("{k:?}") };
            assert_eq!(voice_id, "voice123");
        }
    }

    #[test]
    fn validation_names_the_field() {
        let k = speak(
            422,
            r#"{"detail":[{"type":"float_type","loc":["body","voice_settings","stability"],"msg":"Input should be a valid number","input":null}]}"#,
        );
        assert_eq!(
            k,
            K::Validation {
                field: "voice_settings.stability".into(),
                message: "Input should be a valid number (float_type)".into()
            }
        );
    }

    #[test]
    fn server_errors_may_have_been_billed_on_speech_only() {
        let k = speak(503, "<html>nginx</html>");
        assert!(matches!(k, K::Server { status: 503, .. }), "{k:?}");
        let e = ElevenLabsError::new(Operation::Speak, k.clone());
        assert!(e.may_have_been_billed());
        assert!(e.to_string().contains("look in the history"), "{e}");
        assert!(!ElevenLabsError::new(Operation::History, k).may_have_been_billed());
    }

    #[test]
    fn other_refusals_and_unknown_routes() {
        let k = speak(402, r#"{"detail":{"status":"paid_plan_required","message":"Upgrade"}}"#);
        assert!(matches!(k, K::Refused { http_status: 402, .. }), "{k:?}");
        let k = K::from_answer(Operation::HistoryAudio, 404, r#"{"detail":"Not Found"}"#, None);
        assert_eq!(k, K::NotFound { what: "history item", message: "Not Found".into() });
    }

    #[test]
    fn answer_lost_says_look_in_the_history() {
        let e = ElevenLabsError::new(Operation::Speak, K::AnswerLost { cause: "connection reset".into() });
        assert!(e.may_have_been_billed());
        assert!(e.to_string().contains("look in the history"), "{e}");
    }

    #[test]
    fn scrub_and_excerpt() {
        assert_eq!(scrub("bad key sk_1", Some("sk_1")), "bad key ***");
        assert_eq!(excerpt(&[b'x'; 400]).chars().count(), EXCERPT_CHARS + 1);
    }
}
