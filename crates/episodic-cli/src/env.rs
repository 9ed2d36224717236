//! Every environment variable episodic reads, in one place.

/// A price file overriding catalog prices (same as `--prices`).
pub const EPISODIC_PRICES: &str = "EPISODIC_PRICES";
/// The ffprobe to use instead of the one on PATH.
pub const EPISODIC_FFPROBE: &str = "EPISODIC_FFPROBE";
/// The ffmpeg to use instead of the one on PATH.
pub const EPISODIC_FFMPEG: &str = "EPISODIC_FFMPEG";
/// The state folder (same as `--state-dir`).
pub const EPISODIC_STATE_DIR: &str = "EPISODIC_STATE_DIR";
/// Disables colour in diagnostics when set (https://no-color.org).
pub const NO_COLOR: &str = "NO_COLOR";

/// The value of a variable, when set and not empty.
pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}
