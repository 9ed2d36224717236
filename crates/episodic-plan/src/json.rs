//! `plan --json`: a documented, versioned schema for nightly jobs and dashboards.
//!
//! Schema version 1. Stability: fields are only added within a version; a rename or removal
//! bumps `schema_version`. Money is given twice: `cost_usd` (a float, for reading) and
//! `cost_micros` (whole micro-dollars, exact: `totals.cost_micros` is the sum of the nodes').
//!
//! ```json
//! {
//!   "schema_version": 1,
//!   "episode": {"id": "...", "title": null, "manifest": "...", "output": "...",
//!               "canvas": {"width": 1920, "height": 1080}, "fps": 30, "layout": "side_by_side",
//!               "quality": "pro", "draft": false, "budget_usd": 15.0},
//!   "nodes": [{"id": "render/cold-open/speaker", "kind": "render", "key": "<sha256>",
//!              "deps": ["upload/ninja.png", "upload/cold-open.mp3"], "label": "...",
//!              "model": "kling-avatar-v2-pro", "endpoint": "fal-ai/kling-video/ai-avatar/v2/pro",
//!              "seconds": 4.2, "cost_usd": 0.483, "cost_micros": 483000, "args": {...}}],
//!   "totals": {"nodes": 20, "uploads": 6, "renders": 9, "seconds": 52.1,
//!              "cost_usd": 6.1, "cost_micros": 6100000, "draft_savings_usd": null}
//! }
//! ```
//! `kind` is one of `upload`, `render`, `download`, `compose`, `audio` (the episode's sound, encoded
//! once from the segments' main clips while they compose), `concat` and `join` (the pieces of a line
//! longer than its model renders, joined into its speaker clip); a new kind is an addition,
//! not a rename or removal, so it keeps the version.
//! `model`, `endpoint`, `seconds` and `args` are present on render nodes only (and `fallbacks`, on
//! renders with a fallback chain: each member's `model`, `endpoint`, `key`, `cost_usd`, `args`); in `args` an input
//! file is `{"$file": "<sha256>"}`, the key of its upload node.

use crate::{NodeKind, Plan};
use serde::Serialize;

/// The current schema version of `plan --json`.
pub const SCHEMA_VERSION: u32 = 1;

/// The JSON form of a plan.
#[derive(Debug, Serialize)]
pub struct PlanJson<'a> {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The episode.
    pub episode: EpisodeJson<'a>,
    /// Nodes in dependency order.
    pub nodes: Vec<NodeJson<'a>>,
    /// Sums.
    pub totals: TotalsJson,
}

/// The episode part of [`PlanJson`].
#[derive(Debug, Serialize)]
pub struct EpisodeJson<'a> {
    /// Episode id.
    pub id: &'a str,
    /// Title.
    pub title: Option<&'a str>,
    /// Manifest path as given.
    pub manifest: String,
    /// Output path.
    pub output: String,
    /// Canvas size.
    pub canvas: episodic_catalog::Resolution,
    /// Frame rate.
    pub fps: u32,
    /// Layout.
    pub layout: episodic_manifest::Layout,
    /// Avatar tier.
    pub quality: episodic_catalog::Tier,
    /// Whether `--draft` applied.
    pub draft: bool,
    /// Budget in dollars.
    pub budget_usd: Option<f64>,
}

/// One node of [`PlanJson`].
#[derive(Debug, Serialize)]
pub struct NodeJson<'a> {
    /// Readable, stable id.
    pub id: &'a str,
    /// Node kind.
    pub kind: NodeKind,
    /// Content key.
    pub key: &'a str,
    /// Ids of the nodes this one needs.
    pub deps: Vec<&'a str>,
    /// Short description.
    pub label: &'a str,
    /// Catalog model (render nodes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<&'a str>,
    /// fal endpoint id (render nodes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<&'a str>,
    /// Billed seconds (render nodes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    /// Estimated cost in dollars.
    pub cost_usd: f64,
    /// Estimated cost in micro-dollars.
    pub cost_micros: u64,
    /// Arguments sent to fal (render nodes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args: Option<&'a serde_json::Value>,
    /// The models that take over, in order (render nodes with a fallback chain); the node's cost
    /// is the dearest member's.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fallbacks: Vec<FallbackJson<'a>>,
}

/// One model of a render's fallback chain in [`NodeJson`].
#[derive(Debug, Serialize)]
pub struct FallbackJson<'a> {
    /// Catalog model.
    pub model: &'a str,
    /// fal endpoint id.
    pub endpoint: &'a str,
    /// Its request's key.
    pub key: &'a str,
    /// What it would cost, in dollars.
    pub cost_usd: f64,
    /// Arguments it would be sent.
    pub args: &'a serde_json::Value,
}

/// The totals of [`PlanJson`].
#[derive(Debug, Serialize)]
pub struct TotalsJson {
    /// Number of nodes.
    pub nodes: usize,
    /// Number of upload nodes (unique files).
    pub uploads: usize,
    /// Number of render nodes.
    pub renders: usize,
    /// Seconds of video rendered.
    pub seconds: f64,
    /// Estimated cost in dollars.
    pub cost_usd: f64,
    /// Estimated cost in micro-dollars.
    pub cost_micros: u64,
    /// What `--draft` saves, in dollars.
    pub draft_savings_usd: Option<f64>,
}

impl<'a> PlanJson<'a> {
    /// The JSON view of a plan.
    pub fn new(plan: &'a Plan) -> Self {
        let nodes = plan
            .order
            .iter()
            .map(|index| {
                let node = &plan.graph[*index];
                let render = node.render();
                NodeJson {
                    id: &node.id,
                    kind: node.kind(),
                    key: node.key.as_str(),
                    deps: plan.deps(*index),
                    label: &node.label,
                    model: render.map(|r| r.model.as_str()),
                    endpoint: render.map(|r| r.endpoint.as_str()),
                    seconds: render.map(|r| round3(r.seconds)),
                    cost_usd: node.cost.dollars(),
                    cost_micros: node.cost.micros(),
                    args: render.map(|r| &r.args),
                    fallbacks: render
                        .map(|r| {
                            r.fallbacks
                                .iter()
                                .map(|f| FallbackJson {
                                    model: &f.model,
                                    endpoint: &f.endpoint,
                                    key: f.key.as_str(),
                                    cost_usd: f.cost.dollars(),
                                    args: &f.args,
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                }
            })
            .collect();
        let total = plan.total_cost();
        PlanJson {
            schema_version: SCHEMA_VERSION,
            episode: EpisodeJson {
                id: &plan.episode,
                title: plan.title.as_deref(),
                manifest: plan.manifest.display().to_string(),
                output: plan.output.display().to_string(),
                canvas: plan.canvas,
                fps: plan.fps,
                layout: plan.layout,
                quality: plan.quality,
                draft: plan.draft,
                budget_usd: plan.budget.map(|(budget, _)| budget.dollars()),
            },
            nodes,
            totals: TotalsJson {
                nodes: plan.graph.node_count(),
                uploads: plan.count(NodeKind::Upload),
                renders: plan.count(NodeKind::Render),
                seconds: round3(plan.total_seconds()),
                cost_usd: total.dollars(),
                cost_micros: total.micros(),
                draft_savings_usd: plan.draft_savings.map(|saving| saving.dollars()),
            },
        }
    }
}

fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}
