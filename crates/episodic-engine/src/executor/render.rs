//! Render: claim the key in the journal, submit (or re-attach), journal the request id at once,
//! poll with logs, fetch the result, journal it with its billed cost.

use super::{Context, Done, Inputs, Output};
use crate::NodeError;
use crate::events::EventKind;
use crate::journal::{Claim, RenderState, now};
use episodic_catalog::Usd;
use episodic_fal::{EndpointId, FalErrorKind, PollEvent, RequestHandle, SubmitOptions};
use episodic_plan::{FILE_PLACEHOLDER, RenderSpec};
use serde_json::Value;
use std::time::Duration;

/// One render node.
pub(crate) async fn render(
    ctx: &Context,
    episode: &str,
    node: &str,
    key: &str,
    spec: &RenderSpec,
    estimate: Usd,
    inputs: &Inputs,
) -> Result<Done, NodeError> {
    let endpoint = EndpointId::parse(&spec.endpoint).map_err(|err| NodeError::Unexpected(err.to_string()))?;
    // The journal keeps the arguments the key was computed from: files by hash, not by URL.
    let canonical = spec.args.to_string();
    let mut claim = ctx.journal.claim_render(key, &spec.endpoint, &canonical, &ctx.owner, now())?;
    let mut lost_answers = 0u32;
    loop {
        match claim {
            Claim::Done(record) => return reuse(key, spec, &record.state),
            Claim::Failed { error, .. } if !ctx.config.retry_failed => {
                return Err(NodeError::FailedEarlier { message: error });
            }
            Claim::Failed { .. } => claim = ctx.journal.retry_failed(key, &ctx.owner, now())?,
            Claim::Ambiguous { .. } if ctx.config.resubmit_ambiguous || ctx.config.ephemeral_backend => {
                claim = ctx.journal.force_resubmit(key, &ctx.owner, now())?;
            }
            Claim::Ambiguous { owner } => {
                // A run died between claiming and journaling fal's answer. fal's request history
                // says whether the submit arrived: re-attach to it, or submit once it surely did not.
                let claimed_at = match ctx.journal.render(key)?.map(|record| record.state) {
                    Some(RenderState::Submitting { claimed_at, .. }) => claimed_at,
                    _ => now(),
                };
                let args = substitute(&spec.args, inputs)?;
                let history = ctx.client.request_history(&spec.endpoint, claimed_at - 60).await;
                let found = history.as_ref().ok().and_then(|items| {
                    items
                        .iter()
                        .find(|item| item.json_input.as_ref() == Some(&args))
                        .map(|item| item.request_id.clone())
                });
                if let Some(request_id) = found {
                    if ctx.journal.force_resubmit(key, &ctx.owner, now())? != Claim::Claimed {
                        claim =
                            ctx.journal.claim_render(key, &spec.endpoint, &canonical, &ctx.owner, now())?;
                        continue;
                    }
                    ctx.journal.mark_submitted(key, &ctx.owner, &request_id, now())?;
                    ctx.progress(
                        episode,
                        EventKind::NodeProgress {
                            node: node.to_owned(),
                            queue_position: None,
                            log: Some("found in fal's request history after a crash: re-attached".into()),
                            request_id: Some(request_id.clone()),
                        },
                    );
                    claim = Claim::Reattach { request_id };
                    continue;
                }
                let grace = i64::try_from(ctx.config.ambiguous_grace.as_secs()).unwrap_or(i64::MAX);
                if history.is_ok() && now() - claimed_at >= grace {
                    claim = ctx.journal.force_resubmit(key, &ctx.owner, now())?;
                    continue;
                }
                let when = match history {
                    Ok(_) => format!("a rerun after {} s from the crash submits it", grace),
                    Err(err) => format!("the history could not be read ({err})"),
                };
                return Err(NodeError::Ambiguous { owner: owner.to_string(), when });
            }
            Claim::Busy { .. } => {
                // Another live process renders this key; wait for its result instead of paying again.
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(500)) => {}
                    () = ctx.cancelled() => return Err(NodeError::Interrupted),
                }
                claim = ctx.journal.claim_render(key, &spec.endpoint, &canonical, &ctx.owner, now())?;
            }
            Claim::Reattach { request_id } => {
                let handle = RequestHandle::reattach(ctx.client.config(), &endpoint, &request_id)
                    .map_err(|err| NodeError::Unexpected(err.to_string()))?;
                match finish(ctx, episode, node, key, spec, handle).await {
                    // The ephemeral studio forgot the request with its restart; rendering again is free.
                    Err(NodeError::Fal(err))
                        if ctx.config.ephemeral_backend
                            && matches!(err.kind, FalErrorKind::NotFound { .. }) =>
                    {
                        ctx.journal.mark_failed(key, &ctx.owner, "the local studio restarted", now())?;
                        claim = ctx.journal.retry_failed(key, &ctx.owner, now())?;
                        continue;
                    }
                    other => return other,
                }
            }
            Claim::Claimed => {
                check_budget(ctx, key, estimate)?;
                let args = substitute(&spec.args, inputs)?;
                let options = SubmitOptions {
                    webhook_url: match &ctx.config.webhook_url {
                        Some(url) => Some(
                            url.parse()
                                .map_err(|err| NodeError::Unexpected(format!("--webhook-url: {err}")))?,
                        ),
                        None => None,
                    },
                    ..SubmitOptions::default()
                };
                let submitted = match ctx.client.submit(&endpoint, &args, &options).await {
                    Ok(submitted) => submitted,
                    // A second lost answer in a row: stop here; the claim stays, and the next run
                    // settles it from the history without a wait loop in this one.
                    Err(err) if err.maybe_submitted && lost_answers > 0 => return Err(err.into()),
                    Err(err) if err.maybe_submitted => {
                        lost_answers += 1;
                        // The answer was lost: fal may or may not have queued it. Ask its history.
                        match settle_lost_submit(ctx, episode, node, key, spec, &args).await? {
                            Some(request_id) => {
                                claim = Claim::Reattach { request_id };
                                continue;
                            }
                            // Absent from the history past the grace period: the claim is still ours, and
                            // submitting again cannot pay twice.
                            None => {
                                claim = Claim::Claimed;
                                continue;
                            }
                        }
                    }
                    Err(err) => {
                        if matches!(err.kind, FalErrorKind::Validation { .. }) {
                            ctx.journal.mark_failed(key, &ctx.owner, &err.to_string(), now())?;
                        } else {
                            ctx.journal.release(key, &ctx.owner)?;
                        }
                        return Err(err.into());
                    }
                };
                ctx.journal.mark_submitted(key, &ctx.owner, &submitted.request_id, now())?;
                ctx.progress(
                    episode,
                    EventKind::NodeProgress {
                        node: node.to_owned(),
                        queue_position: submitted.queue_position,
                        log: None,
                        request_id: Some(submitted.request_id.clone()),
                    },
                );
                let handle = RequestHandle::from_submit(ctx.client.config(), &endpoint, &submitted)
                    .map_err(|err| NodeError::Unexpected(err.to_string()))?;
                return finish(ctx, episode, node, key, spec, handle).await;
            }
        }
    }
}

