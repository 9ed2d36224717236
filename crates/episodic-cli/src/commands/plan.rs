//! `episodic plan`: the DAG and its cost, as a table, JSON or Graphviz.

use super::{catalog, check, invalid, probe, report_late};
use crate::args::PlanArgs;
use crate::error::CliError;
use crate::printer::Printer;
use episodic_catalog::{Catalog, Usd};
use episodic_plan::{LISTENER_POLICY, NodeKind, Plan, PlanJson, PlanOptions};
use std::collections::BTreeSet;
use std::fmt::Write;
use std::process::ExitCode;

pub fn run(args: PlanArgs, printer: &Printer) -> Result<ExitCode, CliError> {
    let catalog = catalog(&args.prices)?;
    let probe = probe()?;
    let episode = check(&args.manifest, &catalog, &probe, printer)?;
    let plan = Plan::build(&episode, &catalog, PlanOptions { draft: args.draft, ..PlanOptions::default() });
    let budget = plan.budget_problem();
    let late: Vec<_> = plan.warnings.iter().cloned().chain(budget.clone()).collect();
    report_late(&args.manifest, &late, printer);

    if args.json {
        let json = serde_json::to_string_pretty(&PlanJson::new(&plan)).unwrap_or_default();
        printer.out(&format!("{json}\n"))?;
    } else if args.dot {
        printer.out(&episodic_plan::to_dot(&plan))?;
    } else {
        printer.out(&table(&plan, &catalog))?;
    }
    match budget {
        Some(_) => Err(invalid(&args.manifest, 1, "the estimate is over budget")),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// The human table: one row per node, then totals, the budget and the prices used.
pub fn table(plan: &Plan, catalog: &Catalog) -> String {
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

    let header = ["#", "node", "kind", "model", "seconds", "est. $"];
    let rows: Vec<[String; 6]> = plan
        .nodes()
        .enumerate()
        .map(|(index, node)| {
            let render = node.render();
            [
                (index + 1).to_string(),
                node.id.clone(),
                node.kind().to_string(),
                render.map(|r| r.model.clone()).unwrap_or_else(|| "-".into()),
                render.map(|r| format!("{:.2}", r.seconds)).unwrap_or_else(|| "-".into()),
                if node.kind() == NodeKind::Render { precise(node.cost) } else { "-".into() },
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 6]| {
        format!(
            "{:>w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {:>w4$}  {:>w5$}\n",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            cells[4],
            cells[5],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
            w4 = widths[4],
            w5 = widths[5],
        )
    };
    out.push_str(&line(header));
    for row in &rows {
        out.push_str(&line([&row[0], &row[1], &row[2], &row[3], &row[4], &row[5]]));
    }
    out.push('\n');

    let total = plan.total_cost();
    let _ = writeln!(
        out,
        "Total: {} renders, {:.1} s of video, {} unique uploads → {} estimated ({})",
        plan.count(NodeKind::Render),
        plan.total_seconds(),
        plan.count(NodeKind::Upload),
        precise(total),
        total
    );
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
    if !models.is_empty() {
        let _ = writeln!(out, "Prices used:");
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
fn precise(amount: Usd) -> String {
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
        let _ = writeln!(
            out,
            "  {}: {} pieces ({}), cut at {}",
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
