//! The bodies, query values and headers of ElevenLabs' API (`elevenlabs-tts.md`), shared by the
//! client and the local studio.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::str::FromStr;

/// Header carrying the key.
pub const XI_API_KEY: &str = "xi-api-key";
/// Response header: the history item a generation was stored as.
pub const HISTORY_ITEM_ID: &str = "history-item-id";
/// Response header: ElevenLabs' id of the request.
pub const REQUEST_ID: &str = "request-id";
/// Response header: credits charged, an integer.
pub const CHARACTER_COST: &str = "character-cost";
/// The older name of [`CHARACTER_COST`] that some documentation gives; read as a fallback.
pub const X_CHARACTER_COUNT: &str = "x-character-count";
/// Response header: requests of this key running now.
pub const CURRENT_CONCURRENT_REQUESTS: &str = "current-concurrent-requests";
/// Response header: the plan's concurrency limit.
pub const MAXIMUM_CONCURRENT_REQUESTS: &str = "maximum-concurrent-requests";

/// The v3 model.
pub const ELEVEN_V3: &str = "eleven_v3";
/// Longest `text` `eleven_v3` accepts in one request.
pub const ELEVEN_V3_MAX_CHARACTERS: usize = 5_000;

/// Per-request overrides of a voice's stored settings. Unset fields are not sent: an explicit
/// `null` is answered 422.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VoiceSettings {
    /// 0 (creative) … 1 (robust); the one setting v3 honours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stability: Option<f64>,
    /// How closely to stay to the original voice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub similarity_boost: Option<f64>,
    /// Style exaggeration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<f64>,
    /// 0.7 … 1.2; accepted and ignored by v3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<f64>,
    /// Speaker boost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_speaker_boost: Option<bool>,
}

/// What to voice, with which model and settings: the JSON body of a text-to-speech call plus its
/// query values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeechRequest {
    /// The line, v3 audio tags (`[whispers]`) included; every character is billed.
    pub text: String,
    /// `eleven_v3`; the server's default (`eleven_multilingual_v2`) when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    /// Overrides of the voice's settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_settings: Option<VoiceSettings>,
    /// Best-effort determinism, 0 ..= 4294967295.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u32>,
    /// ISO 639-1 language to enforce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language_code: Option<String>,
    /// Query `output_format`; the server's default (`mp3_44100_128`) when unset.
    #[serde(skip)]
    pub output_format: Option<OutputFormat>,
}

impl SpeechRequest {
    /// `text` on `eleven_v3`, everything else the server's default.
    pub fn v3(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            model_id: Some(ELEVEN_V3.to_owned()),
            voice_settings: None,
            seed: None,
            language_code: None,
            output_format: None,
        }
    }
}

/// The codec of an [`OutputFormat`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// MP3 at a bit rate.
    Mp3,
    /// Raw signed 16-bit little-endian samples, no header.
    Pcm,
    /// WAV (16-bit PCM with a header).
    Wav,
    /// G.711 μ-law, 8 kHz.
    Ulaw,
    /// G.711 A-law, 8 kHz.
    Alaw,
    /// Opus at a bit rate.
    Opus,
}

/// An `output_format` query value: `codec_samplerate[_kbps]`, e.g. `mp3_44100_128`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OutputFormat {
    /// The codec.
    pub codec: Codec,
    /// Samples per second.
    pub sample_rate: u32,
    /// Kilobits per second, for MP3 and Opus.
    pub kbps: Option<u32>,
}

impl Default for OutputFormat {
    /// `mp3_44100_128`, ElevenLabs' default.
    fn default() -> Self {
        Self { codec: Codec::Mp3, sample_rate: 44_100, kbps: Some(128) }
    }
}

/// An `output_format` ElevenLabs does not list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not an ElevenLabs output format (such as mp3_44100_128, pcm_24000, wav_44100, opus_48000_64)"
)]
pub struct UnknownOutputFormat(pub String);

