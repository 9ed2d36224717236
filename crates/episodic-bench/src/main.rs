//! `episodic-bench`: runs episodic's end-to-end benchmarks against an in-process studio and writes
//! `BENCHMARKS.md`. `just bench` builds the release binaries and runs it; `just bench-quick` runs it
//! with `--quick` (small sizes, about a minute).
//!
//! Usage: `episodic-bench [--quick] [--keep] [--only 1,2,...] [--out FILE] [--episodic BIN]`; `--only` takes
//! item numbers or names (`makespan`, `rerun`, `anchor`, `planner`, `overhead`, `media`, `shared`,
//! `distinct`, `first-submit`, `fleet`, `speech`). With `--only`, an existing output file keeps its
//! other items: the items run replace theirs (`markdown::merge`).
//! `episodic-bench plan-child MANIFEST [FACTS]` is the planner scenario's child process (one per size,
//! so each reports its own peak memory; FACTS is a facts file to recall media probes from).

#![allow(clippy::print_stdout, clippy::print_stderr, reason = "a benchmark harness reports on the terminal")]

mod anchor;
mod context;
mod fleet_services;
mod scenarios;

use context::Context;
use episodic_bench::machine::Machine;
use episodic_bench::markdown::Report;
use std::path::PathBuf;
use std::time::Instant;

/// The items, by number and name, for `--only`.
const ITEMS: [(u32, &str); 11] = [
    (1, "makespan"),
    (2, "rerun"),
    (3, "anchor"),
    (4, "planner"),
    (5, "overhead"),
    (6, "media"),
    (7, "shared"),
    (8, "distinct"),
    (9, "first-submit"),
    (10, "fleet"),
    (11, "speech"),
];

/// An item of `--only`: its number, or its name.
fn item_number(item: &str) -> u32 {
    item.parse()
        .ok()
        .or_else(|| ITEMS.iter().find(|(_, name)| *name == item).map(|(number, _)| *number))
        .filter(|number| ITEMS.iter().any(|(n, _)| n == number))
        .unwrap_or_else(|| panic!("--only: no item `{item}` (try --help)"))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("plan-child") {
        let manifest = args.get(1).expect("plan-child needs a manifest path");
        let facts = args.get(2).map(std::path::Path::new);
        scenarios::planner::child(std::path::Path::new(manifest), facts);
        return;
    }
    let mut quick = false;
    let mut keep = false;
    let mut only: Option<Vec<u32>> = None;
    let mut out: Option<PathBuf> = None;
    let mut episodic: Option<PathBuf> = None;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--keep" => keep = true,
            "--only" => {
                let list = iter.next().expect("--only needs a list like 1,2");
                only = Some(list.split(',').map(|item| item_number(item.trim())).collect());
            }
            "--out" => out = Some(PathBuf::from(iter.next().expect("--out needs a file"))),
            "--episodic" => episodic = Some(PathBuf::from(iter.next().expect("--episodic needs a path"))),
            "-h" | "--help" => {
                println!(
                    "episodic-bench [--quick] [--keep] [--only 1,2,...|NAME,...] [--out FILE] [--episodic BIN]"
                );
                println!(
                    "items: {}",
                    ITEMS.iter().map(|(n, name)| format!("{n} {name}")).collect::<Vec<_>>().join(", ")
                );
                return;
            }
            other => panic!("unknown argument `{other}` (try --help)"),
        }
    }
    let started = Instant::now();
    let load_at_start = episodic_bench::machine::load_average();
    let ctx = Context::new(quick, keep, episodic);
    let out = out.unwrap_or_else(|| ctx.repo.join("BENCHMARKS.md"));
    let wanted = |n: u32| only.as_ref().is_none_or(|list| list.contains(&n));
    let mut sections = Vec::new();
    let mut e2e = None;
    if wanted(1) || wanted(2) || wanted(3) {
        let (makespan, rerun, result) = scenarios::makespan::run(&ctx);
        sections.push(makespan);
        sections.push(rerun);
        e2e = Some(result);
    }
    if wanted(3) {
        sections.push(anchor::run(&ctx, e2e.as_ref()));
    }
    if wanted(4) {
        sections.push(scenarios::planner::run(&ctx));
    }
    if wanted(5) {
        sections.push(scenarios::overhead::run(&ctx));
    }
    if wanted(6) {
        sections.push(scenarios::media::run(&ctx));
    }
    if wanted(7) {
        sections.push(scenarios::proportional::run(&ctx, scenarios::proportional::Listeners::Shared));
    }
    if wanted(8) {
        sections.push(scenarios::proportional::run(&ctx, scenarios::proportional::Listeners::Distinct));
    }
    if wanted(9) {
        sections.push(scenarios::proportional::first_submit(&ctx));
    }
    if wanted(10) {
        sections.push(scenarios::fleet::run(&ctx));
    }
    if wanted(11) {
        sections.push(scenarios::speech::run(&ctx));
    }
    let invocation = format!(
        "episodic-bench{}{}",
        if quick { " --quick" } else { "" },
        only.as_ref()
            .map(|list| format!(" --only {}", list.iter().map(u32::to_string).collect::<Vec<_>>().join(",")))
            .unwrap_or_default()
    );
    let report = Report {
        machine: Machine::current(),
        invocation: format!("just bench` → `{invocation}"),
        commit: ctx.commit(),
        total_seconds: started.elapsed().as_secs_f64(),
        load: (load_at_start, episodic_bench::machine::load_average()),
        sections,
        appendix: std::fs::read_to_string(ctx.repo.join("crates/episodic-bench/FIXES.md"))
            .unwrap_or_default(),
    };
    // A partial run replaces its own items in an existing file and keeps the others' figures.
    let text = match (&only, std::fs::read_to_string(&out)) {
        (Some(_), Ok(existing)) => episodic_bench::markdown::merge(&existing, &report),
        _ => report.render(),
    };
    std::fs::write(&out, text).expect("write BENCHMARKS.md");
    eprintln!("episodic-bench: wrote {} in {:.0} s", out.display(), started.elapsed().as_secs_f64());
}
