//! `episodic render`: manifests to finished MP4s, through the journaled engine.

use super::Shard;
use super::plan_file::{self, Basis, Choices};
use super::{catalog, check, media_tools, pages, probe, report_late, runtime};
use crate::args::{BackendArg, RenderArgs};
use crate::error::CliError;
use crate::error::exit;
use crate::printer::Printer;
use crate::reporter::{JsonReporter, LineReporter, Reporter, TerminalReporter};
use episodic_catalog::{Catalog, Usd};
use episodic_elevenlabs::{ElevenLabsClient, ElevenLabsConfig, ElevenLabsKey};
use episodic_engine::{
    Engine, EngineConfig, Failure, Journal, JournalError, NodeError, Stop, StopCause, StopReason,
};
use episodic_fal::{FalClient, FalConfig, FalKey};
use episodic_plan::Plan;
use episodic_studio::{Studio, StudioConfig};
use std::fmt::Write;
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use tokio::sync::watch;

pub fn run(args: RenderArgs, printer: &Printer) -> Result<ExitCode, CliError> {
    let catalog = catalog(&args.prices)?;
    let probe = probe()?;
    let (ffmpeg_tool, ffprobe_tool) = media_tools()?;
    // A saved plan names its manifest and the choices it was made with.
    let saved = args.plan.as_deref().map(plan_file::read).transpose()?;
    let (manifest_paths, choices) = match &saved {
        Some(saved) => (vec![saved.basis.manifest.clone()], saved.basis.choices.clone()),
        None => (
            args.manifests.clone(),
            Choices { draft: args.draft, scale: args.scale, only: args.only.clone(), first: args.first },
        ),
    };

    let completion_index = std::env::var(crate::env::JOB_COMPLETION_INDEX).ok();
    let shard = super::shard::resolve(args.fleet.shard, args.fleet.shard_count, completion_index.as_deref())
        .map_err(|message| CliError::Usage { message })?;

    // Check every manifest first; a broken one fails alone, the others still render.
    let mut plans = Vec::new();
    let mut refused = Vec::new();
    let mut split = ShardSplit::default();
    for path in &manifest_paths {
        let episode = match check(path, &catalog, &probe, printer) {
            Ok(episode) => episode,
            Err(err) => {
                printer.error(&err);
                refused.push(path.display().to_string());
                continue;
            }
        };
        if let Some(shard) = shard {
            if !shard.takes(&episode.id) {
                split.left.push(episode.id.clone());
                continue;
            }
            split.taken.push(episode.id.clone());
        }
        let prepared = match super::plan::prepare(&episode, &catalog, &probe, &choices) {
            Ok(prepared) => prepared,
            Err(err) => {
                printer.error(&err);
                refused.push(path.display().to_string());
                continue;
            }
        };
        if let Some(preview) = &prepared.preview {
            printer.note(preview.line(&prepared.plan).trim_end());
        }
        let plan = prepared.plan;
        if let (Some(saved), Some(file)) = (&saved, &args.plan) {
            // Before the journal is opened for writing and before any request: nothing moves.
            let assessment = super::plan::assess(&plan, &args.state_dir, args.journal.as_deref())?;
            let basis = Basis::of(&plan, &catalog, path, &choices)?;
            let drift = plan_file::drift(saved, &basis, &plan, &assessment);
            if !drift.is_empty() {
                return Err(CliError::Blocked {
                    message: format!(
                        "the plan `{}` no longer holds, so nothing was rendered or spent:\n  - {}",
                        file.display(),
                        drift.join("\n  - ")
                    ),
                    help: format!(
                        "plan again (`episodic plan {}{} --out {}`), read it, then run `episodic render --plan {}`",
                        path.display(),
                        choices.flags(),
                        file.display(),
                        file.display()
                    ),
                });
            }
        }
        let budget = plan.budget_problem();
        let late: Vec<_> = plan.warnings.iter().cloned().chain(budget.clone()).collect();
        report_late(path, &late, printer);
        if budget.is_some() {
            printer.error(&super::invalid(path, 1, "nothing was rendered"));
            refused.push(path.display().to_string());
            continue;
        }
        // Found now rather than when the episode is published, after every render was paid for.
        if let Err(err) = check_output(&plan.output) {
            printer.error(&err);
            refused.push(path.display().to_string());
            continue;
        }
        plans.push(plan);
    }
    let shard_line = shard.map(|shard| split.line(shard));
    if let Some(line) = &shard_line
        && split.taken.is_empty()
        && refused.is_empty()
    {
        // Nothing fell to this shard: done, with nothing opened or spent.
        printer.note(line);
        return Ok(ExitCode::SUCCESS);
    }
    if plans.is_empty() {
        return Ok(ExitCode::from(crate::error::exit::FAILURE));
    }
    let tools = (ffmpeg_tool, ffprobe_tool);
    let run = Run {
        plans: &plans,
        refused: &refused,
        manifests: &manifest_paths,
        scale: choices.scale,
        shard: shard_line,
    };
    Ok(run_plans(&args, run, &catalog, &probe, tools, printer)?.0)
}

