//! How a studio behaves: where it listens, how fast it renders, which faults it injects.

use episodic_catalog::Usd;
use std::path::PathBuf;
use std::time::Duration;

/// Everything a studio is started with.
#[derive(Debug, Clone)]
pub struct StudioConfig {
    /// Loopback port; 0 picks a free one.
    pub port: u16,
    /// The key queue and REST calls must carry (`Authorization: Key …`); `None` accepts any.
    pub key: Option<String>,
    /// Divides every output size, so tests render small (1 = the catalog's real size).
    pub scale: u32,
    /// Time a submitted request waits before it may start.
    pub queue_delay: Duration,
    /// Simulated render time per second of output (a request never finishes sooner).
    pub render_time_per_second: Duration,
    /// Simulated render time added to every request whatever its length, so a benchmark can give
    /// clips of different lengths the same latency.
    pub fixed_render_time: Duration,
    /// How many requests render at once; the rest wait in the queue with positions.
    pub concurrency: usize,
    /// How many placeholder clips ffmpeg encodes at once; 0 means one per core. A request waiting
    /// for an encoder is still rendering (its simulated time runs): like fal's runners, renders
    /// then finish one after another as their work is done, instead of forty encodes sharing
    /// two cores and all finishing late together.
    pub encoders: usize,
    /// Injected faults.
    pub faults: FaultConfig,
    /// Where stored files live; a temporary folder owned by the studio when `None`.
    pub data_dir: Option<PathBuf>,
    /// Answer unknown input keys with 422 `extra_forbidden` instead of ignoring them.
    pub strict_inputs: bool,
    /// How long uploaded files live unless an upload asks otherwise; `None` = forever.
    pub default_file_ttl: Option<Duration>,
    /// The user id put in webhook signatures.
    pub webhook_user_id: String,
    /// Serve the v3 CDN upload flow; off, its routes answer 404 as fal's old storage did, so
    /// clients must fall back to the legacy initiate + PUT flow.
    pub v3_uploads: bool,
    /// How long after its submit a request first appears in the request history
    /// (`GET /v1/models/requests/by-endpoint`): fal's history may list a queued request late, so
    /// a client recovering a lost submit must not take "absent" for "never queued" at once.
    /// ElevenLabs' `GET /v1/history` lists a generation this long after it was voiced, too (its
    /// audio is served at once). Zero lists it at once.
    pub history_lag: Duration,
    /// The account's credit. Once successful renders have been billed this much or more, the
    /// account is locked as fal locks it: submits and upload initiations answer 403
    /// `User is locked. Reason: Exhausted balance…` (nothing queued, nothing billed), while
    /// status, result and history calls keep working and renders already queued finish and are
    /// billed, even past the balance. `None` never locks.
    pub balance: Option<Usd>,
    /// Endpoint ids answered as withdrawn: a submit gets fal's 404 for an unknown app
    /// (`Application '<id>' not found`), so fallback chains can be tested for real.
    pub gone: Vec<String>,
    /// The key ElevenLabs calls must carry (`xi-api-key`); `None` accepts any.
    pub elevenlabs_key: Option<String>,
    /// Credits (characters) the ElevenLabs account has; once a request would pass them, it is
    /// answered 401 `quota_exceeded` and nothing is voiced or billed. `None` is unlimited.
    pub tts_quota_chars: Option<u64>,
    /// Speech and alignment requests allowed at once; one more is answered 429
    /// `too_many_concurrent_requests` at once, unbilled. `None` is unlimited.
    pub tts_concurrency: Option<usize>,
    /// How long a speech request takes before its audio is voiced, beside the voicing itself:
    /// ElevenLabs answers a line in seconds, the local voicer in milliseconds, and a benchmark
    /// of speech overlapping renders needs the real order of magnitude. Zero adds nothing.
    pub tts_latency: Duration,
}

impl Default for StudioConfig {
    fn default() -> Self {
        Self {
            port: 0,
            key: None,
            scale: 1,
            queue_delay: Duration::from_millis(50),
            render_time_per_second: Duration::ZERO,
            fixed_render_time: Duration::ZERO,
            concurrency: 4,
            encoders: 0,
            faults: FaultConfig::default(),
            data_dir: None,
            strict_inputs: false,
            default_file_ttl: None,
            webhook_user_id: "studio|local".to_owned(),
            v3_uploads: true,
            history_lag: Duration::ZERO,
            balance: None,
            gone: Vec::new(),
            elevenlabs_key: None,
            tts_quota_chars: None,
            tts_concurrency: None,
            tts_latency: Duration::ZERO,
        }
    }
}

/// Which 5xx answers to inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FiveXxStyle {
    /// 502/503/504 from the ingress proxy: an nginx page and no `x-fal-request-id`.
    #[default]
    Ingress,
    /// 500/503 from the application: JSON `{"detail", "error_type"}` with a request id.
    App,
    /// Either, at random.
    Mixed,
}

/// Faults injected into queue, REST and CDN calls, reproducibly from a seed.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultConfig {
    /// The RNG seed: the same seed and the same requests give the same faults.
    pub seed: u64,
    /// Share of requests answered 429.
    pub rate_429: f64,
    /// `Retry-After` seconds sent with a 429, if any.
    pub retry_after_secs: Option<u64>,
    /// Share of requests answered with a 5xx.
    pub rate_5xx: f64,
    /// Which 5xx.
    pub style_5xx: FiveXxStyle,
    /// Share of connections closed without any response.
    pub drop_rate: f64,
    /// Of the dropped connections, the share dropped after the request was handled: a submit is
    /// queued (and will be billed), an upload stored, and only the answer is lost. The rest are
    /// dropped before routing, so nothing happened. Defaults to 0.5, so that fault tests meet
    /// both: a client must never assume a dropped submit was not queued.
    pub drop_after_share: f64,
    /// Delay added before every faultable response.
    pub slow: Duration,
    /// Share of renders that end `COMPLETED` with an error (`Runner disconnected`), as fal's do.
    pub render_failure_rate: f64,
    /// Share of successful renders whose stored video is cut short after encoding (its first
    /// 40 % of bytes kept), with `video.file_size` reporting the cut size: a broken encode on
    /// fal's side that the download cannot notice. The container's index sits at the front, so
    /// ffprobe still reads the full duration from the header; only reading the packets (or
    /// decoding) shows the clip ends early.
    pub truncate_rate: f64,
    /// Inject HTTP faults only into requests whose path contains this, and runner failures and
    /// truncated outputs only into renders whose endpoint id contains it (one endpoint's outage).
    pub only_paths_containing: Option<String>,
}

impl Default for FaultConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            rate_429: 0.0,
            retry_after_secs: None,
            rate_5xx: 0.0,
            style_5xx: FiveXxStyle::default(),
            drop_rate: 0.0,
            drop_after_share: 0.5,
            slow: Duration::ZERO,
            render_failure_rate: 0.0,
            truncate_rate: 0.0,
            only_paths_containing: None,
        }
    }
}
