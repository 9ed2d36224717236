//! Running a job: wait in the queue, fetch and check the inputs as fal would, render a
//! placeholder clip with ffmpeg at the catalog's size (divided by the scale), take at least the
//! simulated render time, store the output, bill it, and deliver the webhook.

use crate::jobs::{JobState, Outcome};
use crate::server::AppState;
use crate::validate::item;
use episodic_catalog::{AspectRatio, Model, ModelKind};
use episodic_fal::wire::{ValidationDetail, ValidationErrorBody};
use episodic_media::{FileKind, sniff};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A render that did not produce a clip: the status and body the result endpoint replays.
struct Failure {
    status: u16,
    body: Value,
    error: String,
    error_type: String,
}

impl Failure {
    /// A 422 naming the input at fault, as fal reports media problems.
    fn input(field: &str, msg: &str, kind: &str) -> Self {
        let detail = ValidationErrorBody { detail: ValidationDetail::Items(vec![item(&[field], msg, kind)]) };
        Failure {
            status: 422,
            body: serde_json::to_value(detail).unwrap_or(Value::Null),
            error: "Invalid status code: 422".into(),
            error_type: kind.to_owned(),
        }
    }

    fn internal(message: &str) -> Self {
        Failure {
            status: 500,
            body: json!({ "detail": message, "error_type": "runner_server_error" }),
            error: message.to_owned(),
            error_type: "runner_server_error".into(),
        }
    }
}

/// What a finished render produced.
struct Rendered {
    output: Value,
    seconds: f64,
    generate_audio: bool,
}

/// The life of one request, from queued to completed.
pub(crate) async fn run_job(state: Arc<AppState>, id: String) {
    let submitted = Instant::now();
    tokio::time::sleep(state.config.queue_delay).await;
    let permit = tokio::select! {
        permit = Arc::clone(&state.render_slots).acquire_owned() => permit.ok(),
        () = wait_for_cancel(&state, &id) => None,
    };
    let Some(_permit) = permit else {
        finish(&state, &id, Outcome::Cancelled).await;
        return;
    };
    if cancel_requested(&state, &id) {
        finish(&state, &id, Outcome::Cancelled).await;
        return;
    }
    state.queue.update(&id, |job| job.state = JobState::Running);
    let started = Instant::now();
    let Some((model, args)) = state.queue.with(&id, |job| (job.model.clone(), job.args.clone())) else {
        return;
    };
    state.queue.log(&id, format!("Starting {} on the local studio", model.endpoint));

    // An endpoint's outage (`only_paths_containing`) fails only that endpoint's runners.
    let targeted =
        state.config.faults.only_paths_containing.as_deref().is_none_or(|part| model.endpoint.contains(part));
    let faults = match targeted {
        true => state.faults.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).render_faults(),
        false => crate::faults::RenderFaults::default(),
    };
    let work = async {
        if faults.fails {
            return Err(Failure {
                status: 500,
                body: json!({ "detail": "Runner disconnected", "error_type": "runner_disconnected" }),
                error: "Runner disconnected".into(),
                error_type: "runner_disconnected".into(),
            });
        }
        let rendered = render(&state, &id, &model, &args, faults.truncated).await?;
        // Latency scales with the length of the output, like a real runner's.
        let floor =
            state.config.render_time_per_second.mul_f64(rendered.seconds) + state.config.fixed_render_time;
        simulate(&state, &id, started, floor).await;
        Ok::<Rendered, Failure>(rendered)
    };
    let outcome = tokio::select! {
        result = work => match result {
            Ok(rendered) => {
                let cost = model.cost(rendered.seconds, rendered.generate_audio);
                state.stats.bill(rendered.seconds, cost);
                if faults.truncated {
                    state.stats.update(|s| s.renders.truncated += 1);
                }
                let took = u64::try_from(submitted.elapsed().as_millis()).unwrap_or(u64::MAX);
                state.stats.update(|s| {
                    s.renders.longest_ms = s.renders.longest_ms.max(took);
                    s.renders.total_ms = s.renders.total_ms.saturating_add(took);
                });
                state.queue.log(&id, format!("Done: {:.2} s of video", rendered.seconds));
                Outcome::Succeeded { output: rendered.output, inference_time: started.elapsed().as_secs_f64() }
            }
            Err(failure) => {
                state.stats.update(|s| s.renders.failed += 1);
                state.queue.log(&id, format!("Failed: {}", failure.error));
                Outcome::Failed { status: failure.status, body: failure.body, error: failure.error, error_type: failure.error_type }
            }
        },
        () = wait_for_cancel(&state, &id) => Outcome::Cancelled,
    };
    finish(&state, &id, outcome).await;
}

