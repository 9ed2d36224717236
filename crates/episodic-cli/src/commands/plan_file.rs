//! Plan, then apply exactly that plan: `plan --out plan.json` saves a plan with its basis (what it
//! was made from), and `render --plan plan.json` renders it only while that basis still holds.
//!
//! The basis names everything that decides what a render does and costs: the manifest's bytes,
//! each input file's content, the price of every model the plan uses, the model catalog, the
//! choices the plan was made with (`--draft`, `--scale`, previews), and which renders were done.
//! Anything that moved is named, and nothing is sent: the producer plans again and looks.

use crate::error::CliError;
use episodic_catalog::{Catalog, Usd};
use episodic_plan::{Assessment, NodeDetail, NodeKind, Plan, Status, UploadSpec};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The choices that change a plan: the same flags on `plan` and `render`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Choices {
    /// `--draft`.
    pub draft: bool,
    /// `--scale`.
    pub scale: u32,
    /// `--only`: the segments a preview renders (empty: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub only: Vec<String>,
    /// `--first`: the seconds a preview renders from the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<f64>,
}

impl Choices {
    /// The flags that make these choices, each with a leading space: ` --scale 8 --first 10`.
    pub fn flags(&self) -> String {
        let mut flags = String::new();
        if self.draft {
            flags.push_str(" --draft");
        }
        if self.scale > 1 {
            flags.push_str(&format!(" --scale {}", self.scale));
        }
        if !self.only.is_empty() {
            flags.push_str(&format!(" --only {}", self.only.join(",")));
        }
        if let Some(first) = self.first {
            flags.push_str(&format!(" --first {first}"));
        }
        flags
    }
}

/// A model's rates, as the plan priced it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelPrice {
    /// Per second, in micro-dollars.
    pub per_second_micros: u64,
    /// Per second with generated audio, where the model has such a rate.
    pub with_audio_micros: Option<u64>,
}

/// What a plan was made from (`basis` in `plan --json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Basis {
    /// The manifest, as given.
    pub manifest: PathBuf,
    /// sha256 of its bytes.
    pub manifest_sha256: String,
    /// The choices the plan was made with.
    pub choices: Choices,
    /// Every input file (as the manifest wrote it) and the sha256 of its content.
    pub inputs: BTreeMap<String, String>,
    /// The price of every model the plan renders on.
    pub prices: BTreeMap<String, ModelPrice>,
    /// sha256 of the catalog without its prices (endpoints, arguments, limits, durations).
    pub catalog_sha256: String,
}

impl Basis {
    /// The basis of a plan built now from `manifest` with `choices`.
    pub fn of(plan: &Plan, catalog: &Catalog, manifest: &Path, choices: &Choices) -> Result<Basis, CliError> {
        let bytes = std::fs::read(manifest).map_err(|err| CliError::Blocked {
            message: format!("cannot read `{}`: {err}", manifest.display()),
            help: "check the path".into(),
        })?;
        let mut inputs = BTreeMap::new();
        let mut prices = BTreeMap::new();
        for node in plan.nodes() {
            match &node.detail {
                NodeDetail::Upload(UploadSpec::File { file }) => {
                    inputs.insert(file.written.clone(), file.sha256.clone());
                }
                // A line's text is in the manifest's hash; its audio does not exist yet.
                NodeDetail::Upload(UploadSpec::Speech { .. }) => {}
                NodeDetail::Render(render) => {
                    if let Some(model) = catalog.get(&render.model) {
                        prices.insert(
                            model.name.clone(),
                            ModelPrice {
                                per_second_micros: model.price.per_second.micros(),
                                with_audio_micros: model.price.with_audio.map(Usd::micros),
                            },
                        );
                    }
                }
                _ => {}
            }
        }
        Ok(Basis {
            manifest: manifest.to_owned(),
            manifest_sha256: hex::encode(Sha256::digest(&bytes)),
            choices: choices.clone(),
            inputs,
            prices,
            catalog_sha256: catalog_fingerprint(catalog),
        })
    }
}

/// The catalog's models without their prices (prices are compared one by one, by name).
fn catalog_fingerprint(catalog: &Catalog) -> String {
    let models: Vec<serde_json::Value> = catalog
        .models()
        .iter()
        .map(|model| {
            let mut value = serde_json::to_value(model).unwrap_or_default();
            if let Some(fields) = value.as_object_mut() {
                fields.remove("price");
            }
            value
        })
        .collect();
    episodic_plan::NodeKey::of_json(&serde_json::Value::Array(models)).as_str().to_owned()
}

