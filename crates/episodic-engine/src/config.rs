//! How an engine runs: concurrency limits, budget, and what to do with earlier failures.

use episodic_catalog::Usd;
use episodic_fal::PollOptions;

/// The engine's settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Renders in flight at once.
    pub render_concurrency: usize,
    /// Uploads and downloads at once.
    pub transfer_concurrency: usize,
    /// Lines voiced by ElevenLabs at once (its plans allow 2 to 15 concurrent requests; more are
    /// answered 429 at once, unbilled, and retried).
    pub speech_concurrency: usize,
    /// Local ffmpeg jobs at once.
    pub ffmpeg_concurrency: usize,
    /// Stop starting nodes at the first failure.
    pub fail_fast: bool,
    /// Refuse to spend more than this in one run (`--max-cost`), on top of each manifest's budget.
    pub max_cost: Option<Usd>,
    /// Claim renders that failed in an earlier run again.
    pub retry_failed: bool,
    /// Submit again renders whose earlier submit may or may not have reached fal.
    pub resubmit_ambiguous: bool,
    /// How renders are polled.
    pub poll: PollOptions,
    /// x264 preset for composed segments.
    pub preset: String,
    /// Which backend renders, for reports: `fal` or `local`.
    pub backend: String,
    /// How long after a crashed submit a render missing from fal's request history may be
    /// submitted again: the history can lag, and a request found there is re-attached instead.
    pub ambiguous_grace: std::time::Duration,
    /// The backend forgets everything between runs (the in-process studio): its uploads are not
    /// reused across runs, and a lost or ambiguous request is simply rendered again (it is free).
    pub ephemeral_backend: bool,
    /// Ask fal to POST each outcome here (`fal_webhook`), and wait for it in the journal (written
    /// by `episodic webhooks serve`) instead of polling; status is still checked now and then in
    /// case a delivery is lost.
    pub webhook_url: Option<String>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            render_concurrency: 8,
            transfer_concurrency: 8,
            // The Starter plan's limit (`elevenlabs-tts.md` §3): busy answers are rare, not routine.
            speech_concurrency: 3,
            ffmpeg_concurrency: std::thread::available_parallelism().map(usize::from).unwrap_or(2),
            fail_fast: false,
            max_cost: None,
            retry_failed: false,
            resubmit_ambiguous: false,
            poll: PollOptions::default(),
            preset: "veryfast".to_owned(),
            backend: "fal".to_owned(),
            ambiguous_grace: std::time::Duration::from_secs(600),
            ephemeral_backend: false,
            webhook_url: None,
        }
    }
}