async fn finish(state: &Arc<AppState>, id: &str, outcome: Outcome) {
    if matches!(outcome, Outcome::Cancelled) {
        state.stats.update(|s| s.renders.cancelled += 1);
    }
    let webhook = state.queue.update(id, |job| {
        job.state = JobState::Completed(outcome.clone());
        job.webhook.clone()
    });
    if let Some(Some(url)) = webhook {
        crate::webhook::deliver(state, id, &url, &outcome).await;
    }
}

fn cancel_requested(state: &AppState, id: &str) -> bool {
    state.queue.with(id, |job| job.cancel_requested).unwrap_or(true)
}

async fn wait_for_cancel(state: &AppState, id: &str) {
    loop {
        let notified = state.queue.cancelled.notified();
        if cancel_requested(state, id) {
            return;
        }
        notified.await;
    }
}

/// Waits out the rest of the simulated render time, logging progress like a runner.
async fn simulate(state: &AppState, id: &str, started: Instant, floor: Duration) {
    let mut step = 0;
    while started.elapsed() < floor {
        let left = floor.saturating_sub(started.elapsed());
        tokio::time::sleep(left.min(Duration::from_millis(500))).await;
        step += 1;
        let done = (started.elapsed().as_secs_f64() / floor.as_secs_f64() * 100.0).min(100.0);
        state.queue.log(id, format!("Rendering: {done:.0}% (step {step})"));
    }
}