/// After a submit whose answer was lost: the request id if fal's history shows the request,
/// `None` once the grace period has passed without it (safe to submit again), or an error while
/// the history cannot tell yet.
async fn settle_lost_submit(
    ctx: &Context,
    episode: &str,
    node: &str,
    key: &str,
    spec: &RenderSpec,
    args: &Value,
) -> Result<Option<String>, NodeError> {
    let since = now() - 60;
    let deadline = std::time::Instant::now() + ctx.config.ambiguous_grace;
    let mut wait = Duration::from_millis(500);
    loop {
        if let Ok(items) = ctx.client.request_history(&spec.endpoint, since).await
            && let Some(item) = items.iter().find(|item| item.json_input.as_ref() == Some(args))
        {
            ctx.journal.mark_submitted(key, &ctx.owner, &item.request_id, now())?;
            ctx.progress(
                episode,
                EventKind::NodeProgress {
                    node: node.to_owned(),
                    queue_position: None,
                    log: Some("the submit's answer was lost; found the request in fal's history".into()),
                    request_id: Some(item.request_id.clone()),
                },
            );
            return Ok(Some(item.request_id.clone()));
        }
        if std::time::Instant::now() >= deadline {
            return Ok(None);
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = ctx.cancelled() => return Err(NodeError::Interrupted),
        }
        wait = (wait * 2).min(Duration::from_secs(30));
    }
}

