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
    /// Show the render DAG of a manifest and what it will cost, without spending anything.
    Plan(PlanArgs),
    /// Check a manifest and its media; report every problem at once.
    Validate(ValidateArgs),
    /// List the models episodic can render with, their prices and limits.
    Models(ModelsArgs),
    /// List the prompt presets.
    Presets(PresetsArgs),
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
