//! The HTTP server: binding loopback, routing, and the fault layer in front of every route.

use crate::config::StudioConfig;
use crate::faults::{Fault, FaultPlan};
use crate::jobs::Queue;
use crate::stats::{Stats, StatsSnapshot};
use crate::storage::Storage;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use episodic_catalog::Catalog;
use episodic_fal::webhook::WebhookSigningKey;
use episodic_media::{Probe, Tool};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

/// The base URLs a client needs, all on one port.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StudioUrls {
    /// Prefix an endpoint id with `{queue_url}/` to submit.
    pub queue_url: String,
    /// The REST base (storage tokens, legacy upload).
    pub rest_url: String,
    /// The CDN base (`/files/upload`).
    pub cdn_url: String,
    /// `GET` for the counters.
    pub stats_url: String,
    /// The platform API base (request history).
    pub api_url: String,
    /// ElevenLabs' API base (`/v1/text-to-speech/…`, `/v1/history`, …), for
    /// `EPISODIC_ELEVENLABS_URL`.
    pub elevenlabs_url: String,
}

/// Why a studio could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StudioError {
    /// ffmpeg or ffprobe is missing.
    #[error(transparent)]
    Media(#[from] episodic_media::MediaError),
    /// The port or the data folder could not be had.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The outgoing HTTP client (for input downloads and webhooks) could not be built.
    #[error("cannot build the studio's HTTP client: {0}")]
    Client(String),
}

/// Shared state behind every handler.
pub(crate) struct AppState {
    pub(crate) config: StudioConfig,
    pub(crate) base_url: String,
    pub(crate) catalog: Catalog,
    pub(crate) storage: Storage,
    pub(crate) queue: Queue,
    pub(crate) stats: Stats,
    pub(crate) faults: Mutex<FaultPlan>,
    pub(crate) signing_key: WebhookSigningKey,
    pub(crate) http: reqwest::Client,
    pub(crate) ffmpeg: episodic_media::Ffmpeg,
    pub(crate) probe: Probe,
    pub(crate) render_slots: Arc<Semaphore>,
    pub(crate) encoders: Arc<Semaphore>,
    /// Placeholders made so far, by recipe: the kept file and its length in seconds.
    pub(crate) placeholders: Mutex<std::collections::HashMap<String, (std::path::PathBuf, f64)>>,
    /// ElevenLabs' side: voicer, history, credits used.
    pub(crate) speech: crate::speech::SpeechState,
}

impl AppState {
    /// The counters now, with the gauge of speech requests running.
    pub(crate) fn snapshot(&self) -> StatsSnapshot {
        let mut snapshot = self.stats.snapshot();
        snapshot.tts.running = self.speech.running();
        snapshot
    }

    /// A 401 when the request lacks the studio's key.
    pub(crate) fn require_key(&self, headers: &HeaderMap) -> Option<Response> {
        if crate::auth::authorized(self.config.key.as_deref(), headers) {
            return None;
        }
        self.stats.update(|s| s.rejected.unauthorized += 1);
        Some(json_error(
            StatusCode::UNAUTHORIZED,
            "Invalid or missing credentials: send `Authorization: Key <FAL_KEY>`",
            "unauthorized",
        ))
    }
}

impl AppState {
    /// fal's 403 when the account's balance is spent: every submit and upload initiation is
    /// refused until a top-up (which a studio never gets).
    pub(crate) fn refuse_if_locked(&self) -> Option<Response> {
        let balance = self.config.balance?;
        if self.stats.billed() < balance {
            return None;
        }
        self.stats.update(|s| s.rejected.out_of_credit += 1);
        // fal's body is `{"detail"}` alone, without an `error_type`.
        let body = serde_json::json!({ "detail": OUT_OF_CREDIT });
        Some((StatusCode::FORBIDDEN, axum::Json(body)).into_response())
    }
}

/// What fal answers a locked account (`fal-platform-api.md` §6).
const OUT_OF_CREDIT: &str =
    "User is locked. Reason: Exhausted balance. Top up your balance at fal.ai/dashboard/billing";

/// A running studio. Dropping it stops the server.
pub struct Studio {
    urls: StudioUrls,
    state: Arc<AppState>,
    shutdown: watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
    _data: Option<tempfile::TempDir>,
}

