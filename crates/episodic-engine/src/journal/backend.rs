//! The seam between the journal's rules and the database that keeps them: [`Backend`] (one per
//! open journal: SQLite in the state folder, or a shared PostgreSQL) and [`Tx`] (the row
//! operations of one transaction).
//!
//! Every rule (who may claim, what a dead owner's claim becomes, what counts against a budget) is
//! written once, in `store.rs`, `runs.rs`, `cache.rs`, `spend.rs` and `webhooks.rs`, against `Tx`;
//! a backend only reads and writes rows. A transaction holds the lock on every render row it
//! reads with `lock: true` until it ends (SQLite: `BEGIN IMMEDIATE` locks the whole database;
//! PostgreSQL: `SELECT ... FOR UPDATE`), so a decision and the write it leads to cannot be split
//! by another process. Each family of claims (renders, lines voiced by ElevenLabs) has its row
//! operations here and its rules in a module of its own (`store.rs`, `speech.rs`).

use std::fmt::Debug;

use super::error::JournalError;
use super::liveness::RunFacts;
use super::needs::{EpisodeNeeds, EpisodeRow, Need, Origin};
use super::record::{
    ArtifactRecord, Owner, Process, RenderRecord, RunId, RunRecord, UnixSeconds, UploadRecord,
};
use super::speech::SpeechRecord;
use super::webhooks::WebhookResult;

/// What a transaction may do, and how durably its commit is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxMode {
    /// Reads only: one consistent snapshot, no write lock.
    Read,
    /// Bookkeeping whose loss costs a re-upload or a re-download, never a render.
    Write,
    /// A render transition: on disk (SQLite `synchronous=FULL`; PostgreSQL's commit is always
    /// flushed) before the call returns.
    Durable,
}

/// Which unfinished renders a listing wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenderFilter {
    /// `Submitted` renders, oldest request first: the requests a new run re-attaches to.
    InFlight,
    /// `Submitting` or `Submitted` renders, oldest claim first: what recovery looks at.
    Unfinished,
}

/// A webhook delivery as stored: ok, the payload's JSON text, fal's error, when it arrived.
pub type StoredWebhook = (bool, String, Option<String>, UnixSeconds);

/// What a completed line cost and kept, as stored (every value checked to fit an `i64`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredSpeechCompletion {
    /// Characters billed.
    pub characters: i64,
    /// Credits ElevenLabs says it charged.
    pub credits: Option<i64>,
    /// Cost in micro-dollars.
    pub cost_micros: i64,
    /// Whether the alignment was kept.
    pub aligned: bool,
}

/// A database that holds a journal. `Send + Sync`: one per open journal, shared by the engine's
/// tasks.
pub trait Backend: Send + Sync + Debug {
    /// Where the journal lives, for messages: a file path, or a URL without its password.
    fn describe(&self) -> String;

    /// The schema version of the database.
    fn schema_version(&self) -> Result<u32, JournalError>;

    /// Runs `body` in one transaction and commits it, or rolls it back when `body` fails. A
    /// backend may run `body` again after a transient failure (a serialization failure, a
    /// connection lost before the commit), so `body` must only read and write through `tx`.
    fn transaction(
        &self,
        mode: TxMode,
        body: &mut (dyn FnMut(&mut dyn Tx) -> Result<(), JournalError> + Send),
    ) -> Result<(), JournalError>;
}

/// The row operations of one transaction. Every value is already checked by the caller (sizes
/// fit an `i64`, paths are relative); methods that change a row assume the caller read it with
/// `lock: true` in the same transaction.
pub trait Tx {
    /// The schema version of the database.
    fn schema_version(&mut self) -> Result<u32, JournalError>;

    // --- renders ---

    /// The render row of `key`; locked until the transaction ends when `lock`.
    fn render(&mut self, key: &str, lock: bool) -> Result<Option<RenderRecord>, JournalError>;
    /// The unfinished renders `filter` asks for.
    fn renders(&mut self, filter: RenderFilter) -> Result<Vec<RenderRecord>, JournalError>;
    /// Inserts a new `Submitting` row owned by `owner`; false when another transaction inserted
    /// the key first (then read it with `lock: true` and decide again).
    fn insert_claim(
        &mut self,
        key: &str,
        endpoint: &str,
        args: &str,
        owner: &Owner,
        now: UnixSeconds,
    ) -> Result<bool, JournalError>;
    /// Makes `owner` the holder of an unfinished render, keeping its state.
    fn set_owner(&mut self, key: &str, owner: &Owner, now: UnixSeconds) -> Result<(), JournalError>;
    /// Makes `owner` the submitter of an existing row again (`Submitting`, one more attempt),
    /// clearing what the earlier attempt left.
    fn reclaim(&mut self, key: &str, owner: &Owner, now: UnixSeconds) -> Result<(), JournalError>;
    /// `Submitting` → `Submitted` with fal's request id.
    fn set_submitted(&mut self, key: &str, request_id: &str, now: UnixSeconds) -> Result<(), JournalError>;
    /// `Submitted` → `Completed`, its cost counted for `run`.
    fn set_completed(
        &mut self,
        key: &str,
        result: &str,
        billed_seconds: f64,
        cost_micros: i64,
        run: RunId,
        now: UnixSeconds,
    ) -> Result<(), JournalError>;
    /// Any state → `Failed` with `error` (the request id, if any, is kept).
    fn set_failed(&mut self, key: &str, error: &str, now: UnixSeconds) -> Result<(), JournalError>;
    /// Removes a render's row (a claim given back).
    fn delete_render(&mut self, key: &str) -> Result<(), JournalError>;
    /// What the `runs` table says about a run, for liveness.
    fn run_facts(&mut self, run: RunId) -> Result<Option<RunFacts>, JournalError>;

