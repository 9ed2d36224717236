//! `plan --json`: a documented, versioned schema for nightly jobs and dashboards.
//!
//! Schema version 2 (version 1 plus each node's `status` and `reason`, and the totals of what
//! will run). Stability: fields are only added within a version; a rename or removal
//! bumps `schema_version`, and so does a change of what a field means. Money is given twice: `cost_usd` (a float, for reading) and
//! `cost_micros` (whole micro-dollars, exact: `totals.cost_micros` is the sum of the nodes').
//!
//! ```json
//! {
//!   "schema_version": 2,
//!   "episode": {"id": "...", "title": null, "manifest": "...", "output": "...",
//!               "canvas": {"width": 1920, "height": 1080}, "fps": 30, "layout": "side_by_side",
//!               "quality": "pro", "draft": false, "budget_usd": 15.0},
//!   "nodes": [{"id": "render/cold-open/speaker", "kind": "render", "key": "<sha256>",
//!              "deps": ["upload/ninja.png", "upload/cold-open.mp3"], "label": "...",
//!              "model": "kling-avatar-v2-pro", "endpoint": "fal-ai/kling-video/ai-avatar/v2/pro",
//!              "seconds": 4.2, "cost_usd": 0.483, "cost_micros": 483000, "args": {...},
//!              "status": "will_run", "reason": "changed: prompt", "changes": ["prompt"]}],
//!   "totals": {"nodes": 20, "uploads": 6, "renders": 9, "seconds": 52.1,
//!              "cost_usd": 6.1, "cost_micros": 6100000, "draft_savings_usd": null,
//!              "renders_to_run": 1, "seconds_to_render": 4.2,
//!              "to_spend_usd": 0.483, "to_spend_micros": 483000}
//! }
//! ```
//! Since version 2, against the state folder (`--state-dir`, read only): `status` is `done` (its
//! output is kept and reused, nothing paid) or `will_run`; `reason` says why in words: `reused`,
//! `new`, `changed: <inputs>` (with `changes`, one entry per input: `prompt`, `audio file
//! assets/x.mp3`, `model a → b`), `after <node ids>` (an input will run first), `failed earlier
//! (...)` (only `render --retry-failed` pays again), `submitted earlier as <id>...` (re-attached,
//! paid once), `ambiguous: ...`, `the uploaded copy has expired`, `its file is no longer in the
//! state folder`. `totals.cost_*` is still the whole episode; `to_spend_*`, `renders_to_run` and
//! `seconds_to_render` count only what will run. A render that several segments share carries
//! `shared_by` (the segments, the node's own first) and `shares` (`glitch listening`).
//! `kind` is one of `speech` (a line voiced by ElevenLabs), `upload`, `render`, `download`,
//! `compose`, `audio` (the episode's sound, encoded once from the segments' main clips while they
//! compose), `concat` and `join` (the pieces of a line longer than its model renders, joined into
//! its speaker clip); a new kind is an addition, not a rename or removal, so it keeps the version.
//! `model`, `endpoint`, `seconds` and `args` are present on render nodes only (and `fallbacks`, on
//! renders with a fallback chain: each member's `model`, `endpoint`, `key`, `cost_usd`, `args`);
//! in `args` an input file is `{"$file": "<key>"}`, the key of its upload node (a file's sha256;
//! for a voiced line, a hash of its speech node's key). A render whose speech is not voiced yet has
//! `"estimated": true`: its `seconds` and cost come from the line's estimated length.
//! A speech node has `model` (the ElevenLabs model), `voice_id`, `voice_settings` (only what the
//! manifest set), `output_format`, `text` (exact, tags included), `characters` (billed),
//! `seconds` (estimated, with `"estimated": true`) and `price` (`as_of`, `source`); its cost is
//! characters × the model's price per character. `totals` adds `speeches` and `characters`.
//! A join node has `pauses` (`{"quieter_than_db": -35.0, "at_least_seconds": 0.3}`): what counted
//! as a pause where its line was cut, the manifest's `pauses` or the default.

use crate::{Assessment, NodeKind, Plan, Reason, Status};
use serde::Serialize;

