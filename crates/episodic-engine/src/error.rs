//! Why a node or a run failed, in words a producer can act on.

/// A node that could not finish.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// fal (or the studio) refused or failed.
    #[error("{0}")]
    Fal(#[from] episodic_fal::FalError),
    /// The journal could not be read or written.
    #[error("{0}")]
    Journal(#[from] crate::journal::JournalError),
    /// ffmpeg or ffprobe failed.
    #[error("{0}")]
    Media(#[from] episodic_media::MediaError),
    /// A file could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The render finished with an error at fal; it is journaled as failed.
    #[error(
        "fal rendered {node} with an error: {message}; rerun with --retry-failed to try it again (it will be billed again)"
    )]
    RenderFailed {
        /// The node.
        node: String,
        /// fal's message.
        message: String,
    },
    /// An earlier run's render failed and the user did not ask to retry it.
    #[error("this render failed in an earlier run ({message}); rerun with --retry-failed to try it again")]
    FailedEarlier {
        /// The earlier error.
        message: String,
    },
    /// A crashed run may or may not have submitted this render.
    #[error(
        "a run that died ({owner}) was submitting this render and fal's request history does not show it (yet): {when}; or check fal's history yourself and rerun with --resubmit-ambiguous"
    )]
    Ambiguous {
        /// The dead owner.
        owner: String,
        /// When a rerun will resolve it by itself.
        when: String,
    },
    /// Submitting would cross the budget.
    #[error(
        "submitting this render ({estimate}) would take the run past its budget of {cap} ({spent} spent so far); raise --max-cost or budget_usd"
    )]
    OverBudget {
        /// This render's estimate.
        estimate: String,
        /// What was spent.
        spent: String,
        /// The cap.
        cap: String,
    },
    /// An input changed since it was planned.
    #[error(
        "`{path}` changed since the plan was made (its content hash differs); run again to plan with the new file"
    )]
    InputChanged {
        /// The file.
        path: String,
    },
    /// fal answered something the engine cannot use.
    #[error("{0}")]
    Unexpected(String),
    /// The run was interrupted.
    #[error("interrupted")]
    Interrupted,
}
