//! The queue API: submit, status, result and cancel, routed by hand because endpoint ids are
//! paths of any depth (`fal-ai/kling-video/ai-avatar/v2/pro`) and status URLs use only their
//! `owner/alias` part.

use crate::jobs::{JobState, Outcome};
use crate::server::{AppState, json_error};
use crate::storage::random_hex;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use episodic_fal::EndpointId;
use episodic_fal::wire::{
    CancelResponse, CancelStatus, Metrics, QueueStatus, StatusInfo, SubmitResponse, ValidationDetail,
    ValidationErrorBody,
};
use serde_json::Value;
use std::sync::Arc;

/// Every request no other route took.
pub(crate) async fn dispatch(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let segments: Vec<&str> = uri.path().split('/').filter(|segment| !segment.is_empty()).collect();
    if segments.is_empty() {
        return not_found(&state, "Not found");
    }
    if let Some(denied) = state.require_key(&headers) {
        return denied;
    }
    let query = uri.query().unwrap_or("");
    let at = segments.iter().position(|segment| *segment == "requests");
    match (&method, at) {
        (&Method::POST, None) => submit(&state, &segments.join("/"), query, &body),
        (&Method::GET, Some(at)) if segments.len() == at + 3 && segments[at + 2] == "status" => {
            with_job(&state, &segments[..at], segments[at + 1], |id| status(&state, id, query))
        }
        (&Method::GET, Some(at)) if segments.len() == at + 2 => {
            with_job(&state, &segments[..at], segments[at + 1], |id| result(&state, id))
        }
        (&Method::PUT, Some(at)) if segments.len() == at + 3 && segments[at + 2] == "cancel" => {
            with_job(&state, &segments[..at], segments[at + 1], |id| cancel(&state, id))
        }
        (_, Some(_)) => json_error(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed", "bad_request"),
        _ => not_found(&state, "Not found"),
    }
}

fn not_found(state: &AppState, detail: &str) -> Response {
    state.stats.update(|s| s.rejected.not_found += 1);
    json_error(StatusCode::NOT_FOUND, detail, "not_found")
}

/// Looks up a request under the app it was submitted to; another app's path does not find it.
fn with_job(state: &AppState, app: &[&str], id: &str, then: impl FnOnce(&str) -> Response) -> Response {
    let app = app.join("/");
    match state.queue.with(id, |job| job.app == app) {
        Some(true) => then(id),
        _ => not_found(state, &format!("Request {id} not found")),
    }
}

fn submit(state: &Arc<AppState>, endpoint: &str, query: &str, body: &[u8]) -> Response {
    // A locked account is refused before anything about the request is looked at.
    if let Some(locked) = state.refuse_if_locked() {
        return locked;
    }
    let Ok(id) = EndpointId::parse(endpoint) else {
        return not_found(state, &format!("Application '{endpoint}' not found"));
    };
    if state.config.gone.iter().any(|gone| gone == endpoint) {
        return not_found(state, &format!("Application '{endpoint}' not found"));
    }
    let Some(model) = state.catalog.models().iter().find(|model| model.endpoint == endpoint).cloned() else {
        return not_found(state, &format!("Application '{endpoint}' not found"));
    };
    let input: Value = match serde_json::from_slice(body) {
        Ok(input) => input,
        Err(err) => {
            state.stats.update(|s| s.rejected.invalid += 1);
            let detail =
                vec![crate::validate::item(&[], &format!("JSON decode error: {err}"), "json_invalid")];
            return validation_error(detail);
        }
    };
    let ignored = match crate::validate::validate(&model, &input, state.config.strict_inputs) {
        Ok(ignored) => ignored,
        Err(detail) => {
            state.stats.update(|s| s.rejected.invalid += 1);
            return validation_error(detail);
        }
    };
    let webhook = query_param(query, "fal_webhook");
    let request_id = uuid();
    let app = match id.namespace() {
        Some(namespace) => format!("{namespace}/{}/{}", id.owner(), id.alias()),
        None => format!("{}/{}", id.owner(), id.alias()),
    };
    state.queue.insert(request_id.clone(), app, endpoint.to_owned(), model, input, webhook.clone());
    if !ignored.is_empty() {
        state.queue.log(&request_id, format!("ignored inputs not in the schema: {}", ignored.join(", ")));
    }
    state.stats.update(|s| {
        s.submits.total += 1;
        *s.submits.by_endpoint.entry(endpoint.to_owned()).or_default() += 1;
    });
    let urls = urls(state, &id, &request_id);
    tokio::spawn(crate::render::run_job(Arc::clone(state), request_id.clone()));
    let response = SubmitResponse {
        status: episodic_fal::wire::QueueState::InQueue,
        request_id: request_id.clone(),
        response_url: urls.0,
        status_url: urls.1,
        cancel_url: urls.2,
        logs: None,
        metrics: Metrics::default(),
        queue_position: Some(state.queue.position(&request_id)),
        gateway_request_id: webhook.map(|_| request_id.clone()),
    };
    with_request_id(axum::Json(response).into_response(), &request_id)
}

/// The three URLs of a request, built from the studio's base and `owner/alias` only.
fn urls(state: &AppState, id: &EndpointId, request_id: &str) -> (String, String, String) {
    let base = id
        .request_url(&state.base_url, request_id)
        .unwrap_or_else(|_| format!("{}/{}/requests/{request_id}", state.base_url, id.app_id()));
    (base.clone(), format!("{base}/status"), format!("{base}/cancel"))
}

fn status(state: &AppState, id: &str, query: &str) -> Response {
    state.stats.update(|s| s.status_polls += 1);
    let with_logs = matches!(query_param(query, "logs").as_deref(), Some("1" | "true" | "True"));
    let position = state.queue.position(id);
    let Some(snapshot) = state
        .queue
        .with(id, |job| (job.state.clone(), job.logs.clone(), job.endpoint.clone(), job.app.clone()))
    else {
        return not_found(state, "Request not found");
    };
    let (job_state, logs, endpoint, _) = snapshot;
    let endpoint_id = EndpointId::parse(&endpoint);
    let (response_url, status_url, cancel_url) = match &endpoint_id {
        Ok(endpoint_id) => urls(state, endpoint_id, id),
        Err(_) => Default::default(),
    };
    let mut info = StatusInfo {
        request_id: Some(id.to_owned()),
        response_url: Some(response_url),
        status_url: Some(status_url),
        cancel_url: Some(cancel_url),
        logs: with_logs.then_some(logs),
        metrics: Metrics::default(),
    };
    let (code, body) = match job_state {
        JobState::Queued => {
            (StatusCode::ACCEPTED, QueueStatus::InQueue { queue_position: Some(position), info })
        }
        JobState::Running => (StatusCode::ACCEPTED, QueueStatus::InProgress { info }),
        JobState::Completed(outcome) => {
            let (error, error_type) = match outcome {
                Outcome::Succeeded { inference_time, .. } => {
                    info.metrics.inference_time = Some(inference_time);
                    (None, None)
                }
                Outcome::Failed { error, error_type, .. } => (Some(error), Some(error_type)),
                Outcome::Cancelled => {
                    (Some("Request was cancelled".to_owned()), Some("client_cancelled".to_owned()))
                }
            };
            (StatusCode::OK, QueueStatus::Completed { error, error_type, info })
        }
    };
    with_request_id((code, axum::Json(body)).into_response(), id)
}

fn result(state: &AppState, id: &str) -> Response {
    let Some(job_state) = state.queue.with(id, |job| job.state.clone()) else {
        return not_found(state, "Request not found");
    };
    let response = match job_state {
        JobState::Queued | JobState::Running => {
            return json_error(
                StatusCode::BAD_REQUEST,
                "Request is still in progress",
                "request_in_progress",
            );
        }
        JobState::Completed(Outcome::Succeeded { output, .. }) => axum::Json(output).into_response(),
        JobState::Completed(Outcome::Failed { status, body, .. }) => {
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = (code, axum::Json(body)).into_response();
            response.headers_mut().insert("x-fal-retryable", HeaderValue::from_static("false"));
            response
        }
        JobState::Completed(Outcome::Cancelled) => json_error(
            StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
            "Request was cancelled",
            "client_cancelled",
        ),
    };
    state.stats.update(|s| s.results_served += 1);
    with_request_id(response, id)
}

fn cancel(state: &AppState, id: &str) -> Response {
    state.stats.update(|s| s.cancels += 1);
    let answer = state.queue.update(id, |job| match job.state {
        JobState::Completed(_) => CancelStatus::AlreadyCompleted,
        JobState::Queued | JobState::Running => {
            job.cancel_requested = true;
            CancelStatus::CancellationRequested
        }
    });
    state.queue.cancelled.notify_waiters();
    match answer {
        Some(CancelStatus::AlreadyCompleted) => {
            (StatusCode::BAD_REQUEST, axum::Json(CancelResponse { status: CancelStatus::AlreadyCompleted }))
                .into_response()
        }
        Some(status) => (StatusCode::ACCEPTED, axum::Json(CancelResponse { status })).into_response(),
        None => (StatusCode::NOT_FOUND, axum::Json(CancelResponse { status: CancelStatus::NotFound }))
            .into_response(),
    }
}

fn validation_error(detail: Vec<episodic_fal::wire::ValidationItem>) -> Response {
    let body = ValidationErrorBody { detail: ValidationDetail::Items(detail) };
    let mut response = (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response();
    response.headers_mut().insert("x-fal-retryable", HeaderValue::from_static("false"));
    response
}

fn with_request_id(mut response: Response, id: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(id) {
        response.headers_mut().insert("x-fal-request-id", value);
    }
    response
}

/// A query parameter, percent-decoded.
fn query_param(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// A random UUID (version 4 layout), like fal's request ids.
fn uuid() -> String {
    let hex = random_hex(32);
    format!("{}-{}-4{}-a{}-{}", &hex[..8], &hex[8..12], &hex[13..16], &hex[17..20], &hex[20..32])
}

/// `GET /v1/models/requests/by-endpoint`: the platform API's request history, with inputs when
/// `expand=payloads`; pages of `limit` (default 50, at most 100) with an offset cursor.
pub(crate) async fn history(State(state): State<Arc<AppState>>, uri: Uri, headers: HeaderMap) -> Response {
    if let Some(denied) = state.require_key(&headers) {
        return denied;
    }
    let query = uri.query().unwrap_or("");
    let Some(endpoint) = query_param(query, "endpoint_id") else {
        let body =
            serde_json::json!({"error": {"type": "validation_error", "message": "endpoint_id is required"}});
        return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
    };
    let since = query_param(query, "start")
        .and_then(|start| episodic_fal::timefmt::parse_rfc3339(&start))
        .unwrap_or(0);
    let limit =
        query_param(query, "limit").and_then(|limit| limit.parse::<usize>().ok()).unwrap_or(50).clamp(1, 100);
    let offset = query_param(query, "cursor").and_then(|cursor| cursor.parse::<usize>().ok()).unwrap_or(0);
    let payloads =
        query_param(query, "expand").is_some_and(|expand| expand.split(',').any(|part| part == "payloads"));
    let all = state.queue.history(&endpoint, since, state.config.history_lag);
    let has_more = all.len() > offset + limit;
    let items: Vec<_> = all
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|mut item| {
            if !payloads {
                item.json_input = None;
            }
            item
        })
        .collect();
    let page = episodic_fal::wire::RequestHistoryPage {
        items,
        next_cursor: has_more.then(|| (offset + limit).to_string()),
        has_more,
    };
    axum::Json(page).into_response()
}
