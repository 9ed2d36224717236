//! `episodic validate`: check manifests and their media without printing a plan.

use super::{catalog, check, probe, report_late};
use crate::args::ValidateArgs;
use crate::error::CliError;
use crate::printer::Printer;
use episodic_plan::{NodeKind, Plan, PlanOptions};
use std::process::ExitCode;

pub fn run(args: ValidateArgs, printer: &Printer) -> Result<ExitCode, CliError> {
    let catalog = catalog(&args.prices)?;
    let probe = probe()?;
    let mut failed = Vec::new();
    for path in &args.manifests {
        let episode = match check(path, &catalog, &probe, printer) {
            Ok(episode) => episode,
            Err(err) => {
                printer.error(&err);
                failed.push(path);
                continue;
            }
        };
        let plan =
            Plan::build(&episode, &catalog, PlanOptions { draft: args.draft, ..PlanOptions::default() });
        let budget = plan.budget_problem();
        let late: Vec<_> = plan.warnings.iter().cloned().chain(budget.clone()).collect();
        report_late(path, &late, printer);
        if budget.is_some() {
            printer.error(&super::invalid(path, 1, "the estimate is over budget"));
            failed.push(path);
            continue;
        }
        let lines = match plan.count(NodeKind::Speech) {
            0 => String::new(),
            lines => format!(", {lines} lines to voice"),
        };
        printer.note(&format!(
            "ok: `{}` is valid: {} segments, {} renders{lines}, {} estimated",
            path.display(),
            episode.segments.len(),
            plan.count(NodeKind::Render),
            plan.total_cost()
        ));
    }
    if failed.is_empty() { Ok(ExitCode::SUCCESS) } else { Ok(ExitCode::from(crate::error::exit::FAILURE)) }
}
