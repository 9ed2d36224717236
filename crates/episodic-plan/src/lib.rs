//! The plan: an episode turned into a DAG of nodes (speech → upload → render → download →
//! compose → concat, and download → audio → concat), each with a stable key that names what determines its output, and a cost estimate.
//!
//! Planning is pure: it reads a resolved [`episodic_manifest::Episode`] and the catalog, and does
//! no I/O, so `plan` can show the whole job and its price before anything is spent.

mod build;
mod dot;
mod json;
mod key;
mod node;
mod parts;
mod status;

pub use build::{LISTENER_POLICY, PlanOptions};
pub use dot::to_dot;
pub use json::{FallbackJson, PlanJson, PriceJson, SCHEMA_VERSION};
pub use key::NodeKey;
pub use node::{
    AlignSpec, AudioSegment, AudioSpec, BurnedCaptions, ComposeSpec, ConcatSpec, FILE_PLACEHOLDER,
    FORCED_ALIGNMENT_ENDPOINT, FallbackSpec, JoinPieceSpec, JoinSpec, ListenerFill, Node, NodeDetail,
    NodeKind, RenderRole, RenderSpec, SidecarSegment, SidecarSpec, SpeechSpec, UploadSpec,
};
pub use parts::{Change, FileNames, Parts};
pub use status::{Assessment, NodeStatus, Reason, Status};

use episodic_catalog::{Resolution, Tier, Usd};
use episodic_manifest::{Layout, Problem, Span};
use petgraph::graph::{DiGraph, NodeIndex};
use std::collections::HashMap;
use std::path::PathBuf;

/// An episode's DAG with costs.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The episode id.
    pub episode: String,
    /// Its title.
    pub title: Option<String>,
    /// The manifest it came from.
    pub manifest: PathBuf,
    /// Where the episode is written.
    pub output: PathBuf,
    /// The frame every segment is composed onto.
    pub canvas: Resolution,
    /// Its frame rate.
    pub fps: u32,
    /// The episode's layout.
    pub layout: Layout,
    /// The tier avatars render at.
    pub quality: Tier,
    /// Whether `--draft` switched avatars to the standard tier.
    pub draft: bool,
    /// What `--draft` saves against the full-quality plan.
    pub draft_savings: Option<Usd>,
    /// The manifest's budget and where it was written.
    pub budget: Option<(Usd, Span)>,
    /// The DAG; edges point from a node to the nodes that need it.
    pub graph: DiGraph<Node, ()>,
    /// Node indices in an order where every node comes after its inputs.
    pub order: Vec<NodeIndex>,
    /// Things worth knowing that planning found.
    pub warnings: Vec<Problem>,
    /// How captions are drawn, when the manifest asks for them (each compose carries its text).
    pub captions: Option<episodic_manifest::Captions>,
    /// Renders asked for by more than one segment, rendered once and shared.
    pub shared: HashMap<NodeIndex, Sharing>,
    /// Renders whose segment asked for a fresh take (`take: N`, N > 1), by take.
    pub takes: HashMap<NodeIndex, u32>,
    /// The renders of a long line's pieces, by the pause rule the line was cut at: `plan` names
    /// the rule when a piece changed.
    pub cut_by: HashMap<NodeIndex, episodic_manifest::PauseRule>,
}

/// One render that several segments asked for with identical requests: it is rendered (and
/// paid for) once, and `plan` says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sharing {
    /// What the clip shows, for tables: `glitch listening`.
    pub what: String,
    /// Every segment that uses it, the first (which names the node) included.
    pub segments: Vec<String>,
}

impl Plan {
    /// Nodes in dependency order.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.order.iter().map(|index| &self.graph[*index])
    }

    /// The ids of the nodes a node needs.
    pub fn deps(&self, index: NodeIndex) -> Vec<&str> {
        let mut deps: Vec<&str> = self
            .graph
            .neighbors_directed(index, petgraph::Direction::Incoming)
            .map(|dep| self.graph[dep].id.as_str())
            .collect();
        deps.sort_unstable();
        deps
    }

    /// The estimated cost of the whole plan: the sum of its nodes' costs.
    pub fn total_cost(&self) -> Usd {
        self.nodes().map(|node| node.cost).sum()
    }

    /// Characters that will be voiced (and billed) by ElevenLabs.
    pub fn total_characters(&self) -> usize {
        self.nodes().filter_map(|node| node.speech().map(|speech| speech.characters)).sum()
    }

    /// Whether any render's length is an estimate (its speech is not voiced yet).
    pub fn has_estimates(&self) -> bool {
        self.nodes().any(|node| node.render().is_some_and(|render| render.estimated))
    }

    /// Seconds of video that will be rendered (and billed).
    pub fn total_seconds(&self) -> f64 {
        self.nodes().filter_map(|node| node.render().map(|render| render.seconds)).sum()
    }

    /// How many nodes of a kind the plan has.
    pub fn count(&self, kind: NodeKind) -> usize {
        self.nodes().filter(|node| node.kind() == kind).count()
    }

    /// An error when the estimate exceeds the manifest's budget.
    pub fn budget_problem(&self) -> Option<Problem> {
        let (budget, span) = self.budget?;
        let total = self.total_cost();
        if total <= budget {
            return None;
        }
        let mut help = format!(
            "raise `budget_usd` to at least {}, or cut segments; `episodic plan` shows the cost of each clip",
            total
        );
        if !self.draft && self.quality == Tier::Pro {
            help.push_str("; `--draft` renders avatars on the cheaper standard tier");
        }
        Some(
            Problem::error("over-budget", format!("the estimate, {total}, is over the budget of {budget}"))
                .with_span(span, format!("budget {budget}"))
                .with_help(help),
        )
    }
}