async fn render(
    state: &AppState,
    id: &str,
    model: &Model,
    args: &Value,
    truncate: bool,
) -> Result<Rendered, Failure> {
    let default_audio = model
        .arg("generate_audio")
        .and_then(|arg| arg.default.as_deref())
        .is_some_and(|default| default == "true");
    let generate_audio = args.get("generate_audio").and_then(Value::as_bool).unwrap_or(default_audio);
    // Fetching, probing and encoding all run on this machine's cores; queue for one.
    let _encoder = Arc::clone(&state.encoders).acquire_owned().await;
    let out = state.storage.scratch_path("mp4");
    let fps = model.fps;
    let seconds = match model.kind {
        ModelKind::Avatar => {
            let image_key = model.image_arg().unwrap_or("image_url");
            let audio_key = model.audio_arg().unwrap_or("audio_url");
            let image = fetch_image(state, id, model, args, image_key).await?;
            let audio = fetch_audio(state, id, model, args, audio_key).await?;
            let size = scaled(state, model, aspect_of(&image.1));
            state
                .queue
                .log(id, format!("Animating the avatar at {}x{} to the audio's length", size.0, size.1));
            let recipe =
                format!("avatar {} {} {}x{} {fps}", image.0.display(), audio.display(), size.0, size.1);
            let encode = episodic_media::placeholder::avatar(
                &state.ffmpeg,
                &state.probe,
                &image.0,
                &audio,
                size,
                fps,
                &out,
            );
            placeholder_once(state, recipe, &out, encode).await?
        }
        ModelKind::ImageToVideo => {
            let image_key = model.image_arg().unwrap_or("image_url");
            let image = fetch_image(state, id, model, args, image_key).await?;
            let seconds = duration_arg(args);
            let size = scaled(state, model, aspect_of(&image.1));
            state.queue.log(id, format!("Animating the image for {seconds} s at {}x{}", size.0, size.1));
            let recipe =
                format!("image {} {seconds} {}x{} {fps} {generate_audio}", image.0.display(), size.0, size.1);
            let encode = episodic_media::placeholder::image_clip(
                &state.ffmpeg,
                &image.0,
                seconds,
                size,
                fps,
                generate_audio,
                &out,
            );
            placeholder_once(state, recipe, &out, encode).await?
        }
        ModelKind::TextToVideo => {
            let prompt = args.get("prompt").and_then(Value::as_str).unwrap_or("multi-shot");
            let aspect = args
                .get("aspect_ratio")
                .and_then(Value::as_str)
                .and_then(AspectRatio::parse)
                .unwrap_or(AspectRatio::Landscape);
            let seconds = duration_arg(args);
            let size = scaled(state, model, aspect);
            state.queue.log(id, format!("Drawing a {seconds} s test card at {}x{}", size.0, size.1));
            let recipe = format!("card {seconds} {}x{} {fps} {generate_audio} {prompt}", size.0, size.1);
            let encode = episodic_media::placeholder::test_card(
                &state.ffmpeg,
                prompt,
                seconds,
                size,
                fps,
                generate_audio,
                &out,
            );
            placeholder_once(state, recipe, &out, encode).await?
        }
    };
    if truncate {
        truncate_output(&out).await.map_err(|err| Failure::internal(&err.to_string()))?;
    }
    // Measured after any cut, so the result announces what is stored and the download succeeds.
    let size = tokio::fs::metadata(&out)
        .await
        .map(|meta| meta.len())
        .map_err(|err| Failure::internal(&err.to_string()))?;
    let (_, path) = state.storage.adopt(out, "video/mp4", "output.mp4");
    let video = json!({
        "url": format!("{}{path}", state.base_url),
        "content_type": "video/mp4",
        "file_name": "output.mp4",
        "file_size": size,
    });
    let output = match model.kind {
        ModelKind::Avatar => json!({ "video": video, "duration": round3(seconds) }),
        _ => json!({ "video": video }),
    };
    Ok(Rendered { output, seconds, generate_audio })
}

/// The share of a truncated output's bytes that is kept.
const TRUNCATED_KEEP: (u64, u64) = (2, 5);

/// Cuts an encoded output to its first 40 %: a broken encode at fal's side. The placeholder cache
/// keeps its own copy, so later renders of the same recipe are whole.
async fn truncate_output(out: &Path) -> std::io::Result<()> {
    let file = tokio::fs::OpenOptions::new().write(true).open(out).await?;
    let size = file.metadata().await?.len();
    file.set_len(size / TRUNCATED_KEEP.1 * TRUNCATED_KEEP.0).await?;
    file.sync_all().await
}

fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// `duration` as fal's schemas send it: a string of whole seconds (default "5").
fn duration_arg(args: &Value) -> f64 {
    args.get("duration").and_then(Value::as_str).and_then(|text| text.parse::<f64>().ok()).unwrap_or(5.0)
}

/// The catalog's frame for the model and aspect ratio, divided by the scale, kept even.
fn scaled(state: &AppState, model: &Model, aspect: AspectRatio) -> (u32, u32) {
    let resolution = model.resolution(aspect);
    let scale = state.config.scale.max(1);
    let even = |value: u32| ((value / scale).max(2) / 2) * 2;
    (even(resolution.width), even(resolution.height))
}

/// The aspect ratio closest to an image's, because avatar framing follows the input image.
fn aspect_of(size: &(u32, u32)) -> AspectRatio {
    let ratio = f64::from(size.0.max(1)) / f64::from(size.1.max(1));
    AspectRatio::ALL
        .into_iter()
        .min_by(|a, b| {
            let target = |aspect: &AspectRatio| match aspect {
                AspectRatio::Landscape => 16.0 / 9.0,
                AspectRatio::Portrait => 9.0 / 16.0,
                AspectRatio::Square => 1.0,
            };
            let distance = |aspect: &AspectRatio| (f64::ln(ratio) - f64::ln(target(aspect))).abs();
            distance(a).total_cmp(&distance(b))
        })
        .unwrap_or(AspectRatio::Landscape)
}

