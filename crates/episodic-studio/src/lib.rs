//! The local studio: an HTTP server on loopback that speaks fal's queue, storage and webhook
//! protocol, and renders real placeholder media with ffmpeg; on the same port it speaks
//! ElevenLabs' text-to-speech protocol, voicing lines with espeak-ng.
//!
//! It is the default backend for demos and tests, the target of every end-to-end test, and the
//! fault injector for reliability tests. It follows `fal-protocol.md` to the field, shares its
//! wire types with the client (`episodic_fal::wire`), validates inputs as fal does, simulates
//! queueing and latency, and counts everything a real account would be billed for at
//! `GET /_studio/stats`.
//!
//! What it must not do: share shortcuts with the render engine (it knows nothing of plans or
//! journals; a client reaches it only over HTTP), print (callers get [`StudioUrls`] and report),
//! or listen anywhere but loopback.

mod auth;
mod config;
mod faults;
mod jobs;
mod queue_routes;
mod render;
mod server;
mod speech;
mod stats;
mod storage;
mod validate;
mod webhook;

pub use config::{FaultConfig, FiveXxStyle, StudioConfig};
pub use server::{Studio, StudioError, StudioUrls};
pub use speech::catalog::{STUDIO_VOICES, StudioVoice};
pub use stats::{StatsSnapshot, TtsStats};
