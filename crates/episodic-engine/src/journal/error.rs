//! [`JournalError`]: everything that can go wrong opening or writing the state store.

use std::path::PathBuf;

use super::record::RunId;

/// An error from the journal. Messages name the file or the render involved and, where the user can
/// act, say what to do.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The state directory (or its `artifacts/`) could not be created or is not writable.
    #[error("cannot use the state directory {path}: {source}")]
    StateDir {
        /// The directory that could not be created or written.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },

    /// `state.sqlite` exists but is not a readable SQLite database.
    #[error(
        "corrupt {path}: it is not a SQLite database ({source}); move it aside to start fresh: \
         files in artifacts/ are kept, but renders still in flight in it cannot be re-attached"
    )]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },

    /// `state.sqlite` could not be opened or written (permissions, read-only file system).
    #[error("cannot write {path}: {source}")]
    Unwritable {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },

    /// The database was written by a newer episodic whose schema this build does not know.
    #[error(
        "{path} has schema version {found}, newer than this episodic knows ({known}); \
         upgrade episodic or use another state directory"
    )]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// The schema version found in the file.
        found: u32,
        /// The newest schema version this build can apply.
        known: u32,
    },

    /// Another process kept the database locked for longer than the busy timeout.
    #[error("the state store is locked by another episodic process (waited {waited_secs} s)")]
    Locked {
        /// How long we waited for the lock.
        waited_secs: u64,
    },

    /// The `--journal` URL could not be read as a PostgreSQL connection URL.
    #[error(
        "the journal URL is not a PostgreSQL URL ({reason}); expected postgres://user:password@host:port/database"
    )]
    PostgresUrl {
        /// What is wrong with it (never its password).
        reason: String,
    },

    /// The PostgreSQL journal could not be reached or refused a statement.
    #[error("journal database {database}: {source}")]
    Postgres {
        /// The database, as `postgres://user@host:port/database` (no password).
        database: String,
        /// What the client or the server said.
        source: postgres::Error,
    },

    /// Any other SQLite failure (disk full, I/O error, a bug in a statement).
    #[error("state store error: {0}")]
    Sqlite(#[source] rusqlite::Error),

    /// A render operation named a key the journal has no row for.
    #[error("render {key} is not in the journal")]
    UnknownRender {
        /// The render key.
        key: String,
    },

    /// A key already journaled with a different endpoint or arguments: keys hash both, so this is
    /// a bug in key computation, and submitting would pay for the wrong render.
    #[error("render {key} is journaled for a different endpoint or arguments; refusing to reuse it")]
    KeyMismatch {
        /// The render key.
        key: String,
    },

    /// The render is owned by another run; only the owner may move it on.
    #[error("render {key} is owned by run {owner}, not by run {caller}")]
    NotOwner {
        /// The render key.
        key: String,
        /// The run that owns the render.
        owner: RunId,
        /// The run that tried to change it.
        caller: RunId,
    },

    /// The operation does not apply to the render's current state.
    #[error("cannot {operation} render {key}: it is {state}")]
    WrongState {
        /// The render key.
        key: String,
        /// What was attempted, e.g. "mark submitted".
        operation: &'static str,
        /// The state the render is in.
        state: &'static str,
    },

    /// `mark_submitted` with a request id other than the one already recorded.
    #[error("render {key} already has request id {recorded}, not {given}")]
    ConflictingRequestId {
        /// The render key.
        key: String,
        /// The request id already journaled.
        recorded: String,
        /// The request id given now.
        given: String,
    },

    /// An owner's claim could be taken over only if its process were gone, and it is not.
    #[error("render {key} is being submitted by a live process (run {owner}); not taking it over")]
    OwnerAlive {
        /// The render key.
        key: String,
        /// The run holding the claim.
        owner: RunId,
    },

    /// A decision made on a snapshot was rolled back by the database (a serialization failure
    /// or deadlock on PostgreSQL) and is not remade on its own: nothing was changed.
    #[error("another process interfered with this journal decision; nothing was changed")]
    Interrupted,

    /// A row that the schema's checks should have prevented (edited by hand, or a bug).
    #[error("invalid journal row for {what}: {reason}")]
    InvalidRow {
        /// The key or id of the row.
        what: String,
        /// What is wrong with it.
        reason: String,
    },

    /// An artifact path that is absolute or leaves the state directory.
    #[error("artifact path {0:?} must be relative and stay inside the state directory")]
    ArtifactPath(PathBuf),

    /// A value the journal refuses to store (a size or cost above `i64::MAX`, negative or
    /// non-finite billed seconds).
    #[error("invalid {what}: {value}")]
    InvalidValue {
        /// The field.
        what: &'static str,
        /// Its value, as text.
        value: String,
    },
}

impl From<rusqlite::Error> for JournalError {
    fn from(error: rusqlite::Error) -> Self {
        match error.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                JournalError::Locked { waited_secs: super::store::BUSY_TIMEOUT.as_secs() }
            }
            _ => JournalError::Sqlite(error),
        }
    }
}