/// The current schema version of `plan --json`.
pub const SCHEMA_VERSION: u32 = 2;

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
    /// `done` (reused) or `will_run`.
    pub status: Status,
    /// Why, in words.
    pub reason: String,
    /// The inputs that changed since the node was last made, when that is the reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<Vec<String>>,
    /// The segments sharing this render (identical requests rendered once).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_by: Option<&'a [String]>,
    /// What the shared render shows: `glitch listening`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shares: Option<&'a str>,
    /// Whether `seconds` and the cost are estimates (a render of a line not voiced yet; speech).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub estimated: bool,
    /// ElevenLabs voice id (speech nodes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voice_id: Option<&'a str>,
    /// `voice_settings` sent (speech nodes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voice_settings: Option<&'a episodic_manifest::VoiceSettings>,
    /// `output_format` asked for (speech nodes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_format: Option<&'a str>,
    /// The exact text voiced (speech nodes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<&'a str>,
    /// Characters billed (speech nodes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub characters: Option<usize>,
    /// When and where the price per character was read (speech nodes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<PriceJson<'a>>,
    /// The models that take over, in order (render nodes with a fallback chain); the node's cost
    /// is the dearest member's.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fallbacks: Vec<FallbackJson<'a>>,
    /// What counted as a pause where the line was cut (join nodes): `quieter_than_db` and
    /// `at_least_seconds`, the manifest's `pauses` or the default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pauses: Option<&'a episodic_manifest::PauseRule>,
}

/// The date and source of a price.
#[derive(Debug, Serialize)]
pub struct PriceJson<'a> {
    /// When it was read.
    pub as_of: &'a str,
    /// Where.
    pub source: &'a str,
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
    /// Number of speech nodes (unique lines).
    pub speeches: usize,
    /// Characters voiced.
    pub characters: usize,
    /// Number of align nodes (recordings whose words ElevenLabs times); not priced: the
    /// reference states no price for forced alignment. Absent when there are none.
    #[serde(skip_serializing_if = "is_zero")]
    pub alignments: usize,
    /// Seconds of video rendered.
    pub seconds: f64,
    /// Estimated cost in dollars.
    pub cost_usd: f64,
    /// Estimated cost in micro-dollars.
    pub cost_micros: u64,
    /// What `--draft` saves, in dollars.
    pub draft_savings_usd: Option<f64>,
    /// Renders that will run.
    pub renders_to_run: usize,
    /// Seconds of video the renders that will run produce.
    pub seconds_to_render: f64,
    /// What the renders that will run are estimated to cost, in dollars.
    pub to_spend_usd: f64,
    /// The same in micro-dollars.
    pub to_spend_micros: u64,
}

impl<'a> PlanJson<'a> {
    /// The JSON view of a plan with nothing done yet.
    pub fn new(plan: &'a Plan) -> Self {
        PlanJson::assessed(plan, &Assessment::fresh(plan))
    }

    /// The JSON view of a plan, each node with its status against the state folder.
    pub fn assessed(plan: &'a Plan, assessment: &Assessment) -> Self {
        let nodes = plan
            .order
            .iter()
            .zip(&assessment.nodes)
            .map(|(index, status)| {
                let node = &plan.graph[*index];
                let render = node.render();
                let speech = node.speech();
                let shared = plan.shared.get(index);
                NodeJson {
                    id: &node.id,
                    kind: node.kind(),
                    key: node.key.as_str(),
                    deps: plan.deps(*index),
                    label: &node.label,
                    model: render.map(|r| r.model.as_str()).or(speech.map(|s| s.model.as_str())),
                    endpoint: render.map(|r| r.endpoint.as_str()),
                    seconds: render
                        .map(|r| round3(r.seconds))
                        .or(speech.map(|s| round3(s.estimated_seconds))),
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
                    estimated: render.is_some_and(|r| r.estimated) || speech.is_some(),
                    voice_id: speech.map(|s| s.voice_id.as_str()),
                    voice_settings: speech.map(|s| &s.settings),
                    output_format: speech.map(|s| s.output_format.as_str()),
                    text: speech.map(|s| s.text.as_str()),
                    characters: speech.map(|s| s.characters),
                    price: speech.map(|s| PriceJson { as_of: &s.price_as_of, source: &s.price_source }),
                    status: status.status,
                    reason: status.reason.to_string(),
                    changes: match &status.reason {
                        Reason::Changed(changes) => Some(changes.iter().map(ToString::to_string).collect()),
                        _ => None,
                    },
                    shared_by: shared.map(|sharing| sharing.segments.as_slice()),
                    shares: shared.map(|sharing| sharing.what.as_str()),
                    pauses: match &node.detail {
                        crate::NodeDetail::Join(spec) => Some(&spec.pauses),
                        _ => None,
                    },
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
                speeches: plan.count(NodeKind::Speech),
                characters: plan.total_characters(),
                alignments: plan.count(NodeKind::Align),
                seconds: round3(plan.total_seconds()),
                cost_usd: total.dollars(),
                cost_micros: total.micros(),
                draft_savings_usd: plan.draft_savings.map(|saving| saving.dollars()),
                renders_to_run: assessment.renders_to_run(plan),
                seconds_to_render: round3(assessment.seconds_to_render(plan)),
                to_spend_usd: assessment.to_spend(plan).dollars(),
                to_spend_micros: assessment.to_spend(plan).micros(),
            },
        }
    }
}

fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

fn is_zero(count: &usize) -> bool {
    *count == 0
}
