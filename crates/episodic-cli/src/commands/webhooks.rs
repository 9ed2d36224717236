//! `episodic webhooks serve`: receives fal's webhook deliveries, verifies each (signature against
//! fal's published keys, timestamp window) and records the outcome in the journal, where a render
//! run started with `--webhook-url` picks it up. Replays are idempotent; anything unsigned, badly
//! signed or stale is refused with 401 and logged.

use crate::args::{WebhookServeArgs, WebhooksArgs, WebhooksCommand};
use crate::error::CliError;
use crate::printer::Printer;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use episodic_engine::Journal;
use episodic_engine::journal::WebhookResult;
use episodic_fal::webhook::{WebhookHeaderValues, verify_and_parse_webhook};
use episodic_fal::wire::{Jwks, WebhookStatus};
use std::io::Write;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

pub fn run(args: WebhooksArgs, printer: &Printer) -> Result<ExitCode, CliError> {
    match args.command {
        WebhooksCommand::Serve(args) => serve(args, printer),
    }
}

/// Where the keys come from.
enum KeySource {
    Url(String),
    File(std::path::PathBuf),
}

struct Receiver {
    journal: Journal,
    keys: KeySource,
    jwks: Mutex<(Jwks, Instant)>,
    http: reqwest::Client,
}

fn serve(args: WebhookServeArgs, printer: &Printer) -> Result<ExitCode, CliError> {
    let journal = Journal::open_at(&args.state_dir, args.journal.as_deref())
        .map_err(|err| CliError::Render(err.to_string()))?;
    let keys = match (args.jwks_file, args.jwks_url) {
        (Some(file), _) => KeySource::File(file),
        (None, Some(url)) => KeySource::Url(url),
        (None, None) => {
            let config =
                episodic_fal::FalConfig::from_env().map_err(|err| CliError::Render(err.to_string()))?;
            KeySource::Url(format!("{}/.well-known/jwks.json", config.rest_url))
        }
    };
    let runtime = super::runtime()?;
    runtime.block_on(async move {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|err| CliError::Render(format!("cannot build an HTTP client: {err}")))?;
        let jwks = load_keys(&keys, &http).await?;
        let location = journal.location();
        let receiver = Arc::new(Receiver { journal, keys, jwks: Mutex::new((jwks, Instant::now())), http });
        let app = axum::Router::new().fallback(axum::routing::post(receive)).with_state(receiver);
        let listener =
            tokio::net::TcpListener::bind((args.host.as_str(), args.port)).await.map_err(|err| {
                CliError::Render(format!("cannot listen on {}:{}: {err}", args.host, args.port))
            })?;
        let address = listener.local_addr().map_err(|err| CliError::Render(err.to_string()))?;
        let url = format!("http://{address}");
        printer.note(&format!("episodic webhooks: receiving at {url}, recording into `{}`", location));
        if let Some(path) = &args.ready_file {
            let json = serde_json::json!({ "url": url }).to_string();
            std::fs::write(path, json)
                .map_err(|err| CliError::Render(format!("cannot write `{}`: {err}", path.display())))?;
        }
        axum::serve(listener, app)
            .with_graceful_shutdown(super::wait_for_interrupt())
            .await
            .map_err(|err| CliError::Render(err.to_string()))?;
        Ok(ExitCode::SUCCESS)
    })
}

async fn load_keys(keys: &KeySource, http: &reqwest::Client) -> Result<Jwks, CliError> {
    match keys {
        KeySource::File(path) => {
            let text = std::fs::read(path)
                .map_err(|err| CliError::Render(format!("cannot read `{}`: {err}", path.display())))?;
            serde_json::from_slice(&text)
                .map_err(|err| CliError::Render(format!("`{}` is not a JWKS: {err}", path.display())))
        }
        KeySource::Url(url) => {
            let response = http.get(url).send().await.map_err(|err| {
                CliError::Render(format!("cannot fetch fal's webhook keys from {url}: {}", err.without_url()))
            })?;
            response.json().await.map_err(|err| {
                CliError::Render(format!("{url} did not answer a JWKS: {}", err.without_url()))
            })
        }
    }
}

async fn receive(State(receiver): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> Response {
    let verify = |jwks: &Jwks| {
        let values =
            WebhookHeaderValues::from_fn(|name| headers.get(name).and_then(|value| value.to_str().ok()));
        verify_and_parse_webhook(&body, &values, jwks, SystemTime::now())
    };
    let keys = receiver.jwks.lock().map(|guard| guard.0.clone()).unwrap_or_default();
    let mut verified = verify(&keys);
    // fal rotates keys: on a failure, fetch them again (at most once a minute) and retry once.
    if verified.is_err() {
        let stale =
            receiver.jwks.lock().map(|guard| guard.1.elapsed() > Duration::from_secs(60)).unwrap_or(false);
        if stale && let Ok(fresh) = load_keys(&receiver.keys, &receiver.http).await {
            verified = verify(&fresh);
            if let Ok(mut guard) = receiver.jwks.lock() {
                *guard = (fresh, Instant::now());
            }
        }
    }
    let payload = match verified {
        Ok(payload) => payload,
        Err(err) => {
            log(&format!("refused a webhook delivery: {err}"));
            let body = serde_json::json!({ "detail": format!("webhook refused: {err}") });
            return (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
        }
    };
    let result = WebhookResult {
        request_id: payload.request_id.clone(),
        ok: payload.status == WebhookStatus::Ok,
        payload: payload.payload,
        error: payload.error,
        received_at: episodic_engine::journal::now(),
    };
    match receiver.journal.record_webhook(&result) {
        Ok(new) => {
            log(&format!(
                "{} {} ({})",
                if new { "recorded" } else { "replay of" },
                result.request_id,
                if result.ok { "OK" } else { "ERROR" }
            ));
            axum::Json(serde_json::json!({ "recorded": new })).into_response()
        }
        Err(err) => {
            log(&format!("could not record {}: {err}", result.request_id));
            // 5xx: fal retries the delivery later.
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(serde_json::json!({ "detail": err.to_string() })))
                .into_response()
        }
    }
}

fn log(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "episodic webhooks: {line}");
}