/// Which episodes of the batch a shard took and which it left to the others.
#[derive(Debug, Default)]
struct ShardSplit {
    taken: Vec<String>,
    left: Vec<String>,
}

impl ShardSplit {
    /// One line for the producer: every episode id on both sides, so the shards' lines together
    /// account for the whole batch.
    fn line(&self, shard: Shard) -> String {
        let list = |ids: &[String]| if ids.is_empty() { "none".to_owned() } else { ids.join(", ") };
        format!(
            "shard {shard}: took {} episode(s): {}; left {} to the other shards: {}",
            self.taken.len(),
            list(&self.taken),
            self.left.len(),
            list(&self.left)
        )
    }
}

/// Checked plans, ready to run.
pub(super) struct Run<'a> {
    /// The plans, each under its budget, with a writable output.
    pub plans: &'a [Plan],
    /// The manifests refused while checking, already reported.
    pub refused: &'a [String],
    /// The manifests the plans came from, for the journal's record of the run.
    pub manifests: &'a [std::path::PathBuf],
    /// `--scale`, for the local studio's clips.
    pub scale: u32,
    /// With `--shard`, the line saying which episodes this shard took and which it left.
    pub shard: Option<String>,
}

/// Runs checked plans to the end with the run options of `args` (its manifests are not read):
/// the journal, the backend, the cap, the progress output and the summary. The exit code, and
/// the run's summary when it ran to its end.
pub(super) fn run_plans(
    args: &RenderArgs,
    run: Run<'_>,
    catalog: &Catalog,
    probe: &episodic_media::Probe,
    (ffmpeg_tool, ffprobe_tool): (episodic_media::Tool, episodic_media::Tool),
    printer: &Printer,
) -> Result<(ExitCode, Option<episodic_engine::RunSummary>), CliError> {
    let Run { plans, refused, manifests: manifest_paths, scale, shard } = run;
    let journal = Journal::open_at(&args.state_dir, args.journal.as_deref()).map_err(state_error)?;
    let key = FalKey::from_env().map_err(|err| CliError::Render(err.to_string()))?;
    let backend = match args.backend {
        Some(BackendArg::Fal) if key.is_none() => {
            return Err(CliError::Render("`--backend fal` needs a key: set FAL_KEY (or FAL_KEY_ID and FAL_KEY_SECRET, or FAL_AI_API_KEY)".into()));
        }
        Some(BackendArg::Fal) => BackendArg::Fal,
        Some(BackendArg::Local) => BackendArg::Local,
        None if key.is_some() => BackendArg::Fal,
        None => BackendArg::Local,
    };
    let ffmpeg_jobs = args
        .ffmpeg_jobs
        .map(|jobs| jobs as usize)
        .unwrap_or_else(|| EngineConfig::default().ffmpeg_concurrency);
    let config = EngineConfig {
        render_concurrency: args.concurrency as usize,
        transfer_concurrency: args.transfers as usize,
        speech_concurrency: args.speech_jobs as usize,
        ffmpeg_concurrency: ffmpeg_jobs,
        fail_fast: args.fail_fast,
        max_cost: args.max_cost.map(Usd::from_dollars),
        retry_failed: args.retry_failed,
        resubmit_ambiguous: args.resubmit_ambiguous,
        backend: match backend {
            BackendArg::Fal => "fal".into(),
            BackendArg::Local => "local".into(),
        },
        ambiguous_grace: std::time::Duration::from_secs(args.ambiguous_grace),
        ephemeral_backend: backend == BackendArg::Local,
        webhook_url: args.webhook_url.clone(),
        ..EngineConfig::default()
    };
    // Read before anything starts, so a malformed key or URL stops the run at once.
    let elevenlabs = crate::env::elevenlabs().map_err(CliError::Render)?;
    let cap = spending_cap(plans, config.max_cost);
    let manifests: Vec<String> = manifest_paths.iter().map(|path| path.display().to_string()).collect();

    let shared_artifacts = match &args.fleet.artifacts {
        Some(url) => {
            let store = episodic_engine::store::open(url).map_err(|err| CliError::Blocked {
                message: err.to_string(),
                help: "give --artifacts (or EPISODIC_ARTIFACTS_URL) as s3://bucket/prefix, with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION (and AWS_ENDPOINT_URL for an S3-compatible server) set, or as a folder".into(),
            })?;
            printer.note(&format!("artifacts are shared through {}", store.location()));
            Some(store)
        }
        None => None,
    };

    let runtime = runtime()?;
    let summary = runtime.block_on(async {
        // The local studio lives as long as this run, on a port of its own.
        let (client, studio, speech) = match backend {
            BackendArg::Fal => {
                let config = FalConfig::from_env().map_err(|err| CliError::Render(err.to_string()))?;
                let speech = match elevenlabs {
                    Some((config, key)) => Some(speech_api(config, key)?),
                    None => None,
                };
                (FalClient::new(config, key).map_err(|err| CliError::Render(err.to_string()))?, None, speech)
            }
            BackendArg::Local => {
                printer.note("NOTICE: no FAL_KEY (or --backend local): rendering on the local studio. The clips are PLACEHOLDERS made with ffmpeg, not Kling renders; nothing is billed.");
                let studio_key = local_key();
                let studio_config = StudioConfig { key: Some(studio_key.clone()), scale, ..StudioConfig::default() };
                let studio = Studio::start(studio_config, Catalog::builtin(), ffmpeg_tool.clone(), ffprobe_tool.clone())
                    .await
                    .map_err(|err| CliError::Studio(err.to_string()))?;
                let config = FalConfig::single_host(&studio.urls().queue_url).map_err(|err| CliError::Render(err.to_string()))?;
                let key = FalKey::new(studio_key).map_err(|err| CliError::Render(err.to_string()))?;
                // The studio voices lines too, with espeak-ng, and takes any ElevenLabs key or none.
                let speech_config = ElevenLabsConfig::with_base_url(&studio.urls().elevenlabs_url)
                    .map_err(|err| CliError::Render(err.to_string()))?;
                let speech = speech_api(speech_config, None)?;
                (FalClient::new(config, Some(key)).map_err(|err| CliError::Render(err.to_string()))?, Some(studio), Some(speech))
            }
        };
        let estimate = plans.iter().map(Plan::total_cost).sum::<Usd>();
        let mut engine = Engine::new(
            std::sync::Arc::new(journal),
            client,
            // No font: only the studio's test cards draw text.
            episodic_media::Ffmpeg::new(ffmpeg_tool),
            probe.clone(),
            catalog.clone(),
            config,
            // Without one, a plan with lines to voice stops before anything starts
            // (`EngineError::NoSpeechApi`).
            speech,
        );
        if let Some(shared) = shared_artifacts {
            engine = engine.with_shared_artifacts(shared);
        }
        let to_go = engine.estimate_to_go(plans).map_err(|err| CliError::Render(err.to_string()))?;
        if let Some(cap) = cap
            && to_go > cap
        {
            return Err(CliError::Render(format!(
                "the renders still to pay for are estimated at {to_go} (of {estimate} in all), over the cap of {cap}; raise --max-cost or budget_usd, or render fewer segments"
            )));
        }
        let (stop_tx, stop_rx) = watch::channel(Stop::Running);
        let stop_tx = std::sync::Arc::new(stop_tx);
        let escalate = {
            let stop_tx = std::sync::Arc::clone(&stop_tx);
            move |to: Stop| {
                stop_tx.send_if_modified(|now| {
                    let raise = to > *now;
                    if raise {
                        *now = to;
                    }
                    raise
                });
            }
        };
        // Signals escalate: the first drains the run, the second stops it at once. The run
        // returns either way (never exit from here: ffmpeg children must be killed first).
        let signals = {
            let escalate = escalate.clone();
            tokio::spawn(async move {
                super::wait_for_interrupt().await;
                escalate(Stop::Drain(StopCause::Signal));
                super::wait_for_interrupt().await;
                escalate(Stop::Abort);
            })
        };
        let mut json = JsonReporter::new(printer);
        let mut lines = LineReporter::new(printer);
        let mut bars = (!args.json && std::io::stderr().is_terminal()).then(TerminalReporter::new);
        let reporter: &mut dyn Reporter = match (&mut bars, args.json) {
            (Some(bars), _) => bars,
            (None, true) => &mut json,
            (None, false) => &mut lines,
        };
        let mut closed = false;
        let summary = engine
            .run(plans, manifests, cap, stop_rx, |event| {
                // A closed pipe stops the run as Ctrl-C does: whatever is in flight is journaled.
                if !closed && reporter.event(&event).is_err() {
                    closed = true;
                    escalate(Stop::Drain(StopCause::OutputClosed));
                }
            })
            .await
            .map_err(|err| match err {
                episodic_engine::EngineError::NoSpeechApi { .. } => CliError::Blocked {
                    message: err.to_string(),
                    help: format!(
                        "set {} to voice the lines with ElevenLabs, render on the local studio (`--backend local`, placeholder voices), or record them and use `audio: <file>` with `text:`",
                        crate::env::ELEVENLABS_API_KEY
                    ),
                },
                other => CliError::Render(other.to_string()),
            })?;
        signals.abort();
        drop(bars);
        if let Some(studio) = studio {
            studio.shutdown().await;
        }
        Ok::<_, CliError>(summary)
    })?;

    printer.note(&table(&summary, refused, &args.state_dir, backend));
    if let Some(shard) = &shard {
        printer.note(shard);
    }
    for line in pages::write(&summary, args.manifests.len() > 1) {
        printer.note(&line);
    }
    for hint in hints(&summary) {
        printer.note(&format!("  help: {hint}"));
    }
    let resume = format!(
        "Run the same command again to resume: submitted renders stay journaled in `{}`, and nothing already paid for is paid again.",
        args.state_dir.display()
    );
    match summary.stopped {
        Some(StopReason::Interrupted) => {
            printer.note(&format!("interrupted. {resume}"));
            return Ok((ExitCode::from(exit::INTERRUPTED), None));
        }
        Some(StopReason::OutputClosed) => {
            printer.note(&format!("stopped: the output was closed. {resume}"));
            return Ok((ExitCode::from(exit::OUTPUT_CLOSED), None));
        }
        Some(StopReason::OutOfCredit) => {
            printer.note(&format!(
                "fal says the account is out of credit: top up at fal.ai/dashboard/billing. {resume}"
            ));
            return Ok((ExitCode::from(exit::FAILURE), None));
        }
        Some(StopReason::FailFast) | None => {}
    }
    if summary.ok() && refused.is_empty() {
        Ok((ExitCode::SUCCESS, Some(summary)))
    } else {
        if !summary.ok() {
            printer.note(
                "  help: fix what the failures above name, then run the same command again: finished uploads and renders are reused, not paid for again",
            );
        }
        Ok((ExitCode::from(exit::FAILURE), Some(summary)))
    }
}

