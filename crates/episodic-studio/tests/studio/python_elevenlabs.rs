//! Interop: the official Python `elevenlabs` SDK, from PyPI, pointed at the studio with
//! `base_url` and nothing else changed, voices a line with timestamps and without, reads the
//! history and its audio, lists the models, aligns text to audio, and sees a refusal as
//! ElevenLabs sends it. If our server and the reference client disagree anywhere on the wire,
//! this fails.

use crate::speech::speech_config;
use crate::support::studio;
use episodic_studio::StudioConfig;
use std::path::{Path, PathBuf};
use tokio::process::Command;

/// The SDK release this test was written against.
const ELEVENLABS_SDK: &str = "elevenlabs==2.78.0";

const KEY: &str = "sk_python_sdk_test";

const SCRIPT: &str = r#"
import base64, json, os, sys
from elevenlabs import VoiceSettings
from elevenlabs.client import ElevenLabs
from elevenlabs.core.api_error import ApiError

client = ElevenLabs(api_key=os.environ["STUDIO_KEY"], base_url=os.environ["STUDIO_URL"])
voice = "JBFqnCBsd6RMkjVDRZzb"
text = "[whispers] Hello from the studio, in the official client's own words."

timed = client.text_to_speech.convert_with_timestamps(
    voice_id=voice,
    text=text,
    model_id="eleven_v3",
    output_format="mp3_44100_128",
    enable_logging=True,
    voice_settings=VoiceSettings(stability=0.5),
    seed=7,
)
audio = base64.b64decode(timed.audio_base_64)
with open(sys.argv[1], "wb") as out:
    out.write(audio)
assert "".join(timed.alignment.characters) == text, timed.alignment.characters
ends = timed.alignment.character_end_times_seconds

plain = b"".join(client.text_to_speech.convert(
    voice_id=voice, text="Plain audio, raw samples.", model_id="eleven_v3", output_format="pcm_24000",
))

page = client.history.list(page_size=10, voice_id=voice)
newest = page.history[0]
kept = b"".join(client.history.get_audio(newest.history_item_id))

models = client.models.list()

with open(sys.argv[1], "rb") as audio_file:
    aligned = client.forced_alignment.create(file=audio_file, text=text)

try:
    client.text_to_speech.convert_with_timestamps(voice_id="no-such-voice", text="Hi", model_id="eleven_v3")
    refusal = None
except ApiError as error:
    refusal = {"status_code": error.status_code, "status": error.body["detail"]["status"]}

print(json.dumps({
    "audio_bytes": len(audio),
    "last_end": ends[-1],
    "plain_bytes": len(plain),
    "history": [item.text for item in page.history],
    "history_cost": newest.character_count_change_to - newest.character_count_change_from,
    "history_audio_bytes": len(kept),
    "models": [m.model_id for m in models],
    "v3_limit": next(m.maximum_text_length_per_request for m in models if m.model_id == "eleven_v3"),
    "aligned_words": [w.text for w in aligned.words],
    "aligned_text": "".join(c.text for c in aligned.characters),
    "refusal": refusal,
}))
"#;

/// A venv with the SDK, made once per target directory.
async fn venv() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("elevenlabs-venv");
    let python = dir.join("bin/python");
    let ready = dir.join(".installed");
    if std::fs::read_to_string(&ready).ok().as_deref() != Some(ELEVENLABS_SDK) {
        let made =
            Command::new("python3").args(["-m", "venv"]).arg(&dir).status().await.expect("python3 -m venv");
        assert!(made.success(), "could not create a venv");
        let installed = Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", ELEVENLABS_SDK])
            .status()
            .await
            .expect("pip");
        assert!(installed.success(), "pip install {ELEVENLABS_SDK} failed");
        std::fs::write(&ready, ELEVENLABS_SDK).expect("marker");
    }
    python
}

#[tokio::test(flavor = "multi_thread")]
async fn official_elevenlabs_sdk_speaks_with_the_studio() {
    let python = venv().await;
    let studio = studio(StudioConfig { elevenlabs_key: Some(KEY.into()), ..speech_config() }).await;
    let dir = tempfile::tempdir().expect("temp");
    let output = Command::new(&python)
        .arg("-c")
        .arg(SCRIPT)
        .arg(dir.path().join("line.mp3"))
        .env("STUDIO_URL", &studio.urls().elevenlabs_url)
        .env("STUDIO_KEY", KEY)
        .output()
        .await
        .expect("run python");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "python failed:\n{stdout}\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).expect("the script's JSON");

    let text = "[whispers] Hello from the studio, in the official client's own words.";
    assert!(report["audio_bytes"].as_u64().expect("bytes") > 10_000, "{report}");
    assert!(report["last_end"].as_f64().expect("end") > 1.0, "{report}");
    assert!(report["plain_bytes"].as_u64().expect("bytes") > 24_000, "{report}");
    assert_eq!(report["history"][0], "Plain audio, raw samples.", "newest first: {report}");
    assert_eq!(report["history"][1], text, "{report}");
    assert_eq!(report["history_cost"], 25, "{report}");
    assert_eq!(report["history_audio_bytes"], report["plain_bytes"], "{report}");
    assert!(report["models"].as_array().expect("models").iter().any(|m| m == "eleven_v3"), "{report}");
    assert_eq!(report["v3_limit"], 5_000);
    assert_eq!(report["aligned_text"], text, "{report}");
    assert_eq!(report["aligned_words"][0], "Hello", "{report}");
    assert_eq!(report["refusal"], serde_json::json!({"status_code": 404, "status": "voice_not_found"}));

    let stats = studio.stats();
    assert_eq!(stats.tts.requests, 2, "{stats:?}");
    assert_eq!(stats.tts.characters, text.chars().count() as u64 + 25);
    assert_eq!(stats.tts.alignments, 1);
}
