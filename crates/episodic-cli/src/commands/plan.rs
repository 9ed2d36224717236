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
            [
                (index + 1).to_string(),
                node.id.clone(),
                node.kind().to_string(),
                model.unwrap_or_else(|| "-".into()),
                seconds.unwrap_or_else(|| "-".into()),
                cost,
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
    let models: BTreeSet<&str> =
        plan.nodes().filter_map(|node| node.render().map(|r| r.model.as_str())).collect();
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
fn precise(amount: Usd) -> String {
    let mills = (amount.micros() + 500) / 1_000;
    format!("${}.{:03}", mills / 1_000, mills % 1_000)
}