    // --- runs ---

    /// Inserts a run; `batch` names the set of renders it was given (see `spend.rs`).
    fn insert_run(
        &mut self,
        process: &Process,
        manifests_json: &str,
        batch: Option<&str>,
        now: UnixSeconds,
    ) -> Result<RunId, JournalError>;
    /// Moves a run's heartbeat forward (never back).
    fn heartbeat(&mut self, run: RunId, now: UnixSeconds) -> Result<(), JournalError>;
    /// Records how an unfinished run ended; false when it had finished already or is unknown.
    fn finish_run(&mut self, run: RunId, outcome: &str, now: UnixSeconds) -> Result<bool, JournalError>;
    /// The run with this id.
    fn run(&mut self, run: RunId) -> Result<Option<RunRecord>, JournalError>;
    /// The micro-dollars billed for renders completed by `run`.
    fn spent_by_run(&mut self, run: RunId) -> Result<i64, JournalError>;
    /// The micro-dollars billed for renders completed at or after `since`.
    fn spent_since(&mut self, since: UnixSeconds) -> Result<i64, JournalError>;

    // --- fleet-wide spending ---

    /// The budget session a run belongs to (its own id when it started one).
    fn session_of(&mut self, run: RunId) -> Result<Option<RunId>, JournalError>;
    /// Sets the session of a run (done once, right after it starts).
    fn set_session(&mut self, run: RunId, session: RunId) -> Result<(), JournalError>;
    /// Unfinished runs of `batch` other than `except`, with their owner, session and liveness
    /// facts.
    fn open_runs_of_batch(
        &mut self,
        batch: &str,
        except: RunId,
    ) -> Result<Vec<(Owner, RunId, RunFacts)>, JournalError>;
    /// Locks the session's row (its first run) until the transaction ends, so reservations
    /// against one budget are made one at a time across machines.
    fn lock_session(&mut self, session: RunId) -> Result<(), JournalError>;
    /// What the session has committed: the cost of renders completed by its runs, plus the
    /// reserved estimate of renders its runs hold unfinished, leaving out `except_key`.
    fn session_committed(&mut self, session: RunId, except_key: &str) -> Result<i64, JournalError>;
    /// Reserves `micros` for a claimed render (its estimate, counted until it completes).
    fn set_reserved(&mut self, key: &str, micros: i64) -> Result<(), JournalError>;
    /// Records that fal refused a submit for lack of credit.
    fn insert_breaker_trip(&mut self, run: RunId, reason: &str, now: UnixSeconds)
    -> Result<(), JournalError>;
    /// The latest out-of-credit trip at or after `since`: when, and by which run.
    fn breaker_trip_since(
        &mut self,
        since: UnixSeconds,
    ) -> Result<Option<(UnixSeconds, RunId)>, JournalError>;

    // --- uploads and artifacts ---

    /// The upload of `sha256` whose URL is valid past `valid_after` (or has no known expiry).
    fn upload(
        &mut self,
        sha256: &str,
        valid_after: UnixSeconds,
    ) -> Result<Option<UploadRecord>, JournalError>;
    /// Inserts or replaces an upload.
    fn put_upload(&mut self, upload: &UploadRecord, size: i64) -> Result<(), JournalError>;
    /// The artifact of a node key.
    fn artifact(&mut self, key: &str) -> Result<Option<ArtifactRecord>, JournalError>;
    /// Inserts or replaces an artifact (`path`: relative, `/`-separated).
    fn put_artifact(&mut self, artifact: &ArtifactRecord, path: &str, size: i64) -> Result<(), JournalError>;

    // --- webhooks ---

    /// Inserts a delivery; false when the request's outcome was known already.
    fn insert_webhook(&mut self, result: &WebhookResult, payload: &str) -> Result<bool, JournalError>;
    /// The delivered outcome of a request: ok, payload JSON text, error, received at.
    fn webhook(&mut self, request_id: &str) -> Result<Option<StoredWebhook>, JournalError>;