impl Studio {
    /// Starts a studio on `127.0.0.1:{port}` inside the current tokio runtime.
    pub async fn start(
        config: StudioConfig,
        catalog: Catalog,
        ffmpeg: Tool,
        ffprobe: Tool,
    ) -> Result<Studio, StudioError> {
        let (data, dir) = match &config.data_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|source| StudioError::Io {
                    what: format!("cannot create `{}`", dir.display()),
                    source,
                })?;
                (None, dir.clone())
            }
            None => {
                let temp =
                    tempfile::Builder::new().prefix("episodic-studio-").tempdir().map_err(|source| {
                        StudioError::Io { what: "cannot create a temporary folder".into(), source }
                    })?;
                let dir = temp.path().to_path_buf();
                (Some(temp), dir)
            }
        };
        let listener =
            TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], config.port))).await.map_err(|source| {
                StudioError::Io { what: format!("cannot listen on 127.0.0.1:{}", config.port), source }
            })?;
        let address = listener
            .local_addr()
            .map_err(|source| StudioError::Io { what: "cannot read the bound address".into(), source })?;
        let base_url = format!("http://{address}");
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|err| StudioError::Client(err.to_string()))?;
        let state = Arc::new(AppState {
            base_url: base_url.clone(),
            catalog,
            storage: Storage::new(dir, config.default_file_ttl.map(|ttl| ttl.as_secs())),
            queue: Queue::default(),
            stats: Stats::default(),
            faults: Mutex::new(FaultPlan::new(config.faults.clone())),
            signing_key: WebhookSigningKey::generate(),
            http,
            // The font lets text-to-video cards show their prompt; without one they are still valid.
            // Placeholders stand in for fal's machines: they yield the cores to the client under test.
            ffmpeg: episodic_media::Ffmpeg::new(ffmpeg)
                .with_font(episodic_media::find_font())
                .with_niceness(10),
            probe: Probe::new(ffprobe),
            render_slots: Arc::new(Semaphore::new(config.concurrency.max(1))),
            encoders: Arc::new(Semaphore::new(match config.encoders {
                0 => std::thread::available_parallelism().map_or(1, usize::from),
                encoders => encoders,
            })),
            placeholders: Mutex::default(),
            // Without espeak-ng the fal side still works; speech requests say what to install.
            speech: crate::speech::SpeechState::new(crate::speech::Voicer::new(
                episodic_media::locate("espeak-ng", None).ok().map(|tool| tool.path),
                std::thread::available_parallelism().map_or(2, usize::from),
            )),
            config,
        });
        let urls = StudioUrls {
            queue_url: base_url.clone(),
            rest_url: base_url.clone(),
            cdn_url: base_url.clone(),
            stats_url: format!("{base_url}/_studio/stats"),
            api_url: base_url.clone(),
            elevenlabs_url: base_url.clone(),
        };
        let (shutdown, stopped) = watch::channel(false);
        let server = tokio::spawn(serve(listener, router(Arc::clone(&state)), Arc::clone(&state), stopped));
        Ok(Studio { urls, state, shutdown, server, _data: data })
    }

    /// Its base URLs.
    pub fn urls(&self) -> &StudioUrls {
        &self.urls
    }

    /// The counters now.
    pub fn stats(&self) -> StatsSnapshot {
        self.state.snapshot()
    }

    /// Expires every stored file (uploads and outputs) now: how tests and chaos runs simulate
    /// storage lifecycles without waiting for them.
    pub fn expire_files(&self) -> usize {
        self.state.storage.expire_all()
    }

    /// The folder holding stored files.
    pub fn data_dir(&self) -> &Path {
        self.state.storage.dir()
    }

    /// The public key webhook signatures verify with, as served at `/.well-known/jwks.json`.
    pub fn jwks(&self) -> episodic_fal::wire::Jwks {
        self.state.signing_key.jwks()
    }

    /// Stops accepting connections and waits for the accept loop to end.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        let _ = (&mut self.server).await;
    }

    /// Writes `{"queue_url", "rest_url", "cdn_url", "stats_url", "api_url", "elevenlabs_url"}` to
    /// `path` (temp file, then rename).
    pub fn write_ready_file(&self, path: &Path) -> std::io::Result<()> {
        let json = serde_json::to_vec_pretty(&self.urls).map_err(std::io::Error::other)?;
        let temp = PathBuf::from(format!("{}.tmp", path.display()));
        std::fs::write(&temp, json)?;
        std::fs::rename(&temp, path)
    }
}

impl Drop for Studio {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        self.server.abort();
    }
}

fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/storage/auth/token", post(crate::storage::token))
        .route("/storage/upload/initiate", post(crate::storage::initiate))
        .route("/storage/upload/put/{ticket}", put(crate::storage::put))
        .route("/storage/upload/pending/{ticket}", get(crate::storage::pending))
        .route("/files/upload", post(crate::storage::upload))
        .route("/files/{id}/{name}", get(crate::storage::serve))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/_studio/stats", get(stats))
        .route("/_studio/expire-files", post(expire_files))
        .route("/v1/models/requests/by-endpoint", get(crate::queue_routes::history))
        .route("/v1/text-to-speech/{voice_id}", post(crate::speech::plain))
        .route("/v1/text-to-speech/{voice_id}/with-timestamps", post(crate::speech::with_timestamps))
        .route("/v1/history", get(crate::speech::history))
        .route("/v1/history/{id}/audio", get(crate::speech::history_audio))
        .route("/v1/models", get(crate::speech::models))
        .route(
            "/v1/forced-alignment",
            post(crate::speech::forced_alignment)
                .layer(axum::extract::DefaultBodyLimit::max(256 * 1024 * 1024)),
        )
        .fallback(crate::queue_routes::dispatch)
        // axum's default 2 MB body limit refused a 2.3 MB speech track that fal takes (fal states
        // no maximum; clients switch to multipart above 90-100 MiB, `fal-protocol.md` §4.4).
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// The largest request body the studio reads: the size above which fal's clients upload in parts.
const MAX_BODY_BYTES: usize = 100 * 1024 * 1024;

async fn jwks(axum::extract::State(state): axum::extract::State<Arc<AppState>>) -> Response {
    axum::Json(state.signing_key.jwks()).into_response()
}

async fn expire_files(axum::extract::State(state): axum::extract::State<Arc<AppState>>) -> Response {
    axum::Json(serde_json::json!({ "expired": state.storage.expire_all() })).into_response()
}

async fn stats(axum::extract::State(state): axum::extract::State<Arc<AppState>>) -> Response {
    axum::Json(state.snapshot()).into_response()
}

/// Accepts connections until told to stop; each connection is served by hyper with the fault
/// layer in front of the router, because only there can a connection be dropped unanswered.
async fn serve(
    listener: TcpListener,
    router: Router,
    state: Arc<AppState>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.changed() => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        let router = router.clone();
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                let router = router.clone();
                let state = Arc::clone(&state);
                async move { handle(state, router, request).await }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// A dropped connection: hyper closes the socket without writing a response.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for Dropped {}

async fn handle(
    state: Arc<AppState>,
    router: Router,
    request: Request<hyper::body::Incoming>,
) -> Result<Response, Dropped> {
    let path = request.uri().path();
    let faultable = !path.starts_with("/_studio/")
        && !path.starts_with("/.well-known/")
        && state.config.faults.only_paths_containing.as_deref().is_none_or(|part| path.contains(part));
    if faultable {
        let slow = state.config.faults.slow;
        if !slow.is_zero() {
            tokio::time::sleep(slow).await;
        }
        let (fault, retry_after) = {
            let mut plan = state.faults.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            (plan.next(), plan.retry_after())
        };
        match fault {
            Fault::None => {}
            Fault::DropAfter => {
                // The handler runs to completion (a submit is queued and its render spawned, an
                // upload stored) and only then is its answer thrown away: the client cannot tell
                // this from a drop before routing, which is the point.
                let handled = router.oneshot(request.map(Body::new)).await;
                drop(handled);
                state.stats.update(|s| s.faults.answers_lost += 1);
                return Err(Dropped);
            }
            Fault::Drop => {
                state.stats.update(|s| s.faults.dropped += 1);
                return Err(Dropped);
            }
            Fault::RateLimited => {
                state.stats.update(|s| s.faults.rate_limited += 1);
                let mut response =
                    json_error(StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded", "rate_limited");
                if let Some(seconds) = retry_after {
                    response.headers_mut().insert("retry-after", HeaderValue::from(seconds));
                }
                return Ok(response);
            }
            Fault::ServerError { status, ingress } => {
                state.stats.update(|s| s.faults.server_errors += 1);
                return Ok(server_error(status, ingress));
            }
        }
    }
    let response = router.oneshot(request.map(Body::new)).await.unwrap_or_else(|never| match never {});
    Ok(response)
}

fn server_error(status: u16, ingress: bool) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    if ingress {
        let reason = code.canonical_reason().unwrap_or("Error");
        let page = format!(
            "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
        );
        (code, [(axum::http::header::CONTENT_TYPE, "text/html")], page).into_response()
    } else {
        let mut response = json_error(
            code,
            "Internal server error",
            if status == 503 { "runner_scheduling_failure" } else { "internal_error" },
        );
        response
            .headers_mut()
            .insert("x-fal-request-id", HeaderValue::from_static("00000000-0000-0000-0000-000000000000"));
        response
    }
}

/// fal's flat error body `{"detail", "error_type"}` with the `X-Fal-Error-Type` header.
pub(crate) fn json_error(status: StatusCode, detail: &str, error_type: &str) -> Response {
    let body = serde_json::json!({ "detail": detail, "error_type": error_type });
    let mut response = (status, axum::Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(error_type) {
        response.headers_mut().insert("x-fal-error-type", value);
    }
    response
}

/// Seconds since the Unix epoch.
pub(crate) fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or(0)
}
