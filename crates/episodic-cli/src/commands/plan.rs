//! `episodic plan`: the DAG and its cost, as a table, JSON or Graphviz.

use super::plan_file::{self, Basis, Choices, plan_json};
use super::preview::Preview;
use super::{catalog, check, invalid, probe, report_late};
use crate::args::PlanArgs;
use crate::error::CliError;
use crate::printer::Printer;
use episodic_catalog::{Catalog, Usd};
use episodic_engine::Journal;
use episodic_plan::{Assessment, LISTENER_POLICY, NodeKind, Plan, PlanOptions};
use std::collections::BTreeSet;
use std::fmt::Write;
use std::process::ExitCode;

pub fn run(args: PlanArgs, printer: &Printer) -> Result<ExitCode, CliError> {
    let catalog = catalog(&args.prices)?;
    let probe = probe()?;
    let episode = check(&args.manifest, &catalog, &probe, printer)?;
    let choices =
        Choices { draft: args.draft, scale: args.scale, only: args.only.clone(), first: args.first };
    let Prepared { plan, preview } = prepare(&episode, &catalog, &probe, &choices)?;
    let budget = plan.budget_problem();
    let late: Vec<_> = plan.warnings.iter().cloned().chain(budget.clone()).collect();
    report_late(&args.manifest, &late, printer);
    let assessment = assess(&plan, &args.state_dir, args.journal.as_deref())?;
    let basis = Basis::of(&plan, &catalog, &args.manifest, &choices)?;
    let mut json = plan_json(&plan, &assessment, &basis);
    if let (Some(preview), Some(fields)) = (&preview, json.as_object_mut()) {
        fields.insert("preview".into(), preview.json(&plan));
    }
    if let Some(out) = &args.out {
        plan_file::write(out, &json)?;
    }

    if args.json {
        let json = serde_json::to_string_pretty(&json).unwrap_or_default();
        printer.out(&format!("{json}\n"))?;
    } else if args.dot {
        printer.out(&episodic_plan::to_dot(&plan))?;
    } else {
        let mut text = table(&plan, &assessment, &catalog);
        if let Some(preview) = &preview {
            text.push_str(&preview.line(&plan));
        }
        printer.out(&text)?;
    }
    match budget {
        Some(_) => Err(invalid(&args.manifest, 1, "the estimate is over budget")),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// A plan, and the preview it is when `--only` or `--first` asked for one.
pub(super) struct Prepared {
    /// What will be rendered.
    pub plan: Plan,
    /// The preview, with what the full episode would cost.
    pub preview: Option<PreviewPlan>,
}

/// A preview's plan against the full episode's.
pub(super) struct PreviewPlan {
    /// What the preview keeps.
    pub preview: Preview,
    /// The full episode's estimate.
    pub full_cost: Usd,
}

impl PreviewPlan {
    /// The line under the table: what the preview is and what it saves.
    pub fn line(&self, plan: &Plan) -> String {
        let preview = &self.preview;
        let cut = preview
            .cut
            .as_ref()
            .map(|cut| format!("; {} cut at a pause at {:.2} s of {:.2} s", cut.segment, cut.at, cut.of))
            .unwrap_or_default();
        let cost = plan.total_cost();
        format!(
            "Preview: {} of {} segments ({}{cut}), {:.1} s of {:.1} s → {} estimated against {} for the full episode, saving {}; written to {}\n",
            preview.segments.len(),
            preview.of,
            preview.segments.join(", "),
            preview.seconds,
            preview.full_seconds,
            precise(cost),
            precise(self.full_cost),
            precise(self.full_cost.saturating_sub(cost)),
            plan.output.display()
        )
    }

    /// `preview` in `plan --json`.
    pub fn json(&self, plan: &Plan) -> serde_json::Value {
        let mut json = serde_json::to_value(&self.preview).unwrap_or_default();
        let cost = plan.total_cost();
        if let Some(fields) = json.as_object_mut() {
            fields.insert("cost_usd".into(), cost.dollars().into());
            fields.insert("full_cost_usd".into(), self.full_cost.dollars().into());
            fields.insert("saving_usd".into(), self.full_cost.saturating_sub(cost).dollars().into());
            fields.insert("output".into(), plan.output.display().to_string().into());
        }
        json
    }
}

/// The plan of an episode with the choices made on the command line (or saved in a plan file):
/// the whole episode, or the preview `--only` / `--first` ask for.
pub(super) fn prepare(
    episode: &episodic_manifest::Episode,
    catalog: &Catalog,
    probe: &episodic_media::Probe,
    choices: &Choices,
) -> Result<Prepared, CliError> {
    let options = PlanOptions { draft: choices.draft, canvas_divisor: choices.scale };
    Ok(match super::preview::apply(episode, choices, catalog, probe)? {
        None => Prepared { plan: Plan::build(episode, catalog, options), preview: None },
        Some((cut, preview)) => Prepared {
            plan: Plan::build(&cut, catalog, options),
            preview: Some(PreviewPlan {
                preview,
                full_cost: Plan::build(episode, catalog, options).total_cost(),
            }),
        },
    })
}

/// What the state folder (or the shared journal at `journal_url`) already holds of the plan, read
/// without creating or changing anything in the folder.
pub(super) fn assess(
    plan: &Plan,
    state_dir: &std::path::Path,
    journal_url: Option<&str>,
) -> Result<Assessment, CliError> {
    let journal = Journal::open_read_only_at(state_dir, journal_url).map_err(super::render::state_error)?;
    episodic_engine::assess(plan, journal.as_ref(), episodic_engine::journal::now())
        .map_err(super::render::state_error)
}

/// The human table: one row per node with its status and why, then what will be spent, the
/// budget and the prices used.
pub fn table(plan: &Plan, assessment: &Assessment, catalog: &Catalog) -> String {
    let mut out = String::new();
    let title = plan.title.as_deref().map(|title| format!(" \"{title}\"")).unwrap_or_default();
    let _ = writeln!(out, "Plan for {}{title} ({})", plan.episode, plan.manifest.display());
    let _ = writeln!(
        out,
        "{} · {}{} · {} · canvas {} @ {} fps → {}",
        aspect_of(plan),
        plan.quality,
        if plan.draft { " (draft)" } else { "" },
        plan.layout.as_str(),
        plan.canvas,
        plan.fps,
        plan.output.display()
    );
    out.push('\n');

    let header = ["#", "node", "kind", "model", "seconds", "est. $", "status", "reason"];
    let rows: Vec<[String; 8]> = plan
        .order
        .iter()
        .zip(&assessment.nodes)
        .enumerate()
        .map(|(index, (at, status))| {
            let node = &plan.graph[*at];
            let render = node.render();
            let speech = node.speech();
            // `~`: a length (and a render's cost) estimated from a line not voiced yet.
            let estimated = render.is_some_and(|r| r.estimated);
            let model = render.map(|r| r.model.clone()).or(speech.map(|s| s.model.clone()));
            let seconds = render
                .map(|r| format!("{}{:.2}", if estimated { "~" } else { "" }, r.seconds))
                .or(speech.map(|s| format!("~{:.2}", s.estimated_seconds)));
            let cost = match node.kind() {
                NodeKind::Render if estimated => format!("~{}", precise(node.cost)),
                NodeKind::Render | NodeKind::Speech => precise(node.cost),
                _ => "-".into(),
            };
            let mut reason = status.reason.to_string();
            if let Some(sharing) = plan.shared.get(at) {
                let _ = write!(reason, "; {}, shared by {} segments", sharing.what, sharing.segments.len());
            }
            [
                (index + 1).to_string(),
                node.id.clone(),
                node.kind().to_string(),
                model.unwrap_or_else(|| "-".into()),
                seconds.unwrap_or_else(|| "-".into()),
                cost,
                status.status.as_str().to_owned(),
                reason,
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 8]| {
        let text = format!(
            "{:>w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {:>w4$}  {:>w5$}  {:<w6$}  {}",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            cells[4],
            cells[5],
            cells[6],
            cells[7],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
            w4 = widths[4],
            w5 = widths[5],
            w6 = widths[6],
        );
        format!("{}\n", text.trim_end())
    };
    out.push_str(&line(header));
    for row in &rows {
        out.push_str(&line([&row[0], &row[1], &row[2], &row[3], &row[4], &row[5], &row[6], &row[7]]));
    }
    out.push('\n');

    let total = plan.total_cost();
    let to_spend = assessment.to_spend(plan);
    let renders = plan.count(NodeKind::Render);
    let to_run = assessment.renders_to_run(plan);
    let whole = if to_spend == total { String::new() } else { format!(", of {} in all", precise(total)) };
    let _ = writeln!(
        out,
        "Total: {renders} renders ({to_run} will run, {} reused), {} unique uploads; to spend: {:.1} s of video → {} estimated ({}){whole}",
        renders - to_run,
        plan.count(NodeKind::Upload),
        assessment.seconds_to_render(plan),
        precise(to_spend),
        to_spend,
    );
    if plan.count(NodeKind::Speech) > 0 {
        let speech: Usd =
            plan.nodes().filter(|node| node.kind() == NodeKind::Speech).map(|node| node.cost).sum();
        let _ = writeln!(
            out,
            "Speech: {} lines, {} characters voiced (tags included) → {} of the total",
            plan.count(NodeKind::Speech),
            plan.total_characters(),
            precise(speech)
        );
    }
    if plan.count(NodeKind::Align) > 0 {
        let _ = writeln!(
            out,
            "Alignment: {} recordings' text timed by ElevenLabs forced alignment (price unknown: not in the price list this plan uses, not counted in the total)",
            plan.count(NodeKind::Align)
        );
    }
    if plan.has_estimates() {
        let _ = writeln!(
            out,
            "~ estimated: a line's length (and its render's cost) from {} characters a second until it is voiced",
            episodic_catalog::SPEAKING_RATE_CHARS_PER_SECOND
        );
    }
    if let Some((budget, _)) = plan.budget {
        if total <= budget {
            let _ = writeln!(out, "Budget: {budget}, {} to spare", budget - total);
        } else {
            let _ = writeln!(out, "Budget: {budget}, OVER by {}", total - budget);
        }
    }
    if let Some(savings) = plan.draft_savings {
        let _ = writeln!(
            out,
            "Draft: every avatar on {} saves {} against the full-quality plan",
            catalog.draft_avatar().name,
            savings
        );
    }
    let _ = writeln!(out, "Listener clips: {LISTENER_POLICY}.");
    split_lines(&mut out, plan);
    fallback_chains(&mut out, plan);
    // A fallback chain's later models are priced too: the estimate may be theirs.
    let models: BTreeSet<&str> = plan
        .nodes()
        .filter_map(|node| node.render())
        .flat_map(|r| std::iter::once(r.model.as_str()).chain(r.fallbacks.iter().map(|f| f.model.as_str())))
        .collect();
    let voices: BTreeSet<&str> =
        plan.nodes().filter_map(|node| node.speech().map(|s| s.model.as_str())).collect();
    if !models.is_empty() || !voices.is_empty() {
        let _ = writeln!(out, "Prices used:");
        for voice in voices.into_iter().filter_map(episodic_catalog::voice_model) {
            let _ = writeln!(
                out,
                "  {} {} per 1,000 characters (as of {}, {})",
                voice.id,
                precise(voice.cost(1_000)),
                voice.as_of,
                voice.source
            );
        }
        for model in models.into_iter().filter_map(|name| catalog.get(name)) {
            let _ = writeln!(
                out,
                "  {} {}/s (as of {}, {})",
                model.name,
                precise(model.price.per_second),
                model.price.as_of,
                model.price.source
            );
        }
    }
    out
}

fn aspect_of(plan: &Plan) -> &'static str {
    let (width, height) = (plan.canvas.width, plan.canvas.height);
    if width > height {
        "16:9"
    } else if width < height {
        "9:16"
    } else {
        "1:1"
    }
}

/// Dollars with three decimals, for per-node costs that are often under a dollar.
pub(super) fn precise(amount: Usd) -> String {
    let mills = (amount.micros() + 500) / 1_000;
    format!("${}.{:03}", mills / 1_000, mills % 1_000)
}

/// Lines longer than their model renders: where each is cut, and each piece's span.
fn split_lines(out: &mut String, plan: &Plan) {
    let joins: Vec<&episodic_plan::JoinSpec> = plan
        .nodes()
        .filter_map(|node| match &node.detail {
            episodic_plan::NodeDetail::Join(spec) => Some(spec),
            _ => None,
        })
        .collect();
    if joins.is_empty() {
        return;
    }
    let _ = writeln!(out, "Long lines, rendered in pieces cut at pauses and joined with a crossfade:");
    for join in joins {
        let pieces: Vec<String> = join
            .pieces
            .iter()
            .map(|piece| format!("{:.2}-{:.2} s", piece.start, piece.start + piece.seconds))
            .collect();
        let cuts: Vec<String> =
            join.pieces.iter().skip(1).map(|piece| format!("{:.2} s", piece.start)).collect();
        let rule =
            if join.pauses.is_default() { String::new() } else { format!(" (pauses {})", join.pauses) };
        let _ = writeln!(
            out,
            "  {}: {} pieces ({}), cut at {}{rule}",
            join.segment,
            join.pieces.len(),
            pieces.join(", "),
            cuts.join(", ")
        );
    }
}

/// Renders with a fallback chain: the models in order, each with its price for the clip.
fn fallback_chains(out: &mut String, plan: &Plan) {
    let chained: Vec<(&str, &episodic_plan::RenderSpec, episodic_catalog::Usd)> = plan
        .nodes()
        .filter_map(|node| node.render().map(|render| (node.id.as_str(), render, node.cost)))
        .filter(|(_, render, _)| !render.fallbacks.is_empty())
        .collect();
    if chained.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "Fallback chains (the next model takes over on a 404, a 422 outside the model's limits, or {} failed renders; each clip is estimated at its dearest model):",
        chained[0].1.fallback_after
    );
    for (id, render, cost) in chained {
        let models: Vec<&str> = std::iter::once(render.model.as_str())
            .chain(render.fallbacks.iter().map(|fallback| fallback.model.as_str()))
            .collect();
        let _ = writeln!(out, "  {id}: {} (estimated {})", models.join(" → "), precise(cost));
    }
}
