//! ElevenLabs' text-to-speech protocol (`elevenlabs-tts.md`), served beside fal's on the same
//! port: speech with and without timestamps, the history and its audio, the models, and forced
//! alignment, with ElevenLabs' error bodies and headers.
//!
//! Lines are voiced with espeak-ng word by word ([`voice`]), so the character alignment is true
//! to the audio; the audio is encoded to the requested `output_format` with ffmpeg. v3 audio
//! tags (`[whispers]`) stay in the alignment's characters, zero-width, and are not voiced.
//! Forced alignment fits espeak's word rhythm onto the audio's speech spans ([`align`]).
//!
//! Refusals, in the order they are checked: a wrong `xi-api-key` (401 `invalid_api_key`, when
//! the studio has an ElevenLabs key), an unknown voice (404 `voice_not_found`), a malformed body
//! or query (422 with the field), an unknown model (400 `unsupported_model`), `previous_text` and
//! friends on v3 (400 `unsupported_model`), a speed outside 0.7–1.2 (400
//! `invalid_voice_settings`), text over the model's limit (400 `text_too_long`), more requests at
//! once than `tts_concurrency` (429 `too_many_concurrent_requests`), and a spent
//! `tts_quota_chars` (401 `quota_exceeded`). Only a 200 is billed and kept in the history.

mod align;
pub(crate) mod catalog;
mod multipart;
mod text;
mod voice;

use crate::server::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use catalog::StudioModel;
use episodic_elevenlabs::wire::{
    self, AlignedCharacter, AlignedWord, Alignment, AudioWithTimestamps, Codec, ForcedAlignment, HistoryItem,
    HistoryPage, OutputFormat,
};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub(crate) use voice::Voicer;

/// Sample rate forced alignment decodes its input at.
const ALIGN_RATE: u32 = 16_000;

/// A generation kept in the history, with its audio.
struct Kept {
    item: HistoryItem,
    audio: Bytes,
    /// When it was made: the listing shows it only `history_lag` later.
    made: std::time::Instant,
}

/// What the speech routes share: the voicer, the history, the credits used, the requests
/// running.
pub(crate) struct SpeechState {
    pub(crate) voicer: Voicer,
    history: Mutex<Vec<Kept>>,
    used_characters: Mutex<u64>,
    in_flight: AtomicUsize,
}

impl SpeechState {
    pub(crate) fn new(voicer: Voicer) -> Self {
        Self {
            voicer,
            history: Mutex::default(),
            used_characters: Mutex::new(0),
            in_flight: AtomicUsize::new(0),
        }
    }

    /// Speech and alignment requests being handled now.
    pub(crate) fn running(&self) -> u64 {
        self.in_flight.load(Ordering::SeqCst) as u64
    }
}

/// One request counted as running until dropped.
struct Running<'a>(&'a AtomicUsize);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// `{"detail": {"status", "message"}}` with extra fields (`type`, `code`, `param`).
fn refuse(status: StatusCode, code: &str, message: &str, extra: &[(&str, &str)]) -> Response {
    let mut detail = json!({ "status": code, "message": message });
    for (key, value) in extra {
        detail[*key] = json!(value);
    }
    (status, axum::Json(json!({ "detail": detail }))).into_response()
}

/// A 422 in FastAPI's list form.
fn invalid(loc: &[&str], kind: &str, msg: &str, input: Value) -> Response {
    let body = json!({ "detail": [{ "type": kind, "loc": loc, "msg": msg, "input": input }] });
    (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response()
}

fn authorized(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    let expected = state.config.elevenlabs_key.as_deref()?;
    let sent = headers.get(wire::XI_API_KEY).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if sent.len() == expected.len()
        && sent.bytes().zip(expected.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    {
        return None;
    }
    state.stats.update(|s| s.rejected.unauthorized += 1);
    Some(refuse(StatusCode::UNAUTHORIZED, "invalid_api_key", "Invalid API key", &[]))
}

fn random_id(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..len).map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char).collect()
}

/// A request's fields after checking.
struct Checked {
    text: String,
    model: &'static StudioModel,
    voice: &'static catalog::StudioVoice,
    format: OutputFormat,
    logging: bool,
    settings: Option<Value>,
}

fn query_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

