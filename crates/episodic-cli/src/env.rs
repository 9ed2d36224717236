//! Every environment variable episodic reads, in one place.

use episodic_elevenlabs::{ElevenLabsConfig, ElevenLabsKey};

/// A price file overriding catalog prices (same as `--prices`).
pub const EPISODIC_PRICES: &str = "EPISODIC_PRICES";
/// The ffprobe to use instead of the one on PATH.
pub const EPISODIC_FFPROBE: &str = "EPISODIC_FFPROBE";
/// The ffmpeg to use instead of the one on PATH.
pub const EPISODIC_FFMPEG: &str = "EPISODIC_FFMPEG";
/// `ffprobe` makes every probe ask ffprobe instead of reading WAV, MP3, PNG, JPEG, WebP and
/// MP4/QuickTime headers natively (which give the same answers, without ffprobe's ~0.1 s start-up).
pub const EPISODIC_PROBE: &str = "EPISODIC_PROBE";
/// The shared artifact store (same as `render --artifacts`): `s3://bucket/prefix` or a folder.
pub const EPISODIC_ARTIFACTS_URL: &str = "EPISODIC_ARTIFACTS_URL";
/// This pod's index in a Kubernetes Indexed Job: the shard of `render --shard-count N`.
pub const JOB_COMPLETION_INDEX: &str = "JOB_COMPLETION_INDEX";
/// The state folder (same as `--state-dir`).
pub const EPISODIC_STATE_DIR: &str = "EPISODIC_STATE_DIR";
/// A shared PostgreSQL journal (same as `--journal`); holds a password, so it is never printed.
pub const EPISODIC_JOURNAL_URL: &str = "EPISODIC_JOURNAL_URL";
/// Where episodic keeps what it learned about files (default: `$XDG_CACHE_HOME/episodic`, else
/// `~/.cache/episodic`); `off` keeps nothing between runs.
pub const EPISODIC_CACHE_DIR: &str = "EPISODIC_CACHE_DIR";
/// The ElevenLabs API key that voices lines with the fal backend; never printed, logged or
/// stored (the local backend voices on its studio without one).
pub const ELEVENLABS_API_KEY: &str = episodic_elevenlabs::key::ELEVENLABS_API_KEY;
/// Where the ElevenLabs client sends its requests instead of ElevenLabs (a studio, a proxy).
pub const EPISODIC_ELEVENLABS_URL: &str = episodic_elevenlabs::config::ENV_ELEVENLABS_URL;
/// Disables colour in diagnostics when set (https://no-color.org).
pub const NO_COLOR: &str = "NO_COLOR";

/// The value of a variable, when set and not empty.
pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// ElevenLabs as this environment configures it: the base URL (`EPISODIC_ELEVENLABS_URL`) and
/// the key (`ELEVENLABS_API_KEY`), when set; `None` when neither is (nothing to voice lines with).
/// The key is checked, never shown: errors name the variable, not its value.
pub fn elevenlabs() -> Result<Option<(ElevenLabsConfig, Option<ElevenLabsKey>)>, String> {
    let key = ElevenLabsKey::from_lookup(var).map_err(|err| err.to_string())?;
    if key.is_none() && var(EPISODIC_ELEVENLABS_URL).is_none() {
        return Ok(None);
    }
    let config = ElevenLabsConfig::from_lookup(var).map_err(|err| err.to_string())?;
    Ok(Some((config, key)))
}

/// The file of probed facts that `validate`, `plan` and `render` share, if there is a place for it.
pub fn facts_file() -> Option<std::path::PathBuf> {
    Some(cache_dir()?.join("facts-v1.json"))
}

/// Where pieces of long lines are cut to: the user cache's `pieces` folder, or (with the cache
/// off) a folder in the system's temporary directory, since a split line needs its pieces anyway.
pub fn pieces_dir() -> std::path::PathBuf {
    match cache_dir() {
        Some(dir) => dir.join("pieces"),
        None => std::env::temp_dir().join("episodic-pieces"),
    }
}

/// The user cache folder: `EPISODIC_CACHE_DIR`, else `$XDG_CACHE_HOME/episodic`, else
/// `~/.cache/episodic`; `None` when `EPISODIC_CACHE_DIR=off` or no home is known.
fn cache_dir() -> Option<std::path::PathBuf> {
    let dir = match var(EPISODIC_CACHE_DIR) {
        Some(dir) if dir == "off" => return None,
        Some(dir) => std::path::PathBuf::from(dir),
        None => match var("XDG_CACHE_HOME") {
            Some(cache) => std::path::PathBuf::from(cache).join("episodic"),
            None => std::path::PathBuf::from(var("HOME")?).join(".cache").join("episodic"),
        },
    };
    Some(dir)
}