/// What the producer can do about the run's failures, once per kind: the flags live here, not in
/// the engine's messages.
fn hints(summary: &episodic_engine::RunSummary) -> Vec<&'static str> {
    hints_for(summary.episodes.iter().flat_map(|episode| &episode.failures))
}

/// [`hints`] for some failures (one episode's, for its report page).
pub(super) fn hints_for<'f>(failures: impl IntoIterator<Item = &'f Failure>) -> Vec<&'static str> {
    let mut hints: Vec<&'static str> = Vec::new();
    for failure in failures {
        let hint = match &*failure.error {
            NodeError::RenderFailed { .. }
            | NodeError::FailedEarlier { .. }
            | NodeError::BrokenClip { .. }
            | NodeError::OutputExpired { .. } => {
                "rerun with --retry-failed to render failed clips again (fal bills them again)"
            }
            NodeError::Ambiguous { .. } => {
                "a rerun looks in fal's request history again; to submit anyway, rerun with --resubmit-ambiguous (it may be paid twice)"
            }
            NodeError::LinkDropping { .. } => "check the network to fal; a rerun tries again",
            NodeError::OverBudget { .. } | NodeError::SpeechOverBudget { .. } => {
                "raise --max-cost or budget_usd, or render fewer segments"
            }
            NodeError::SpeechFailedEarlier { .. } => {
                "rerun with --retry-failed to voice refused lines again (ElevenLabs bills them again)"
            }
            NodeError::SpeechAmbiguous { .. } => {
                "a rerun looks in ElevenLabs' history again; to voice anyway, rerun with --resubmit-ambiguous (it may be paid twice)"
            }
            NodeError::SpeechLinkDropping { .. } => "check the network to ElevenLabs; a rerun tries again",
            NodeError::Speech { error: episodic_engine::SpeechError::Unauthorized { .. }, .. } => {
                "check ELEVENLABS_API_KEY (or EPISODIC_ELEVENLABS_URL, if it points elsewhere), then rerun"
            }
            NodeError::Speech { error: episodic_engine::SpeechError::VoiceNotFound { .. }, .. } => {
                "check the voice id in `cast` (a voice of the ElevenLabs account, or one added from its library), then rerun"
            }
            NodeError::SpeechQuota(_) => {
                "ElevenLabs' quota is spent: add credits (or wait for the reset) and rerun; lines already voiced are not paid again"
            }
            _ => continue,
        };
        if !hints.contains(&hint) {
            hints.push(hint);
        }
    }
    hints
}

