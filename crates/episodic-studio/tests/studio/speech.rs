//! ElevenLabs on the studio, through the real client: speech with timestamps (alignment true to
//! the decoded audio), plain speech, the history and its audio, models, forced alignment, every
//! documented refusal, and answers lost after voicing.

use crate::support::{config, studio, tool};
use episodic_elevenlabs::{
    ElevenLabsClient, ElevenLabsConfig, ElevenLabsErrorKind, ElevenLabsKey, HistoryQuery, RetryPolicy,
    SpeechRequest,
};
use episodic_studio::{FaultConfig, STUDIO_VOICES, Studio, StudioConfig};
use std::time::Duration;

const GEORGE: &str = "JBFqnCBsd6RMkjVDRZzb";
const TTS_KEY: &str = "sk_studio_test";
const LINE: &str = "[whispers] Hello there, producer. This line is voiced by the studio.";

/// The studio's speech configuration; a machine without espeak-ng fails here, saying how to
/// install it, rather than passing without voicing anything.
pub fn speech_config() -> StudioConfig {
    if let Err(err) = episodic_media::locate("espeak-ng", None) {
        panic!(
            "{err}: the studio voices lines with espeak-ng; `apt-get install espeak-ng` or `bash .ci/setup`"
        );
    }
    StudioConfig { elevenlabs_key: Some(TTS_KEY.into()), ..config() }
}

fn client_with(studio: &Studio, key: &str, retry: RetryPolicy) -> ElevenLabsClient {
    let mut config = ElevenLabsConfig::with_base_url(&studio.urls().elevenlabs_url).expect("config");
    config.retry = retry;
    ElevenLabsClient::new(config, Some(ElevenLabsKey::new(key).expect("key"))).expect("client")
}

fn client(studio: &Studio) -> ElevenLabsClient {
    client_with(studio, TTS_KEY, RetryPolicy::default())
}

/// Seconds of audio, decoded in full by ffmpeg (not read from a header).
fn decoded_seconds(audio: &[u8]) -> f64 {
    let dir = tempfile::tempdir().expect("temp");
    let input = dir.path().join("audio");
    std::fs::write(&input, audio).expect("write");
    let output = std::process::Command::new(&tool("ffmpeg").path)
        .args(["-v", "error", "-i"])
        .arg(&input)
        .args(["-f", "s16le", "-ac", "1", "-ar", "48000", "-"])
        .output()
        .expect("ffmpeg");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    output.stdout.len() as f64 / 2.0 / 48_000.0
}

