//! The journal: episodic's durable state store. By default one SQLite database (`state.sqlite`,
//! WAL mode) in the state directory; with `--journal postgres://...`, a PostgreSQL database shared
//! by several machines. Artifacts live in the state directory's `artifacts/` either way.
//!
//! It exists so that episodic never pays twice for a render. The engine follows one discipline:
//!
//! 1. [`Journal::claim_render`] before the POST: the render is `Submitting`, owned by this run.
//!    The [`Claim`] answer says whether to submit at all (a completed render is reused, a submitted
//!    one re-attached, one owned by a live process left alone, an abandoned claim reported).
//! 2. [`Journal::reserve_spend`] just before the POST: the spend breaker and the budget, shared by
//!    every run of the batch on every machine.
//! 3. [`Journal::mark_submitted`] the moment fal answers with a request id (durable).
//! 4. [`Journal::mark_completed`] with the result and cost (or [`Journal::mark_failed`]).
//!
//! On start, [`recover::plan`] says what to do with renders earlier runs left unfinished.
//!
//! Several processes may share a journal: each opens its own [`Journal`], and every decision is
//! one transaction that locks the rows it decides on, so a key is claimed by one process only.
//! The journal stores no credentials (a schema test checks the column names).
//!
//! Modules: [`record`] (the types), `store` (the [`Journal`] handle, the render lifecycle),
//! `backend` (the seam: `Backend` and `Tx`), `sqlite` and `postgres` (the
//! two backends), `cache` (uploads and artifacts), `runs`, `spend` (budgets and the breaker
//! across machines), [`recover`] (the restore policy), `liveness` (is an owner alive?), `migrate`
//! (SQLite's embedded migrations), `webhooks` (outcomes delivered by fal), `needs` (what each
//! journaled episode needs, for `cache ls` and `cache gc`), `speech` (lines voiced by ElevenLabs,
//! claimed and journaled like renders), `parts` (each node's inputs by name, for `plan`, and the
//! read-only opening), [`error`].

mod backend;
mod cache;
pub mod error;
mod liveness;
mod migrate;
mod needs;
mod parts;
mod postgres;
pub mod record;
pub mod recover;
mod runs;
mod speech;
mod spend;
mod sqlite;
mod store;
mod webhooks;

pub use cache::UPLOAD_EXPIRY_MARGIN_SECS;
pub use error::JournalError;
pub use liveness::DEFAULT_STALE_AFTER;
pub use migrate::SCHEMA_VERSION;
pub use needs::{CacheSnapshot, EpisodeNeeds, EpisodeRow, Need, NeededNode, Origin, Payment};
pub use postgres::POSTGRES_SCHEMA_VERSION;
pub use record::{
    ArtifactRecord, Claim, Owner, Process, RenderRecord, RenderState, RunId, RunOutcome, RunRecord,
    UnixSeconds, UploadRecord, now,
};
pub use recover::{Recovery, RecoveryAction};
pub use speech::{SpeechClaim, SpeechCompletion, SpeechRecord, SpeechState};
pub use spend::SpendDecision;
pub use store::{ARTIFACTS_DIR, BUSY_TIMEOUT, DATABASE_FILE, Journal};
pub use webhooks::WebhookResult;