/// Whether the episode can be written at `output`: not a folder, under folders (existing or
/// not yet) rather than a file, and in a place that takes new files (a read-only or full disk
/// is found here by writing and removing an empty file).
pub(super) fn check_output(output: &Path) -> Result<(), CliError> {
    let shown = output.display();
    let elsewhere = "or set `output:` in the manifest to another path";
    if output.is_dir() {
        return Err(CliError::Blocked {
            message: format!("cannot write the episode to `{shown}`: it is a folder"),
            help: format!("move or rename the folder, {elsewhere}"),
        });
    }
    let parent = output.parent().filter(|dir| !dir.as_os_str().is_empty()).unwrap_or(Path::new("."));
    // The nearest folder that exists: the rest are created when the episode is published.
    let mut existing = parent;
    while std::fs::symlink_metadata(existing).is_err() {
        match existing.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            Some(up) => existing = up,
            None => {
                existing = Path::new(".");
                break;
            }
        }
    }
    if !existing.is_dir() {
        return Err(CliError::Blocked {
            message: format!(
                "cannot write the episode to `{shown}`: `{}` is a file, not a folder",
                existing.display()
            ),
            help: format!("move that file away, {elsewhere}"),
        });
    }
    let probe = existing.join(format!(".episodic-write-check-{}", std::process::id()));
    match std::fs::OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(err) => Err(CliError::Blocked {
            message: format!(
                "cannot write the episode to `{shown}`: `{}` takes no new files ({err})",
                existing.display()
            ),
            help: format!("make the folder writable or free some space, {elsewhere}"),
        }),
    }
}