#[tokio::test(flavor = "multi_thread")]
async fn speech_with_timestamps_is_aligned_to_its_audio_and_kept_in_the_history() {
    let studio = studio(speech_config()).await;
    let client = client(&studio);
    let speech = client.speak_with_timestamps(GEORGE, &SpeechRequest::v3(LINE)).await.expect("speech");

    let alignment = &speech.alignment;
    assert!(alignment.is_consistent());
    assert_eq!(alignment.text(), LINE, "the alignment follows the text as sent, tags included");
    let starts = &alignment.character_start_times_seconds;
    let ends = &alignment.character_end_times_seconds;
    for i in 0..starts.len() {
        assert!(ends[i] >= starts[i], "character {i} ends before it starts");
        if i > 0 {
            assert!(starts[i] >= starts[i - 1], "starts go back at {i}");
            assert!((starts[i] - ends[i - 1]).abs() < 1e-9, "a hole before character {i}");
        }
    }
    // The tag is not voiced: zero-width at the start.
    assert_eq!(ends[9], 0.0, "{:?}", &ends[..12]);
    // The first letter starts at once, the comma holds a pause.
    let comma = LINE.find(',').expect("comma");
    assert!(ends[comma] - starts[comma] >= 0.15, "comma {} .. {}", starts[comma], ends[comma]);
    // The last character ends within one MP3 frame (1152 samples at 44.1 kHz) of the audio.
    let seconds = decoded_seconds(&speech.audio);
    let last = *ends.last().expect("characters");
    assert!((seconds - last).abs() <= 1152.0 / 44_100.0 + 1e-3, "audio {seconds} s, alignment ends {last} s");
    assert!(seconds > 2.0, "{seconds} s is too short for the line");
    let normalized = speech.normalized_alignment.as_ref().expect("normalized");
    assert!(!normalized.text().contains('['), "{}", normalized.text());

    let cost = LINE.chars().count() as u64;
    assert_eq!(speech.character_cost, Some(cost));
    assert!(speech.request_id.is_some());
    let id = speech.history_item_id.clone().expect("history-item-id");

    let page = client
        .history(&HistoryQuery {
            voice_id: Some(GEORGE.into()),
            page_size: Some(10),
            ..HistoryQuery::default()
        })
        .await
        .expect("history");
    assert_eq!(page.history.len(), 1);
    let item = &page.history[0];
    assert_eq!(item.history_item_id, id);
    assert_eq!(item.text.as_deref(), Some(LINE));
    assert_eq!(item.model_id.as_deref(), Some("eleven_v3"));
    assert_eq!(item.request_id, speech.request_id);
    assert_eq!(item.character_cost(), cost);
    let kept = item.alignments.as_ref().expect("the history keeps the timing");
    assert_eq!(&kept.alignment, alignment);
    let found = client
        .find_in_history(GEORGE, Some("eleven_v3"), LINE, item.date_unix - 60)
        .await
        .expect("history")
        .expect("found by voice, model and exact text");
    assert_eq!(found.history_item_id, id);
    assert!(
        client
            .find_in_history(GEORGE, Some("eleven_v3"), "Another line.", 0)
            .await
            .expect("history")
            .is_none()
    );
    assert!(
        client
            .find_in_history(GEORGE, Some("eleven_multilingual_v2"), LINE, 0)
            .await
            .expect("history")
            .is_none()
    );
    assert_eq!(client.history_audio(&id).await.expect("audio"), speech.audio);

    let stats = studio.stats();
    assert_eq!((stats.tts.requests, stats.tts.characters), (1, cost));
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_speech_in_other_formats() {
    let studio = studio(speech_config()).await;
    let client = client(&studio);
    let mut request = SpeechRequest::v3("Raw samples, please.");
    request.output_format = Some("pcm_24000".parse().expect("format"));
    let pcm = client.speak(STUDIO_VOICES[1].id, &request).await.expect("pcm");
    assert!(pcm.history_item_id.is_some() && pcm.character_cost == Some(20));
    let samples = pcm.audio.len() / 2;
    assert!(pcm.audio.len() % 2 == 0 && samples > 24_000 / 2, "{samples} samples");

    request.output_format = Some("wav_16000".parse().expect("format"));
    let wav = client.speak_with_timestamps(STUDIO_VOICES[1].id, &request).await.expect("wav");
    assert_eq!(&wav.audio[..4], b"RIFF");
    let seconds = decoded_seconds(&wav.audio);
    let last = *wav.alignment.character_end_times_seconds.last().expect("characters");
    assert!((seconds - last).abs() <= 1.0 / 16_000.0 * 2.0 + 1e-3, "{seconds} vs {last}");
    // PCM at 24 kHz holds the same line in the same time.
    assert!((samples as f64 / 24_000.0 - seconds).abs() < 0.01, "{samples} samples vs {seconds} s");

    // Paged newest first, one at a time.
    let first =
        client.history(&HistoryQuery { page_size: Some(1), ..HistoryQuery::default() }).await.expect("page");
    assert!(first.has_more && first.history.len() == 1);
    assert_eq!(first.history[0].output_format.as_deref(), Some("wav_16000"));
    let second = client
        .history(&HistoryQuery {
            page_size: Some(1),
            start_after_history_item_id: first.last_history_item_id.clone(),
            ..HistoryQuery::default()
        })
        .await
        .expect("page");
    assert!(!second.has_more);
    assert_eq!(second.history[0].output_format.as_deref(), Some("pcm_24000"));

    let models = client.models().await.expect("models");
    let v3 = models.iter().find(|m| m.model_id == "eleven_v3").expect("v3 listed");
    assert_eq!(v3.maximum_text_length_per_request, Some(5_000));
    assert_eq!(v3.model_rates.as_ref().map(|r| r.character_cost_multiplier), Some(1.0));
}

#[tokio::test(flavor = "multi_thread")]
async fn documented_refusals_are_typed_and_unbilled() {
    let studio = studio(speech_config()).await;
    let client = client(&studio);

    let k = kind(client.speak_with_timestamps("no-such-voice", &SpeechRequest::v3("Hi")).await);
    assert!(
        matches!(&k, ElevenLabsErrorKind::VoiceNotFound { voice_id, .. } if voice_id == "no-such-voice"),
        "{k:?}"
    );

    let k = kind(client.speak_with_timestamps(GEORGE, &SpeechRequest::v3("a".repeat(5_001))).await);
    assert!(matches!(&k, ElevenLabsErrorKind::TextTooLong { message } if message.contains("5001")), "{k:?}");

    let mut unknown_model = SpeechRequest::v3("Hi");
    unknown_model.model_id = Some("eleven_v9".into());
    let k = kind(client.speak(GEORGE, &unknown_model).await);
    assert!(
        matches!(&k, ElevenLabsErrorKind::UnsupportedModel { param: Some(p), .. } if p == "model_id"),
        "{k:?}"
    );

    let mut fast = SpeechRequest::v3("Hi");
    fast.voice_settings = Some(episodic_elevenlabs::VoiceSettings { speed: Some(2.0), ..Default::default() });
    assert!(matches!(
        kind(client.speak(GEORGE, &fast).await),
        ElevenLabsErrorKind::InvalidVoiceSettings { .. }
    ));

    let wrong_key = client_with(&studio, "sk_wrong", RetryPolicy::default());
    let k = kind(wrong_key.speak(GEORGE, &SpeechRequest::v3("Hi")).await);
    assert!(matches!(k, ElevenLabsErrorKind::InvalidApiKey { .. }), "{k:?}");
    assert!(matches!(kind(wrong_key.models().await), ElevenLabsErrorKind::InvalidApiKey { .. }));

    let k = kind(client.history_audio("nope").await);
    assert!(matches!(k, ElevenLabsErrorKind::NotFound { what: "history item", .. }), "{k:?}");

    // An explicit null is what the client never sends; the studio answers it as ElevenLabs does.
    let raw = reqwest::Client::new()
        .post(format!("{}/v1/text-to-speech/{GEORGE}/with-timestamps", studio.urls().elevenlabs_url))
        .header("xi-api-key", TTS_KEY)
        .json(&serde_json::json!({"text": "Hi", "model_id": "eleven_v3", "voice_settings": {"stability": null}}))
        .send()
        .await
        .expect("send");
    assert_eq!(raw.status(), 422);
    let body: serde_json::Value = raw.json().await.expect("json");
    assert_eq!(body["detail"][0]["loc"], serde_json::json!(["body", "voice_settings", "stability"]));
    let k =
        ElevenLabsErrorKind::from_answer(episodic_elevenlabs::Operation::Speak, 422, &body.to_string(), None);
    assert!(
        matches!(&k, ElevenLabsErrorKind::Validation { field, .. } if field == "voice_settings.stability")
    );

    let mut stitched = SpeechRequest::v3("Hi");
    stitched.model_id = Some("eleven_v3".into());
    let raw = reqwest::Client::new()
        .post(format!("{}/v1/text-to-speech/{GEORGE}", studio.urls().elevenlabs_url))
        .header("xi-api-key", TTS_KEY)
        .json(&serde_json::json!({"text": "Hi", "model_id": "eleven_v3", "previous_text": "Before."}))
        .send()
        .await
        .expect("send");
    assert_eq!(raw.status(), 400);

    let stats = studio.stats();
    assert_eq!((stats.tts.requests, stats.tts.characters), (0, 0), "nothing refused is billed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spent_quota_answers_quota_exceeded() {
    let studio = studio(StudioConfig { tts_quota_chars: Some(30), ..speech_config() }).await;
    let client = client(&studio);
    client.speak(GEORGE, &SpeechRequest::v3("Twenty characters!!.")).await.expect("within the quota");
    let err = client.speak(GEORGE, &SpeechRequest::v3("Eleven more")).await.expect_err("over the quota");
    let ElevenLabsErrorKind::QuotaExceeded { message } = &err.kind else { panic!("{err}") };
    assert!(message.contains("quota of 30") && message.contains("10 credits remaining"), "{message}");
    assert!(!err.may_have_been_billed() && !err.is_retryable());
    let stats = studio.stats();
    assert_eq!((stats.tts.requests, stats.tts.characters, stats.tts.quota_exceeded), (1, 20, 1));
}

/// One long line holds the only slot: a second request is refused at once (429, unbilled); a
/// patient client retries until the slot frees and is voiced.
#[tokio::test(flavor = "multi_thread")]
async fn concurrency_past_the_limit_is_refused_at_once_and_retried() {
    let studio = studio(StudioConfig { tts_concurrency: Some(1), ..speech_config() }).await;
    // Words nobody voiced before, so the line keeps espeak-ng busy a while (one run a word).
    let syllables = ["ka", "lo", "mi", "ten", "ras", "pu", "dor", "vel"];
    let long: String = (0..160)
        .map(|i| format!("{}{}{} ", syllables[i % 8], syllables[(i / 8) % 8], syllables[i / 64]))
        .collect();
    let long_cost = long.chars().count() as u64;
    let holder = client(&studio);
    let holding = tokio::spawn(async move { holder.speak(GEORGE, &SpeechRequest::v3(long)).await });
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while studio.stats().tts.running == 0 {
        assert!(std::time::Instant::now() < deadline, "the long line never arrived");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let impatient = client_with(&studio, TTS_KEY, RetryPolicy::never());
    let err = impatient.speak(GEORGE, &SpeechRequest::v3("Me first?")).await.expect_err("the slot is taken");
    assert!(matches!(err.kind, ElevenLabsErrorKind::TooManyConcurrentRequests { .. }), "{err}");
    assert!(err.is_retryable() && !err.may_have_been_billed());

    // Patient enough for a loaded machine: 40 retries, backing off to a second.
    let patient = client_with(
        &studio,
        TTS_KEY,
        RetryPolicy {
            max_retries: 40,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(1),
        },
    );
    patient.speak(GEORGE, &SpeechRequest::v3("I can wait.")).await.expect("voiced once the slot frees");
    assert!(patient.retries() >= 1, "the patient client met the limit too");
    holding.await.expect("task").expect("the long line is voiced");

    let stats = studio.stats();
    assert!(stats.tts.concurrency_limited >= 2, "{:?}", stats.tts);
    assert_eq!((stats.tts.requests, stats.tts.characters), (2, long_cost + 11), "refusals are not billed");
}

/// A connection dropped after the line was voiced: the client reports an answer lost (never
/// resent), and the line is in the history with its audio. Dropped before routing: nothing was
/// voiced, and the history is empty.
#[tokio::test(flavor = "multi_thread")]
async fn an_answer_lost_after_voicing_is_found_in_the_history() {
    let faults = |after: f64| FaultConfig {
        drop_rate: 1.0,
        drop_after_share: after,
        only_paths_containing: Some("/v1/text-to-speech/".into()),
        ..FaultConfig::default()
    };
    let after = studio(StudioConfig { faults: faults(1.0), ..speech_config() }).await;
    let lost = client(&after);
    let line = "Was this voiced? Look in the history.";
    let err = lost.speak_with_timestamps(GEORGE, &SpeechRequest::v3(line)).await.expect_err("answer lost");
    assert!(matches!(err.kind, ElevenLabsErrorKind::AnswerLost { .. }), "{err}");
    assert!(err.may_have_been_billed());
    assert_eq!(err.retries, 0, "a billable call whose answer was lost is never resent");
    let stats = after.stats();
    assert_eq!((stats.tts.requests, stats.faults.answers_lost), (1, 1));
    let found = lost
        .find_in_history(GEORGE, Some("eleven_v3"), line, 0)
        .await
        .expect("history is not faulted")
        .expect("in the history");
    let audio = lost.history_audio(&found.history_item_id).await.expect("audio");
    assert!(decoded_seconds(&audio) > 1.0);

    let before = studio(StudioConfig { faults: faults(0.0), ..speech_config() }).await;
    let dropped = client(&before);
    let err = dropped.speak_with_timestamps(GEORGE, &SpeechRequest::v3(line)).await.expect_err("dropped");
    assert!(matches!(err.kind, ElevenLabsErrorKind::AnswerLost { .. }), "the client cannot tell: {err}");
    assert!(dropped.find_in_history(GEORGE, None, line, 0).await.expect("history").is_none());
    assert_eq!(before.stats().tts.requests, 0);
}

/// Forced alignment of the studio's own speech recovers the word times it was voiced with.
#[tokio::test(flavor = "multi_thread")]
async fn forced_alignment_finds_the_words_where_they_were_voiced() {
    let studio = studio(speech_config()).await;
    let client = client(&studio);
    let text = "Good evening. Tonight, three stories: the storm, the vote, and the match.";
    let spoken = client.speak_with_timestamps(GEORGE, &SpeechRequest::v3(text)).await.expect("speech");
    let aligned = client.forced_alignment(spoken.audio.clone(), text).await.expect("alignment");
    let words: Vec<&str> = aligned.words.iter().map(|w| w.text.as_str()).collect();
    assert_eq!(
        words,
        [
            "Good", "evening", "Tonight", "three", "stories", "the", "storm", "the", "vote", "and", "the",
            "match"
        ]
    );
    assert_eq!(aligned.characters.iter().map(|c| c.text.as_str()).collect::<String>(), text);
    for pair in aligned.words.windows(2) {
        assert!(pair[0].end <= pair[1].start + 1e-9 && pair[0].start <= pair[0].end, "{pair:?}");
    }
    // The truth: where each word's first letter was voiced.
    let truth: Vec<f64> = {
        let a = &spoken.alignment;
        let mut starts = Vec::new();
        let mut in_word = false;
        for (i, c) in a.characters.iter().enumerate() {
            let letter = c.chars().all(char::is_alphanumeric);
            if letter && !in_word {
                starts.push(a.character_start_times_seconds[i]);
            }
            in_word = letter;
        }
        starts
    };
    assert_eq!(truth.len(), aligned.words.len());
    let worst = aligned.words.iter().zip(&truth).map(|(w, t)| (w.start - t).abs()).fold(0.0, f64::max);
    assert!(worst < 0.15, "worst word start error {worst:.3} s: {:?} vs {truth:?}", aligned.words);
    assert!(aligned.loss < 0.5, "loss {}", aligned.loss);
    assert_eq!(studio.stats().tts.alignments, 1);
}

/// The kind of a refusal.
fn kind<T: std::fmt::Debug>(result: Result<T, episodic_elevenlabs::ElevenLabsError>) -> ElevenLabsErrorKind {
    result.expect_err("refused").kind
}

/// The studio's seeded faults hit ElevenLabs' routes too: injected 429s are retried (each line
/// voiced once), an injected 5xx on a line is not resent and may have been billed.
#[tokio::test(flavor = "multi_thread")]
async fn injected_faults_on_speech_are_retried_only_when_safe() {
    let on_speech = |rate_429: f64, rate_5xx: f64| FaultConfig {
        seed: 11,
        rate_429,
        rate_5xx,
        only_paths_containing: Some("/v1/text-to-speech/".into()),
        ..FaultConfig::default()
    };
    let limited = studio(StudioConfig { faults: on_speech(0.5, 0.0), ..speech_config() }).await;
    let patient = client_with(
        &limited,
        TTS_KEY,
        RetryPolicy {
            max_retries: 20,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
        },
    );
    for i in 0..4 {
        patient
            .speak(GEORGE, &SpeechRequest::v3(format!("Line {i}.")))
            .await
            .expect("voiced despite the 429s");
    }
    let stats = limited.stats();
    assert_eq!(stats.tts.requests, 4, "each line voiced once");
    assert!(stats.faults.rate_limited >= 1 && patient.retries() == stats.faults.rate_limited, "{stats:?}");

    let failing = studio(StudioConfig { faults: on_speech(0.0, 1.0), ..speech_config() }).await;
    let err = client(&failing).speak(GEORGE, &SpeechRequest::v3("Hello?")).await.expect_err("5xx");
    assert!(matches!(err.kind, ElevenLabsErrorKind::Server { .. }), "{err}");
    assert_eq!(err.retries, 0, "a line is never resent after a 5xx");
    assert!(err.may_have_been_billed());
    assert_eq!(failing.stats().faults.server_errors, 1);
}

/// Forced alignment refuses a form without a file, and a file that is not audio.
#[tokio::test(flavor = "multi_thread")]
async fn forced_alignment_refusals() {
    let studio = studio(speech_config()).await;
    let client = client(&studio);
    let k = kind(client.forced_alignment(bytes::Bytes::from_static(b"not audio at all"), "Hello").await);
    assert!(
        matches!(&k, ElevenLabsErrorKind::Refused { http_status: 400, status, .. } if status == "invalid_audio"),
        "{k:?}"
    );
    let raw = reqwest::Client::new()
        .post(format!("{}/v1/forced-alignment", studio.urls().elevenlabs_url))
        .header("xi-api-key", TTS_KEY)
        .header("content-type", "multipart/form-data; boundary=b")
        .body("--b\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nHello\r\n--b--\r\n")
        .send()
        .await
        .expect("send");
    assert_eq!(raw.status(), 422);
    let body: serde_json::Value = raw.json().await.expect("json");
    assert_eq!(body["detail"][0]["loc"], serde_json::json!(["body", "file"]));
    assert_eq!(studio.stats().tts.alignments, 0);
}
