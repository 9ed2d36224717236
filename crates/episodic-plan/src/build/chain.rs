//! Fallback chains in the plan: a render whose manifest names several models carries, beside its
//! first model's request, the request each fallback would be sent (its own endpoint, arguments and
//! key) and its price. The node's cost is the dearest member's, so a budget that holds for the
//! plan holds whichever model ends up rendering. The engine walks the chain; the plan decides it.

use super::put_required_defaults;
use crate::NodeKey;
use crate::node::FallbackSpec;
use episodic_catalog::{ArgKind, Model};
use serde_json::{Map, Value, json};

/// The request `member` gets in place of `first`'s `args`: each input file under the member's
/// own key for its kind (`image_url` or `start_image_url`), every other argument kept only when
/// the member takes it, and the member's required defaults.
pub(super) fn fallback_args(args: &Map<String, Value>, first: &Model, member: &Model) -> Map<String, Value> {
    let mut out = Map::new();
    for (name, value) in args {
        let kind = first.arg(name).map(|arg| &arg.kind);
        let target = match kind {
            Some(ArgKind::ImageUrl) if Some(name.as_str()) == first.image_arg() => member.image_arg(),
            Some(ArgKind::AudioUrl) => member.audio_arg(),
            _ => member.arg(name).map(|arg| arg.name.as_str()),
        };
        if let Some(target) = target {
            out.insert(target.to_owned(), value.clone());
        }
    }
    put_required_defaults(&mut out, member);
    out
}

/// The fallbacks of one render: each member's request, key and price for `seconds` of output.
/// A later `take` is in every member's key, as in the first model's: a fresh take is rendered
/// afresh whichever model ends up rendering it.
pub(super) fn fallbacks(
    args: &Map<String, Value>,
    first: &Model,
    chain: &[&Model],
    seconds: f64,
    generate_audio: bool,
    take: u32,
) -> Vec<FallbackSpec> {
    chain
        .iter()
        .map(|member| {
            let args = Value::Object(fallback_args(args, first, member));
            let mut identity = json!({"endpoint": member.endpoint, "args": args});
            if take > 1
                && let Some(fields) = identity.as_object_mut()
            {
                fields.insert("take".into(), json!(take));
            }
            FallbackSpec {
                key: NodeKey::of_json(&identity),
                model: member.name.clone(),
                endpoint: member.endpoint.clone(),
                args,
                cost: member.cost(seconds, generate_audio),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use episodic_catalog::Catalog;

    #[test]
    fn a_fallback_gets_its_own_keys_and_required_defaults() {
        let catalog = Catalog::builtin();
        let omni = catalog.get("omnihuman-v1.5").unwrap();
        let fabric = catalog.get("veed-fabric-1.0").unwrap();
        let kling = catalog.get("kling-avatar-v2-pro").unwrap();
        let mut args = Map::new();
        args.insert("image_url".into(), json!({"$file": "a"}));
        args.insert("audio_url".into(), json!({"$file": "b"}));
        args.insert("prompt".into(), json!("Talks."));
        let specs = fallbacks(&args, omni, &[fabric, kling], 10.0, false, 1);
        assert_eq!(
            specs[0].args,
            json!({"image_url": {"$file": "a"}, "audio_url": {"$file": "b"}, "resolution": "720p"}),
            "Fabric takes no prompt and requires a resolution"
        );
        assert_eq!(specs[1].args["prompt"], "Talks.");
        assert_ne!(specs[0].key, specs[1].key);
        assert_eq!(specs[1].cost, kling.cost(10.0, false));
    }

    #[test]
    fn the_image_moves_to_the_members_key() {
        let catalog = Catalog::builtin();
        let i2v = catalog.get("kling-i2v-v2.6-pro").unwrap();
        let mut args = Map::new();
        args.insert("start_image_url".into(), json!({"$file": "a"}));
        args.insert("end_image_url".into(), json!({"$file": "a"}));
        args.insert("prompt".into(), json!("Nods."));
        args.insert("duration".into(), json!("5"));
        let o3 = catalog.get("kling-o3-standard-t2v").unwrap();
        // A text-to-video member drops the image it cannot take (the manifest checks kinds).
        let specs = fallbacks(&args, i2v, &[o3], 5.0, false, 1);
        assert!(specs[0].args.get("start_image_url").is_none());
        assert_eq!(specs[0].args["duration"], "5");
    }
}
