//! Render: one clip from fal, paid for at most once. `stage.rs` decides (a stage enum and one
//! transition function), `driver.rs` acts (journal and fal), `fal.rs` is the narrow view of fal
//! both run against.

mod chain;
mod driver;
mod fal;
mod stage;

pub(crate) use chain::try_keys;
pub(crate) use driver::video;

use super::{Context, Done, Fallback, Inputs, Output};
use crate::NodeError;
use crate::events::EventKind;
use chain::{Next, Position};
use driver::{Driver, Job};
use episodic_catalog::Usd;
use episodic_fal::EndpointId;
use episodic_plan::{FILE_PLACEHOLDER, RenderSpec};
use serde_json::Value;
use stage::Policy;

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
    let webhook_url = match &ctx.config.webhook_url {
        Some(url) => Some(url.parse().map_err(|err| NodeError::Unexpected(format!("webhook URL: {err}")))?),
        None => None,
    };
    let job = Job {
        node,
        key,
        spec,
        endpoint,
        // The journal keeps the arguments the key was computed from: files by hash, not by URL.
        canonical: spec.args.to_string(),
        input: substitute(&spec.args, inputs)?,
        estimate,
    };
    if !spec.fallbacks.is_empty() {
        return render_chain(ctx, episode, node, key, spec, estimate, inputs).await;
    }
    let progress = |kind| ctx.progress(episode, kind);
    let driver = Driver {
        fal: &ctx.client,
        journal: &ctx.journal,
        owner: &ctx.owner,
        policy: Policy {
            retry_failed: ctx.config.retry_failed,
            resubmit_ambiguous: ctx.config.resubmit_ambiguous,
            ephemeral: ctx.config.ephemeral_backend,
            grace: i64::try_from(ctx.config.ambiguous_grace.as_secs()).unwrap_or(i64::MAX),
        },
        poll: &ctx.config.poll,
        webhook_url: webhook_url.as_ref(),
        catalog: &ctx.catalog,
        cap: ctx.cap,
        breaker: &ctx.breaker,
        stop: ctx.stop.clone(),
        progress: &progress,
    };
    driver.run(&job).await
}

/// A render with a fallback chain: each model's request in turn, as `chain::step` decides.
async fn render_chain(
    ctx: &Context,
    episode: &str,
    node: &str,
    key: &str,
    spec: &RenderSpec,
    estimate: Usd,
    inputs: &Inputs,
) -> Result<Done, NodeError> {
    let members: Vec<RenderSpec> = std::iter::once(spec.clone())
        .chain(spec.fallbacks.iter().map(|fallback| RenderSpec {
            model: fallback.model.clone(),
            endpoint: fallback.endpoint.clone(),
            args: fallback.args.clone(),
            fallbacks: Vec::new(),
            ..spec.clone()
        }))
        .collect();
    let member_keys: Vec<String> = std::iter::once(key.to_owned())
        .chain(spec.fallbacks.iter().map(|fallback| fallback.key.to_string()))
        .collect();
    let attempt_key = |at: Position| chain::attempt_key(&member_keys[at.member], at.attempt);
    let tries = spec.fallback_after.max(1);
    // An earlier run fell back and the later model rendered: that render is the node's.
    let mut at = Position { member: 0, attempt: 0 };
    'journaled: for member in 0..members.len() {
        for attempt in 0..tries {
            let position = Position { member, attempt };
            if let Some(record) = ctx.journal.render(&attempt_key(position))?
                && chain::rendered(&record.state)
            {
                at = position;
                break 'journaled;
            }
        }
    }
    let mut notes: Vec<String> = Vec::new();
    if at.member > 0 {
        notes.push(format!("{} fell back earlier", members[0].model));
    }
    let webhook_url: Option<url::Url> = match &ctx.config.webhook_url {
        Some(url) => Some(url.parse().map_err(|err| NodeError::Unexpected(format!("webhook URL: {err}")))?),
        None => None,
    };
    let progress = |kind| ctx.progress(episode, kind);
    let driver = Driver {
        fal: &ctx.client,
        journal: &ctx.journal,
        owner: &ctx.owner,
        policy: Policy {
            retry_failed: ctx.config.retry_failed,
            resubmit_ambiguous: ctx.config.resubmit_ambiguous,
            ephemeral: ctx.config.ephemeral_backend,
            grace: i64::try_from(ctx.config.ambiguous_grace.as_secs()).unwrap_or(i64::MAX),
        },
        poll: &ctx.config.poll,
        webhook_url: webhook_url.as_ref(),
        catalog: &ctx.catalog,
        cap: ctx.cap,
        breaker: &ctx.breaker,
        stop: ctx.stop.clone(),
        progress: &progress,
    };
    loop {
        let member = &members[at.member];
        let endpoint =
            EndpointId::parse(&member.endpoint).map_err(|err| NodeError::Unexpected(err.to_string()))?;
        let key = attempt_key(at);
        let job = Job {
            node,
            key: &key,
            spec: member,
            endpoint,
            canonical: member.args.to_string(),
            input: substitute(&member.args, inputs)?,
            // The plan's estimate is the dearest member's: the budget holds whichever renders.
            estimate,
        };
        let error = match driver.run(&job).await {
            Ok(mut done) => {
                if at.member > 0 {
                    done.fallback = Some(Fallback { model: member.model.clone(), note: notes.join("; ") });
                }
                return Ok(done);
            }
            Err(error) => error,
        };
        match chain::step(at, &chain::ending(&error), members.len(), tries) {
            Next::Run(next) => {
                progress(EventKind::NodeProgress {
                    node: node.to_owned(),
                    queue_position: None,
                    log: Some(format!(
                        "{} failed it ({error}); trying again on {} (try {} of {tries})",
                        member.endpoint,
                        member.model,
                        next.attempt + 1
                    )),
                    request_id: None,
                });
                at = next;
            }
            Next::FallBack { to, reason } => {
                let next = &members[to.member];
                notes.push(format!("{}: {reason}", member.model));
                progress(EventKind::FellBack {
                    node: node.to_owned(),
                    from: member.model.clone(),
                    to: next.model.clone(),
                    reason,
                });
                at = to;
            }
            Next::GiveUp => return Err(error),
        }
    }
}

/// The arguments with every `{"$file": key}` replaced by the URL of the upload with that key (a
/// file's sha256, or the key of a voiced line's upload).
fn substitute(args: &Value, inputs: &Inputs) -> Result<Value, NodeError> {
    match args {
        Value::Object(map) => {
            if let Some(Value::String(wanted)) = map.get(FILE_PLACEHOLDER)
                && map.len() == 1
            {
                return inputs
                    .values()
                    .find_map(|output| match output {
                        Output::Upload { key, url, .. } if key == wanted => Some(Value::String(url.clone())),
                        _ => None,
                    })
                    .ok_or_else(|| NodeError::Unexpected(format!("no upload for file {wanted}")));
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