/// Downloads an input URL, as fal's runners do; a failure is the model's 422.
async fn download(
    state: &AppState,
    id: &str,
    args: &Value,
    key: &str,
) -> Result<(PathBuf, Vec<u8>), Failure> {
    let Some(url) = args.get(key).and_then(Value::as_str) else {
        return Err(Failure::input(key, "Field required", "missing"));
    };
    state.queue.log(id, format!("Downloading {key}"));
    // A runner reads the platform's own storage directly, not through the public edge where
    // faults are injected; anything else is fetched over HTTP like fal's runners do.
    if let Some(file_id) =
        url.strip_prefix(&format!("{}/files/", state.base_url)).and_then(|rest| rest.split('/').next())
    {
        let bytes = match state.storage.get(file_id) {
            Some(file) => tokio::fs::read(&file.path).await.ok(),
            None => None,
        };
        let Some(bytes) = bytes else {
            return Err(Failure::input(
                key,
                "Failed to download the file from the URL: HTTP 404",
                "file_download_error",
            ));
        };
        let path = keep_input(state, &bytes).await?;
        return Ok((path, bytes));
    }
    let fetched = async {
        let response = state.http.get(url).send().await.map_err(|err| err.without_url().to_string())?;
        if !response.status().is_success() {
            return Err(format!("HTTP {}", response.status().as_u16()));
        }
        response.bytes().await.map(|bytes| bytes.to_vec()).map_err(|err| err.without_url().to_string())
    };
    let bytes = fetched.await.map_err(|reason| {
        Failure::input(
            key,
            &format!("Failed to download the file from the URL: {reason}"),
            "file_download_error",
        )
    })?;
    let path = keep_input(state, &bytes).await?;
    Ok((path, bytes))
}

/// Writes an input where its content names it (`inputs/<sha256>`), once: forty renders of one
/// portrait then read, probe and cache placeholders by one file, as a runner's cache would.
async fn keep_input(state: &AppState, bytes: &[u8]) -> Result<PathBuf, Failure> {
    use sha2::{Digest, Sha256};
    let dir = state.storage.dir().join("inputs");
    let path = dir.join(hex::encode(Sha256::digest(bytes)));
    if tokio::fs::metadata(&path).await.is_ok_and(|meta| meta.len() == bytes.len() as u64) {
        return Ok(path);
    }
    let internal = |err: std::io::Error| Failure::internal(&err.to_string());
    tokio::fs::create_dir_all(&dir).await.map_err(internal)?;
    // Through a unique temporary name: two renders may keep the same input at once.
    let temp = state.storage.scratch_path("input");
    tokio::fs::write(&temp, bytes).await.map_err(internal)?;
    tokio::fs::rename(&temp, &path).await.map_err(internal)?;
    Ok(path)
}

/// Runs `encode` (a placeholder that writes `out`) unless a placeholder of the same `recipe` was
/// made before, in which case that one is copied to `out`. A placeholder is a function of its
/// recipe (the inputs' content, size, rate and length; the prompt only for a test card, which
/// shows it), so copying it is the same clip, made without the CPU a studio sharing the machine
/// with the client under test would take from it.
async fn placeholder_once(
    state: &AppState,
    recipe: String,
    out: &Path,
    encode: impl std::future::Future<Output = Result<f64, episodic_media::MediaError>>,
) -> Result<f64, Failure> {
    let known =
        state.placeholders.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&recipe).cloned();
    if let Some((made, seconds)) = known
        && tokio::fs::copy(&made, out).await.is_ok()
    {
        return Ok(seconds);
    }
    let seconds =
        encode.await.map_err(|err| Failure::internal(&format!("placeholder render failed: {err}")))?;
    let dir = state.storage.dir().join("placeholders");
    let kept = dir.join(format!("{}.mp4", crate::storage::random_hex(16)));
    if tokio::fs::create_dir_all(&dir).await.is_ok() && tokio::fs::copy(out, &kept).await.is_ok() {
        state
            .placeholders
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(recipe, (kept, seconds));
    }
    Ok(seconds)
}