    // --- lines voiced by ElevenLabs (speech.rs) ---

    /// The line of `key`; locked until the transaction ends when `lock`.
    fn speech(&mut self, key: &str, lock: bool) -> Result<Option<SpeechRecord>, JournalError>;
    /// Inserts a new `Voicing` row owned by `owner`; false when another transaction inserted the
    /// key first (then read it with `lock: true` and decide again).
    #[allow(clippy::too_many_arguments)]
    fn insert_speech_claim(
        &mut self,
        key: &str,
        voice_id: &str,
        model_id: &str,
        request: &str,
        owner: &Owner,
        now: UnixSeconds,
    ) -> Result<bool, JournalError>;
    /// Makes `owner` the holder of an unfinished line, keeping its state.
    fn set_speech_owner(&mut self, key: &str, owner: &Owner, now: UnixSeconds) -> Result<(), JournalError>;
    /// Makes `owner` the voicer of an existing line again (`Voicing`, one more attempt), clearing
    /// what the earlier attempt left.
    fn reclaim_speech(&mut self, key: &str, owner: &Owner, now: UnixSeconds) -> Result<(), JournalError>;
    /// → `Answered` with ElevenLabs' history item, held by `owner`.
    fn set_speech_answered(
        &mut self,
        key: &str,
        history_item_id: &str,
        request_id: Option<&str>,
        owner: &Owner,
        now: UnixSeconds,
    ) -> Result<(), JournalError>;
    /// → `Completed`, its cost counted for `run`.
    fn set_speech_completed(
        &mut self,
        key: &str,
        completion: &StoredSpeechCompletion,
        run: RunId,
        now: UnixSeconds,
    ) -> Result<(), JournalError>;
    /// → `Failed` with `error`.
    fn set_speech_failed(&mut self, key: &str, error: &str, now: UnixSeconds) -> Result<(), JournalError>;
    /// Removes a line's row (a claim given back).
    fn delete_speech(&mut self, key: &str) -> Result<(), JournalError>;
    /// Whether a line other than `key` holds this history item.
    fn history_item_taken(&mut self, history_item_id: &str, key: &str) -> Result<bool, JournalError>;
    /// Reserves `micros` for a claimed line (its estimate, counted until it completes).
    fn set_speech_reserved(&mut self, key: &str, micros: i64) -> Result<(), JournalError>;

    // --- what episodes need (needs.rs) ---

    /// Replaces what `needs.output` needs by `needs` and records each key's origin (an origin
    /// already recorded stays: a key hashes what made it).
    fn replace_needs(
        &mut self,
        needs: &EpisodeNeeds,
        run: RunId,
        now: UnixSeconds,
    ) -> Result<(), JournalError>;
    /// Takes the lock that orders `replace_needs` against a decision made on a snapshot: held
    /// until the transaction ends, it makes every `replace_needs` wait (SQLite: `BEGIN IMMEDIATE`
    /// holds it already).
    fn lock_needs(&mut self) -> Result<(), JournalError>;
    /// Every artifact, oldest first.
    fn all_artifacts(&mut self) -> Result<Vec<ArtifactRecord>, JournalError>;
    /// Every upload, oldest first.
    fn all_uploads(&mut self) -> Result<Vec<UploadRecord>, JournalError>;
    /// Every journaled episode, oldest plan first.
    fn episodes(&mut self) -> Result<Vec<EpisodeRow>, JournalError>;
    /// Every (key, node that needs it), in episode and node order.
    fn needs(&mut self) -> Result<Vec<(String, Need)>, JournalError>;
    /// What made each key a run recorded.
    fn origins(&mut self) -> Result<Vec<(String, Origin)>, JournalError>;
    /// Every completed render: key, cost in micro-dollars, completed at.
    fn payments(&mut self) -> Result<Vec<(String, i64, UnixSeconds)>, JournalError>;
    /// Removes the artifact of `key` if it still names `path`; whether it did.
    fn delete_artifact_at(&mut self, key: &str, path: &str) -> Result<bool, JournalError>;

    // --- node parts and plan's questions (parts.rs) ---

    /// Records the parts a node was made with, replacing the last ones.
    fn put_parts(
        &mut self,
        episode: &str,
        node: &str,
        key: &str,
        parts: &str,
        now: UnixSeconds,
    ) -> Result<(), JournalError>;
    /// The key and parts a node was last made with; `None` too when the database predates them
    /// (a read-only opening of an older journal).
    fn parts(&mut self, episode: &str, node: &str) -> Result<Option<(String, String)>, JournalError>;
    /// Seconds from a completed render's claim to its result.
    fn render_seconds(&mut self, key: &str) -> Result<Option<i64>, JournalError>;
    /// Whether an upload of this file was ever recorded, expired or not.
    fn ever_uploaded(&mut self, sha256: &str) -> Result<bool, JournalError>;
}
