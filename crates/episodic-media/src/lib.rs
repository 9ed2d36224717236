//! Media for episodic: find ffprobe and ffmpeg, probe files, and tell what a file really is.
//!
//! Every fact about a media file that episodic acts on comes from here. This crate depends on no
//! other episodic crate and never prints; callers turn [`MediaError`] into diagnostics.

mod error;
mod probe;
mod sniff;
mod tool;

pub use error::MediaError;
pub use probe::{MediaInfo, Probe, StreamInfo, StreamKind};
pub use sniff::{FileKind, sniff, sniff_file};
pub use tool::{Tool, locate};
