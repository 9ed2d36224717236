//! The render engine of episodic: it runs a plan's DAG against fal (or the local studio) and keeps
//! the durable record that makes every run resumable.
//!
//! [`Engine::run`] schedules the DAGs of one or more plans (a node starts as soon as its inputs
//! are done, under separate limits for renders, transfers and ffmpeg), executes each node, and
//! reports [`Event`]s through a callback. The [`journal`] is the state store: a crash, Ctrl-C or
//! rerun resumes from it and re-attaches to requests already submitted; an unchanged manifest run
//! again submits nothing and uploads nothing.
//!
//! What it must not do:
//! - pay twice: no render is submitted (and no line voiced) without a claim journaled first, and
//!   a request id (a history item id) is journaled durably before anything else happens; a claim whose fate is unknown is reported,
//!   never silently resubmitted;
//! - print or log: it returns values, typed errors and (later) events; the CLI renders them;
//! - store or reveal credentials: the fal key never reaches the journal;
//! - exit the process or panic on bad state: a corrupt or unwritable state directory is an error
//!   that names the file and says what to do;
//! - depend on the CLI or the studio (it talks to any fal-compatible URL).

mod assess;
mod config;
pub mod disk;
mod dispatcher;
mod engine;
mod error;
mod events;
mod executor;
mod gate;
pub mod journal;
mod report;
mod stop;
pub mod store;

pub use assess::assess;
pub use config::EngineConfig;
pub use dispatcher::Failure;
pub use engine::{Engine, EpisodeOutcome, RunSummary};
pub use error::NodeError;
pub use events::{Event, EventKind, FallbackReason, HistoryWait, StopReason};
pub use executor::speech::api::{
    Alignment, HistoryItem, SpeechApi, SpeechError, SpeechFuture, SpeechRequest, Spoken,
};
pub use journal::{Journal, JournalError};
pub use report::{NodeReport, REPORT_SCHEMA_VERSION, Report};
pub use stop::{Stop, StopCause};

/// Why a run could not be carried out at all (node failures are reported per node instead).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The journal could not be used.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The journal has no state folder (an in-memory journal cannot hold artifacts).
    #[error("the engine needs a journal with a state folder")]
    NoStateDir,
    /// The plans voice lines and the engine was given no ElevenLabs client.
    #[error(
        "{lines} line(s) of the episode must be voiced by ElevenLabs, and no ElevenLabs client is configured"
    )]
    NoSpeechApi {
        /// Lines not voiced yet.
        lines: usize,
    },
    /// A node's task panicked or was aborted.
    #[error("a node's task failed: {0}")]
    Task(String),
}
