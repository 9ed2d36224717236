//! Webhook delivery: the documented payload, signed with the studio's Ed25519 key, retried.

use crate::jobs::Outcome;
use crate::server::{AppState, now_unix};
use episodic_fal::webhook::{sign_webhook, webhook_body_bytes};
use episodic_fal::wire::{WebhookPayload, WebhookStatus};
use serde_json::Value;
use std::time::Duration;

/// fal retries 10 times over 2 hours; the studio keeps the shape at a test's pace.
const ATTEMPTS: u32 = 5;
const FIRST_DELAY: Duration = Duration::from_millis(200);

/// POSTs the outcome of a request to `url` until it is accepted or the attempts run out.
pub(crate) async fn deliver(state: &AppState, id: &str, url: &str, outcome: &Outcome) {
    let payload = match outcome {
        Outcome::Succeeded { output, .. } => WebhookPayload {
            request_id: id.to_owned(),
            gateway_request_id: Some(id.to_owned()),
            status: WebhookStatus::Ok,
            payload: output.clone(),
            error: None,
            payload_error: None,
        },
        Outcome::Failed { status, body, .. } => WebhookPayload {
            request_id: id.to_owned(),
            gateway_request_id: Some(id.to_owned()),
            status: WebhookStatus::Error,
            payload: body.clone(),
            error: Some(format!("Invalid status code: {status}")),
            payload_error: None,
        },
        Outcome::Cancelled => WebhookPayload {
            request_id: id.to_owned(),
            gateway_request_id: Some(id.to_owned()),
            status: WebhookStatus::Error,
            payload: Value::Null,
            error: Some("Request was cancelled".into()),
            payload_error: None,
        },
    };
    let body = webhook_body_bytes(&payload);
    let mut delay = FIRST_DELAY;
    for _ in 0..ATTEMPTS {
        // Signed at each attempt so the timestamp is fresh, as a retried real delivery is.
        let headers = sign_webhook(&state.signing_key, id, &state.config.webhook_user_id, now_unix(), &body);
        let mut request = state
            .http
            .post(url)
            .header("content-type", "application/json")
            .body(body.clone())
            .timeout(Duration::from_secs(15));
        for (name, value) in headers.pairs() {
            request = request.header(name, value);
        }
        match request.send().await {
            Ok(response) if response.status().is_success() => {
                state.stats.update(|s| s.webhooks.delivered += 1);
                return;
            }
            _ => state.stats.update(|s| s.webhooks.failed_attempts += 1),
        }
        tokio::time::sleep(delay).await;
        delay *= 2;
    }
}
