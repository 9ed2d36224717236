//! `episodic compare`: one segment rendered on several models, planned and budgeted first like
//! `render`, and written as `out/<episode>.<segment>.compare.mp4`, the clips side by side (or in
//! a grid), each captioned with its model, estimated cost and render time. Every model's clip is
//! an episode of one segment under `out/<episode>.<segment>.compare/`; renders the journal
//! already has (the episode's own model, an earlier comparison) are reused, not paid again.

use super::plan::precise;
use super::render::{Run, check_output, run_plans};
use super::{catalog, check, media_tools, probe};
use crate::args::{CompareArgs, FleetArgs, PriceArgs, RenderArgs};
use crate::error::CliError;
use crate::printer::Printer;
use episodic_catalog::{Catalog, DurationRule, ModelKind, closest};
use episodic_engine::Journal;
use episodic_manifest::{Episode, Layout, Segment, SegmentKind};
use episodic_plan::{NodeKind, Plan, PlanOptions};
use std::fmt::Write;
use std::process::ExitCode;

pub fn run(args: CompareArgs, printer: &Printer) -> Result<ExitCode, CliError> {
    let catalog = catalog(&args.prices)?;
    let probe = probe()?;
    let (ffmpeg_tool, ffprobe_tool) = media_tools()?;
    let episode = check(&args.manifest, &catalog, &probe, printer)?;
    let Some(segment) = episode.segments.iter().find(|segment| segment.id == args.segment) else {
        let ids: Vec<&str> = episode.segments.iter().map(|segment| segment.id.as_str()).collect();
        let hint = closest(&args.segment, ids.iter().copied())
            .map(|id| format!("did you mean `{id}`? "))
            .unwrap_or_default();
        return Err(CliError::Usage {
            message: format!(
                "`{}` has no segment `{}`; {hint}its segments are {}",
                args.manifest.display(),
                args.segment,
                ids.join(", ")
            ),
        });
    };
    let folder = episode.output.with_file_name(format!("{}.{}.compare", episode.id, segment.id));
    let output = episode.output.with_file_name(format!("{}.{}.compare.mp4", episode.id, segment.id));
    check_output(&output)?;

    // Plan every model first; a model that cannot render the segment is refused alone.
    let mut plans = Vec::new();
    let mut refused = Vec::new();
    for name in &args.models {
        match variant(&episode, segment, name, &catalog, &folder) {
            Ok(variant) => plans.push(Plan::build(
                &variant,
                &catalog,
                PlanOptions { draft: false, canvas_divisor: args.scale },
            )),
            Err(why) => {
                printer.note(&format!("error: {why}"));
                refused.push(name.clone());
            }
        }
    }
    if plans.is_empty() {
        return Err(CliError::Blocked {
            message: format!("no model given can render segment `{}`; nothing was rendered", segment.id),
            help: "`episodic models` lists each model's kind and limits".into(),
        });
    }
    printer.out(&table(&plans, &args.state_dir, args.journal.as_deref())?)?;

    let render_args = RenderArgs {
        manifests: Vec::new(),
        backend: args.backend,
        concurrency: args.concurrency,
        transfers: 8,
        ffmpeg_jobs: None,
        speech_jobs: 3,
        fail_fast: false,
        max_cost: args.max_cost,
        state_dir: args.state_dir.clone(),
        journal: args.journal.clone(),
        json: false,
        draft: false,
        scale: args.scale,
        retry_failed: args.retry_failed,
        resubmit_ambiguous: false,
        webhook_url: None,
        ambiguous_grace: 600,
        prices: PriceArgs { prices: None },
        fleet: FleetArgs::default(),
        plan: None,
        only: Vec::new(),
        first: None,
    };
    let manifests = vec![args.manifest.clone()];
    let run = Run { plans: &plans, refused: &refused, manifests: &manifests, scale: args.scale, shard: None };
    let (code, summary) =
        run_plans(&render_args, run, &catalog, &probe, (ffmpeg_tool.clone(), ffprobe_tool), printer)?;
    if !summary.is_some_and(|summary| summary.ok()) {
        return Ok(code);
    }

    let journal = Journal::open_read_only_at(&args.state_dir, args.journal.as_deref())
        .map_err(super::render::state_error)?;
    let mut clips = Vec::with_capacity(plans.len());
    for plan in &plans {
        let render = plan.nodes().find(|node| node.kind() == NodeKind::Render);
        let (model, cost, key) = match render.and_then(|node| node.render().map(|spec| (node, spec))) {
            Some((node, spec)) => (spec.model.clone(), node.cost, node.key.as_str().to_owned()),
            None => continue,
        };
        let seconds = match &journal {
            Some(journal) => journal.render_seconds(&key).map_err(super::render::state_error)?,
            None => None,
        };
        let took = seconds
            .map(|seconds| format!("{seconds} s to render"))
            .unwrap_or_else(|| "render time unknown".into());
        clips.push(episodic_media::Labelled {
            path: plan.output.clone(),
            label: format!("{model} · {} · {took}", precise(cost)),
        });
    }
    let first = &plans[0];
    let ffmpeg = episodic_media::Ffmpeg::new(ffmpeg_tool).with_font(episodic_media::find_font());
    let grid = super::runtime()?
        .block_on(episodic_media::compare_grid(
            &ffmpeg,
            &clips,
            (first.canvas.width, first.canvas.height),
            first.fps,
            &output,
        ))
        .map_err(CliError::Media)?;
    printer.note(&format!(
        "wrote {}: {} clips of `{}`, {} by {}, captioned with model, estimated cost and render time",
        output.display(),
        clips.len(),
        segment.id,
        grid.columns,
        grid.rows
    ));
    Ok(code)
}