fn check(
    state: &AppState,
    voice_id: &str,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Checked, Response> {
    if let Some(refused) = authorized(state, headers) {
        return Err(refused);
    }
    let voice = catalog::voice(voice_id).ok_or_else(|| {
        state.stats.update(|s| s.rejected.not_found += 1);
        refuse(
            StatusCode::NOT_FOUND,
            "voice_not_found",
            &format!("A voice with the voice_id {voice_id} was not found."),
            &[],
        )
    })?;
    let format = match query.get("output_format") {
        Some(text) => text
            .parse::<OutputFormat>()
            .map_err(|e| invalid(&["query", "output_format"], "enum", &e.to_string(), json!(text)))?,
        None => OutputFormat::default(),
    };
    let logging = match query.get("enable_logging") {
        Some(text) => query_bool(text).ok_or_else(|| {
            invalid(
                &["query", "enable_logging"],
                "bool_parsing",
                "Input should be a valid boolean",
                json!(text),
            )
        })?,
        None => true,
    };
    if let Some(latency) = query.get("optimize_streaming_latency")
        && !matches!(latency.parse::<u8>(), Ok(0..=4))
    {
        return Err(invalid(
            &["query", "optimize_streaming_latency"],
            "int_parsing",
            "Input should be an integer from 0 to 4",
            json!(latency),
        ));
    }
    let json: Value = serde_json::from_slice(body)
        .map_err(|e| invalid(&["body"], "json_invalid", &format!("JSON decode error: {e}"), Value::Null))?;
    let Value::Object(fields) = &json else {
        return Err(invalid(&["body"], "model_attributes_type", "Input should be an object", json));
    };
    let text = match fields.get("text") {
        Some(Value::String(text)) if !text.trim().is_empty() => text.clone(),
        Some(Value::String(_)) => {
            return Err(invalid(&["body", "text"], "string_too_short", "Text must not be empty", json!("")));
        }
        Some(other) => {
            return Err(invalid(
                &["body", "text"],
                "string_type",
                "Input should be a valid string",
                other.clone(),
            ));
        }
        None => return Err(invalid(&["body", "text"], "missing", "Field required", json.clone())),
    };
    let model_id = match fields.get("model_id") {
        None | Some(Value::Null) => catalog::DEFAULT_MODEL.to_owned(),
        Some(Value::String(id)) => id.clone(),
        Some(other) => {
            return Err(invalid(
                &["body", "model_id"],
                "string_type",
                "Input should be a valid string",
                other.clone(),
            ));
        }
    };
    if let Some(seed) = fields.get("seed")
        && !seed.is_null()
        && seed.as_u64().is_none_or(|s| s > u64::from(u32::MAX))
    {
        return Err(invalid(
            &["body", "seed"],
            "int_type",
            "Input should be an integer from 0 to 4294967295",
            seed.clone(),
        ));
    }
    let settings = match fields.get("voice_settings") {
        None | Some(Value::Null) => None,
        Some(Value::Object(settings)) => {
            for (key, value) in settings {
                let (ok, kind, msg) = match key.as_str() {
                    "stability" | "similarity_boost" | "style" | "speed" => {
                        (value.is_number(), "float_type", "Input should be a valid number")
                    }
                    "use_speaker_boost" => {
                        (value.is_boolean(), "bool_type", "Input should be a valid boolean")
                    }
                    // ElevenLabs answers 200 to keys it does not know.
                    _ => (true, "", ""),
                };
                if !ok {
                    return Err(invalid(&["body", "voice_settings", key], kind, msg, value.clone()));
                }
            }
            Some(Value::Object(settings.clone()))
        }
        Some(other) => {
            return Err(invalid(
                &["body", "voice_settings"],
                "model_type",
                "Input should be an object",
                other.clone(),
            ));
        }
    };
    let model = catalog::model(&model_id).ok_or_else(|| {
        refuse(
            StatusCode::BAD_REQUEST,
            "unsupported_model",
            &format!("Model '{model_id}' is not supported for text to speech."),
            &[("type", "validation_error"), ("param", "model_id")],
        )
    })?;
    if model.refuses_stitching {
        for field in ["previous_text", "next_text", "previous_request_ids", "next_request_ids"] {
            if fields.get(field).is_some_and(|v| !v.is_null()) {
                return Err(refuse(
                    StatusCode::BAD_REQUEST,
                    "unsupported_model",
                    &format!("`{field}` is not available for model {}.", model.id),
                    &[("type", "validation_error"), ("param", field)],
                ));
            }
        }
    }
    if let Some(speed) = settings.as_ref().and_then(|s| s.get("speed")).and_then(Value::as_f64)
        && !(0.7..=1.2).contains(&speed)
    {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "invalid_voice_settings",
            &format!("Speed {speed} is outside the allowed range 0.7 to 1.2."),
            &[("param", "voice_settings.speed")],
        ));
    }
    let length = text.chars().count();
    if length > model.max_characters {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "text_too_long",
            &format!(
                "Request text length ({length}) exceeds the maximum text length of {} characters. Please use \
                 Studio or split the text into smaller requests.",
                model.max_characters
            ),
            &[("code", "text_too_long"), ("param", "text")],
        ));
    }
    Ok(Checked { text, model, voice, format, logging, settings })
}