async fn fetch_image(
    state: &AppState,
    id: &str,
    model: &Model,
    args: &Value,
    key: &str,
) -> Result<(PathBuf, (u32, u32)), Failure> {
    let (path, bytes) = download(state, id, args, key).await?;
    let kind = sniff(&bytes[..bytes.len().min(16)]);
    if !matches!(kind, FileKind::Png | FileKind::Jpeg | FileKind::Webp) {
        return Err(Failure::input(
            key,
            &format!("Unsupported image format: {}", kind.name()),
            "image_load_error",
        ));
    }
    let info = probe(state, &path).await.map_err(|detail| {
        Failure::input(key, &format!("Could not read the image: {detail}"), "image_load_error")
    })?;
    let size = info.video().and_then(|video| Some((video.width?, video.height?))).unwrap_or((0, 0));
    if let Some(limits) = &model.image
        && (size.0 < limits.min_width || size.1 < limits.min_height)
    {
        let msg = format!(
            "Image must be at least {}x{} pixels, got {}x{}",
            limits.min_width, limits.min_height, size.0, size.1
        );
        return Err(Failure::input(key, &msg, "image_too_small"));
    }
    Ok((path, size))
}

async fn fetch_audio(
    state: &AppState,
    id: &str,
    model: &Model,
    args: &Value,
    key: &str,
) -> Result<PathBuf, Failure> {
    let (path, bytes) = download(state, id, args, key).await?;
    let kind = sniff(&bytes[..bytes.len().min(16)]);
    if !matches!(kind, FileKind::Mp3 | FileKind::Wav | FileKind::Aac) {
        return Err(Failure::input(
            key,
            &format!("Unsupported audio format: {}", kind.name()),
            "audio_load_error",
        ));
    }
    let Some(limits) = &model.audio else { return Ok(path) };
    if bytes.len() as u64 > limits.max_bytes {
        return Err(Failure::input(
            key,
            &format!("Audio file is larger than {} bytes", limits.max_bytes),
            "file_too_large",
        ));
    }
    let info = probe(state, &path).await.map_err(|detail| {
        Failure::input(key, &format!("Could not read the audio: {detail}"), "audio_load_error")
    })?;
    let seconds = info.audio().and(info.audio_seconds()).unwrap_or(0.0);
    if seconds < limits.min_seconds || seconds > limits.max_seconds {
        let msg = format!(
            "Audio duration must be between {} and {} seconds, got {seconds:.2}",
            limits.min_seconds, limits.max_seconds
        );
        return Err(Failure::input(key, &msg, "audio_duration_out_of_range"));
    }
    Ok(path)
}

async fn probe(state: &AppState, path: &Path) -> Result<episodic_media::MediaInfo, String> {
    let probe = state.probe.clone();
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || probe.probe(&path))
        .await
        .map_err(|err| err.to_string())?
        .map_err(|err| err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aspect_follows_the_image() {
        assert_eq!(aspect_of(&(768, 768)), AspectRatio::Square);
        assert_eq!(aspect_of(&(1920, 1080)), AspectRatio::Landscape);
        assert_eq!(aspect_of(&(1080, 1920)), AspectRatio::Portrait);
        assert_eq!(aspect_of(&(700, 800)), AspectRatio::Square);
        assert_eq!(aspect_of(&(500, 800)), AspectRatio::Portrait);
    }

    #[test]
    fn durations_are_strings() {
        assert_eq!(duration_arg(&json!({"duration": "10"})), 10.0);
        assert_eq!(duration_arg(&json!({})), 5.0);
    }
}