/// The episode of one segment rendered on `name`: its speaker alone (no listener) for speech,
/// or its b-roll; written under `folder`. Why not, when the model cannot render it.
fn variant(
    episode: &Episode,
    segment: &Segment,
    name: &str,
    catalog: &Catalog,
    folder: &std::path::Path,
) -> Result<Episode, String> {
    let Some(model) = catalog.get(name) else {
        let names = catalog.models().iter().map(|model| model.name.as_str());
        let hint = closest(name, names).map(|known| format!("; did you mean `{known}`?")).unwrap_or_default();
        return Err(format!("`{name}` is not a model in the catalog{hint} (`episodic models` lists them)"));
    };
    let mut segment: Segment = segment.clone();
    match &mut segment.kind {
        SegmentKind::Dialogue(dialogue) => {
            if model.kind != ModelKind::Avatar {
                return Err(format!(
                    "{} makes {} clips; speech segment `{}` needs an avatar model",
                    model.name,
                    model.kind.as_str(),
                    segment.id
                ));
            }
            let seconds = dialogue.speech.seconds();
            let cap = match (&model.audio, &model.duration) {
                (_, DurationRule::FollowsAudio { max_seconds }) if seconds > *max_seconds => {
                    Some(*max_seconds)
                }
                (Some(limits), _) if seconds > limits.max_seconds => Some(limits.max_seconds),
                _ => None,
            };
            if let Some(cap) = cap {
                return Err(format!(
                    "{} renders at most {cap} s and `{}` speaks for {seconds:.2} s; it is refused (split the line into shorter segments to compare it)",
                    model.name, segment.id
                ));
            }
            dialogue.model = model.name.clone();
            dialogue.listener = None;
            segment.layout = Layout::Solo;
        }
        SegmentKind::Broll(broll) => {
            if model.kind == ModelKind::Avatar {
                return Err(format!(
                    "{} is an avatar model; b-roll `{}` needs a video model",
                    model.name, segment.id
                ));
            }
            if model.kind == ModelKind::ImageToVideo && broll.image.is_none() {
                return Err(format!(
                    "{} animates an image, and b-roll `{}` has no `image`",
                    model.name, segment.id
                ));
            }
            if !model.duration.allows(broll.duration) {
                return Err(format!(
                    "{} cannot render {} s ({})",
                    model.name, broll.duration, model.duration
                ));
            }
            broll.model = model.name.clone();
        }
    }
    let mut variant = episode.clone();
    variant.id = format!("{}.{}", episode.id, model.name);
    variant.segments = vec![segment];
    variant.output = folder.join(format!("{}.mp4", model.name));
    Ok(variant)
}

/// The comparison's plan: one row per model with its clip's length, estimate and status.
fn table(plans: &[Plan], state_dir: &std::path::Path, journal_url: Option<&str>) -> Result<String, CliError> {
    let mut out = String::from("model                      seconds  est. $  status    reason\n");
    let mut to_spend = episodic_catalog::Usd::ZERO;
    for plan in plans {
        let assessment = super::plan::assess(plan, state_dir, journal_url)?;
        for (node, status) in plan.nodes().zip(&assessment.nodes) {
            let Some(render) = node.render() else { continue };
            if status.runs() {
                to_spend += node.cost;
            }
            let _ = writeln!(
                out,
                "{:<25}  {:>7.2}  {:>6}  {:<8}  {}",
                render.model,
                render.seconds,
                precise(node.cost),
                status.status.as_str(),
                status.reason
            );
        }
    }
    let _ = writeln!(out, "To spend: {} ({to_spend}) for {} models", precise(to_spend), plans.len());
    Ok(out)
}