/// Polls a submitted request to the end and journals its outcome.
async fn finish(
    ctx: &Context,
    episode: &str,
    node: &str,
    key: &str,
    spec: &RenderSpec,
    handle: RequestHandle,
) -> Result<Done, NodeError> {
    let request_id = handle.request_id.clone();
    if ctx.config.webhook_url.is_some() {
        return finish_from_webhook(ctx, node, key, spec, handle).await;
    }
    let poll = ctx.client.poll(&handle, &ctx.config.poll, |event| {
        let (queue_position, log) = match event {
            PollEvent::Queued { position } => (position, None),
            PollEvent::Log(entry) => (None, entry.message),
            PollEvent::Started | PollEvent::Completed { .. } => return,
        };
        ctx.progress(
            episode,
            EventKind::NodeProgress { node: node.to_owned(), queue_position, log, request_id: None },
        );
    });
    // An interrupted poll leaves the request journaled as submitted: the next run re-attaches.
    let completion = tokio::select! {
        polled = poll => polled,
        () = ctx.cancelled() => return Err(NodeError::Interrupted),
    };
    let completion = match completion {
        Ok(completion) => completion,
        // fal no longer knows the request (results expire): say so once, and stop re-attaching.
        Err(err) if matches!(err.kind, FalErrorKind::NotFound { .. }) && !ctx.config.ephemeral_backend => {
            let message = format!("fal no longer knows request {request_id}: {err}");
            ctx.journal.mark_failed(key, &ctx.owner, &message, now())?;
            return Err(NodeError::RenderFailed { node: node.to_owned(), message });
        }
        Err(err) => return Err(err.into()),
    };
    let result = match (completion.error, ctx.client.result(&handle).await) {
        // fal says the request itself failed (or was cancelled): journal it, never retry blindly.
        (Some(error), outcome) => {
            let detail = match outcome {
                Err(err) => format!("{error}: {err}"),
                Ok(_) => error,
            };
            ctx.journal.mark_failed(key, &ctx.owner, &detail, now())?;
            return Err(NodeError::RenderFailed { node: node.to_owned(), message: detail });
        }
        (None, Ok(result)) => result,
        (None, Err(err)) if matches!(err.kind, FalErrorKind::Validation { .. }) => {
            let message = err.to_string();
            ctx.journal.mark_failed(key, &ctx.owner, &message, now())?;
            return Err(NodeError::RenderFailed { node: node.to_owned(), message });
        }
        // Anything else (the network, a timeout) leaves the request submitted: rerun re-attaches.
        (None, Err(err)) => return Err(err.into()),
    };
    complete(ctx, key, spec, request_id, result)
}

/// Waits for the request's outcome to arrive by webhook (recorded in the journal by
/// `episodic webhooks serve`); checks fal's status every half minute in case a delivery is lost.
async fn finish_from_webhook(
    ctx: &Context,
    node: &str,
    key: &str,
    spec: &RenderSpec,
    handle: RequestHandle,
) -> Result<Done, NodeError> {
    let request_id = handle.request_id.clone();
    let mut last_status = std::time::Instant::now();
    let result = loop {
        if let Some(delivered) = ctx.journal.webhook_result(&request_id)? {
            if !delivered.ok {
                let message = delivered.error.unwrap_or_else(|| "fal reported an error".into());
                let message = format!("{message}: {}", delivered.payload);
                ctx.journal.mark_failed(key, &ctx.owner, &message, now())?;
                return Err(NodeError::RenderFailed { node: node.to_owned(), message });
            }
            break delivered.payload;
        }
        if last_status.elapsed() >= Duration::from_secs(30) {
            last_status = std::time::Instant::now();
            if let episodic_fal::wire::QueueStatus::Completed { .. } =
                ctx.client.status(&handle, false).await?
            {
                break ctx.client.result(&handle).await?;
            }
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(250)) => {}
            () = ctx.cancelled() => return Err(NodeError::Interrupted),
        }
    };
    complete(ctx, key, spec, request_id, result)
}

