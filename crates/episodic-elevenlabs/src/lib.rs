//! The ElevenLabs HTTP client of episodic: text to speech with character timestamps, the
//! speech history, models and forced alignment (`elevenlabs-tts.md` in the shared reference).
//!
//! The same wire types serve the local studio, and the base URL is configuration
//! (`EPISODIC_ELEVENLABS_URL`), so one client talks to ElevenLabs or to the studio.
//!
//! The API the engine calls, all on [`ElevenLabsClient`] (async, cheap to clone):
//!
//! | call | endpoint | billed |
//! |---|---|---|
//! | [`speak_with_timestamps(voice_id, &SpeechRequest)`](ElevenLabsClient::speak_with_timestamps) → [`Speech`] | `POST /v1/text-to-speech/{voice_id}/with-timestamps` | yes |
//! | [`speak(voice_id, &SpeechRequest)`](ElevenLabsClient::speak) → [`SpeechAudio`] | `POST /v1/text-to-speech/{voice_id}` | yes |
//! | [`history(&HistoryQuery)`](ElevenLabsClient::history) → [`HistoryPage`] | `GET /v1/history` | no |
//! | [`find_in_history(voice_id, model_id, text, since_unix)`](ElevenLabsClient::find_in_history) → [`HistoryItem`] | `GET /v1/history`, paged | no |
//! | [`history_audio(id)`](ElevenLabsClient::history_audio) → audio bytes | `GET /v1/history/{id}/audio` | no |
//! | [`models()`](ElevenLabsClient::models) → [`Model`]s | `GET /v1/models` | no |
//! | [`forced_alignment(audio, text)`](ElevenLabsClient::forced_alignment) → [`ForcedAlignment`] | `POST /v1/forced-alignment` | yes |
//!
//! A [`Speech`] carries the audio, the `alignment` of the text as sent (captions use it, not
//! `normalized_alignment`), and the `history-item-id`, `request-id` and `character-cost`
//! headers. Journal the history item id the moment it arrives.
//!
//! Failures are [`ElevenLabsError`]s whose [`ElevenLabsErrorKind`] follows the documented
//! bodies: `QuotaExceeded` (401 `quota_exceeded`: stop voicing, like fal's spend breaker),
//! `InvalidApiKey`, `TooManyConcurrentRequests` / `SystemBusy` (429, not billed: already retried
//! here with backoff), `TextTooLong`, `UnsupportedModel`, `InvalidVoiceSettings`,
//! `VoiceNotFound`, `Validation` (422, with the field), `Server` (5xx) and `AnswerLost` (the
//! request went out, the answer never came). ElevenLabs has no idempotency key: when
//! [`ElevenLabsError::may_have_been_billed`] holds, the line may have been voiced, so look for it
//! with [`ElevenLabsClient::find_in_history`] (same voice, model and exact text, after the
//! request's time) and fetch it with [`ElevenLabsClient::history_audio`] before voicing it again.
//! A history item may carry the generation's `alignments` (in the 2026 SDK's schema, optional);
//! without them, a recovered line is aligned again with [`ElevenLabsClient::forced_alignment`].
//!
//! What it must not do: print or log (it returns values and errors); reveal the key
//! ([`ElevenLabsKey`] prints as `ElevenLabsKey(***)`, and server text is scrubbed of it); pay
//! twice (see [`retry`]); depend on any other episodic crate.

pub mod client;
pub mod config;
pub mod error;
pub mod key;
pub mod retry;
pub mod wire;

pub use client::{ElevenLabsClient, Speech, SpeechAudio};
pub use config::{ConfigError, ElevenLabsConfig};
pub use error::{ElevenLabsError, ElevenLabsErrorKind};
pub use key::{ElevenLabsKey, KeyError};
pub use retry::{Operation, RetryPolicy};
pub use wire::{
    AlignedCharacter, AlignedWord, Alignment, ForcedAlignment, HistoryAlignments, HistoryItem, HistoryPage,
    HistoryQuery, Model, OutputFormat, SpeechRequest, VoiceSettings,
};
