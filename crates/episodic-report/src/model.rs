//! What the pages read of `report.json` (schema 1 or 2; see `episodic-engine`'s `report.rs` for
//! the writer). Fields a page does not show are not read; fields schema 1 lacks are optional.

use serde::Deserialize;

/// One episode's `report.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct EpisodeReport {
    /// The schema version the file was written with.
    pub schema_version: u32,
    /// Episode id.
    pub episode: String,
    /// The manifest, as given on the command line.
    pub manifest: String,
    /// The MP4's path.
    pub output: String,
    /// `completed`, `failed` or `interrupted`.
    pub status: String,
    /// `fal` or `local`.
    pub backend: String,
    /// When the run started, in Unix seconds (schema 2).
    #[serde(default)]
    pub started_at: Option<i64>,
    /// Wall time of the run, in seconds.
    pub wall_seconds: f64,
    /// The sums.
    pub totals: Totals,
    /// Every node, in plan order.
    pub nodes: Vec<NodeLine>,
}

/// The totals of a report, as written.
#[derive(Debug, Clone, Deserialize)]
pub struct Totals {
    /// Nodes.
    pub nodes: usize,
    /// Cache hits.
    pub cache_hits: usize,
    /// Renders submitted or re-attached in the run.
    pub fresh_renders: usize,
    /// The plan's estimate, in dollars.
    pub estimated_usd: f64,
    /// Billed in the run, in dollars: the number the page's `data-total-billed-usd` carries.
    pub billed_usd: f64,
    /// Retries the client made.
    pub retries: u64,
}

/// One node's line.
#[derive(Debug, Clone, Deserialize)]
pub struct NodeLine {
    /// Node id (`render/cold-open/speaker`).
    pub id: String,
    /// `speech`, `upload`, `render`, `download`, `join`, `compose`, `audio` or `concat` (or a kind
    /// added later).
    pub kind: String,
    /// `done`, `failed` or `skipped`.
    pub status: String,
    /// Whether the journal or the cache had it.
    pub cache_hit: bool,
    /// fal's request id, for renders.
    #[serde(default)]
    pub request_id: Option<String>,
    /// Wall time in seconds.
    pub wall_seconds: f64,
    /// When it started, in seconds since the run started (schema 2; `None`: never started).
    #[serde(default)]
    pub started_seconds: Option<f64>,
    /// When it ended, in seconds since the run started (schema 2).
    #[serde(default)]
    pub finished_seconds: Option<f64>,
    /// The plan's estimate, in dollars.
    pub estimated_usd: f64,
    /// Billed in the run, in dollars.
    pub billed_usd: f64,
    /// At fal's catalog prices (what the local studio would have cost on fal).
    #[serde(default)]
    pub list_usd: f64,
    /// Why it failed or was skipped.
    #[serde(default)]
    pub error: Option<String>,
    /// The model that rendered it (renders): the plan's, or a later model of its fallback chain.
    #[serde(default)]
    pub model: Option<String>,
    /// For a render a later model of its chain made: what became of the models before it.
    #[serde(default)]
    pub fallback: Option<String>,
}