/// Journals a finished render's result and what it cost.
fn complete(
    ctx: &Context,
    key: &str,
    spec: &RenderSpec,
    request_id: String,
    result: Value,
) -> Result<Done, NodeError> {
    let (video_url, file_size) = video(&result)?;
    let billed = result.get("duration").and_then(Value::as_f64).unwrap_or(spec.seconds);
    let cost =
        ctx.catalog.get(&spec.model).map(|model| model.cost(billed, spec.generate_audio)).unwrap_or_default();
    ctx.journal.mark_completed(key, &ctx.owner, &result, billed, cost.micros(), now())?;
    let output = Output::Render {
        video_url,
        file_size,
        key: key.to_owned(),
        endpoint: spec.endpoint.clone(),
        request_id: Some(request_id.clone()),
    };
    Ok(Done { output, cache_hit: false, cost, request_id: Some(request_id) })
}

/// A completed render from the journal.
fn reuse(key: &str, spec: &RenderSpec, state: &RenderState) -> Result<Done, NodeError> {
    let RenderState::Completed { request_id, result, .. } = state else {
        return Err(NodeError::Unexpected("the journal called a render done without its result".into()));
    };
    let (video_url, file_size) = video(result)?;
    let mut done = Done::cached(Output::Render {
        video_url,
        file_size,
        key: key.to_owned(),
        endpoint: spec.endpoint.clone(),
        request_id: Some(request_id.clone()),
    });
    done.request_id = Some(request_id.clone());
    Ok(done)
}

/// `video.url` and `video.file_size` of a model's output.
pub(crate) fn video(result: &Value) -> Result<(String, Option<u64>), NodeError> {
    let video =
        result.get("video").ok_or_else(|| NodeError::Unexpected("the result has no `video`".into()))?;
    let url = video
        .get("url")
        .and_then(Value::as_str)
        .ok_or_else(|| NodeError::Unexpected("the result's video has no `url`".into()))?;
    Ok((url.to_owned(), video.get("file_size").and_then(Value::as_u64)))
}

/// Refuses a submit that would take the run past its cap.
fn check_budget(ctx: &Context, key: &str, estimate: Usd) -> Result<(), NodeError> {
    let Some(cap) = ctx.cap else { return Ok(()) };
    let spent = Usd::from_micros(ctx.journal.spent_micros(ctx.owner.run_id)?);
    if spent + estimate > cap {
        // Nothing was sent: give the claim back so a later run with a larger budget may submit.
        ctx.journal.release(key, &ctx.owner)?;
        return Err(NodeError::OverBudget {
            estimate: estimate.to_string(),
            spent: spent.to_string(),
            cap: cap.to_string(),
        });
    }
    Ok(())
}

/// The arguments with every `{"$file": sha256}` replaced by that file's uploaded URL.
fn substitute(args: &Value, inputs: &Inputs) -> Result<Value, NodeError> {
    match args {
        Value::Object(map) => {
            if let Some(Value::String(sha)) = map.get(FILE_PLACEHOLDER)
                && map.len() == 1
            {
                return inputs
                    .values()
                    .find_map(|output| match output {
                        Output::Upload { sha256, url } if sha256 == sha => Some(Value::String(url.clone())),
                        _ => None,
                    })
                    .ok_or_else(|| NodeError::Unexpected(format!("no upload for file {sha}")));
            }
            let mut out = serde_json::Map::new();
            for (key, value) in map {
                out.insert(key.clone(), substitute(value, inputs)?);
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => {
            items.iter().map(|item| substitute(item, inputs)).collect::<Result<_, _>>().map(Value::Array)
        }
        other => Ok(other.clone()),
    }
}