impl FromStr for OutputFormat {
    type Err = UnknownOutputFormat;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let unknown = || UnknownOutputFormat(value.to_owned());
        let mut parts = value.split('_');
        let codec = parts.next().ok_or_else(unknown)?;
        let rate: u32 = parts.next().and_then(|r| r.parse().ok()).ok_or_else(unknown)?;
        let kbps: Option<u32> = match parts.next() {
            Some(k) => Some(k.parse().map_err(|_| unknown())?),
            None => None,
        };
        if parts.next().is_some() {
            return Err(unknown());
        }
        let (codec, rates, bit_rates): (Codec, &[u32], &[u32]) = match codec {
            "mp3" => (Codec::Mp3, &[22_050, 24_000, 44_100], &[32, 48, 64, 96, 128, 192]),
            "pcm" => (Codec::Pcm, &[8_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000], &[]),
            "wav" => (Codec::Wav, &[8_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000], &[]),
            "ulaw" => (Codec::Ulaw, &[8_000], &[]),
            "alaw" => (Codec::Alaw, &[8_000], &[]),
            "opus" => (Codec::Opus, &[48_000], &[32, 64, 96, 128, 192]),
            _ => return Err(unknown()),
        };
        let kbps_ok = match kbps {
            Some(k) => bit_rates.contains(&k),
            None => bit_rates.is_empty(),
        };
        if !rates.contains(&rate) || !kbps_ok {
            return Err(unknown());
        }
        Ok(Self { codec, sample_rate: rate, kbps })
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let codec = match self.codec {
            Codec::Mp3 => "mp3",
            Codec::Pcm => "pcm",
            Codec::Wav => "wav",
            Codec::Ulaw => "ulaw",
            Codec::Alaw => "alaw",
            Codec::Opus => "opus",
        };
        write!(f, "{codec}_{}", self.sample_rate)?;
        if let Some(kbps) = self.kbps {
            write!(f, "_{kbps}")?;
        }
        Ok(())
    }
}

impl OutputFormat {
    /// The `Content-Type` ElevenLabs answers with.
    pub fn content_type(&self) -> &'static str {
        match self.codec {
            Codec::Mp3 => "audio/mpeg",
            Codec::Pcm => "audio/pcm",
            Codec::Wav => "audio/wav",
            Codec::Ulaw => "audio/basic",
            Codec::Alaw => "audio/alaw",
            Codec::Opus => "audio/ogg",
        }
    }

    /// A file extension for audio in this format.
    pub fn extension(&self) -> &'static str {
        match self.codec {
            Codec::Mp3 => "mp3",
            Codec::Pcm => "pcm",
            Codec::Wav => "wav",
            Codec::Ulaw => "ulaw",
            Codec::Alaw => "alaw",
            Codec::Opus => "opus",
        }
    }
}

/// Character timing: three parallel arrays, one entry per character of the text (tags
/// included).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Alignment {
    /// The characters, each a string of one character.
    pub characters: Vec<String>,
    /// When each character starts, in seconds from the start of the audio.
    pub character_start_times_seconds: Vec<f64>,
    /// When each character ends.
    pub character_end_times_seconds: Vec<f64>,
}

impl Alignment {
    /// Whether the three arrays have one length.
    pub fn is_consistent(&self) -> bool {
        self.characters.len() == self.character_start_times_seconds.len()
            && self.characters.len() == self.character_end_times_seconds.len()
    }

    /// The characters joined: the text the alignment follows.
    pub fn text(&self) -> String {
        self.characters.concat()
    }
}

/// The body of `with-timestamps`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioWithTimestamps {
    /// The audio, base64.
    pub audio_base64: String,
    /// Timing of the submitted text, character by character; what captions use.
    #[serde(default)]
    pub alignment: Option<Alignment>,
    /// Timing of the normalised text (numbers spelled out, often a leading space).
    #[serde(default)]
    pub normalized_alignment: Option<Alignment>,
}

/// Query values of `GET /v1/history` the client sends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryQuery {
    /// At most this many items (the server allows up to 1000, default 100).
    pub page_size: Option<u32>,
    /// Only items of this voice.
    pub voice_id: Option<String>,
    /// Only items of this model (the API wants `source` with it).
    pub model_id: Option<String>,
    /// Only items created at or after this Unix time.
    pub date_after_unix: Option<i64>,
    /// Only items created before this Unix time.
    pub date_before_unix: Option<i64>,
    /// The page after this item (the previous page's `last_history_item_id`).
    pub start_after_history_item_id: Option<String>,
}

