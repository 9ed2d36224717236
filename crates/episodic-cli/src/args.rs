//! Command-line arguments, as clap parses them.

use clap::{Args as ClapArgs, Parser, Subcommand};
use std::path::PathBuf;

/// Render talking-avatar video episodes from a declarative manifest.
#[derive(Debug, Parser)]
#[command(name = "episodic", version, about, max_term_width = 100)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render manifests into finished MP4s (resumable: a rerun never pays twice).
    Render(RenderArgs),
    /// Show the render DAG of a manifest and what it will cost, without spending anything.
    Plan(PlanArgs),
    /// Check a manifest and its media; report every problem at once.
    Validate(ValidateArgs),
    /// Render one segment on several models and write the clips side by side, each captioned
    /// with its model, cost and render time (renders the journal has are reused).
    Compare(CompareArgs),
    /// List the models episodic can render with, their prices and limits.
    Models(ModelsArgs),
    /// List the prompt presets.
    Presets(PresetsArgs),
    /// Run the local studio: a loopback server speaking fal's protocol that renders placeholders.
    Studio(StudioArgs),
    /// Receive fal's webhooks for `render --webhook-url`.
    Webhooks(WebhooksArgs),
    /// Show what the state folder keeps and why, and remove what no episode needs.
    Cache(CacheArgs),
}

/// `episodic cache`.
#[derive(Debug, ClapArgs)]
pub struct CacheArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: CacheCommand,
}

/// `episodic cache ...`.
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// List every kept file (clips, segments, episodes) and upload: size, age, which episode's
    /// node needs it, or why it is kept anyway.
    Ls(CacheLsArgs),
    /// Remove the files no journaled episode needs; a clip of a render paid for within
    /// --older-than days stays.
    Gc(CacheGcArgs),
}

/// What `cache ls` and `cache gc` share.
#[derive(Debug, ClapArgs)]
pub struct CacheScope {
    /// The state folder the render runs use.
    #[arg(long, value_name = "DIR", env = crate::env::EPISODIC_STATE_DIR, default_value = ".episodic")]
    pub state_dir: PathBuf,
    /// The shared journal the render runs use (`postgres://...`, as `render --journal`): it
    /// records which of this folder's files the episodes need.
    #[arg(long, value_name = "URL", env = crate::env::EPISODIC_JOURNAL_URL, hide_env_values = true)]
    pub journal: Option<String>,
    /// The window, in days, within which a paid clip no episode needs any more is kept (0: keep
    /// nothing that is not needed).
    #[arg(long, value_name = "DAYS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(0..=36_500))]
    pub older_than: u32,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `episodic cache ls`.
#[derive(Debug, ClapArgs)]
pub struct CacheLsArgs {
    #[command(flatten)]
    pub scope: CacheScope,
}

/// `episodic cache gc`.
#[derive(Debug, ClapArgs)]
pub struct CacheGcArgs {
    #[command(flatten)]
    pub scope: CacheScope,
    /// Say what would be removed, and remove nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `episodic webhooks`.
#[derive(Debug, ClapArgs)]
pub struct WebhooksArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: WebhooksCommand,
}

/// `episodic webhooks ...`.
#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Receive, verify and record webhook deliveries into the state folder.
    Serve(WebhookServeArgs),
}

/// `episodic webhooks serve`.
#[derive(Debug, ClapArgs)]
pub struct WebhookServeArgs {
    /// Address to listen on (`0.0.0.0` to accept fal's servers directly).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// The state folder the render runs use.
    #[arg(long, value_name = "DIR", env = crate::env::EPISODIC_STATE_DIR, default_value = ".episodic")]
    pub state_dir: PathBuf,
    /// A journal shared by several machines (`postgres://user:password@host:port/database`)
    /// instead of the state folder's SQLite file; artifacts stay in the state folder. Prefer
    /// the environment variable: a command line is visible to other users of the machine.
    #[arg(long, value_name = "URL", env = crate::env::EPISODIC_JOURNAL_URL, hide_env_values = true)]
    pub journal: Option<String>,
    /// Where fal publishes its webhook keys (default: `<rest url>/.well-known/jwks.json`).
    #[arg(long, value_name = "URL", conflicts_with = "jwks_file")]
    pub jwks_url: Option<String>,
    /// A JWKS file instead of a URL.
    #[arg(long, value_name = "FILE")]
    pub jwks_file: Option<PathBuf>,
    /// Write `{"url": ...}` here once listening.
    #[arg(long, value_name = "PATH")]
    pub ready_file: Option<PathBuf>,
}

