//! `episodic presets`: the prompt presets.

use crate::args::PresetsArgs;
use crate::error::CliError;
use crate::printer::Printer;
use episodic_catalog::PRESETS;
use std::fmt::Write;
use std::process::ExitCode;

pub fn run(args: PresetsArgs, printer: &Printer) -> Result<ExitCode, CliError> {
    if args.json {
        printer.out(&format!("{}\n", serde_json::to_string_pretty(PRESETS).unwrap_or_default()))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = String::new();
    for preset in PRESETS {
        let pro = if preset.needs_pro { " (made for the pro tier)" } else { "" };
        let _ = writeln!(out, "{}: {}{pro}", preset.name, preset.summary);
        let _ = writeln!(out, "  speaker:  {}", preset.speaker);
        let _ = writeln!(out, "  listener: {}", preset.listener);
        out.push('\n');
    }
    out.push_str(
        "Use one with `preset: <name>` on a cast member. Listener clips always add \"mouth closed\".\n",
    );
    printer.out(&out)?;
    Ok(ExitCode::SUCCESS)
}
