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
    /// The shared artifact store (`--artifacts`) could not be read or written.
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
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
    /// fal finished the render with an error; it is journaled as failed, and trying it again is
    /// the user's decision (it is billed again).
    #[error("fal rendered it with an error (request {request_id}): {message}")]
    RenderFailed {
        /// fal's request id.
        request_id: String,
        /// fal's message.
        message: String,
    },
    /// An earlier run's render failed and the user did not ask to retry it.
    #[error("this render failed in an earlier run: {message}")]
    FailedEarlier {
        /// The earlier error.
        message: String,
    },
    /// A submit may or may not have reached fal, and fal's history could not settle it: the claim
    /// is kept and a rerun looks again; nothing is submitted blind.
    #[error("{owner} may have submitted this render, and {history}")]
    Ambiguous {
        /// Who submitted it (a run that died, or this run).
        owner: String,
        /// What fal's request history showed, and when.
        history: String,
    },
    /// Submit after submit of one render lost its answer, and fal's history showed none of them.
    #[error(
        "{lost} submits in a row lost their answers (the connection broke after sending) and {history}: nothing was queued, so nothing was paid; the link to fal is unreliable"
    )]
    LinkDropping {
        /// Submits whose answers were lost.
        lost: u32,
        /// What fal's request history showed, and when.
        history: String,
    },
    /// fal refused the submit because the account is out of credit (the spend breaker tripped).
    #[error("{0}")]
    OutOfCredit(episodic_fal::FalError),
    /// Not submitted: an earlier render of this run, or of another run on the same journal, found
    /// the account out of credit.
    #[error("not submitted: fal said the account is out of credit")]
    SpendStopped,
    /// Submitting would cross the budget.
    #[error(
        "not submitted: this render ({estimate}) would take the run past its cap of {cap} ({spent} spent or reserved so far by the runs of this batch)"
    )]
    OverBudget {
        /// This render's estimate.
        estimate: episodic_catalog::Usd,
        /// What the runs sharing the budget (on any machine) spent or hold reserved.
        spent: episodic_catalog::Usd,
        /// The cap.
        cap: episodic_catalog::Usd,
    },
    /// The clip fal delivered is not a whole video; the render is journaled as failed.
    #[error("the clip of {render} (request {request_id}) is broken: {detail}")]
    BrokenClip {
        /// The render node.
        render: String,
        /// fal's request id.
        request_id: String,
        /// What the probe found.
        detail: String,
    },
    /// The render's output expired at fal before it was downloaded; journaled as failed.
    #[error("the output of request {request_id} expired at fal before it was downloaded")]
    OutputExpired {
        /// fal's request id.
        request_id: String,
    },
    /// An input changed since it was planned.
    #[error(
        "`{path}` changed since the plan was made (its content hash differs); run again to plan with the new file"
    )]
    InputChanged {
        /// The file.
        path: String,
    },
    /// ElevenLabs refused to voice a line (a wrong voice, a line too long, a bad setting, a
    /// busy service past the retries).
    #[error("ElevenLabs did not voice \"{line}\" (voice {voice_id}): {error}")]
    Speech {
        /// What ElevenLabs said.
        error: crate::SpeechError,
        /// The voice asked for.
        voice_id: String,
        /// The line, shortened for messages.
        line: String,
    },
    /// ElevenLabs said the quota is spent: no more lines are voiced this run (the speech breaker
    /// tripped); renders of lines already voiced go on.
    #[error("{0}")]
    SpeechQuota(crate::SpeechError),
    /// Not voiced: an earlier line of this run found ElevenLabs' quota spent.
    #[error("not voiced: ElevenLabs said the quota is exceeded")]
    SpeechStopped,
    /// An earlier run's request for this line was refused and the user did not ask to retry it.
    #[error("ElevenLabs refused this line in an earlier run: {message}")]
    SpeechFailedEarlier {
        /// The earlier error.
        message: String,
    },
    /// A request may or may not have been voiced, and ElevenLabs' history could not settle it:
    /// the claim is kept and a rerun looks again; nothing is voiced blind.
    #[error("{owner} may have voiced this line, and {history}")]
    SpeechAmbiguous {
        /// Who sent it.
        owner: String,
        /// What the history showed.
        history: String,
    },
    /// Request after request of one line lost its answer, and the history showed none of them.
    #[error(
        "{lost} requests in a row lost their answers and {history}: nothing was voiced, so nothing was paid; the link to ElevenLabs is unreliable"
    )]
    SpeechLinkDropping {
        /// Requests whose answers were lost.
        lost: u32,
        /// What the history showed.
        history: String,
    },
    /// Voicing the line would cross the budget.
    #[error(
        "not voiced: this line ({estimate}) would take the run past its cap of {cap} ({spent} spent so far)"
    )]
    SpeechOverBudget {
        /// This line's cost.
        estimate: episodic_catalog::Usd,
        /// What was spent.
        spent: episodic_catalog::Usd,
        /// The cap.
        cap: episodic_catalog::Usd,
    },
    /// ElevenLabs could not time the words of a recording (forced alignment).
    #[error("ElevenLabs could not align the text of `{audio}` with it: {error}")]
    Align {
        /// What ElevenLabs said.
        error: crate::SpeechError,
        /// The recording, as the manifest names it.
        audio: String,
    },
    /// The plan voices lines, and no ElevenLabs client was given to the engine.
    #[error("this episode has lines to voice, and no ElevenLabs client is configured")]
    NoSpeechApi,
    /// fal answered something the engine cannot use.
    #[error("{0}")]
    Unexpected(String),
    /// The run was interrupted.
    #[error("interrupted")]
    Interrupted,
}
