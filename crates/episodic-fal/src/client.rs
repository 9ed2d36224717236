//! `FalClient`: the queue calls (submit, status, result, cancel) and the one retry loop every
//! HTTP call goes through.

use crate::config::FalConfig;
use crate::endpoint::EndpointId;
use crate::error::{FalError, FalErrorKind, excerpt, scrub};
use crate::handle::RequestHandle;
use crate::key::FalKey;
use crate::retry::{Backoff, Operation, ResponseFacts, TransportFailure, parse_retry_after};
use crate::upload::TokenCache;
use crate::wire::{CancelResponse, CancelStatus, ObjectLifecycle, QueueStatus, SubmitResponse};
use crate::wire::{Metrics, QueueState, ValidationDetail};
use bytes::Bytes;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{Method, RequestBuilder, Response};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::error::Error as _;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use url::{Origin, Url};

/// Largest API answer read into memory; results are small JSON, this only stops a runaway body.
const MAX_API_BODY: usize = 64 * 1024 * 1024;

/// Detail fal sends when a result is fetched too early.
const STILL_IN_PROGRESS: &str = "Request is still in progress";

/// Response header fal puts on answers that reached its application.
pub(crate) const X_FAL_REQUEST_ID: &str = "x-fal-request-id";
const X_FAL_ERROR_TYPE: &str = "x-fal-error-type";
const X_FAL_REQUEST_TIMEOUT_TYPE: &str = "x-fal-request-timeout-type";

/// Queue priority of a submitted request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Priority {
    /// The default.
    #[default]
    Normal,
    /// Yields to normal requests.
    Low,
}

/// Optional knobs of [`FalClient::submit`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SubmitOptions {
    /// fal `POST`s the outcome here (`?fal_webhook=`).
    pub webhook_url: Option<Url>,
    /// Deadline for the request to *start* (queue wait included); sent as
    /// `X-Fal-Request-Timeout`; must exceed one second. On expiry fal answers 504.
    pub start_timeout: Option<Duration>,
    /// `X-Fal-Queue-Priority`; not sent when `None`.
    pub priority: Option<Priority>,
    /// `X-Fal-Runner-Hint`.
    pub runner_hint: Option<String>,
    /// `fal_max_queue_length`: fal answers 429 instead of queueing beyond it.
    pub max_queue_length: Option<u32>,
    /// `Some(false)` sends `X-Fal-Store-IO: 0` so fal does not keep the payloads.
    pub store_io: Option<bool>,
    /// Sends `x-fal-no-retry: 1` to turn off fal's server-side retries.
    pub disable_server_retries: bool,
    /// `X-Fal-Object-Lifecycle-Preference` for files the request produces.
    pub object_lifecycle: Option<ObjectLifecycle>,
}

/// An HTTP answer, read in full, with the retries it took.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) retries: u32,
    pub(crate) elapsed: Duration,
}

impl Answer {
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Client of fal's queue, storage and CDN, over one connection pool. Cheap to clone.
///
/// It never prints or logs, and sends the API key only to the configured queue and REST
/// origins.
#[derive(Debug, Clone)]
pub struct FalClient {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) config: FalConfig,
    pub(crate) key: Option<FalKey>,
    auth: Option<HeaderValue>,
    key_origins: [Origin; 3],
    pub(crate) token: TokenCache,
    /// Set once the v3 upload flow answered 404/405, so later uploads go straight to legacy.
    pub(crate) legacy_upload: AtomicBool,
    /// Retries made by every call of this client, successful or not, for reports.
    retries: std::sync::atomic::AtomicU64,
}

