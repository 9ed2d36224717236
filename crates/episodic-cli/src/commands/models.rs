//! `episodic models`: the catalog.

use super::catalog;
use crate::args::ModelsArgs;
use crate::error::CliError;
use crate::printer::Printer;
use episodic_catalog::{AspectRatio, Usd};
use std::fmt::Write;
use std::process::ExitCode;

pub fn run(args: ModelsArgs, printer: &Printer) -> Result<ExitCode, CliError> {
    let catalog = catalog(&args.prices)?;
    if args.json {
        printer.out(&format!("{}\n", serde_json::to_string_pretty(catalog.models()).unwrap_or_default()))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = String::new();
    for model in catalog.models() {
        let rate = |usd: Usd| format!("${:.3}", usd.dollars());
        let mut price = format!("{}/s", rate(model.price.per_second));
        if let Some(audio) = model.price.with_audio {
            let _ = write!(price, ", {}/s with audio", rate(audio));
        }
        if let Some(voice) = model.price.voice_control {
            let _ = write!(price, ", {}/s with voice control", rate(voice));
        }
        let _ = writeln!(out, "{}  ({}, {} tier)", model.name, model.kind, model.tier);
        let _ = writeln!(out, "  endpoint   {}", model.endpoint);
        let _ = writeln!(out, "  price      {price} (as of {}, {})", model.price.as_of, model.price.source);
        let sizes: Vec<String> =
            AspectRatio::ALL.iter().map(|ratio| format!("{ratio} {}", model.resolution(*ratio))).collect();
        let _ = writeln!(out, "  output     {} @ {} fps ({})", model.output, model.fps, sizes.join(", "));
        let _ = writeln!(out, "  duration   {}", model.duration);
        if let Some(image) = &model.image {
            let formats: Vec<&str> = image.formats.iter().map(|f| f.as_str()).collect();
            let _ = writeln!(
                out,
                "  image      {}, at least {}x{}",
                formats.join("/"),
                image.min_width,
                image.min_height
            );
        }
        if let Some(audio) = &model.audio {
            let formats: Vec<&str> = audio.formats.iter().map(|f| f.as_str()).collect();
            let _ = writeln!(
                out,
                "  audio      {}, at most {:.0} MB, {}-{} s",
                formats.join("/"),
                audio.max_bytes as f64 / 1e6,
                audio.min_seconds,
                audio.max_seconds
            );
        }
        let args: Vec<String> = model
            .args
            .iter()
            .map(|arg| {
                let mut text = arg.name.clone();
                if arg.required {
                    text.push('*');
                }
                if let Some(default) = &arg.default {
                    let _ = write!(text, "={default}");
                }
                if arg.source == episodic_catalog::ArgSource::NotesOnly {
                    text.push_str(" (notes only)");
                }
                text
            })
            .collect();
        let _ = writeln!(out, "  arguments  {}", args.join(", "));
        for caveat in &model.caveats {
            let _ = writeln!(out, "  caveat     {caveat}");
        }
        out.push('\n');
    }
    for voice in episodic_catalog::VOICE_MODELS {
        let honours: Vec<&str> = voice.honours.iter().map(|setting| setting.as_str()).collect();
        let _ = writeln!(out, "{}  (ElevenLabs speech, for `line:`)", voice.id);
        let _ = writeln!(
            out,
            "  price      ${:.3} per 1,000 characters, tags included (as of {}, {})",
            voice.cost(1_000).dollars(),
            voice.as_of,
            voice.source
        );
        let _ = writeln!(out, "  limit      {} characters a request", voice.max_characters);
        let _ = writeln!(out, "  settings   {}", honours.join(", "));
        let _ = writeln!(
            out,
            "  tags       {}",
            if voice.audio_tags { "act on the delivery" } else { "read aloud" }
        );
        out.push('\n');
    }
    out.push_str("* = required. Prices change: override them with --prices FILE or EPISODIC_PRICES.\n");
    printer.out(&out)?;
    Ok(ExitCode::SUCCESS)
}
