//! [`SpeechApi`] over HTTP: [`ElevenLabsClient`] speaks the driver's three calls to ElevenLabs or
//! to the studio alike, and its typed errors become the driver's [`SpeechError`]s.

use super::api::{
    Alignment, ForcedTimes, HistoryItem, SpeechApi, SpeechError, SpeechFuture, SpeechRequest, Spoken,
    TimedWord,
};
use episodic_elevenlabs::{
    ElevenLabsClient, ElevenLabsError, ElevenLabsErrorKind, HistoryQuery, OutputFormat,
};

/// History items read in one look: the driver looks for a request it sent minutes ago, so one
/// page of the voice's newest items covers it.
const HISTORY_PAGE: u32 = 100;

impl SpeechApi for ElevenLabsClient {
    fn speak_with_timestamps<'a>(
        &'a self,
        voice_id: &'a str,
        request: &'a SpeechRequest,
    ) -> SpeechFuture<'a, Spoken> {
        Box::pin(async move {
            let wire = wire_request(request)?;
            let speech = ElevenLabsClient::speak_with_timestamps(self, voice_id, &wire)
                .await
                .map_err(|error| speech_error(error, Billable::Yes))?;
            let alignment = Some(speech.alignment).filter(|a| !a.characters.is_empty()).map(|a| Alignment {
                characters: a.characters,
                character_start_times_seconds: a.character_start_times_seconds,
                character_end_times_seconds: a.character_end_times_seconds,
            });
            Ok(Spoken {
                audio: speech.audio.to_vec(),
                alignment,
                history_item_id: speech.history_item_id,
                request_id: speech.request_id,
                character_cost: speech.character_cost,
            })
        })
    }

    fn history<'a>(&'a self, voice_id: &'a str) -> SpeechFuture<'a, Vec<HistoryItem>> {
        Box::pin(async move {
            let query = HistoryQuery {
                page_size: Some(HISTORY_PAGE),
                voice_id: Some(voice_id.to_owned()),
                ..HistoryQuery::default()
            };
            let page = ElevenLabsClient::history(self, &query)
                .await
                .map_err(|error| speech_error(error, Billable::No))?;
            Ok(page
                .history
                .into_iter()
                .map(|item| HistoryItem {
                    history_item_id: item.history_item_id,
                    request_id: item.request_id,
                    voice_id: item.voice_id,
                    model_id: item.model_id,
                    text: item.text.unwrap_or_default(),
                    date_unix: item.date_unix,
                })
                .collect())
        })
    }

    fn history_audio<'a>(&'a self, history_item_id: &'a str) -> SpeechFuture<'a, Vec<u8>> {
        Box::pin(async move {
            ElevenLabsClient::history_audio(self, history_item_id)
                .await
                .map(|audio| audio.to_vec())
                .map_err(|error| speech_error(error, Billable::No))
        })
    }

    fn forced_alignment<'a>(&'a self, audio: &'a [u8], text: &'a str) -> SpeechFuture<'a, ForcedTimes> {
        Box::pin(async move {
            // Asked again, a lost answer costs at most the alignment again: no history to settle.
            let aligned = ElevenLabsClient::forced_alignment(self, audio.to_vec().into(), text)
                .await
                .map_err(|error| speech_error(error, Billable::No))?;
            Ok(ForcedTimes {
                characters: aligned
                    .characters
                    .into_iter()
                    .map(|c| TimedWord { text: c.text, start: c.start, end: c.end })
                    .collect(),
                words: aligned
                    .words
                    .into_iter()
                    .map(|word| TimedWord { text: word.text, start: word.start, end: word.end })
                    .collect(),
            })
        })
    }
}

/// The driver's request as ElevenLabs' wire body: only the settings the manifest set.
fn wire_request(request: &SpeechRequest) -> Result<episodic_elevenlabs::SpeechRequest, SpeechError> {
    let output_format = request.output_format.parse::<OutputFormat>().map_err(|error| {
        SpeechError::Invalid { field: "output_format".to_owned(), message: error.to_string() }
    })?;
    let settings = &request.voice_settings;
    let voice_settings = (!settings.is_empty()).then_some(episodic_elevenlabs::VoiceSettings {
        stability: settings.stability,
        similarity_boost: settings.similarity_boost,
        style: settings.style,
        speed: settings.speed,
        use_speaker_boost: settings.use_speaker_boost,
    });
    Ok(episodic_elevenlabs::SpeechRequest {
        text: request.text.clone(),
        model_id: Some(request.model_id.clone()),
        voice_settings,
        seed: None,
        language_code: None,
        output_format: Some(output_format),
    })
}