impl FalClient {
    /// Builds a client; `key` may be `None` for public models or an emulator without auth.
    pub fn new(config: FalConfig, key: Option<FalKey>) -> Result<Self, FalError> {
        let invalid =
            |message: String| FalError::new(Operation::Setup, FalErrorKind::InvalidArgument(message));
        config.validate().map_err(|e| invalid(e.to_string()))?;
        let origin =
            |base: &str| Url::parse(base).map(|u| u.origin()).map_err(|e| invalid(format!("{base}: {e}")));
        let key_origins = [origin(&config.queue_url)?, origin(&config.rest_url)?, origin(&config.api_url)?];
        let auth = match &key {
            Some(k) => {
                let mut value = HeaderValue::from_str(&k.authorization())
                    .map_err(|_| invalid("the fal key cannot be sent as a header".to_owned()))?;
                // Keeps the value out of reqwest's and hyper's debug output.
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        let http = reqwest::Client::builder()
            .user_agent(concat!("episodic/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.download_read_timeout)
            .build()
            .map_err(|e| invalid(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                config,
                key,
                auth,
                key_origins,
                token: TokenCache::default(),
                legacy_upload: AtomicBool::new(false),
                retries: std::sync::atomic::AtomicU64::new(0),
            }),
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &FalConfig {
        &self.inner.config
    }

    /// Whether a key is configured.
    pub fn has_key(&self) -> bool {
        self.inner.key.is_some()
    }

    /// How many times this client (and its clones) retried a call so far, including calls that
    /// then succeeded: the faults a run survived.
    pub fn retries(&self) -> u64 {
        self.inner.retries.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Enqueues a request on `endpoint` with `input` as the JSON body.
    ///
    /// Journal the returned `request_id` at once. An error with `maybe_submitted` set means the
    /// request may have been queued anyway (see [`crate::retry`]).
    pub async fn submit(
        &self,
        endpoint: &EndpointId,
        input: &Value,
        options: &SubmitOptions,
    ) -> Result<SubmitResponse, FalError> {
        let op = Operation::Submit;
        let invalid = |m: String| FalError::new(op, FalErrorKind::InvalidArgument(m));
        let mut url = Url::parse(&endpoint.submit_url(&self.inner.config.queue_url))
            .map_err(|e| invalid(format!("submit URL for `{endpoint}`: {e}")))?;
        if options.webhook_url.is_some() || options.max_queue_length.is_some() {
            let mut query = url.query_pairs_mut();
            if let Some(webhook) = &options.webhook_url {
                query.append_pair("fal_webhook", webhook.as_str());
            }
            if let Some(n) = options.max_queue_length {
                query.append_pair("fal_max_queue_length", &n.to_string());
            }
        }
        let headers = submit_headers(options).map_err(invalid)?;
        let body =
            Bytes::from(serde_json::to_vec(input).map_err(|e| invalid(format!("input is not JSON: {e}")))?);
        let answer = self
            .send_with_retry(op, options.start_timeout.is_some(), || {
                self.api_request(Method::POST, url.clone())
                    .headers(headers.clone())
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone())
            })
            .await?;
        if !answer.is_success() {
            let mut err = self.error_from_answer(op, &answer);
            err.maybe_submitted = submit_may_have_queued(&answer);
            return Err(err);
        }
        parse_submit(&self.inner.config.queue_url, endpoint, &answer).map_err(|mut e| {
            // A 2xx means fal accepted it; whatever we failed to read, it is queued.
            e.maybe_submitted = true;
            e
        })
    }

    /// Reads the status once; `with_logs` asks for the log lines so far.
    pub async fn status(&self, handle: &RequestHandle, with_logs: bool) -> Result<QueueStatus, FalError> {
        let op = Operation::Status;
        let mut url = handle.status_url.clone();
        url.query_pairs_mut().append_pair("logs", if with_logs { "1" } else { "0" });
        let answer = self.send_with_retry(op, false, || self.api_request(Method::GET, url.clone())).await?;
        if !answer.is_success() {
            return Err(self.error_from_answer(op, &answer));
        }
        parse_json(op, &answer)
    }

    /// Fetches the model output of a completed request as JSON.
    ///
    /// Fetched too early it fails with [`FalErrorKind::NotReady`]; a failed request replays the
    /// model's error (e.g. [`FalErrorKind::Validation`]).
    pub async fn result(&self, handle: &RequestHandle) -> Result<Value, FalError> {
        let op = Operation::Result;
        let url = handle.response_url.clone();
        let answer = self.send_with_retry(op, false, || self.api_request(Method::GET, url.clone())).await?;
        if !answer.is_success() {
            return Err(self.error_from_answer(op, &answer));
        }
        parse_json(op, &answer)
    }

    /// As [`FalClient::result`], parsed into `T` (e.g. [`crate::wire::AvatarOutput`]).
    pub async fn result_as<T: DeserializeOwned>(&self, handle: &RequestHandle) -> Result<T, FalError> {
        let value = self.result(handle).await?;
        let text = excerpt(value.to_string().as_bytes());
        serde_json::from_value(value).map_err(|e| {
            FalError::new(
                Operation::Result,
                FalErrorKind::Protocol {
                    message: format!("the output does not have the expected shape: {e}"),
                    excerpt: text,
                },
            )
        })
    }

    /// Asks fal to cancel; "already completed" is an answer, not an error.
    pub async fn cancel(&self, handle: &RequestHandle) -> Result<CancelStatus, FalError> {
        let op = Operation::Cancel;
        let url = handle.cancel_url.clone();
        let answer = self
            .send_with_retry(op, false, || {
                self.api_request(Method::PUT, url.clone()).header(reqwest::header::CONTENT_LENGTH, "0")
            })
            .await?;
        if matches!(answer.status, 200..=299 | 400 | 404)
            && let Ok(body) = serde_json::from_slice::<CancelResponse>(&answer.body)
        {
            return Ok(body.status);
        }
        if !answer.is_success() {
            return Err(self.error_from_answer(op, &answer));
        }
        // A 2xx without the documented body still means fal took the cancel.
        Ok(CancelStatus::CancellationRequested)
    }

    /// Requests sent to `endpoint` since `since_unix` (seconds), with their inputs: how a run
    /// that crashed between a submit and journaling its id finds that request again.
    /// Follows `next_cursor` for at most 10 pages of 100.
    pub async fn request_history(
        &self,
        endpoint: &str,
        since_unix: i64,
    ) -> Result<Vec<crate::wire::RequestHistoryItem>, FalError> {
        let op = Operation::History;
        let base = format!("{}/v1/models/requests/by-endpoint", self.inner.config.api_url);
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..10 {
            let mut url = Url::parse(&base)
                .map_err(|e| FalError::new(op, FalErrorKind::InvalidArgument(format!("{base}: {e}"))))?;
            {
                let mut query = url.query_pairs_mut();
                query
                    .append_pair("endpoint_id", endpoint)
                    .append_pair("start", &crate::timefmt::format_rfc3339(since_unix))
                    .append_pair("expand", "payloads")
                    .append_pair("limit", "100");
                if let Some(cursor) = &cursor {
                    query.append_pair("cursor", cursor);
                }
            }
            let answer =
                self.send_with_retry(op, false, || self.api_request(Method::GET, url.clone())).await?;
            if !answer.is_success() {
                return Err(self.error_from_answer(op, &answer));
            }
            let page: crate::wire::RequestHistoryPage = parse_json(op, &answer)?;
            items.extend(page.items);
            match page.next_cursor.filter(|_| page.has_more) {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        Ok(items)
    }

    /// Whether a stored file still answers at `url` (`HEAD`, no credentials): a cached upload
    /// past its expiry must be uploaded again rather than handed to a model that cannot fetch it.
    pub async fn url_available(&self, url: &str) -> Result<bool, FalError> {
        let op = Operation::Download;
        let url = Url::parse(url)
            .map_err(|e| FalError::new(op, FalErrorKind::InvalidArgument(format!("not a URL: {e}"))))?;
        let answer =
            self.send_with_retry(op, false, || self.plain_request(Method::HEAD, url.clone())).await?;
        match answer.status {
            200..=299 => Ok(true),
            403 | 404 | 410 => Ok(false),
            _ => Err(self.error_from_answer(op, &answer)),
        }
    }

    /// A request to the queue or REST API: JSON accepted, key attached when the URL is on a
    /// configured origin.
    pub(crate) fn api_request(&self, method: Method, url: Url) -> RequestBuilder {
        let authorized = self.inner.key_origins.contains(&url.origin());
        let builder = self
            .inner
            .http
            .request(method, url)
            .timeout(self.inner.config.request_timeout)
            .header(ACCEPT, "application/json");
        match (&self.inner.auth, authorized) {
            (Some(auth), true) => builder.header(AUTHORIZATION, auth.clone()),
            _ => builder,
        }
    }

    /// A request that carries no fal credentials (signed upload URLs, CDN downloads).
    pub(crate) fn plain_request(&self, method: Method, url: Url) -> RequestBuilder {
        self.inner.http.request(method, url)
    }

    /// Sends the request `build` makes, retrying per the policy for `op`, and reads the body.
    ///
    /// Returns the final answer whatever its status (callers map non-2xx with
    /// [`FalClient::error_from_answer`]); fails only when no answer was had.
    pub(crate) async fn send_with_retry(
        &self,
        op: Operation,
        had_start_timeout: bool,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Answer, FalError> {
        let started = Instant::now();
        let policy = &self.inner.config.retry;
        let mut backoff = Backoff::new(policy.clone());
        loop {
            let attempt = match build().send().await {
                Ok(response) => read_answer(response).await,
                Err(e) => Err(e),
            };
            match attempt {
                Ok(mut answer) => {
                    if !answer.is_success() {
                        let facts = ResponseFacts {
                            status: answer.status,
                            has_fal_request_id: answer.headers.contains_key(X_FAL_REQUEST_ID),
                            has_timeout_type: answer.headers.contains_key(X_FAL_REQUEST_TIMEOUT_TYPE),
                            body: &answer.body,
                        };
                        if policy.should_retry_response(op, &facts)
                            && let Some(delay) = next_delay(&mut backoff, retry_after(&answer))
                        {
                            self.count_retry();
                            tokio::time::sleep(delay).await;
                            continue;
                        }
                    }
                    answer.retries = backoff.retries();
                    answer.elapsed = started.elapsed();
                    return Ok(answer);
                }
                Err(e) => {
                    let failure = classify_transport(&e);
                    if e.is_builder() {
                        return Err(FalError::new(op, FalErrorKind::InvalidArgument(transport_message(&e))));
                    }
                    if policy.should_retry_transport(op, failure, had_start_timeout)
                        && let Some(delay) = next_delay(&mut backoff, None)
                    {
                        self.count_retry();
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    let kind = match failure {
                        TransportFailure::Timeout => FalErrorKind::Timeout,
                        _ => {
                            FalErrorKind::Transport { message: scrub(&transport_message(&e), self.secret()) }
                        }
                    };
                    let mut err = FalError::new(op, kind).with_retries(backoff.retries(), started.elapsed());
                    err.maybe_submitted = op == Operation::Submit && failure != TransportFailure::Connect;
                    return Err(err);
                }
            }
        }
    }

    pub(crate) fn count_retry(&self) {
        self.inner.retries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn secret(&self) -> Option<&str> {
        self.inner.key.as_ref().map(FalKey::expose)
    }

    /// Turns a non-2xx answer into a typed error carrying its retry count.
    pub(crate) fn error_from_answer(&self, op: Operation, answer: &Answer) -> FalError {
        let body = scrub(&String::from_utf8_lossy(&answer.body), self.secret());
        let mut err =
            FalError::new(op, error_kind(op, answer, &body)).with_retries(answer.retries, answer.elapsed);
        err.fal_request_id =
            answer.headers.get(X_FAL_REQUEST_ID).and_then(|v| v.to_str().ok()).map(str::to_owned);
        err
    }
}

fn next_delay(backoff: &mut Backoff, retry_after: Option<Duration>) -> Option<Duration> {
    // Scoped so the thread-local RNG (not `Send`) is gone before the caller awaits.
    let mut rng = rand::rng();
    backoff.next_delay(retry_after, &mut rng)
}

fn retry_after(answer: &Answer) -> Option<Duration> {
    let value = answer.headers.get(RETRY_AFTER)?.to_str().ok()?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    parse_retry_after(value, now)
}

pub(crate) fn classify_transport(e: &reqwest::Error) -> TransportFailure {
    if e.is_connect() {
        TransportFailure::Connect
    } else if e.is_timeout() {
        TransportFailure::Timeout
    } else {
        TransportFailure::Other
    }
}

/// The error and its causes, without the URL (a webhook URL may hold a secret token).
pub(crate) fn transport_message(e: &reqwest::Error) -> String {
    let mut message = e.to_string();
    if let Some(url) = e.url() {
        for pattern in [format!(" for url ({url})"), format!(" ({url})")] {
            message = message.replace(&pattern, "");
        }
        message = message.replace(url.as_str(), "<url>");
    }
    let mut source = e.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

async fn read_answer(mut response: Response) -> Result<Answer, reqwest::Error> {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_API_BODY {
            // Keep what fits; the caller reports an unexpected body rather than running out of
            // memory on a broken server.
            let room = MAX_API_BODY - body.len();
            body.extend_from_slice(&chunk[..room]);
            break;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Answer { status, headers, body: Bytes::from(body), retries: 0, elapsed: Duration::ZERO })
}

fn submit_headers(options: &SubmitOptions) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    let value = |s: &str, what: &str| {
        HeaderValue::from_str(s).map_err(|_| format!("{what} cannot be sent as a header: {s:?}"))
    };
    if let Some(priority) = options.priority {
        let p = match priority {
            Priority::Normal => "normal",
            Priority::Low => "low",
        };
        headers.insert("x-fal-queue-priority", HeaderValue::from_static(p));
    }
    if let Some(timeout) = options.start_timeout {
        if timeout <= Duration::from_secs(1) {
            return Err(format!("start_timeout must be more than one second, got {timeout:?}"));
        }
        headers.insert("x-fal-request-timeout", value(&timeout.as_secs_f64().to_string(), "start_timeout")?);
    }
    if let Some(hint) = &options.runner_hint {
        headers.insert("x-fal-runner-hint", value(hint, "runner_hint")?);
    }
    if options.store_io == Some(false) {
        headers.insert("x-fal-store-io", HeaderValue::from_static("0"));
    }
    if options.disable_server_retries {
        headers.insert("x-fal-no-retry", HeaderValue::from_static("1"));
    }
    if let Some(lifecycle) = &options.object_lifecycle {
        let json = serde_json::to_string(lifecycle).map_err(|e| e.to_string())?;
        headers.insert("x-fal-object-lifecycle-preference", value(&json, "object_lifecycle")?);
    }
    Ok(headers)
}

/// Whether a failed submit may still have queued a request: only statuses that prove the
/// request was turned away (4xx other than 409, an ingress 503) rule it out.
fn submit_may_have_queued(answer: &Answer) -> bool {
    match answer.status {
        409 => true,
        400..=499 => false,
        503 => {
            answer.headers.contains_key(X_FAL_REQUEST_ID)
                || !String::from_utf8_lossy(&answer.body).to_ascii_lowercase().contains("nginx")
        }
        _ => true,
    }
}

/// Reads a submit answer; a body with a `request_id` but without the URLs is completed with
/// the rebuilt ones (what the JS client does) rather than losing a queued, paid request.
fn parse_submit(queue_url: &str, endpoint: &EndpointId, answer: &Answer) -> Result<SubmitResponse, FalError> {
    let op = Operation::Submit;
    if let Ok(parsed) = serde_json::from_slice::<SubmitResponse>(&answer.body) {
        return Ok(parsed);
    }
    let value: Value = parse_json(op, answer)?;
    let request_id = value
        .get("request_id")
        .and_then(Value::as_str)
        .ok_or_else(|| protocol(op, "no `request_id` in the submit answer", &answer.body))?;
    let base = endpoint
        .request_url(queue_url, request_id)
        .map_err(|e| protocol(op, &e.to_string(), &answer.body))?;
    let url_or = |field: &str, fallback: String| {
        value.get(field).and_then(Value::as_str).map_or(fallback, str::to_owned)
    };
    Ok(SubmitResponse {
        status: QueueState::InQueue,
        request_id: request_id.to_owned(),
        status_url: url_or("status_url", format!("{base}/status")),
        cancel_url: url_or("cancel_url", format!("{base}/cancel")),
        response_url: url_or("response_url", base),
        logs: None,
        metrics: Metrics::default(),
        queue_position: value.get("queue_position").and_then(Value::as_u64),
        gateway_request_id: value.get("gateway_request_id").and_then(Value::as_str).map(str::to_owned),
    })
}

pub(crate) fn protocol(op: Operation, message: &str, body: &[u8]) -> FalError {
    FalError::new(op, FalErrorKind::Protocol { message: message.to_owned(), excerpt: excerpt(body) })
}

pub(crate) fn parse_json<T: DeserializeOwned>(op: Operation, answer: &Answer) -> Result<T, FalError> {
    serde_json::from_slice(&answer.body).map_err(|e| {
        protocol(op, &format!("HTTP {} body is not the expected JSON: {e}", answer.status), &answer.body)
            .with_retries(answer.retries, answer.elapsed)
    })
}

/// Maps status and body to a kind. `body` is already scrubbed of the key.
fn error_kind(op: Operation, answer: &Answer, body: &str) -> FalErrorKind {
    let json: Option<Value> = serde_json::from_str(body).ok();
    let field = |name: &str| json.as_ref().and_then(|v| v.get(name));
    let detail_value = field("detail");
    let detail = match detail_value {
        Some(Value::String(s)) => s.clone(),
        Some(other) => match serde_json::from_value::<ValidationDetail>(other.clone()) {
            Ok(d) => d.to_string(),
            Err(_) => excerpt(other.to_string().as_bytes()),
        },
        None => ["message", "error"]
            .iter()
            .find_map(|k| field(k).and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| {
                let text = excerpt(body.as_bytes());
                if text.trim().is_empty() {
                    format!("HTTP {} with an empty body", answer.status)
                } else {
                    text
                }
            }),
    };
    let error_type = field("error_type")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| answer.headers.get(X_FAL_ERROR_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned));
    match answer.status {
        400 if detail.starts_with(STILL_IN_PROGRESS) => FalErrorKind::NotReady,
        400 | 422 => FalErrorKind::Validation {
            status: answer.status,
            detail: detail_value
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or(ValidationDetail::Message(detail)),
        },
        401 => FalErrorKind::Unauthorized { detail },
        403 if detail.to_ascii_lowercase().contains("user is locked") => FalErrorKind::OutOfCredit { detail },
        403 => FalErrorKind::Forbidden { detail },
        404 => FalErrorKind::NotFound {
            what: match op {
                Operation::Submit => "endpoint",
                Operation::Download => "file",
                Operation::Token | Operation::Upload => "storage route",
                _ => "request",
            },
            detail,
        },
        429 => FalErrorKind::RateLimited { detail, retry_after: retry_after(answer) },
        status => FalErrorKind::Server { status, error_type, detail },
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
