//! Media for episodic: find ffprobe and ffmpeg, probe files, tell what a file really is, and make the
//! clips, segments, episodes and thumbnails the pipeline needs with ffmpeg.
//!
//! Every fact about a media file that episodic acts on comes from here, and every ffmpeg run goes through
//! [`Ffmpeg`]. This crate depends on no other episodic crate and never prints; callers turn
//! [`MediaError`] into diagnostics.

mod audio;
pub mod captions;
mod compare;
mod compose;
mod concat;
mod encode;
mod error;
mod facts;
mod ffmpeg;
mod filter;
mod font;
mod header;
mod join;
mod mp4_join;
mod output;
pub mod placeholder;
mod probe;
mod silence;
mod sniff;
mod thumbnail;
mod tool;

pub use audio::{AudioPart, episode_audio};
pub use compare::{Grid, Labelled, compare_grid};
pub use compose::{
    BurnIn, ComposeExtras, ComposeJob, Composition, Fill, Layout, Seat, compose, compose_batch, compose_with,
    compose_with_thumbnail,
};
pub use concat::{JoinedBy, concat, reencode_concat};
pub use encode::{EncodeSettings, VIDEO_TIMESCALE};
pub use error::MediaError;
pub use facts::FactStore;
pub use ffmpeg::Ffmpeg;
pub use font::find_font;
pub use join::{JoinPiece, join_pieces};
pub use probe::{MediaInfo, Probe, StreamInfo, StreamKind};
pub use silence::{
    DecodedSpeech, Silence, SilenceRule, cut_point, decode_with_silences, silences, trim_audio,
    write_wav_piece,
};
pub use sniff::{FileKind, sniff, sniff_file};
pub use thumbnail::{contact_sheet, sheet_size, thumbnail};
pub use tool::{Tool, locate};
