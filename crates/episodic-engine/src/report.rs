//! `report.json`: what a run did for one episode, node by node. Versioned like `plan --json`:
//! fields are only added within a version.
//!
//! Schema 2 added, to schema 1's fields, when each node ran (`started_seconds`,
//! `finished_seconds`: seconds since the run started; `null` for a node that never started) and
//! when the run started (`started_at`, Unix seconds), so a report can draw the run's timeline
//! (`out/<episode>.report.html` is made from this file). A reader of schema 1 reads schema 2
//! unchanged.
//!
//! Written beside the output as `<episode>.report.json` (so two episodes sharing an `out/` folder
//! never overwrite each other's report), through a temporary file.

use episodic_catalog::Usd;
use episodic_plan::{Node, NodeKind, Plan};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The report's schema version.
pub const REPORT_SCHEMA_VERSION: u32 = 2;

/// One node's line in the report.
#[derive(Debug, Clone, Serialize)]
pub struct NodeReport {
    /// Node id.
    pub id: String,
    /// Node kind.
    pub kind: NodeKind,
    /// Content key.
    pub key: String,
    /// `done`, `failed` or `skipped`.
    pub status: &'static str,
    /// Whether the result came from the journal or cache.
    pub cache_hit: bool,
    /// fal's request id, for renders.
    pub request_id: Option<String>,
    /// Wall time in seconds, from the moment the node could start (its inputs done) to its end:
    /// waiting for a slot counts.
    pub wall_seconds: f64,
    /// When the node started, in seconds since the run started (`null`: it never started).
    pub started_seconds: Option<f64>,
    /// When the node ended, in seconds since the run started (`null`: it never started).
    pub finished_seconds: Option<f64>,
    /// The plan's estimate, in dollars.
    pub estimated_usd: f64,
    /// Billed in this run, in dollars (zero for a cache hit: it was paid before).
    pub billed_usd: f64,
    #[serde(skip)]
    billed_micros: u64,
    /// What fal charges for this node's work at catalog prices: equal to `billed_usd` on fal; on
    /// the local studio (which bills nothing) what fal would have charged.
    pub list_usd: f64,
    #[serde(skip)]
    list_micros: u64,
    /// Why it failed or was skipped.
    pub error: Option<String>,
    /// The model that rendered it (renders only): the plan's, or a later model of its fallback
    /// chain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// For a render a later model of its chain made: what became of the models before it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
    /// For a voiced line: the character timings ElevenLabs returned (`alignment`), kept in the
    /// state folder, for captions. Absent when the audio came from ElevenLabs' history.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alignment: Option<PathBuf>,
}

impl NodeReport {
    pub(crate) fn done(node: &Node, done: &crate::executor::Done, span: Span) -> Self {
        let mut report =
            Self::new(node, "done", done.cache_hit, Some(span), done.cost, done.request_id.clone(), None);
        report.list_usd = done.list_cost.dollars();
        report.list_micros = done.list_cost.micros();
        if let Some(fallback) = &done.fallback {
            report.model = Some(fallback.model.clone());
            report.fallback = Some(fallback.note.clone());
        }
        if let crate::executor::Output::Speech { alignment, .. } = &done.output {
            report.alignment.clone_from(alignment);
        }
        report
    }

    pub(crate) fn failed(node: &Node, span: Span, error: &str) -> Self {
        Self::new(node, "failed", false, Some(span), Usd::ZERO, None, Some(error.to_owned()))
    }

    pub(crate) fn skipped(node: &Node, reason: &str) -> Self {
        Self::new(node, "skipped", false, None, Usd::ZERO, None, Some(reason.to_owned()))
    }

    fn new(
        node: &Node,
        status: &'static str,
        cache_hit: bool,
        span: Option<Span>,
        cost: Usd,
        request_id: Option<String>,
        error: Option<String>,
    ) -> Self {
        NodeReport {
            id: node.id.clone(),
            kind: node.kind(),
            key: node.key.to_string(),
            status,
            cache_hit,
            request_id,
            wall_seconds: span.map_or(0.0, |span| round3(span.wall().as_secs_f64())),
            started_seconds: span.map(|span| round3(span.start.as_secs_f64())),
            finished_seconds: span.map(|span| round3(span.end.as_secs_f64())),
            estimated_usd: node.cost.dollars(),
            billed_usd: cost.dollars(),
            billed_micros: cost.micros(),
            list_usd: cost.dollars(),
            list_micros: cost.micros(),
            error,
            model: node.render().map(|render| render.model.clone()),
            fallback: None,
            alignment: None,
        }
    }

