//! Render: one clip from fal, paid for at most once. `stage.rs` decides (a stage enum and one
//! transition function), `driver.rs` acts (journal and fal), `fal.rs` is the narrow view of fal
//! both run against.

mod driver;
mod fal;
mod stage;

pub(crate) use driver::video;

use super::{Context, Done, Inputs, Output};
use crate::NodeError;
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