/// One page of `GET /v1/history`, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryPage {
    /// The items.
    pub history: Vec<HistoryItem>,
    /// The last item's id: pass it as `start_after_history_item_id` for the next page.
    #[serde(default)]
    pub last_history_item_id: Option<String>,
    /// Whether more pages follow.
    pub has_more: bool,
    /// The Unix time the scan reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scanned_until: Option<i64>,
}

/// A generation in the history: how a lost answer is found again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryItem {
    /// The id (`history-item-id` of the generation's answer).
    pub history_item_id: String,
    /// The request's id (`request-id` of its answer).
    #[serde(default)]
    pub request_id: Option<String>,
    /// The voice.
    #[serde(default)]
    pub voice_id: Option<String>,
    /// The model.
    #[serde(default)]
    pub model_id: Option<String>,
    /// The voice's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_name: Option<String>,
    /// The text voiced, exactly as sent.
    #[serde(default)]
    pub text: Option<String>,
    /// When it was made.
    pub date_unix: i64,
    /// The account's used character count before this generation.
    pub character_count_change_from: u64,
    /// … and after it: the difference is what it cost.
    pub character_count_change_to: u64,
    /// The audio's MIME type.
    pub content_type: String,
    /// `created`, `deleted` or `processing`.
    #[serde(default)]
    pub state: Value,
    /// The settings used, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<Value>,
    /// `TTS` for text to speech.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The output format it was generated in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_format: Option<String>,
    /// The generation's timing. In the 2026 SDK's schema (optional), not in the 2025 OpenAPI;
    /// when absent, align the audio again with forced alignment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alignments: Option<HistoryAlignments>,
}

/// The `alignments` of a [`HistoryItem`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryAlignments {
    /// Timing of the text as sent.
    pub alignment: Alignment,
    /// Timing of the normalised text.
    pub normalized_alignment: Alignment,
}

impl HistoryItem {
    /// Credits this generation cost.
    pub fn character_cost(&self) -> u64 {
        self.character_count_change_to.saturating_sub(self.character_count_change_from)
    }
}

/// An entry of `GET /v1/models`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// `eleven_v3`, …
    pub model_id: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Whether text to speech works with it.
    #[serde(default)]
    pub can_do_text_to_speech: Option<bool>,
    /// Longest `text` of one request.
    #[serde(default)]
    pub maximum_text_length_per_request: Option<u64>,
    /// Always 1.0 live; ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_cost_factor: Option<f64>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Languages it speaks.
    #[serde(default)]
    pub languages: Vec<Language>,
    /// Credits per character.
    #[serde(default)]
    pub model_rates: Option<ModelRates>,
}

/// A language of a [`Model`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Language {
    /// ISO code.
    pub language_id: String,
    /// Name.
    pub name: String,
}

/// Credit rates of a [`Model`]: credits = characters × multiplier (× discount when present).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRates {
    /// Credits per character.
    pub character_cost_multiplier: f64,
    /// The plan's discount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_discount_multiplier: Option<f64>,
}

/// The body of `POST /v1/forced-alignment`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForcedAlignment {
    /// Every character of the text with its time.
    pub characters: Vec<AlignedCharacter>,
    /// Every word with its time.
    pub words: Vec<AlignedWord>,
    /// How poorly the text fits the audio (lower is better).
    pub loss: f64,
}

/// A character of a [`ForcedAlignment`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlignedCharacter {
    /// The character.
    pub text: String,
    /// Start, seconds.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
}

/// A word of a [`ForcedAlignment`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlignedWord {
    /// The word.
    pub text: String,
    /// Start, seconds.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
    /// How poorly this word fits.
    pub loss: f64,
}

/// An error body: `{"detail": …}`, where `detail` is an object, a list (422) or a string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong.
    pub detail: ErrorDetail,
}

/// The `detail` of an [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ErrorDetail {
    /// `{status, message}`, plus `type`, `code`, `param` on 2026 answers.
    Status(StatusDetail),
    /// FastAPI's validation list (422).
    Items(Vec<ValidationItem>),
    /// A bare message, e.g. `Not Found` for an unknown route.
    Message(String),
}