/// Whether the failed call voices (and bills) a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Billable {
    Yes,
    No,
}

/// ElevenLabs' error as the driver reads it (`api.rs`): a billable call that may have been voiced
/// (its answer lost, or a 5xx after the request went out) is [`SpeechError::AnswerLost`], so the
/// history is searched before the line is voiced again.
fn speech_error(error: ElevenLabsError, billable: Billable) -> SpeechError {
    if billable == Billable::Yes && error.may_have_been_billed() {
        return SpeechError::AnswerLost { message: error.kind.to_string() };
    }
    match error.kind {
        ElevenLabsErrorKind::QuotaExceeded { message } => SpeechError::QuotaExceeded { message },
        ElevenLabsErrorKind::InvalidApiKey { message } => SpeechError::Unauthorized { message },
        ElevenLabsErrorKind::TooManyConcurrentRequests { message }
        | ElevenLabsErrorKind::SystemBusy { message } => SpeechError::TooManyConcurrent { message },
        ElevenLabsErrorKind::TextTooLong { message } => SpeechError::TextTooLong { message },
        ElevenLabsErrorKind::UnsupportedModel { message, .. } => SpeechError::UnsupportedModel { message },
        ElevenLabsErrorKind::VoiceNotFound { message, .. } => SpeechError::VoiceNotFound { message },
        ElevenLabsErrorKind::InvalidVoiceSettings { message } => {
            SpeechError::Invalid { field: "voice_settings".to_owned(), message }
        }
        ElevenLabsErrorKind::Validation { field, message } => SpeechError::Invalid { field, message },
        other => SpeechError::Other { message: other.to_string() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use episodic_elevenlabs::Operation;

    fn error(kind: ElevenLabsErrorKind) -> ElevenLabsError {
        ElevenLabsError::new(Operation::Speak, kind)
    }

    #[test]
    fn elevenlabs_errors_become_the_drivers_kinds() {
        let m = || "m".to_owned();
        let cases = [
            (
                ElevenLabsErrorKind::QuotaExceeded { message: m() },
                SpeechError::QuotaExceeded { message: m() },
            ),
            (ElevenLabsErrorKind::InvalidApiKey { message: m() }, SpeechError::Unauthorized { message: m() }),
            (
                ElevenLabsErrorKind::SystemBusy { message: m() },
                SpeechError::TooManyConcurrent { message: m() },
            ),
            (
                ElevenLabsErrorKind::VoiceNotFound { voice_id: "v".into(), message: m() },
                SpeechError::VoiceNotFound { message: m() },
            ),
            (
                ElevenLabsErrorKind::Validation { field: "text".into(), message: m() },
                SpeechError::Invalid { field: "text".into(), message: m() },
            ),
            (
                ElevenLabsErrorKind::InvalidVoiceSettings { message: m() },
                SpeechError::Invalid { field: "voice_settings".into(), message: m() },
            ),
        ];
        for (kind, expected) in cases {
            assert_eq!(speech_error(error(kind), Billable::Yes), expected);
        }
    }

    #[test]
    fn a_server_error_on_a_billable_call_is_a_lost_answer_but_not_on_a_read() {
        let server = || error(ElevenLabsErrorKind::Server { status: 502, message: "bad gateway".into() });
        assert!(matches!(speech_error(server(), Billable::Yes), SpeechError::AnswerLost { .. }));
        assert!(matches!(speech_error(server(), Billable::No), SpeechError::Other { .. }));
    }

    #[test]
    fn only_the_settings_the_manifest_set_are_sent() {
        let mut request = SpeechRequest {
            text: "[whispers] Hi.".into(),
            model_id: "eleven_v3".into(),
            voice_settings: Default::default(),
            output_format: "mp3_44100_128".into(),
        };
        assert_eq!(wire_request(&request).map(|w| w.voice_settings), Ok(None));
        request.voice_settings.stability = Some(0.5);
        let body = wire_request(&request).map(|w| serde_json::to_value(w).ok());
        assert_eq!(
            body,
            Ok(Some(serde_json::json!({
                "text": "[whispers] Hi.", "model_id": "eleven_v3", "voice_settings": {"stability": 0.5}
            })))
        );
        request.output_format = "mp3_1".into();
        assert!(matches!(wire_request(&request), Err(SpeechError::Invalid { .. })));
    }
}
