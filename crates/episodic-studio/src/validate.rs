//! Checking a submit's input against the model's schema, as fal's Pydantic models do:
//! 422 with a `detail` list of `{loc, msg, type, url}`.

use episodic_catalog::{ArgKind, ArgSource, Model, ModelKind};
use episodic_fal::wire::{LocSegment, ValidationItem};
use serde_json::Value;

/// Problems with an input, or the keys that were ignored.
pub(crate) fn validate(
    model: &Model,
    input: &Value,
    strict: bool,
) -> Result<Vec<String>, Vec<ValidationItem>> {
    let Some(object) = input.as_object() else {
        return Err(vec![item(&[], "Input should be a valid dictionary", "dict_type")]);
    };
    let mut problems = Vec::new();
    for arg in &model.args {
        if arg.source != ArgSource::Schema {
            continue;
        }
        let value = object.get(&arg.name).filter(|value| !value.is_null());
        let Some(value) = value else {
            let prompt_optional = model.kind == ModelKind::TextToVideo
                && arg.name == "prompt"
                && object.contains_key("multi_prompt");
            if arg.required && !prompt_optional {
                problems.push(item(&[&arg.name], "Field required", "missing"));
            }
            continue;
        };
        if let Some((msg, kind)) = type_error(&arg.kind, value) {
            problems.push(item(&[&arg.name], &msg, kind));
        }
    }
    let ignored: Vec<String> = object
        .keys()
        .filter(|key| {
            model.schema_arg(key).is_none()
                && !(key.as_str() == "multi_prompt" && model.kind == ModelKind::TextToVideo)
        })
        .cloned()
        .collect();
    if strict {
        for key in &ignored {
            problems.push(item(&[key], "Extra inputs are not permitted", "extra_forbidden"));
        }
    }
    if problems.is_empty() { Ok(ignored) } else { Err(problems) }
}

fn type_error(kind: &ArgKind, value: &Value) -> Option<(String, &'static str)> {
    match kind {
        ArgKind::ImageUrl | ArgKind::AudioUrl | ArgKind::Text => {
            (!value.is_string()).then(|| ("Input should be a valid string".to_owned(), "string_type"))
        }
        ArgKind::Bool => {
            (!value.is_boolean()).then(|| ("Input should be a valid boolean".to_owned(), "bool_type"))
        }
        ArgKind::Number { min, max } => match value.as_f64() {
            None => Some(("Input should be a valid number".to_owned(), "float_type")),
            Some(number) if number < *min => {
                Some((format!("Input should be greater than or equal to {min}"), "greater_than_equal"))
            }
            Some(number) if number > *max => {
                Some((format!("Input should be less than or equal to {max}"), "less_than_equal"))
            }
            Some(_) => None,
        },
        ArgKind::Choice { values } => {
            let ok = value.as_str().is_some_and(|text| values.iter().any(|allowed| allowed == text));
            (!ok).then(|| {
                let quoted: Vec<String> = values.iter().map(|v| format!("'{v}'")).collect();
                let list = match quoted.split_last() {
                    Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
                    _ => quoted.join(""),
                };
                (format!("Input should be {list}"), "literal_error")
            })
        }
        ArgKind::TextList => {
            let ok = value.as_array().is_some_and(|items| items.iter().all(Value::is_string));
            (!ok).then(|| ("Input should be a valid list of strings".to_owned(), "list_type"))
        }
    }
}

/// One `detail` item; `loc` starts with `body` like FastAPI's.
pub(crate) fn item(path: &[&str], msg: &str, kind: &str) -> ValidationItem {
    let mut loc = vec![LocSegment::Key("body".into())];
    loc.extend(path.iter().map(|key| LocSegment::Key((*key).to_owned())));
    ValidationItem {
        loc,
        msg: msg.to_owned(),
        kind: kind.to_owned(),
        url: Some(format!("https://docs.fal.ai/errors#{kind}")),
        ctx: None,
        input: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use episodic_catalog::Catalog;
    use serde_json::json;

    fn model(name: &str) -> Model {
        Catalog::builtin().get(name).cloned().expect("model")
    }

    #[test]
    fn avatar_requires_image_and_audio() {
        let errors =
            validate(&model("kling-avatar-v2-pro"), &json!({"prompt": "hi"}), false).expect_err("missing");
        let fields: Vec<String> = errors.iter().map(ValidationItem::field_path).collect();
        assert_eq!(fields, ["image_url", "audio_url"]);
        assert!(errors.iter().all(|e| e.kind == "missing"));
    }

    #[test]
    fn notes_only_keys_are_ignored_unless_strict() {
        let input = json!({"image_url": "u", "audio_url": "a", "cfg_scale": 0.5, "aspect_ratio": "9:16"});
        let ignored = validate(&model("kling-avatar-v2-pro"), &input, false).expect("accepted");
        assert_eq!(ignored, ["aspect_ratio", "cfg_scale"]);
        let errors = validate(&model("kling-avatar-v2-pro"), &input, true).expect_err("strict");
        assert!(errors.iter().all(|e| e.kind == "extra_forbidden"));
    }

    #[test]
    fn enums_and_types() {
        let i2v = model("kling-i2v-v2.6-pro");
        let errors = validate(&i2v, &json!({"prompt": "p", "start_image_url": "u", "duration": 7}), false)
            .expect_err("int");
        assert_eq!(errors[0].kind, "literal_error");
        assert_eq!(errors[0].msg, "Input should be '5' or '10'");
        let errors =
            validate(&i2v, &json!({"prompt": 3, "start_image_url": "u", "generate_audio": "no"}), false)
                .expect_err("types");
        let kinds: Vec<&str> = errors.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["string_type", "bool_type"]);
        assert!(
            validate(&i2v, &json!({"prompt": "p", "start_image_url": "u", "duration": "10"}), false).is_ok()
        );
    }

    #[test]
    fn not_an_object() {
        let errors = validate(&model("kling-o3-pro-t2v"), &json!([1]), false).expect_err("array");
        assert_eq!(errors[0].kind, "dict_type");
    }
}
