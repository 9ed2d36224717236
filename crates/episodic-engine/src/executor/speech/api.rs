//! The three things the speech driver asks of ElevenLabs, as a trait: the ElevenLabs client
//! speaks them over HTTP (to ElevenLabs or the studio alike), unit tests script them. The engine
//! gets one from its caller ([`crate::Engine::new`]) and never builds one itself.
//!
//! Futures are boxed so the engine can hold any implementation as `Arc<dyn SpeechApi>`.

use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;

/// A boxed future of an ElevenLabs call.
pub type SpeechFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, SpeechError>> + Send + 'a>>;

/// ElevenLabs as the speech driver sees it.
pub trait SpeechApi: Send + Sync {
    /// `POST /v1/text-to-speech/{voice_id}/with-timestamps?output_format=…`: the audio, its
    /// character timings (`alignment`, not `normalized_alignment`) and the response headers that
    /// name and price it. An error with [`SpeechError::AnswerLost`] means the request was sent and
    /// its answer never came: ElevenLabs may have voiced (and billed) it.
    fn speak_with_timestamps<'a>(
        &'a self,
        voice_id: &'a str,
        request: &'a SpeechRequest,
    ) -> SpeechFuture<'a, Spoken>;

    /// `GET /v1/history?voice_id=…`: the voice's history items, newest first (one page is
    /// enough: the driver looks for a request it sent minutes ago).
    fn history<'a>(&'a self, voice_id: &'a str) -> SpeechFuture<'a, Vec<HistoryItem>>;

    /// `GET /v1/history/{history_item_id}/audio`: the audio of a history item (no alignment).
    fn history_audio<'a>(&'a self, history_item_id: &'a str) -> SpeechFuture<'a, Vec<u8>>;

    /// `POST /v1/forced-alignment`: the characters and words of `text` timed against `audio` (a
    /// recording's bytes), in order.
    fn forced_alignment<'a>(&'a self, audio: &'a [u8], text: &'a str) -> SpeechFuture<'a, ForcedTimes>;
}

/// What forced alignment answers: the text's characters (spaces, punctuation and tags included)
/// and its words, each with its times.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ForcedTimes {
    /// Every character of the text.
    pub characters: Vec<TimedWord>,
    /// Every word (as ElevenLabs splits them: punctuation may be trimmed).
    pub words: Vec<TimedWord>,
}

/// A character or word of a forced alignment, as ElevenLabs timed it.
#[derive(Debug, Clone, PartialEq)]
pub struct TimedWord {
    /// The word as ElevenLabs split the text (it may hold punctuation, or be only spacing).
    pub text: String,
    /// When it starts, in seconds from the start of the audio.
    pub start: f64,
    /// When it ends.
    pub end: f64,
}

/// The body and query of a text-to-speech request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpeechRequest {
    /// The exact text, audio tags included.
    pub text: String,
    /// `model_id`.
    pub model_id: String,
    /// `voice_settings`: only what the manifest set (never an explicit null: ElevenLabs answers
    /// 422); not sent at all when empty.
    pub voice_settings: episodic_manifest::VoiceSettings,
    /// The `output_format` query parameter (`mp3_44100_128`).
    pub output_format: String,
}

/// What a voiced line came back with.
#[derive(Debug, Clone, PartialEq)]
pub struct Spoken {
    /// The audio bytes (decoded from `audio_base64`).
    pub audio: Vec<u8>,
    /// The character timings of the submitted text, when ElevenLabs sent them.
    pub alignment: Option<Alignment>,
    /// The `history-item-id` header: the key to the audio in the history.
    pub history_item_id: Option<String>,
    /// The `request-id` header.
    pub request_id: Option<String>,
    /// The `character-cost` header (or `x-character-count`): credits charged.
    pub character_cost: Option<u64>,
}

/// ElevenLabs' `alignment`: one entry per character of the submitted text, tags included.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alignment {
    /// The characters.
    pub characters: Vec<String>,
    /// When each starts, in seconds.
    pub character_start_times_seconds: Vec<f64>,
    /// When each ends, in seconds.
    pub character_end_times_seconds: Vec<f64>,
}

/// One item of ElevenLabs' history.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryItem {
    /// `history_item_id`.
    pub history_item_id: String,
    /// `request_id`, when listed.
    pub request_id: Option<String>,
    /// `voice_id`.
    pub voice_id: Option<String>,
    /// `model_id`.
    pub model_id: Option<String>,
    /// The text that was voiced.
    pub text: String,
    /// When it was made (Unix seconds).
    pub date_unix: i64,
}