/// The JSON of a plan with its basis: what `plan --json` prints and `plan --out` writes.
pub fn plan_json(plan: &Plan, assessment: &Assessment, basis: &Basis) -> serde_json::Value {
    let mut json =
        serde_json::to_value(episodic_plan::PlanJson::assessed(plan, assessment)).unwrap_or_default();
    if let Some(fields) = json.as_object_mut() {
        fields.insert("basis".into(), serde_json::to_value(basis).unwrap_or_default());
    }
    json
}

/// A plan as `plan --out` saved it: what `render --plan` checks.
#[derive(Debug, Deserialize)]
pub struct SavedPlan {
    /// What it was made from.
    pub basis: Basis,
    /// Its nodes.
    pub nodes: Vec<SavedNode>,
}

/// One node of a saved plan.
#[derive(Debug, Deserialize)]
pub struct SavedNode {
    /// The node id.
    pub id: String,
    /// Its key.
    pub key: String,
    /// Its kind.
    pub kind: NodeKind,
    /// Done or will run, when planned.
    pub status: Status,
}

/// Reads a plan written by `plan --out`.
pub fn read(path: &Path) -> Result<SavedPlan, CliError> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|err| CliError::Blocked {
        message: format!("cannot read the plan `{shown}`: {err}"),
        help: "write one with `episodic plan FILE --out plan.json`".into(),
    })?;
    serde_json::from_str(&text).map_err(|err| CliError::Blocked {
        message: format!("`{shown}` is not a plan written by `episodic plan --out`: {err}"),
        help: "write one with `episodic plan FILE --out plan.json`".into(),
    })
}

/// Writes a plan for `render --plan`.
pub fn write(path: &Path, json: &serde_json::Value) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(json).unwrap_or_default() + "\n";
    std::fs::write(path, text).map_err(|err| CliError::Blocked {
        message: format!("cannot write the plan to `{}`: {err}", path.display()),
        help: "choose another path for --out".into(),
    })
}

/// Everything that moved since the plan was saved, one line each; empty when it still holds.
pub fn drift(saved: &SavedPlan, basis: &Basis, plan: &Plan, assessment: &Assessment) -> Vec<String> {
    let before = &saved.basis;
    let mut drift = Vec::new();
    if before.manifest_sha256 != basis.manifest_sha256 {
        drift.push(format!("the manifest `{}` changed", basis.manifest.display()));
    }
    for (path, sha256) in &before.inputs {
        match basis.inputs.get(path) {
            None => drift.push(format!("input `{path}` is no longer used")),
            Some(now) if now != sha256 => drift.push(format!("the content of input `{path}` changed")),
            Some(_) => {}
        }
    }
    for path in basis.inputs.keys().filter(|path| !before.inputs.contains_key(*path)) {
        drift.push(format!("input `{path}` is new"));
    }
    let models: BTreeSet<&String> = before.prices.keys().chain(basis.prices.keys()).collect();
    for model in models {
        match (before.prices.get(model), basis.prices.get(model)) {
            (Some(old), Some(new)) if old != new => drift.push(format!(
                "the price of {model} changed: {}/s → {}/s",
                super::plan::precise(Usd::from_micros(old.per_second_micros)),
                super::plan::precise(Usd::from_micros(new.per_second_micros))
            )),
            (Some(_), None) => drift.push(format!("{model} is no longer used")),
            (None, Some(_)) => drift.push(format!("{model} is new to the plan")),
            _ => {}
        }
    }
    if before.catalog_sha256 != basis.catalog_sha256 {
        drift.push("the model catalog changed (another version of episodic?)".into());
    }
    if drift.is_empty() {
        // Same inputs, another plan: this episodic plans differently from the one that saved it.
        let now: BTreeMap<&str, &str> =
            plan.nodes().map(|node| (node.id.as_str(), node.key.as_str())).collect();
        let then: BTreeMap<&str, &str> =
            saved.nodes.iter().map(|node| (node.id.as_str(), node.key.as_str())).collect();
        if now != then {
            drift.push("the plan's nodes differ from what this episodic plans from the same inputs".into());
        }
    }
    // Renders done when planned must still be done: otherwise the run would pay for them.
    let status: BTreeMap<&str, &episodic_plan::NodeStatus> =
        plan.nodes().map(|node| node.id.as_str()).zip(&assessment.nodes).collect();
    for node in saved.nodes.iter().filter(|node| node.kind == NodeKind::Render && node.status == Status::Done)
    {
        if let Some(now) = status.get(node.id.as_str()).filter(|now| now.runs()) {
            drift.push(format!("{} was done when planned and would now run ({})", node.id, now.reason));
        }
    }
    drift
}
