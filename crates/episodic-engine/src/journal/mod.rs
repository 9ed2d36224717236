//! The journal: episodic's durable state store, one SQLite database (`state.sqlite`, WAL mode) and
//! an `artifacts/` directory inside the state directory (`.episodic/` by default).
//!
//! It exists so that episodic never pays twice for a render. The engine follows one discipline:
//!
//! 1. [`Journal::claim_render`] before the POST: the render is `Submitting`, owned by this run.
//!    The [`Claim`] answer says whether to submit at all (a completed render is reused, a submitted
//!    one re-attached, one owned by a live process left alone, an abandoned claim reported).
//! 2. [`Journal::mark_submitted`] the moment fal answers with a request id (fsynced).
//! 3. [`Journal::mark_completed`] with the result and cost (or [`Journal::mark_failed`]).
//!
//! On start, [`recover::plan`] says what to do with renders earlier runs left unfinished.
//!
//! Several processes may share a state directory: each opens its own [`Journal`], and every
//! decision is one `BEGIN IMMEDIATE` transaction, so a key is claimed by one process only. The
//! journal stores no credentials (a schema test checks the column names).
//!
//! Modules: [`record`] (the types), `store` (opening, the render lifecycle), `cache` (uploads
//! and artifacts), `runs`, [`recover`] (the restore policy), `liveness` (is an owner alive?),
//! `migrate` (embedded SQL migrations), `webhooks` (outcomes delivered by fal), `needs` (what each
//! journaled episode needs, for `cache ls` and `cache gc`), `speech` (lines voiced by ElevenLabs,
//! claimed and journaled like renders), [`error`].

mod cache;
pub mod error;
mod liveness;
mod migrate;
mod needs;
mod parts;
pub mod record;
pub mod recover;
mod runs;
mod speech;
mod store;
mod webhooks;

pub use cache::UPLOAD_EXPIRY_MARGIN_SECS;
pub use error::JournalError;
pub use liveness::DEFAULT_STALE_AFTER;
pub use migrate::SCHEMA_VERSION;
pub use needs::{CacheSnapshot, EpisodeNeeds, EpisodeRow, Need, NeededNode, Origin, Payment};
pub use record::{
    ArtifactRecord, Claim, Owner, Process, RenderRecord, RenderState, RunId, RunOutcome, RunRecord,
    UnixSeconds, UploadRecord, now,
};
pub use recover::{Recovery, RecoveryAction};
pub use speech::{SpeechClaim, SpeechCompletion, SpeechRecord, SpeechState};
pub use store::{ARTIFACTS_DIR, BUSY_TIMEOUT, DATABASE_FILE, Journal};
pub use webhooks::WebhookResult;