/// Why ElevenLabs did not voice a line, as it says so (`elevenlabs-tts.md` §3).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SpeechError {
    /// 401 `quota_exceeded`: the account's credits are spent. Nothing more is voiced this run.
    #[error("ElevenLabs says the quota is exceeded: {message}")]
    QuotaExceeded {
        /// ElevenLabs' message.
        message: String,
    },
    /// 401 `invalid_api_key` (or another 401): the key is wrong.
    #[error("ElevenLabs refused the API key: {message}")]
    Unauthorized {
        /// ElevenLabs' message (never the key).
        message: String,
    },
    /// 429 `too_many_concurrent_requests` or `system_busy`: refused at once, not billed; worth
    /// trying again after a pause.
    #[error("ElevenLabs is busy ({message})")]
    TooManyConcurrent {
        /// ElevenLabs' message.
        message: String,
    },
    /// 400 `text_too_long` (or `max_character_limit_exceeded`).
    #[error("the line is too long for the model: {message}")]
    TextTooLong {
        /// ElevenLabs' message.
        message: String,
    },
    /// 400 `unsupported_model`.
    #[error("the model does not take this request: {message}")]
    UnsupportedModel {
        /// ElevenLabs' message.
        message: String,
    },
    /// 404 (or 400) `voice_not_found`.
    #[error("the voice does not exist (or this account cannot use it): {message}")]
    VoiceNotFound {
        /// ElevenLabs' message.
        message: String,
    },
    /// 422, or 400 `invalid_voice_settings`: a field of the request is invalid.
    #[error("ElevenLabs refused `{field}`: {message}")]
    Invalid {
        /// The field (`voice_settings.stability`, …).
        field: String,
        /// ElevenLabs' message.
        message: String,
    },
    /// The request was sent and the connection dropped before the answer: it may have been voiced.
    #[error("the answer was lost after the request was sent: {message}")]
    AnswerLost {
        /// What broke.
        message: String,
    },
    /// Anything else (5xx, a refused connection, an answer that could not be read).
    #[error("{message}")]
    Other {
        /// What happened.
        message: String,
    },
}

impl SpeechError {
    /// Whether ElevenLabs looked at this exact request and refused it: the same request is
    /// refused again, so the line is journaled as failed instead of tried blindly.
    pub fn refuses_the_request(&self) -> bool {
        matches!(
            self,
            SpeechError::TextTooLong { .. }
                | SpeechError::UnsupportedModel { .. }
                | SpeechError::VoiceNotFound { .. }
                | SpeechError::Invalid { .. }
        )
    }
}

/// The history item among `items` that is this request: the same voice, model and exact text,
/// made at or after `since`, and not `taken` by another line (asked only of candidates; its error
/// ends the search, so a journal that cannot answer never leads to a guess). Newest first, so the
/// first match is the latest.
pub(crate) fn find_item<'a, E>(
    items: &'a [HistoryItem],
    voice_id: &str,
    request: &SpeechRequest,
    since: i64,
    taken: impl Fn(&str) -> Result<bool, E>,
) -> Result<Option<&'a HistoryItem>, E> {
    for item in items {
        let same = item.voice_id.as_deref().is_none_or(|voice| voice == voice_id)
            && item.model_id.as_deref() == Some(request.model_id.as_str())
            && item.text == request.text
            && item.date_unix >= since;
        if same && !taken(&item.history_item_id)? {
            return Ok(Some(item));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, text: &str, model: &str, at: i64) -> HistoryItem {
        HistoryItem {
            history_item_id: id.into(),
            request_id: None,
            voice_id: Some("v".into()),
            model_id: Some(model.into()),
            text: text.into(),
            date_unix: at,
        }
    }

    #[test]
    fn a_history_item_matches_on_voice_model_exact_text_and_time() {
        let request = SpeechRequest {
            text: "[whispers] Hi.".into(),
            model_id: "eleven_v3".into(),
            voice_settings: Default::default(),
            output_format: "mp3_44100_128".into(),
        };
        let items = vec![
            item("other-text", "[whispers] Hi!", "eleven_v3", 200),
            item("other-model", "[whispers] Hi.", "eleven_multilingual_v2", 200),
            item("taken", "[whispers] Hi.", "eleven_v3", 150),
            item("ours", "[whispers] Hi.", "eleven_v3", 120),
            item("too-old", "[whispers] Hi.", "eleven_v3", 50),
        ];
        let free = |_: &str| Ok::<_, ()>(false);
        let found = find_item(&items, "v", &request, 100, |id| Ok::<_, ()>(id == "taken"));
        assert_eq!(found.map(|i| i.map(|i| i.history_item_id.as_str())), Ok(Some("ours")));
        assert_eq!(find_item(&items, "w", &request, 100, free), Ok(None), "another voice");
        assert_eq!(find_item(&items[4..], "v", &request, 100, free), Ok(None), "before the claim");
        assert_eq!(find_item(&items, "v", &request, 100, |_| Err("journal")), Err("journal"));
    }
}
