//! `episodic studio`: the local fal-compatible server, in the foreground until Ctrl-C.

use crate::args::{FiveXxArg, StudioArgs};
use crate::error::CliError;
use crate::printer::Printer;
use episodic_catalog::{Catalog, Usd};
use episodic_studio::{FaultConfig, FiveXxStyle, Studio, StudioConfig};
use std::process::ExitCode;
use std::time::Duration;

pub fn run(args: StudioArgs, printer: &Printer) -> Result<ExitCode, CliError> {
    for (flag, rate) in [
        ("--fail-rate-429", args.fail_rate_429),
        ("--fail-rate-5xx", args.fail_rate_5xx),
        ("--drop-rate", args.drop_rate),
        ("--drop-after-share", args.drop_after_share),
        ("--fail-rate-render", args.fail_rate_render),
        ("--truncate-rate", args.truncate_rate),
    ] {
        if !(0.0..=1.0).contains(&rate) {
            return Err(CliError::Usage {
                message: format!("{flag} is {rate}; it is a share between 0 and 1"),
            });
        }
    }
    if let Some(balance) = args.balance
        && !(balance.is_finite() && balance >= 0.0)
    {
        return Err(CliError::Usage {
            message: format!("--balance is {balance}; it is an amount of dollars, 0 or more"),
        });
    }
    let config = StudioConfig {
        port: args.port,
        key: args.key.filter(|key| !key.is_empty()),
        scale: args.scale,
        queue_delay: Duration::from_millis(args.queue_delay_ms),
        render_time_per_second: Duration::from_millis(args.render_ms_per_second),
        fixed_render_time: Duration::from_millis(args.fixed_render_ms),
        concurrency: args.concurrency.max(1),
        encoders: args.encoders,
        faults: FaultConfig {
            seed: args.seed,
            rate_429: args.fail_rate_429,
            retry_after_secs: args.retry_after_secs,
            rate_5xx: args.fail_rate_5xx,
            style_5xx: match args.fail_5xx_style {
                FiveXxArg::Ingress => FiveXxStyle::Ingress,
                FiveXxArg::App => FiveXxStyle::App,
                FiveXxArg::Mixed => FiveXxStyle::Mixed,
            },
            drop_rate: args.drop_rate,
            drop_after_share: args.drop_after_share,
            slow: Duration::from_millis(args.slow_ms),
            render_failure_rate: args.fail_rate_render,
            truncate_rate: args.truncate_rate,
            only_paths_containing: args.faults_only_on.clone(),
        },
        data_dir: args.data_dir,
        strict_inputs: args.strict_inputs,
        gone: args.gone.clone(),
        default_file_ttl: args.file_ttl_secs.map(Duration::from_secs),
        history_lag: Duration::from_millis(args.history_lag_ms),
        balance: args.balance.map(Usd::from_dollars),
        elevenlabs_key: args.elevenlabs_key.filter(|key| !key.is_empty()),
        tts_quota_chars: args.tts_quota_chars,
        tts_concurrency: args.tts_concurrency.map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        ..StudioConfig::default()
    };
    let open = config.key.is_none();
    let studio_balance = config.balance;
    let (ffmpeg, ffprobe) = super::media_tools()?;
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let studio = Studio::start(config, Catalog::builtin(), ffmpeg, ffprobe)
            .await
            .map_err(|err| CliError::Studio(err.to_string()))?;
        let urls = studio.urls().clone();
        printer.note(&format!("episodic studio: fal's queue, storage and CDN at {}", urls.queue_url));
        printer.note(&format!("  stats: {}", urls.stats_url));
        printer.note("  renders are placeholders made with ffmpeg; nothing is billed");
        printer.note(&format!(
            "  ElevenLabs text to speech at {} (EPISODIC_ELEVENLABS_URL)",
            urls.elevenlabs_url
        ));
        if episodic_media::locate("espeak-ng", None).is_err() {
            printer.note("  espeak-ng is not installed, so speech requests fail: apt-get install espeak-ng");
        }
        if let Some(balance) = studio_balance {
            printer.note(&format!(
                "  balance {balance}: once renders are billed that much, submits and uploads get fal's 403"
            ));
        }
        if open {
            printer.note("  no --key or FAL_KEY: any key is accepted");
        }
        if let Some(path) = &args.ready_file {
            studio.write_ready_file(path).map_err(|err| {
                CliError::Studio(format!("cannot write the ready file `{}`: {err}", path.display()))
            })?;
        }
        super::wait_for_interrupt().await;
        printer.note("episodic studio: stopping");
        studio.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}