/// The object form of an error `detail`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusDetail {
    /// What to branch on: `quota_exceeded`, `too_many_concurrent_requests`, …
    pub status: String,
    /// For people.
    #[serde(default)]
    pub message: String,
    /// `validation_error`, … (2026).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// A finer code, e.g. `concurrent_limit_exceeded`, `text_too_long` (2026).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The field at fault, e.g. `model_id` (2026).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
}

/// One item of a 422 list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationItem {
    /// `float_type`, `missing`, …
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Where: `["body", "voice_settings", "stability"]`.
    #[serde(default)]
    pub loc: Vec<Value>,
    /// What is wrong.
    #[serde(default)]
    pub msg: String,
    /// The value refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
}

impl ValidationItem {
    /// The field, dotted, without the leading `body`/`query`: `voice_settings.stability`.
    pub fn field(&self) -> String {
        let parts: Vec<String> = self
            .loc
            .iter()
            .map(|segment| match segment {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        let skip = usize::from(matches!(parts.first().map(String::as_str), Some("body" | "query" | "path")));
        parts[skip.min(parts.len())..].join(".")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_set_voice_settings_are_sent() {
        let mut request = SpeechRequest::v3("[whispers] Hi.");
        request.voice_settings = Some(VoiceSettings { stability: Some(0.5), ..VoiceSettings::default() });
        request.output_format = Some("pcm_24000".parse().unwrap());
        let json = serde_json::to_value(&request).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"text": "[whispers] Hi.", "model_id": "eleven_v3", "voice_settings": {"stability": 0.5}})
        );
    }

    #[test]
    fn output_formats_parse_and_print() {
        for format in [
            "mp3_44100_128",
            "mp3_22050_32",
            "pcm_16000",
            "wav_48000",
            "ulaw_8000",
            "alaw_8000",
            "opus_48000_64",
        ] {
            assert_eq!(format.parse::<OutputFormat>().unwrap().to_string(), format);
        }
        for bad in ["mp3_44100", "mp3_44100_100", "pcm_11025", "flac_44100", "pcm_16000_8", "", "mp3_x_128"] {
            assert!(bad.parse::<OutputFormat>().is_err(), "{bad}");
        }
        assert_eq!(OutputFormat::default().to_string(), "mp3_44100_128");
    }

    #[test]
    fn with_timestamps_body_reads() {
        let body = r#"{"audio_base64":"SUQz","alignment":{"characters":["H","i"],
            "character_start_times_seconds":[0.0,0.09],"character_end_times_seconds":[0.09,0.16]},
            "normalized_alignment":null}"#;
        let parsed: AudioWithTimestamps = serde_json::from_str(body).unwrap();
        let alignment = parsed.alignment.unwrap();
        assert!(alignment.is_consistent());
        assert_eq!(alignment.text(), "Hi");
        assert!(parsed.normalized_alignment.is_none());
    }

    #[test]
    fn error_details_of_every_shape() {
        let status: ErrorBody = serde_json::from_str(
            r#"{"detail":{"status":"unsupported_model","message":"nope","type":"validation_error","param":"model_id"}}"#,
        )
        .unwrap();
        let ErrorDetail::Status(detail) = status.detail else { panic!("status form") };
        assert_eq!(detail.param.as_deref(), Some("model_id"));
        let items: ErrorBody = serde_json::from_str(
            r#"{"detail":[{"type":"float_type","loc":["body","voice_settings","stability"],"msg":"Input should be a valid number","input":null}]}"#,
        )
        .unwrap();
        let ErrorDetail::Items(items) = items.detail else { panic!("list form") };
        assert_eq!(items[0].field(), "voice_settings.stability");
        let message: ErrorBody = serde_json::from_str(r#"{"detail":"Not Found"}"#).unwrap();
        assert_eq!(message.detail, ErrorDetail::Message("Not Found".into()));
    }

    #[test]
    fn history_item_cost() {
        let item: HistoryItem = serde_json::from_str(
            r#"{"history_item_id":"h1","request_id":"r1","voice_id":"v","model_id":"eleven_v3","text":"Hi",
            "date_unix":1,"character_count_change_from":10,"character_count_change_to":12,
            "content_type":"audio/mpeg","state":"created"}"#,
        )
        .unwrap();
        assert_eq!(item.character_cost(), 2);
    }
}
