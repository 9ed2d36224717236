//! Webhook outcomes: written by `episodic webhooks serve` once a delivery's signature checks out,
//! read by a render run that waits on the request. Idempotent: a replayed delivery changes nothing.

use serde_json::Value;

use super::backend::TxMode;
use super::error::JournalError;
use super::record::UnixSeconds;
use super::store::Journal;

/// A request's outcome as fal's webhook reported it.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookResult {
    /// fal's request id.
    pub request_id: String,
    /// `status: OK`.
    pub ok: bool,
    /// The model output (or its error body).
    pub payload: Value,
    /// fal's error text, when not ok.
    pub error: Option<String>,
    /// When it arrived.
    pub received_at: UnixSeconds,
}

impl Journal {
    /// Records a verified delivery; returns false when this request's outcome was already known
    /// (a replay), which is not an error.
    pub fn record_webhook(&self, result: &WebhookResult) -> Result<bool, JournalError> {
        let payload = result.payload.to_string();
        self.transaction(TxMode::Durable, |tx| tx.insert_webhook(result, &payload))
    }

    /// The delivered outcome of a request, if a webhook brought it.
    pub fn webhook_result(&self, request_id: &str) -> Result<Option<WebhookResult>, JournalError> {
        let row = self.transaction(TxMode::Read, |tx| tx.webhook(request_id))?;
        let Some((ok, payload, error, received_at)) = row else { return Ok(None) };
        let payload = serde_json::from_str(&payload)
            .map_err(|e| JournalError::InvalidValue { what: "webhook payload", value: e.to_string() })?;
        Ok(Some(WebhookResult { request_id: request_id.to_owned(), ok, payload, error, received_at }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deliveries_are_idempotent() {
        let journal = Journal::open_in_memory().unwrap();
        let result = WebhookResult {
            request_id: "r1".into(),
            ok: true,
            payload: json!({"video": {"url": "u"}}),
            error: None,
            received_at: 5,
        };
        assert!(journal.record_webhook(&result).unwrap());
        assert!(!journal.record_webhook(&result).unwrap(), "a replay is not new");
        assert_eq!(journal.webhook_result("r1").unwrap(), Some(result));
        assert_eq!(journal.webhook_result("r2").unwrap(), None);
    }
}
