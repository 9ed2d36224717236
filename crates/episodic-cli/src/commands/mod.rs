//! One module per command; each takes its arguments and the printer and returns an exit code.

mod cache;
mod compare;
mod models;
mod pages;
mod plan;
mod plan_file;
mod presets;
mod preview;
mod render;
mod shard;
mod studio;
mod validate;
mod webhooks;

pub use shard::Shard;

use crate::args::{Args, Command, PriceArgs};
use crate::error::CliError;
use crate::printer::Printer;
use episodic_catalog::{Catalog, PriceOverride};
use episodic_manifest::{Episode, Problem};
use episodic_media::Probe;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

/// Runs the command the arguments name.
pub fn run(args: Args, printer: &Printer) -> Result<ExitCode, CliError> {
    match args.command {
        Command::Render(args) => render::run(args, printer),
        Command::Plan(args) => plan::run(args, printer),
        Command::Validate(args) => validate::run(args, printer),
        Command::Compare(args) => compare::run(args, printer),
        Command::Models(args) => models::run(args, printer),
        Command::Presets(args) => presets::run(args, printer),
        Command::Studio(args) => studio::run(args, printer),
        Command::Webhooks(args) => webhooks::run(args, printer),
        Command::Cache(args) => cache::run(args, printer),
    }
}

/// The built-in catalog with the user's price file applied.
fn catalog(prices: &PriceArgs) -> Result<Catalog, CliError> {
    let mut catalog = Catalog::builtin();
    let Some(path) = &prices.prices else { return Ok(catalog) };
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|err| CliError::Prices {
        path: shown.clone(),
        message: err.to_string(),
        help: Some("check the path given to --prices or EPISODIC_PRICES".into()),
    })?;
    let overrides: BTreeMap<String, PriceOverride> =
        serde_saphyr::from_str(&text).map_err(|err| CliError::Prices {
            path: shown.clone(),
            message: err.to_string(),
            help: Some(
                "each entry is `<model>: { per_second: 0.115, as_of: 2026-11-01, source: \"...\" }`".into(),
            ),
        })?;
    catalog.apply_price_overrides(&overrides).map_err(|err| {
        let help = match &err {
            episodic_catalog::CatalogError::UnknownModel { suggestion: Some(name), .. } => {
                Some(format!("did you mean `{name}`? `episodic models` lists every model"))
            }
            _ => Some("`episodic models` lists every model and its current price".into()),
        };
        CliError::Prices { path: shown, message: err.to_string(), help }
    })?;
    Ok(catalog)
}

/// ffprobe, from `EPISODIC_FFPROBE` or the PATH, with the facts it learned in earlier runs.
fn probe() -> Result<Probe, CliError> {
    let explicit = crate::env::var(crate::env::EPISODIC_FFPROBE).map(std::path::PathBuf::from);
    let tool = episodic_media::locate("ffprobe", explicit.as_deref())?;
    let facts = match crate::env::facts_file() {
        Some(file) => episodic_media::FactStore::open(file),
        None => episodic_media::FactStore::in_memory(),
    };
    let probe = Probe::with_facts(tool, std::sync::Arc::new(facts));
    Ok(match crate::env::var(crate::env::EPISODIC_PROBE).as_deref() {
        Some("ffprobe") => probe.ffprobe_only(),
        _ => probe,
    })
}

/// Checks one manifest, printing its problems; the episode when it has no errors.
fn check(path: &Path, catalog: &Catalog, probe: &Probe, printer: &Printer) -> Result<Episode, CliError> {
    // Without ffmpeg a line over its model's cap cannot be cut: it is refused as over the cap.
    let ffmpeg = crate::env::var(crate::env::EPISODIC_FFMPEG).map(std::path::PathBuf::from);
    let splitter = episodic_media::locate("ffmpeg", ffmpeg.as_deref()).ok().map(|tool| {
        episodic_manifest::Splitter::new(episodic_media::Ffmpeg::new(tool), crate::env::pieces_dir())
    });
    let checked = match &splitter {
        Some(splitter) => episodic_manifest::check_splitting(path, catalog, probe, splitter),
        None => episodic_manifest::check(path, catalog, probe),
    };
    let checked = match checked {
        Ok(checked) => checked,
        Err(problem) => {
            let source = episodic_manifest::ManifestSource {
                display_name: path.display().to_string(),
                text: Default::default(),
            };
            printer.problems(&source, std::slice::from_ref(&problem));
            return Err(invalid(path, 1, "nothing was planned"));
        }
    };
    printer.problems(&checked.source, &checked.problems);
    let errors = checked.problems.iter().filter(|problem| problem.is_error()).count();
    match checked.episode {
        Some(episode) if errors == 0 => Ok(episode),
        _ => Err(invalid(path, errors.max(1), "nothing was planned")),
    }
}

/// Prints problems found after resolution (planning warnings, budget) against the manifest text.
fn report_late(path: &Path, problems: &[Problem], printer: &Printer) {
    if problems.is_empty() {
        return;
    }
    match episodic_manifest::load(path) {
        Ok(source) => printer.problems(&source, problems),
        Err(_) => {
            for problem in problems {
                printer.note(&format!("{}: {}", path.display(), problem.message));
            }
        }
    }
}

fn invalid(path: &Path, errors: usize, consequence: &str) -> CliError {
    let noun = if errors == 1 { "error" } else { "errors" };
    CliError::Invalid { summary: format!("`{}` has {errors} {noun}; {consequence}", path.display()) }
}

/// ffmpeg and ffprobe, from `EPISODIC_FFMPEG` / `EPISODIC_FFPROBE` or the PATH.
fn media_tools() -> Result<(episodic_media::Tool, episodic_media::Tool), CliError> {
    let ffmpeg = crate::env::var(crate::env::EPISODIC_FFMPEG).map(std::path::PathBuf::from);
    let ffprobe = crate::env::var(crate::env::EPISODIC_FFPROBE).map(std::path::PathBuf::from);
    Ok((
        episodic_media::locate("ffmpeg", ffmpeg.as_deref())?,
        episodic_media::locate("ffprobe", ffprobe.as_deref())?,
    ))
}

/// The async runtime for commands that do network work.
fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|err| CliError::Studio(format!("cannot start the async runtime: {err}")))
}

/// Resolves on Ctrl-C or SIGTERM.
async fn wait_for_interrupt() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