/// The journal's error with what to do about it; every way out names `--state-dir`.
pub(super) fn state_error(err: JournalError) -> CliError {
    let other = "or choose another state folder with --state-dir (or EPISODIC_STATE_DIR)";
    let help = match &err {
        JournalError::StateDir { path, .. } if path.exists() && !path.is_dir() => {
            format!("`{}` is a file, not a folder: move it away, {other}", path.display())
        }
        JournalError::StateDir { .. } => format!("make sure the folder can be created and written, {other}"),
        JournalError::Corrupt { path, .. } => {
            let path = path.display();
            format!("`mv {path} {path}.broken`, then run again, {other}")
        }
        JournalError::Unwritable { path, .. } if path.is_dir() => {
            format!("`{}` is a folder, not a database: move it away, {other}", path.display())
        }
        JournalError::Unwritable { path, .. } => {
            format!("make `{}` and its folder writable, {other}", path.display())
        }
        JournalError::TooNew { .. } => format!("upgrade episodic, {other}"),
        JournalError::Locked { .. } => format!("wait for the other run to finish, {other}"),
        JournalError::PostgresUrl { .. } => {
            "fix --journal (or EPISODIC_JOURNAL_URL), or leave it unset to use the state folder's own journal".to_owned()
        }
        JournalError::Postgres { .. } => "check that the database in --journal (or EPISODIC_JOURNAL_URL) is running and reachable, and that its user may create tables; or leave it unset to use the state folder's own journal".to_owned(),
        _ => format!("run the same command again; if it fails the same way, {other}"),
    };
    CliError::Blocked { message: err.to_string(), help }
}