    /// Billed in this run.
    pub fn billed(&self) -> Usd {
        Usd::from_micros(self.billed_micros)
    }

    /// What fal charges for this node's work at catalog prices (see `list_usd`).
    pub fn list_cost(&self) -> Usd {
        Usd::from_micros(self.list_micros)
    }
}

/// When a node ran, as offsets from the start of the run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Span {
    /// When its task began (waiting for a slot included).
    pub(crate) start: Duration,
    /// When it ended.
    pub(crate) end: Duration,
}

impl Span {
    /// How long it took.
    pub(crate) fn wall(self) -> Duration {
        self.end.saturating_sub(self.start)
    }
}

/// The report of one episode.
#[derive(Debug, Serialize)]
pub struct Report<'a> {
    /// Always [`REPORT_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Episode id.
    pub episode: &'a str,
    /// Manifest.
    pub manifest: String,
    /// The MP4.
    pub output: String,
    /// `completed`, `failed` or `interrupted`.
    pub status: &'static str,
    /// `fal` or `local` (the in-process studio: placeholder media).
    pub backend: &'a str,
    /// When the run started, in Unix seconds (schema 2).
    pub started_at: i64,
    /// Versions of what made it.
    pub versions: Versions,
    /// Wall time of the run, in seconds.
    pub wall_seconds: f64,
    /// Sums.
    pub totals: Totals,
    /// Every node, in plan order.
    pub nodes: &'a [NodeReport],
}

/// Versions recorded in a report.
#[derive(Debug, Serialize)]
pub struct Versions {
    /// episodic's version.
    pub episodic: &'static str,
    /// The report schema.
    pub report_schema: u32,
}

/// The totals of a report.
#[derive(Debug, Serialize)]
pub struct Totals {
    /// Nodes.
    pub nodes: usize,
    /// Cache hits.
    pub cache_hits: usize,
    /// Renders submitted or re-attached in this run.
    pub fresh_renders: usize,
    /// Lines voiced (or fetched from ElevenLabs' history) in this run.
    pub fresh_speech: usize,
    /// Billed for speech in this run (included in `billed_usd`).
    pub speech_billed_usd: f64,
    /// The plan's estimate.
    pub estimated_usd: f64,
    /// Billed in this run.
    pub billed_usd: f64,
    /// Retries the client made in the run (faults survived).
    pub retries: u64,
}

impl<'a> Report<'a> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        plan: &'a Plan,
        backend: &'a str,
        nodes: &'a [NodeReport],
        ok: bool,
        interrupted: bool,
        started_at: i64,
        wall: Duration,
        retries: u64,
    ) -> Self {
        let billed: Usd = nodes.iter().map(NodeReport::billed).sum();
        Report {
            schema_version: REPORT_SCHEMA_VERSION,
            episode: &plan.episode,
            manifest: plan.manifest.display().to_string(),
            output: plan.output.display().to_string(),
            status: if ok {
                "completed"
            } else if interrupted {
                "interrupted"
            } else {
                "failed"
            },
            backend,
            started_at,
            versions: Versions { episodic: env!("CARGO_PKG_VERSION"), report_schema: REPORT_SCHEMA_VERSION },
            wall_seconds: round3(wall.as_secs_f64()),
            totals: Totals {
                nodes: nodes.len(),
                cache_hits: nodes.iter().filter(|node| node.cache_hit).count(),
                fresh_renders: nodes
                    .iter()
                    .filter(|node| node.kind == NodeKind::Render && node.status == "done" && !node.cache_hit)
                    .count(),
                fresh_speech: nodes
                    .iter()
                    .filter(|node| node.kind == NodeKind::Speech && node.status == "done" && !node.cache_hit)
                    .count(),
                speech_billed_usd: nodes
                    .iter()
                    .filter(|node| node.kind == NodeKind::Speech)
                    .map(NodeReport::billed)
                    .sum::<Usd>()
                    .dollars(),
                estimated_usd: plan.total_cost().dollars(),
                billed_usd: billed.dollars(),
                retries,
            },
            nodes,
        }
    }

    /// Writes `<episode>.report.json` beside `output`; returns its path.
    pub(crate) async fn write(&self, output: &Path) -> std::io::Result<PathBuf> {
        let stem = output
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.episode.to_owned());
        let path = output.with_file_name(format!("{stem}.report.json"));
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir).await?;
        }
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        let temp = path.with_extension("json.part");
        tokio::fs::write(&temp, json).await?;
        tokio::fs::rename(&temp, &path).await?;
        Ok(path)
    }
}

fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}
