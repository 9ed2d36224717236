//! `ElevenLabsClient`: the calls, and the one retry loop every call goes through.

use crate::config::ElevenLabsConfig;
use crate::error::{ElevenLabsError, ElevenLabsErrorKind, excerpt, scrub};
use crate::key::ElevenLabsKey;
use crate::retry::{Operation, TransportFailure};
use crate::wire::{
    Alignment, AudioWithTimestamps, CHARACTER_COST, ForcedAlignment, HISTORY_ITEM_ID, HistoryItem,
    HistoryPage, HistoryQuery, Model, REQUEST_ID, SpeechRequest, X_CHARACTER_COUNT, XI_API_KEY,
};
use base64::Engine as _;
use bytes::Bytes;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::{Method, RequestBuilder, Response};
use serde::de::DeserializeOwned;
use std::error::Error as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use url::Url;

/// Largest answer read into memory: a 5,000-character line is a few MB of audio; this only stops
/// a runaway body.
const MAX_BODY: usize = 256 * 1024 * 1024;

/// A voiced line with its timing: the answer of `with-timestamps` and its headers.
#[derive(Debug, Clone, PartialEq)]
pub struct Speech {
    /// The audio, decoded from base64, in the requested output format.
    pub audio: Bytes,
    /// Timing of the text as sent, character by character (tags included). Empty when the
    /// server sent none.
    pub alignment: Alignment,
    /// Timing of the normalised text, when sent.
    pub normalized_alignment: Option<Alignment>,
    /// `history-item-id`: journal it at once, it is how the audio is found again.
    pub history_item_id: Option<String>,
    /// `request-id`.
    pub request_id: Option<String>,
    /// `character-cost` (or `x-character-count`): credits charged.
    pub character_cost: Option<u64>,
}

/// A voiced line without timing: the answer of the plain endpoint and its headers.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeechAudio {
    /// The audio in the requested output format.
    pub audio: Bytes,
    /// `history-item-id`.
    pub history_item_id: Option<String>,
    /// `request-id`.
    pub request_id: Option<String>,
    /// `character-cost`: credits charged.
    pub character_cost: Option<u64>,
}

/// An HTTP answer, read in full, with the retries it took.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
    retries: u32,
    elapsed: Duration,
}

/// Client of ElevenLabs' API over one connection pool. Cheap to clone; never prints or logs.
#[derive(Debug, Clone)]
pub struct ElevenLabsClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    config: ElevenLabsConfig,
    key: Option<ElevenLabsKey>,
    auth: Option<HeaderValue>,
    retries: AtomicU64,
}

