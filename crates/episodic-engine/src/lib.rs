//! The render engine of episodic: it runs a plan's DAG against fal (or the local studio) and keeps
//! the durable record that makes every run resumable.
//!
//! Built so far: the [`journal`], the state store. A crash, Ctrl-C or rerun resumes from it and
//! re-attaches to requests already submitted; an unchanged manifest run again submits nothing and
//! uploads nothing. The scheduler, executors and events come with the next issues.
//!
//! What it must not do:
//! - pay twice: no render is submitted without a claim journaled first, and a request id is
//!   journaled durably before anything else happens; a claim whose fate is unknown is reported,
//!   never silently resubmitted;
//! - print or log: it returns values, typed errors and (later) events; the CLI renders them;
//! - store or reveal credentials: the fal key never reaches the journal;
//! - exit the process or panic on bad state: a corrupt or unwritable state directory is an error
//!   that names the file and says what to do;
//! - depend on the CLI or the studio (it talks to any fal-compatible URL).

pub mod journal;

pub use journal::{Journal, JournalError};