/// Options shared by commands that price things.
#[derive(Debug, ClapArgs)]
pub struct PriceArgs {
    /// A YAML file of prices overriding the catalog's (model name or endpoint id → per_second, ...).
    #[arg(long, value_name = "FILE", env = crate::env::EPISODIC_PRICES)]
    pub prices: Option<PathBuf>,
}

/// `episodic plan`.
#[derive(Debug, ClapArgs)]
pub struct PlanArgs {
    /// The manifest (episode.yaml).
    pub manifest: PathBuf,
    /// Render every avatar on the standard tier and show what that saves.
    #[arg(long)]
    pub draft: bool,
    /// Print the plan as JSON (schema in the README).
    #[arg(long, conflicts_with = "dot")]
    pub json: bool,
    /// Print the plan as a Graphviz digraph.
    #[arg(long)]
    pub dot: bool,
    /// Plan the canvas divided by N, as `render --scale N` renders it.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub scale: u32,
    /// Preview: only these segments (ids, comma-separated), written to
    /// `<output folder>/<episode>.preview.mp4`, never over the episode.
    #[arg(long, value_name = "ID[,ID...]", value_delimiter = ',')]
    pub only: Vec<String>,
    /// Preview: the episode's first SECONDS (a segment cut there is rendered from its audio
    /// trimmed at a pause nearby), written to `<output folder>/<episode>.preview.mp4`.
    #[arg(long, value_name = "SECONDS")]
    pub first: Option<f64>,
    /// Also write the plan as JSON to this file, for `render --plan FILE` to render exactly it.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The state folder `render` uses: read (never written) to say what is done and what will
    /// run; a missing folder means nothing is done yet.
    #[arg(long, value_name = "DIR", env = crate::env::EPISODIC_STATE_DIR, default_value = ".episodic")]
    pub state_dir: PathBuf,
    /// A journal shared by several machines (`postgres://...`, as `render --journal`) to read
    /// instead of the state folder's SQLite file; only read, never written.
    #[arg(long, value_name = "URL", env = crate::env::EPISODIC_JOURNAL_URL, hide_env_values = true)]
    pub journal: Option<String>,
    #[command(flatten)]
    pub prices: PriceArgs,
}

/// How one `render` process takes part in a fleet: which episodes of the batch it takes, and
/// where finished files are shared with the other machines.
#[derive(Debug, Clone, Default, ClapArgs)]
pub struct FleetArgs {
    /// Take only the episodes whose id hashes to shard I of N (0 ≤ I < N); the other shards,
    /// started with the same manifests, take the rest.
    #[arg(long, value_name = "I/N", conflicts_with = "shard_count")]
    pub shard: Option<crate::commands::Shard>,
    /// Split into N shards, this process's index taken from JOB_COMPLETION_INDEX (set by a
    /// Kubernetes Indexed Job).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub shard_count: Option<u32>,
    /// Share finished clips, segments and episodes with other machines through this store:
    /// `s3://bucket/prefix` (credentials, region and AWS_ENDPOINT_URL from the AWS_* variables)
    /// or a folder (a shared mount). The state folder keeps the local copies ffmpeg reads.
    #[arg(long, value_name = "URL", env = crate::env::EPISODIC_ARTIFACTS_URL)]
    pub artifacts: Option<String>,
}

/// `episodic compare`.
#[derive(Debug, ClapArgs)]
pub struct CompareArgs {
    /// The manifest (episode.yaml).
    pub manifest: PathBuf,
    /// The segment to render on each model.
    #[arg(long, value_name = "ID")]
    pub segment: String,
    /// The models, comma-separated: avatar models for a speech segment, video models for b-roll.
    #[arg(long, value_name = "MODEL[,MODEL...]", value_delimiter = ',', required = true)]
    pub models: Vec<String>,
    /// `fal` or `local`; without it, fal when a key is set, otherwise the local studio.
    #[arg(long, value_enum)]
    pub backend: Option<BackendArg>,
    /// Renders in flight at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub concurrency: u32,
    /// Refuse to spend more than this many dollars.
    #[arg(long, value_name = "USD")]
    pub max_cost: Option<f64>,
    /// The state folder (journal and artifacts), shared with `render`.
    #[arg(long, value_name = "DIR", env = crate::env::EPISODIC_STATE_DIR, default_value = ".episodic")]
    pub state_dir: PathBuf,
    /// A journal shared by several machines (`postgres://user:password@host:port/database`)
    /// instead of the state folder's SQLite file; artifacts stay in the state folder. Prefer
    /// the environment variable: a command line is visible to other users of the machine.
    #[arg(long, value_name = "URL", env = crate::env::EPISODIC_JOURNAL_URL, hide_env_values = true)]
    pub journal: Option<String>,
    /// Divide the canvas (and, on the local studio, every clip) by N.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub scale: u32,
    /// Submit again renders that failed in an earlier run (they are billed again).
    #[arg(long)]
    pub retry_failed: bool,
    #[command(flatten)]
    pub prices: PriceArgs,
}