impl ElevenLabsClient {
    /// Builds a client; `key` may be `None` against a studio that accepts any caller.
    pub fn new(config: ElevenLabsConfig, key: Option<ElevenLabsKey>) -> Result<Self, ElevenLabsError> {
        let invalid = |message: String| {
            ElevenLabsError::new(Operation::Setup, ElevenLabsErrorKind::InvalidArgument(message))
        };
        config.validate().map_err(|e| invalid(e.to_string()))?;
        let auth = match &key {
            Some(k) => {
                let mut value = HeaderValue::from_str(k.expose())
                    .map_err(|_| invalid("the ElevenLabs key cannot be sent as a header".to_owned()))?;
                // Keeps the value out of reqwest's and hyper's debug output.
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        let http = reqwest::Client::builder()
            .user_agent(concat!("episodic/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(config.connect_timeout)
            .build()
            .map_err(|e| invalid(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { inner: Arc::new(Inner { http, config, key, auth, retries: AtomicU64::new(0) }) })
    }

    /// The configuration in force.
    pub fn config(&self) -> &ElevenLabsConfig {
        &self.inner.config
    }

    /// Whether a key is configured.
    pub fn has_key(&self) -> bool {
        self.inner.key.is_some()
    }

    /// Retries made by this client and its clones so far, successful calls included.
    pub fn retries(&self) -> u64 {
        self.inner.retries.load(Ordering::Relaxed)
    }

    /// Voices `request.text` with `voice_id` and returns the audio with its character timing
    /// (`POST /v1/text-to-speech/{voice_id}/with-timestamps`).
    ///
    /// Billed. Retried only when turned away unbilled (429, no connection). An error for which
    /// [`ElevenLabsError::may_have_been_billed`] holds means the line may have been voiced: find
    /// it with [`ElevenLabsClient::history`] before voicing it again.
    pub async fn speak_with_timestamps(
        &self,
        voice_id: &str,
        request: &SpeechRequest,
    ) -> Result<Speech, ElevenLabsError> {
        let answer = self.post_speech(voice_id, "/with-timestamps", request).await?;
        let op = Operation::Speak;
        let body: AudioWithTimestamps = serde_json::from_slice(&answer.body).map_err(|e| {
            lost_in_reading(op, &format!("the answer is not the expected JSON: {e}"), &answer)
        })?;
        let audio = base64::engine::general_purpose::STANDARD
            .decode(body.audio_base64.as_bytes())
            .map_err(|e| lost_in_reading(op, &format!("`audio_base64` is not base64: {e}"), &answer))?;
        let alignment = body.alignment.unwrap_or_default();
        if !alignment.is_consistent() {
            return Err(lost_in_reading(op, "the alignment's three arrays differ in length", &answer));
        }
        Ok(Speech {
            audio: Bytes::from(audio),
            alignment,
            normalized_alignment: body.normalized_alignment,
            history_item_id: header(&answer.headers, HISTORY_ITEM_ID),
            request_id: header(&answer.headers, REQUEST_ID),
            character_cost: character_cost(&answer.headers),
        })
    }

    /// Voices `request.text` and returns the audio alone (`POST /v1/text-to-speech/{voice_id}`).
    /// Billed; retried as [`ElevenLabsClient::speak_with_timestamps`].
    pub async fn speak(
        &self,
        voice_id: &str,
        request: &SpeechRequest,
    ) -> Result<SpeechAudio, ElevenLabsError> {
        let answer = self.post_speech(voice_id, "", request).await?;
        Ok(SpeechAudio {
            history_item_id: header(&answer.headers, HISTORY_ITEM_ID),
            request_id: header(&answer.headers, REQUEST_ID),
            character_cost: character_cost(&answer.headers),
            audio: answer.body,
        })
    }

    /// One page of the speech history, newest first (`GET /v1/history`): how a line whose
    /// answer was lost is found (match `voice_id`, `model_id` and the exact `text`).
    pub async fn history(&self, query: &HistoryQuery) -> Result<HistoryPage, ElevenLabsError> {
        let op = Operation::History;
        let mut url = self.url(op, "/v1/history")?;
        {
            let mut pairs = url.query_pairs_mut();
            let mut add = |name: &str, value: Option<String>| {
                if let Some(value) = value {
                    pairs.append_pair(name, &value);
                }
            };
            add("page_size", query.page_size.map(|n| n.to_string()));
            add("start_after_history_item_id", query.start_after_history_item_id.clone());
            add("voice_id", query.voice_id.clone());
            add("model_id", query.model_id.clone());
            add("date_after_unix", query.date_after_unix.map(|t| t.to_string()));
            add("date_before_unix", query.date_before_unix.map(|t| t.to_string()));
        }
        let answer = self.send(op, None, || self.request(Method::GET, url.clone())).await?;
        parse_json(op, &answer)
    }

    /// The generation a lost answer belongs to, if ElevenLabs made it: the newest history item
    /// of `voice_id` whose text is exactly `text` (and whose model is `model_id`, when given),
    /// made at or after `since_unix` (pass the request's time less some clock skew). Reads at
    /// most 10 pages of 100. `None` means "not in the history now", not "never voiced": the
    /// history may list a generation late.
    pub async fn find_in_history(
        &self,
        voice_id: &str,
        model_id: Option<&str>,
        text: &str,
        since_unix: i64,
    ) -> Result<Option<HistoryItem>, ElevenLabsError> {
        // `model_id` is filtered here: as a query value the API wants `source` with it.
        let mut query = HistoryQuery {
            page_size: Some(100),
            voice_id: Some(voice_id.to_owned()),
            date_after_unix: Some(since_unix),
            ..HistoryQuery::default()
        };
        for _ in 0..10 {
            let page = self.history(&query).await?;
            let found = page.history.iter().find(|item| {
                item.text.as_deref() == Some(text)
                    && model_id.is_none_or(|m| item.model_id.as_deref() == Some(m))
                    && item.date_unix >= since_unix
            });
            if let Some(item) = found {
                return Ok(Some(item.clone()));
            }
            match page.last_history_item_id.filter(|_| page.has_more) {
                Some(last) => query.start_after_history_item_id = Some(last),
                None => break,
            }
        }
        Ok(None)
    }

    /// The audio of a history item (`GET /v1/history/{id}/audio`).
    pub async fn history_audio(&self, history_item_id: &str) -> Result<Bytes, ElevenLabsError> {
        let op = Operation::HistoryAudio;
        let url = self.url(op, &format!("/v1/history/{}/audio", segment(history_item_id)))?;
        let answer = self.send(op, None, || self.request(Method::GET, url.clone())).await?;
        Ok(answer.body)
    }

    /// The models, with their length limits and credit rates (`GET /v1/models`).
    pub async fn models(&self) -> Result<Vec<Model>, ElevenLabsError> {
        let op = Operation::Models;
        let url = self.url(op, "/v1/models")?;
        let answer = self.send(op, None, || self.request(Method::GET, url.clone())).await?;
        parse_json(op, &answer)
    }

    /// Times every word and character of `text` in `audio` (`POST /v1/forced-alignment`,
    /// multipart `file` + `text`). Billed; retried only when turned away unbilled.
    pub async fn forced_alignment(
        &self,
        audio: Bytes,
        text: &str,
    ) -> Result<ForcedAlignment, ElevenLabsError> {
        let op = Operation::ForcedAlignment;
        let url = self.url(op, "/v1/forced-alignment")?;
        let boundary = format!("episodic-{:016x}", rand::random::<u64>());
        let mut body = Vec::with_capacity(audio.len() + text.len() + 512);
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\n{text}\r\n--{boundary}\r\n\
                 Content-Disposition: form-data; name=\"file\"; filename=\"audio\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(&audio);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let body = Bytes::from(body);
        let content_type = format!("multipart/form-data; boundary={boundary}");
        let answer = self
            .send(op, None, || {
                self.request(Method::POST, url.clone())
                    .header(CONTENT_TYPE, content_type.clone())
                    .body(body.clone())
            })
            .await?;
        serde_json::from_slice(&answer.body)
            .map_err(|e| lost_in_reading(op, &format!("the answer is not the expected JSON: {e}"), &answer))
    }

    async fn post_speech(
        &self,
        voice_id: &str,
        suffix: &str,
        request: &SpeechRequest,
    ) -> Result<Answer, ElevenLabsError> {
        let op = Operation::Speak;
        if voice_id.trim().is_empty() {
            return Err(ElevenLabsError::new(
                op,
                ElevenLabsErrorKind::InvalidArgument("empty voice id".into()),
            ));
        }
        let mut url = self.url(op, &format!("/v1/text-to-speech/{}{suffix}", segment(voice_id)))?;
        if let Some(format) = request.output_format {
            url.query_pairs_mut().append_pair("output_format", &format.to_string());
        }
        let body = Bytes::from(serde_json::to_vec(request).map_err(|e| {
            ElevenLabsError::new(
                op,
                ElevenLabsErrorKind::InvalidArgument(format!("request is not JSON: {e}")),
            )
        })?);
        self.send(op, Some(voice_id), || {
            self.request(Method::POST, url.clone())
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone())
        })
        .await
    }

    fn url(&self, op: Operation, path: &str) -> Result<Url, ElevenLabsError> {
        let text = format!("{}{path}", self.inner.config.base_url);
        Url::parse(&text).map_err(|e| {
            ElevenLabsError::new(op, ElevenLabsErrorKind::InvalidArgument(format!("{text}: {e}")))
        })
    }

    fn request(&self, method: Method, url: Url) -> RequestBuilder {
        let builder = self
            .inner
            .http
            .request(method, url)
            .timeout(self.inner.config.request_timeout)
            .header(ACCEPT, "application/json, audio/*");
        match &self.inner.auth {
            Some(auth) => builder.header(XI_API_KEY, auth.clone()),
            None => builder,
        }
    }

    fn secret(&self) -> Option<&str> {
        self.inner.key.as_ref().map(ElevenLabsKey::expose)
    }

    /// Sends the request `build` makes, retrying per the policy for `op`; a non-2xx final answer
    /// becomes a typed error.
    async fn send(
        &self,
        op: Operation,
        voice_id: Option<&str>,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Answer, ElevenLabsError> {
        let started = Instant::now();
        let policy = &self.inner.config.retry;
        let mut retries = 0u32;
        loop {
            let attempt = match build().send().await {
                Ok(response) => read_answer(response).await,
                Err(e) => Err(e),
            };
            match attempt {
                Ok(mut answer) if (200..300).contains(&answer.status) => {
                    answer.retries = retries;
                    answer.elapsed = started.elapsed();
                    return Ok(answer);
                }
                Ok(answer) => {
                    if !(policy.should_retry_response(op, answer.status) && retries < policy.max_retries) {
                        let body = scrub(&String::from_utf8_lossy(&answer.body), self.secret());
                        let mut err = ElevenLabsError::new(
                            op,
                            ElevenLabsErrorKind::from_answer(op, answer.status, &body, voice_id),
                        )
                        .with_retries(retries, started.elapsed());
                        err.request_id = header(&answer.headers, REQUEST_ID);
                        return Err(err);
                    }
                }
                Err(e) => {
                    if e.is_builder() {
                        let kind = ElevenLabsErrorKind::InvalidArgument(transport_message(&e));
                        return Err(ElevenLabsError::new(op, kind));
                    }
                    let failure = classify_transport(&e);
                    if !(policy.should_retry_transport(op, failure) && retries < policy.max_retries) {
                        let message = scrub(&transport_message(&e), self.secret());
                        let kind = if op.is_billable() && failure != TransportFailure::Connect {
                            ElevenLabsErrorKind::AnswerLost { cause: message }
                        } else {
                            ElevenLabsErrorKind::Transport { message }
                        };
                        return Err(ElevenLabsError::new(op, kind).with_retries(retries, started.elapsed()));
                    }
                }
            }
            retries += 1;
            self.inner.retries.fetch_add(1, Ordering::Relaxed);
            let delay = {
                // Scoped so the thread-local RNG (not `Send`) is gone before the await.
                let mut rng = rand::rng();
                policy.delay(retries, &mut rng)
            };
            tokio::time::sleep(delay).await;
        }
    }
}

/// A path segment with the characters that would change the path escaped.
fn segment(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>().replace('+', "%20")
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// `character-cost`, else `x-character-count`; an integer string (a float is rounded up, as
/// ElevenLabs rounds charges).
fn character_cost(headers: &HeaderMap) -> Option<u64> {
    let text = header(headers, CHARACTER_COST).or_else(|| header(headers, X_CHARACTER_COUNT))?;
    text.parse::<u64>()
        .ok()
        .or_else(|| text.parse::<f64>().ok().filter(|v| *v >= 0.0).map(|v| v.ceil() as u64))
}

/// A 2xx of a billable call that could not be read: it was voiced and billed, so it is reported
/// as an answer lost (find it in the history) rather than a plain failure.
fn lost_in_reading(op: Operation, message: &str, answer: &Answer) -> ElevenLabsError {
    let kind = if op.is_billable() {
        ElevenLabsErrorKind::AnswerLost {
            cause: format!("{message}; body starts with {:?}", excerpt(&answer.body)),
        }
    } else {
        ElevenLabsErrorKind::Protocol { message: message.to_owned(), excerpt: excerpt(&answer.body) }
    };
    let mut err = ElevenLabsError::new(op, kind).with_retries(answer.retries, answer.elapsed);
    err.request_id = header(&answer.headers, REQUEST_ID);
    err
}

fn parse_json<T: DeserializeOwned>(op: Operation, answer: &Answer) -> Result<T, ElevenLabsError> {
    serde_json::from_slice(&answer.body)
        .map_err(|e| lost_in_reading(op, &format!("the answer is not the expected JSON: {e}"), answer))
}

fn classify_transport(e: &reqwest::Error) -> TransportFailure {
    if e.is_connect() {
        TransportFailure::Connect
    } else if e.is_timeout() {
        TransportFailure::Timeout
    } else {
        TransportFailure::Other
    }
}

/// The error and its causes.
fn transport_message(e: &reqwest::Error) -> String {
    let mut message = e.to_string();
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
        let room = MAX_BODY.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if room <= chunk.len() {
            break;
        }
    }
    Ok(Answer { status, headers, body: Bytes::from(body), retries: 0, elapsed: Duration::ZERO })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn speech_headers_are_read() {
        let h = headers(&[("history-item-id", "h123"), ("request-id", "r9"), ("character-cost", "42")]);
        assert_eq!(header(&h, HISTORY_ITEM_ID).as_deref(), Some("h123"));
        assert_eq!(header(&h, REQUEST_ID).as_deref(), Some("r9"));
        assert_eq!(character_cost(&h), Some(42));
    }

    #[test]
    fn character_cost_falls_back_and_rounds_up() {
        assert_eq!(character_cost(&headers(&[("x-character-count", "17")])), Some(17));
        assert_eq!(character_cost(&headers(&[("character-cost", "45.5")])), Some(46));
        assert_eq!(character_cost(&headers(&[("character-cost", "lots")])), None);
        assert_eq!(character_cost(&headers(&[("character-cost", " ")])), None);
        assert_eq!(character_cost(&HeaderMap::new()), None);
    }

    #[test]
    fn voice_ids_stay_one_path_segment() {
        assert_eq!(segment("JBFqnCBsd6RMkjVDRZzb"), "JBFqnCBsd6RMkjVDRZzb");
        assert_eq!(segment("a/b c?"), "a%2Fb%20c%3F");
    }

    #[test]
    fn an_unreadable_success_of_a_billable_call_is_an_answer_lost() {
        let answer = Answer {
            status: 200,
            headers: headers(&[("request-id", "r1")]),
            body: Bytes::from_static(b"{oops"),
            retries: 0,
            elapsed: Duration::ZERO,
        };
        let err = lost_in_reading(Operation::Speak, "bad", &answer);
        assert!(err.may_have_been_billed());
        assert_eq!(err.request_id.as_deref(), Some("r1"));
        assert!(!lost_in_reading(Operation::Models, "bad", &answer).may_have_been_billed());
    }

    #[test]
    fn the_key_never_shows_in_debug() {
        let client = ElevenLabsClient::new(
            ElevenLabsConfig::with_base_url("http://127.0.0.1:9").unwrap(),
            Some(ElevenLabsKey::new("sk_visible_secret").unwrap()),
        )
        .unwrap();
        assert!(!format!("{client:?}").contains("sk_visible_secret"));
    }

    /// A port nobody listens on: the connection is refused before anything is sent, so even a
    /// billable call is retried, and the error is a transport failure, not an answer lost.
    #[tokio::test]
    async fn refused_connections_are_retried_and_not_billed() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let mut config = ElevenLabsConfig::with_base_url(&format!("http://127.0.0.1:{port}")).unwrap();
        config.retry = crate::RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
        };
        let client = ElevenLabsClient::new(config, None).unwrap();
        let err = client.speak_with_timestamps("v", &SpeechRequest::v3("Hi")).await.unwrap_err();
        assert!(matches!(err.kind, ElevenLabsErrorKind::Transport { .. }), "{err}");
        assert_eq!(err.retries, 2);
        assert!(!err.may_have_been_billed());
        assert_eq!(client.retries(), 2);
    }
}