/// The engine's ElevenLabs: a client at `config`'s URL, sending `key` when there is one.
fn speech_api(
    config: ElevenLabsConfig,
    key: Option<ElevenLabsKey>,
) -> Result<std::sync::Arc<dyn episodic_engine::SpeechApi>, CliError> {
    let client = ElevenLabsClient::new(config, key).map_err(|err| CliError::Render(err.to_string()))?;
    Ok(std::sync::Arc::new(client))
}

/// The run's cap: `--max-cost`, and the sum of the episodes' budgets when every episode has one.
fn spending_cap(plans: &[Plan], max_cost: Option<Usd>) -> Option<Usd> {
    let budgets: Option<Vec<Usd>> = plans.iter().map(|plan| plan.budget.map(|(budget, _)| budget)).collect();
    let budget = budgets.map(|budgets| budgets.into_iter().sum::<Usd>());
    match (max_cost, budget) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A key for the in-process studio: it only has to differ between runs.
fn local_key() -> String {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("local-{}-{nanos}", std::process::id())
}

/// One line per episode, then the totals.
fn table(
    summary: &episodic_engine::RunSummary,
    refused: &[String],
    state_dir: &std::path::Path,
    backend: BackendArg,
) -> String {
    let mut out = String::from("\n");
    let width = summary.episodes.iter().map(|episode| episode.episode.len()).max().unwrap_or(7).max(7);
    let _ = writeln!(
        out,
        "{:<width$}  {:<11}  {:>5}  {:>6}  {:>8}  {:>8}  output",
        "episode", "status", "nodes", "reused", "billed", "estimate"
    );
    for episode in &summary.episodes {
        let status = if episode.ok {
            "completed"
        } else if summary.interrupted() {
            "interrupted"
        } else {
            "failed"
        };
        let _ = writeln!(
            out,
            "{:<width$}  {:<11}  {:>5}  {:>6}  {:>8}  {:>8}  {}",
            episode.episode,
            status,
            episode.nodes,
            episode.cache_hits,
            episode.spent.to_string(),
            episode.estimated.to_string(),
            if episode.ok { episode.output.display().to_string() } else { "-".into() }
        );
        for failure in &episode.failures {
            let _ = writeln!(out, "    {}: {}", failure.node, failure.error);
        }
        for (node, model, note) in &episode.fallbacks {
            let _ = writeln!(out, "    {node}: rendered by {model}, a fallback ({note})");
        }
    }
    for manifest in refused {
        let _ = writeln!(out, "{manifest}: refused (see the errors above)");
    }
    let spent: Usd = summary.episodes.iter().map(|episode| episode.spent).sum();
    let list: Usd = summary.episodes.iter().map(|episode| episode.list_cost).sum();
    let billed = match backend {
        BackendArg::Local => {
            format!("billed in this run: {spent} (on fal, these renders would have cost {list})")
        }
        BackendArg::Fal => format!("billed in this run: {spent}"),
    };
    let _ = write!(out, "{billed}; retries survived: {}; state: {}", summary.retries, state_dir.display());
    if backend == BackendArg::Local {
        out.push_str("\nbackend: local studio (placeholder media, nothing billed)");
    }
    out
}