/// `episodic validate`.
#[derive(Debug, ClapArgs)]
pub struct ValidateArgs {
    /// The manifests to check.
    #[arg(required = true)]
    pub manifests: Vec<PathBuf>,
    /// Check the budget as `--draft` would plan.
    #[arg(long)]
    pub draft: bool,
    #[command(flatten)]
    pub prices: PriceArgs,
}

/// `episodic models`.
#[derive(Debug, ClapArgs)]
pub struct ModelsArgs {
    /// Print the catalog as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub prices: PriceArgs,
}

/// `episodic presets`.
#[derive(Debug, ClapArgs)]
pub struct PresetsArgs {
    /// Print the presets as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `episodic studio`.
#[derive(Debug, ClapArgs)]
pub struct StudioArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Write `{"queue_url", "rest_url", "cdn_url", "stats_url", "api_url", "elevenlabs_url"}` here
    /// once listening.
    #[arg(long, value_name = "PATH")]
    pub ready_file: Option<PathBuf>,
    /// The key clients must send (`Authorization: Key ...`); without one, any key is accepted.
    #[arg(long, env = "FAL_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// Divide every output size by N (tests use a small scale).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub scale: u32,
    /// Answer submits to this endpoint id with fal's 404 for an unknown app, as if it were
    /// withdrawn (repeatable), to try fallback chains.
    #[arg(long, value_name = "ENDPOINT")]
    pub gone: Vec<String>,
    /// Milliseconds a request waits in the queue before it may start.
    #[arg(long, default_value_t = 50)]
    pub queue_delay_ms: u64,
    /// Simulated render milliseconds per second of output.
    #[arg(long, default_value_t = 0)]
    pub render_ms_per_second: u64,
    /// Simulated render milliseconds added to every request, whatever its length.
    #[arg(long, default_value_t = 0)]
    pub fixed_render_ms: u64,
    /// Requests rendered at once; the rest wait with queue positions.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Placeholder clips encoded at once (default: one per core).
    #[arg(long, default_value_t = 0)]
    pub encoders: usize,
    /// Seed for fault injection.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Share of requests answered 429 (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    pub fail_rate_429: f64,
    /// `Retry-After` seconds on injected 429s.
    #[arg(long)]
    pub retry_after_secs: Option<u64>,
    /// Share of requests answered with a 5xx (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    pub fail_rate_5xx: f64,
    /// Which 5xx: the ingress proxy's, the application's, or both.
    #[arg(long, value_enum, default_value_t = FiveXxArg::Ingress)]
    pub fail_5xx_style: FiveXxArg,
    /// Share of connections closed without a response (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    pub drop_rate: f64,
    /// Of the dropped connections, the share closed after the request was handled (a submit
    /// queued, an upload stored, only the answer lost), 0 to 1; the rest before routing.
    #[arg(long, default_value_t = 0.5)]
    pub drop_after_share: f64,
    /// Milliseconds added before every response.
    #[arg(long, default_value_t = 0)]
    pub slow_ms: u64,
    /// Share of renders that fail at the runner (COMPLETED with an error), 0 to 1.
    #[arg(long, default_value_t = 0.0)]
    pub fail_rate_render: f64,
    /// Share of successful renders whose video is stored cut to its first 40% (file_size says
    /// so; only probing the packets shows it), 0 to 1.
    #[arg(long, default_value_t = 0.0)]
    pub truncate_rate: f64,
    /// Milliseconds after its submit before a request appears in the request history.
    #[arg(long, default_value_t = 0)]
    pub history_lag_ms: u64,
    /// The account's credit in dollars: once renders have been billed this much, submits and
    /// uploads are refused with fal's 403 "User is locked" (running renders still finish).
    #[arg(long, value_name = "USD")]
    pub balance: Option<f64>,
    /// Inject HTTP faults only into requests whose path contains this (e.g. one endpoint id).
    #[arg(long, value_name = "TEXT")]
    pub faults_only_on: Option<String>,
    /// Refuse inputs that are not in the model's schema (422 extra_forbidden).
    #[arg(long)]
    pub strict_inputs: bool,
    /// Uploaded files expire after this many seconds unless the upload asks otherwise.
    #[arg(long)]
    pub file_ttl_secs: Option<u64>,
    /// Keep stored files here instead of a temporary folder.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The key ElevenLabs clients must send (`xi-api-key`); without one, any key is accepted.
    #[arg(long, env = "ELEVENLABS_API_KEY", hide_env_values = true)]
    pub elevenlabs_key: Option<String>,
    /// The ElevenLabs account's credits: a speech request that would pass them is refused with
    /// 401 `quota_exceeded` (nothing voiced, nothing billed).
    #[arg(long, value_name = "CHARS")]
    pub tts_quota_chars: Option<u64>,
    /// Speech requests allowed at once; one more is refused at once with 429
    /// `too_many_concurrent_requests` (unbilled).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub tts_concurrency: Option<u64>,
}