/// What one voiced request returns: the audio, the alignments, and the headers.
struct Spoken {
    audio: Vec<u8>,
    format: OutputFormat,
    alignment: Alignment,
    normalized_alignment: Alignment,
    headers: HeaderMap,
}

/// Checks, admits (concurrency, quota), voices, encodes, bills and keeps a request.
async fn speak(
    state: &AppState,
    voice_id: &str,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Spoken, Response> {
    let checked = check(state, voice_id, query, headers, body)?;
    let speech = &state.speech;
    let running = speech.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    let _running = Running(&speech.in_flight);
    let maximum = state.config.tts_concurrency;
    let mut out_headers = HeaderMap::new();
    out_headers.insert(wire::CURRENT_CONCURRENT_REQUESTS, HeaderValue::from(running));
    if let Some(maximum) = maximum {
        out_headers.insert(wire::MAXIMUM_CONCURRENT_REQUESTS, HeaderValue::from(maximum));
        if running > maximum {
            state.stats.update(|s| s.tts.concurrency_limited += 1);
            let mut refused = refuse(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_concurrent_requests",
                &format!(
                    "You are sending too many concurrent requests. Your current subscription allows {maximum} \
                     concurrent requests."
                ),
                &[("code", "concurrent_limit_exceeded")],
            );
            refused.headers_mut().extend(out_headers);
            return Err(refused);
        }
    }
    let cost = (checked.text.chars().count() as f64 * checked.model.credits_per_character).ceil() as u64;
    if let Some(refused) =
        quota_refusal(state, *speech.used_characters.lock().unwrap_or_else(|p| p.into_inner()), cost)
    {
        return Err(refused);
    }
    // Admitted: the request holds its concurrency slot for the service's latency, as ElevenLabs'
    // generation does.
    if !state.config.tts_latency.is_zero() {
        tokio::time::sleep(state.config.tts_latency).await;
    }
    let layout = text::layout(&checked.text);
    let voiced = speech
        .voicer
        .line(checked.voice.espeak, &layout)
        .await
        .map_err(|e| server_failure(&e.to_string()))?;
    let audio = encode(state, &voiced.samples, voice::SAMPLE_RATE, checked.format).await?;
    // Billed and kept only now that it succeeded; the quota is checked again under the lock so
    // two requests racing for the last credits do not both pass.
    let (from, to) = {
        let mut used = speech.used_characters.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(refused) = quota_refusal(state, *used, cost) {
            return Err(refused);
        }
        let from = *used;
        *used += cost;
        (from, *used)
    };
    state.stats.update(|s| {
        s.tts.requests += 1;
        s.tts.characters += cost;
    });
    let request_id = random_id(32);
    let normalized_alignment = normalized(&voiced.alignment, &layout);
    if checked.logging {
        let history_item_id = random_id(20);
        let item = HistoryItem {
            history_item_id: history_item_id.clone(),
            request_id: Some(request_id.clone()),
            voice_id: Some(checked.voice.id.to_owned()),
            model_id: Some(checked.model.id.to_owned()),
            voice_name: Some(checked.voice.name.to_owned()),
            text: Some(checked.text.clone()),
            date_unix: crate::server::now_unix(),
            character_count_change_from: from,
            character_count_change_to: to,
            content_type: checked.format.content_type().to_owned(),
            state: json!("created"),
            settings: checked.settings.clone(),
            source: Some("TTS".to_owned()),
            output_format: Some(checked.format.to_string()),
            alignments: Some(wire::HistoryAlignments {
                alignment: voiced.alignment.clone(),
                normalized_alignment: normalized_alignment.clone(),
            }),
        };
        speech.history.lock().unwrap_or_else(|p| p.into_inner()).push(Kept {
            item,
            audio: Bytes::from(audio.clone()),
            made: std::time::Instant::now(),
        });
        if let Ok(value) = HeaderValue::from_str(&history_item_id) {
            out_headers.insert(wire::HISTORY_ITEM_ID, value);
        }
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        out_headers.insert(wire::REQUEST_ID, value);
    }
    out_headers.insert(wire::CHARACTER_COST, HeaderValue::from(cost));
    Ok(Spoken {
        audio,
        format: checked.format,
        alignment: voiced.alignment,
        normalized_alignment,
        headers: out_headers,
    })
}

/// 401 `quota_exceeded` when `cost` more credits would pass `tts_quota_chars`.
fn quota_refusal(state: &AppState, used: u64, cost: u64) -> Option<Response> {
    let quota = state.config.tts_quota_chars?;
    if used + cost <= quota {
        return None;
    }
    state.stats.update(|s| s.tts.quota_exceeded += 1);
    Some(refuse(
        StatusCode::UNAUTHORIZED,
        "quota_exceeded",
        &format!(
            "This request exceeds your quota of {quota}. You have {} credits remaining, while {cost} credits are \
             required for this request.",
            quota.saturating_sub(used)
        ),
        &[],
    ))
}

fn server_failure(message: &str) -> Response {
    refuse(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", message, &[])
}

/// Encodes mono 16-bit `samples` at `rate` to `format` with ffmpeg.
async fn encode(
    state: &AppState,
    samples: &[i16],
    rate: u32,
    format: OutputFormat,
) -> Result<Vec<u8>, Response> {
    let fail = |what: &str, e: &dyn std::fmt::Display| server_failure(&format!("{what}: {e}"));
    let dir = tempfile::tempdir_in(state.storage.dir()).map_err(|e| fail("temporary folder", &e))?;
    let input = dir.path().join("samples.raw");
    let output = dir.path().join(format!("voice.{}", format.extension()));
    tokio::fs::write(&input, voice::pcm_bytes(samples)).await.map_err(|e| fail("writing samples", &e))?;
    let mut args: Vec<String> =
        ["-f", "s16le", "-ar", &rate.to_string(), "-ac", "1", "-i"].iter().map(|s| (*s).to_owned()).collect();
    args.push(input.display().to_string());
    args.extend(["-ar".to_owned(), format.sample_rate.to_string(), "-ac".to_owned(), "1".to_owned()]);
    let codec: &[&str] = match format.codec {
        Codec::Mp3 => &["-c:a", "libmp3lame", "-f", "mp3"],
        Codec::Pcm => &["-c:a", "pcm_s16le", "-f", "s16le"],
        Codec::Wav => &["-c:a", "pcm_s16le", "-f", "wav"],
        Codec::Ulaw => &["-c:a", "pcm_mulaw", "-f", "mulaw"],
        Codec::Alaw => &["-c:a", "pcm_alaw", "-f", "alaw"],
        Codec::Opus => &["-c:a", "libopus", "-f", "ogg"],
    };
    args.extend(codec.iter().map(|s| (*s).to_owned()));
    if let Some(kbps) = format.kbps {
        args.extend(["-b:a".to_owned(), format!("{kbps}k")]);
    }
    args.push(output.display().to_string());
    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    state.ffmpeg.run(&args).await.map_err(|e| fail("encoding", &e))?;
    tokio::fs::read(&output).await.map_err(|e| fail("reading the encoding", &e))
}

/// The alignment of the voiced characters only (tags dropped), as ElevenLabs' normalised text
/// is what was voiced. The studio does not spell numbers out.
fn normalized(alignment: &Alignment, layout: &text::Layout) -> Alignment {
    let mut out = Alignment::default();
    for (i, c) in alignment.characters.iter().enumerate() {
        if !layout.in_tag.get(i).copied().unwrap_or(false) {
            out.characters.push(c.clone());
            out.character_start_times_seconds.push(alignment.character_start_times_seconds[i]);
            out.character_end_times_seconds.push(alignment.character_end_times_seconds[i]);
        }
    }
    out
}

/// `POST /v1/text-to-speech/{voice_id}/with-timestamps`.
pub(crate) async fn with_timestamps(
    State(state): State<Arc<AppState>>,
    Path(voice_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match speak(&state, &voice_id, &query, &headers, &body).await {
        Ok(spoken) => {
            let answer = AudioWithTimestamps {
                audio_base64: base64::engine::general_purpose::STANDARD.encode(&spoken.audio),
                normalized_alignment: Some(spoken.normalized_alignment),
                alignment: Some(spoken.alignment),
            };
            let mut response = axum::Json(answer).into_response();
            response.headers_mut().extend(spoken.headers);
            response
        }
        Err(refused) => refused,
    }
}

/// `POST /v1/text-to-speech/{voice_id}`: the audio alone.
pub(crate) async fn plain(
    State(state): State<Arc<AppState>>,
    Path(voice_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match speak(&state, &voice_id, &query, &headers, &body).await {
        Ok(spoken) => {
            let content_type = spoken.format.content_type();
            let mut response = spoken.audio.into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            headers.extend(spoken.headers);
            response
        }
        Err(refused) => refused,
    }
}

/// `GET /v1/history`: newest first, filtered and paged as ElevenLabs does.
pub(crate) async fn history(
    State(state): State<Arc<AppState>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = authorized(&state, &headers) {
        return refused;
    }
    let number = |name: &str| -> Result<Option<i64>, Response> {
        match query.get(name) {
            None => Ok(None),
            Some(text) => text.parse::<i64>().map(Some).map_err(|_| {
                invalid(&["query", name], "int_parsing", "Input should be a valid integer", json!(text))
            }),
        }
    };
    let (page_size, after, before) =
        match (number("page_size"), number("date_after_unix"), number("date_before_unix")) {
            (Ok(p), Ok(a), Ok(b)) => (p.unwrap_or(100), a, b),
            (Err(r), _, _) | (_, Err(r), _) | (_, _, Err(r)) => return r,
        };
    if !(1..=1000).contains(&page_size) {
        return invalid(
            &["query", "page_size"],
            "less_than_equal",
            "page_size must be 1 to 1000",
            json!(page_size),
        );
    }
    let ascending = query.get("sort_direction").is_some_and(|d| d == "asc");
    let kept = state.speech.history.lock().unwrap_or_else(|p| p.into_inner());
    let mut items: Vec<&HistoryItem> = kept
        .iter()
        .filter(|k| k.made.elapsed() >= state.config.history_lag)
        .map(|k| &k.item)
        .filter(|i| query.get("voice_id").is_none_or(|v| i.voice_id.as_deref() == Some(v.as_str())))
        .filter(|i| query.get("model_id").is_none_or(|m| i.model_id.as_deref() == Some(m.as_str())))
        .filter(|i| after.is_none_or(|a| i.date_unix >= a))
        .filter(|i| before.is_none_or(|b| i.date_unix < b))
        .filter(|i| {
            query.get("search").is_none_or(|s| i.text.as_deref().is_some_and(|t| t.contains(s.as_str())))
        })
        .collect();
    if !ascending {
        items.reverse();
    }
    if let Some(start_after) = query.get("start_after_history_item_id") {
        match items.iter().position(|i| &i.history_item_id == start_after) {
            Some(at) => {
                items.drain(..=at);
            }
            None => items.clear(),
        }
    }
    let has_more = items.len() > page_size as usize;
    items.truncate(page_size as usize);
    let page = HistoryPage {
        last_history_item_id: items.last().map(|i| i.history_item_id.clone()),
        scanned_until: items.last().map(|i| i.date_unix),
        has_more,
        history: items.into_iter().cloned().collect(),
    };
    axum::Json(page).into_response()
}

/// `GET /v1/history/{id}/audio`.
pub(crate) async fn history_audio(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = authorized(&state, &headers) {
        return refused;
    }
    let kept = state.speech.history.lock().unwrap_or_else(|p| p.into_inner());
    match kept.iter().find(|k| k.item.history_item_id == id) {
        Some(k) => {
            let mut response = k.audio.clone().into_response();
            if let Ok(value) = HeaderValue::from_str(&k.item.content_type) {
                response.headers_mut().insert(header::CONTENT_TYPE, value);
            }
            response
        }
        None => {
            state.stats.update(|s| s.rejected.not_found += 1);
            refuse(
                StatusCode::NOT_FOUND,
                "history_item_not_found",
                &format!("A history item with the id {id} was not found."),
                &[],
            )
        }
    }
}

/// `GET /v1/models`.
pub(crate) async fn models(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Some(refused) = authorized(&state, &headers) {
        return refused;
    }
    axum::Json(catalog::listing()).into_response()
}

/// `POST /v1/forced-alignment`: multipart `file` and `text`; see [`align`] for the method.
pub(crate) async fn forced_alignment(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = authorized(&state, &headers) {
        return refused;
    }
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let Some(parts) = multipart::parse(content_type, &body) else {
        return invalid(
            &["body"],
            "multipart",
            "Expected a multipart/form-data body with `file` and `text`",
            Value::Null,
        );
    };
    let part = |name: &str| parts.iter().find(|p| p.name == name).map(|p| p.data.as_slice());
    let Some(file) = part("file").filter(|f| !f.is_empty()) else {
        return invalid(&["body", "file"], "missing", "Field required", Value::Null);
    };
    let text = match part("text").map(String::from_utf8_lossy) {
        Some(text) if !text.trim().is_empty() => text.into_owned(),
        _ => return invalid(&["body", "text"], "missing", "Field required", Value::Null),
    };
    let running = state.speech.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    let _running = Running(&state.speech.in_flight);
    if let Some(maximum) = state.config.tts_concurrency
        && running > maximum
    {
        state.stats.update(|s| s.tts.concurrency_limited += 1);
        return refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_concurrent_requests",
            "You are sending too many concurrent requests.",
            &[("code", "concurrent_limit_exceeded")],
        );
    }
    let samples = match decode(&state, file).await {
        Ok(samples) => samples,
        Err(refused) => return refused,
    };
    let layout = text::layout(&text);
    let weights = match state.speech.voicer.words(catalog::ALIGNMENT_VOICE, &layout.words).await {
        Ok(words) => words.iter().map(|w| w.len() as f64).collect::<Vec<_>>(),
        Err(e) => return server_failure(&e.to_string()),
    };
    let duration = samples.len() as f64 / f64::from(ALIGN_RATE);
    let mut spans = align::speech_spans(&samples, ALIGN_RATE);
    if spans.is_empty() {
        spans.push((0.0, duration));
    }
    let (word_spans, loss) = align::fit(&weights, &spans);
    let end = word_spans.last().map_or(duration, |w| w.1);
    let characters = text::alignment(&layout, &word_spans, end);
    let answer = ForcedAlignment {
        characters: characters
            .characters
            .iter()
            .enumerate()
            .map(|(i, c)| AlignedCharacter {
                text: c.clone(),
                start: characters.character_start_times_seconds[i],
                end: characters.character_end_times_seconds[i],
            })
            .collect(),
        words: layout
            .words
            .iter()
            .zip(&word_spans)
            .map(|(word, (start, end))| AlignedWord {
                text: word.clone(),
                start: (start * 1000.0).round() / 1000.0,
                end: (end * 1000.0).round() / 1000.0,
                loss,
            })
            .collect(),
        loss,
    };
    state.stats.update(|s| s.tts.alignments += 1);
    axum::Json(answer).into_response()
}

/// Decodes any audio ffmpeg reads to mono samples at [`ALIGN_RATE`]; a 400 when it is not audio.
async fn decode(state: &AppState, file: &[u8]) -> Result<Vec<i16>, Response> {
    let fail = |what: &str, e: &dyn std::fmt::Display| server_failure(&format!("{what}: {e}"));
    let dir = tempfile::tempdir_in(state.storage.dir()).map_err(|e| fail("temporary folder", &e))?;
    let input = dir.path().join("input");
    let output = dir.path().join("decoded.pcm");
    tokio::fs::write(&input, file).await.map_err(|e| fail("writing the upload", &e))?;
    let args: Vec<std::ffi::OsString> = vec![
        "-i".into(),
        input.into_os_string(),
        "-vn".into(),
        "-ac".into(),
        "1".into(),
        "-ar".into(),
        ALIGN_RATE.to_string().into(),
        "-f".into(),
        "s16le".into(),
        output.clone().into_os_string(),
    ];
    if state.ffmpeg.run(&args).await.is_err() {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "invalid_audio",
            "The uploaded file could not be decoded as audio.",
            &[("param", "file")],
        ));
    }
    let bytes = tokio::fs::read(&output).await.map_err(|e| fail("reading the decoded audio", &e))?;
    Ok(bytes.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect())
}