/// `--fail-5xx-style`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum FiveXxArg {
    /// 502/503/504 from the ingress proxy (nginx page, no request id): clients retry these.
    Ingress,
    /// 500/503 from the application, with a request id.
    App,
    /// Either.
    Mixed,
}

/// Which backend renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendArg {
    /// fal.ai (or any fal-compatible server at `EPISODIC_FAL_*_URL`); needs `FAL_KEY`.
    Fal,
    /// The in-process local studio: placeholder media, nothing billed.
    Local,
}

/// `episodic render`.
#[derive(Debug, ClapArgs)]
pub struct RenderArgs {
    /// The manifests to render; they share one scheduler, state store and upload cache.
    #[arg(required_unless_present = "plan", conflicts_with = "plan")]
    pub manifests: Vec<PathBuf>,
    /// Render exactly the plan `episodic plan FILE --out PLAN` wrote; refused, before anything is
    /// sent, when the manifest, an input's content, a price or the catalog changed since.
    #[arg(long, value_name = "PLAN", conflicts_with_all = ["draft", "scale", "only", "first"])]
    pub plan: Option<PathBuf>,
    /// Preview: only these segments (ids, comma-separated), written to
    /// `<output folder>/<episode>.preview.mp4`, never over the episode.
    #[arg(long, value_name = "ID[,ID...]", value_delimiter = ',')]
    pub only: Vec<String>,
    /// Preview: the episode's first SECONDS (a segment cut there is rendered from its audio
    /// trimmed at a pause nearby), written to `<output folder>/<episode>.preview.mp4`.
    #[arg(long, value_name = "SECONDS")]
    pub first: Option<f64>,
    /// `fal` or `local`; without it, fal when a key is set, otherwise the local studio.
    #[arg(long, value_enum)]
    pub backend: Option<BackendArg>,
    /// Renders in flight at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub concurrency: u32,
    /// Uploads and downloads at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub transfers: u32,
    /// Local ffmpeg jobs at once (default: the number of cores).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub ffmpeg_jobs: Option<u32>,
    /// Lines voiced by ElevenLabs at once (its plans allow 2 to 15; more are refused, unbilled,
    /// and retried).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub speech_jobs: u32,
    /// Stop starting nodes at the first failure.
    #[arg(long)]
    pub fail_fast: bool,
    /// Refuse to spend more than this many dollars in this run.
    #[arg(long, value_name = "USD")]
    pub max_cost: Option<f64>,
    /// The state folder (journal and artifacts).
    #[arg(long, value_name = "DIR", env = crate::env::EPISODIC_STATE_DIR, default_value = ".episodic")]
    pub state_dir: PathBuf,
    /// A journal shared by several machines (`postgres://user:password@host:port/database`)
    /// instead of the state folder's SQLite file; artifacts stay in the state folder. Prefer
    /// the environment variable: a command line is visible to other users of the machine.
    #[arg(long, value_name = "URL", env = crate::env::EPISODIC_JOURNAL_URL, hide_env_values = true)]
    pub journal: Option<String>,
    /// Write one JSON event per line to stdout instead of progress lines.
    #[arg(long)]
    pub json: bool,
    /// Render every avatar on the standard tier.
    #[arg(long)]
    pub draft: bool,
    /// Divide the canvas (and, on the local studio, every clip) by N for a quick preview.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub scale: u32,
    /// Submit again renders that failed in an earlier run (they are billed again).
    #[arg(long)]
    pub retry_failed: bool,
    /// Submit again, without waiting out --ambiguous-grace, renders whose submit may or may not
    /// have reached fal (a lost answer, a crashed run); check fal's history first.
    #[arg(long)]
    pub resubmit_ambiguous: bool,
    /// Have fal POST each outcome to this URL (served by `episodic webhooks serve` on the same
    /// state folder) and wait for it there instead of polling.
    #[arg(long, value_name = "URL")]
    pub webhook_url: Option<String>,
    /// Seconds during which fal's request history is searched for a submit whose answer was lost
    /// (or that a crashed run sent): found, the render is re-attached; still absent after this
    /// long (the history may list requests late), it is submitted again.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub ambiguous_grace: u64,
    #[command(flatten)]
    pub prices: PriceArgs,
    #[command(flatten)]
    pub fleet: FleetArgs,
}
