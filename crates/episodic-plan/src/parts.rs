//! A node's inputs by name: what its key was hashed from, in words a producer reads.
//!
//! A key says only *whether* a node changed. To say *what* changed, the engine journals each
//! finished node's [`Parts`] (small canonical JSON) and `plan` compares them with the new node's:
//! `prompt`, `audio file assets/x.mp3`, `model kling-a → kling-b`.

use crate::Plan;
use crate::node::{FILE_PLACEHOLDER, NodeDetail, UploadSpec};
use petgraph::graph::NodeIndex;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// A node's inputs by name (`prompt`, `audio file`, `model`, an input node's id...), each with a
/// canonical value. Serialised as one JSON object with sorted names.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parts(BTreeMap<String, Value>);

/// One input that differs from the last time the node was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The input's name: `prompt`, `audio file`, `model`, `render/cold-open/speaker`.
    pub part: String,
    /// The change in words: `audio file assets/x.mp3`, `model kling-a → kling-b`.
    pub text: String,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Values longer than this are named, not quoted, in a change (a prompt is a paragraph).
const QUOTED_MAX: usize = 32;

impl Parts {
    /// Adds a named input.
    pub fn insert(&mut self, name: impl Into<String>, value: Value) {
        self.0.insert(name.into(), value);
    }

    /// The value of one input.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// Canonical JSON (sorted names, no whitespace): what the journal keeps.
    pub fn to_json(&self) -> String {
        Value::Object(self.0.clone().into_iter().collect::<Map<_, _>>()).to_string()
    }

    /// Parts read back from the journal; `None` for text that is not a JSON object.
    pub fn from_json(text: &str) -> Option<Parts> {
        match serde_json::from_str::<Value>(text).ok()? {
            Value::Object(map) => Some(Parts(map.into_iter().collect())),
            _ => None,
        }
    }

    /// What differs in `self` against `earlier`, in name order.
    pub fn changes_from(&self, earlier: &Parts) -> Vec<Change> {
        let mut changes = Vec::new();
        for (name, now) in &self.0 {
            match earlier.0.get(name) {
                Some(before) if before == now => {}
                Some(before) => {
                    changes.push(Change { part: name.clone(), text: describe(name, before, now) })
                }
                None => changes.push(Change { part: name.clone(), text: format!("{name} (new)") }),
            }
        }
        for name in earlier.0.keys().filter(|name| !self.0.contains_key(*name)) {
            changes.push(Change { part: name.clone(), text: format!("{name} (removed)") });
        }
        changes
    }
}

fn describe(name: &str, before: &Value, now: &Value) -> String {
    let file = |value: &Value| value.get("file").and_then(Value::as_str).map(str::to_owned);
    match (file(before), file(now)) {
        (Some(old), Some(new)) if old == new => format!("{name} {new}"),
        (Some(old), Some(new)) => format!("{name} {old} → {new}"),
        _ => match (short(before), short(now)) {
            (Some(old), Some(new)) => format!("{name} {old} → {new}"),
            _ => name.to_owned(),
        },
    }
}

/// A value short enough to quote in a change.
fn short(value: &Value) -> Option<String> {
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Number(_) | Value::Bool(_) | Value::Null => value.to_string(),
        _ => return None,
    };
    (text.chars().count() <= QUOTED_MAX).then_some(text)
}

/// How an argument is named for a producer: `audio_url` → `audio file`, `negative_prompt` →
/// `negative prompt`.
fn arg_name(arg: &str, is_file: bool) -> String {
    let base = if is_file { arg.strip_suffix("_url").unwrap_or(arg) } else { arg };
    let words = base.replace('_', " ");
    if is_file { format!("{words} file") } else { words }
}

/// Each upload's file as the manifest wrote it, by content hash: render arguments name files
/// by hash only.
pub type FileNames = HashMap<String, String>;

impl Plan {
    /// Each uploaded file's written path by sha256, for [`Plan::parts`].
    pub fn file_names(&self) -> FileNames {
        self.nodes()
            .filter_map(|node| match &node.detail {
                NodeDetail::Upload(UploadSpec::File { file }) => {
                    Some((file.sha256.clone(), file.written.clone()))
                }
                // A voiced line has no file of the manifest's: render arguments name it by the
                // upload's key, and a reader knows it by its speech node.
                NodeDetail::Upload(UploadSpec::Speech { speech }) => {
                    Some((node.key.to_string(), format!("voiced {speech}")))
                }
                _ => None,
            })
            .collect()
    }

    /// The named inputs of a node: a render's model (and model chain, with fallbacks), take and
    /// arguments (files by path and hash); an upload's file; for every other node (a join: its
    /// pieces' downloads), its inputs' keys by node id and its own parameters.
    pub fn parts(&self, index: NodeIndex, files: &FileNames) -> Parts {
        let node = &self.graph[index];
        let mut parts = Parts::default();
        match &node.detail {
            NodeDetail::Upload(UploadSpec::File { file }) => {
                parts.insert("file", json!({"file": file.written, "sha256": file.sha256}));
            }
            NodeDetail::Upload(UploadSpec::Speech { speech }) => {
                parts.insert("speech", json!({"speech": speech}));
            }
            NodeDetail::Render(render) => {
                parts.insert("model", Value::String(render.model.clone()));
                if !render.fallbacks.is_empty() {
                    let chain: Vec<&str> = std::iter::once(render.model.as_str())
                        .chain(render.fallbacks.iter().map(|fallback| fallback.model.as_str()))
                        .collect();
                    parts.insert("model chain", Value::String(chain.join(", ")));
                }
                if let Some(take) = self.takes.get(&index) {
                    parts.insert("take", json!(take));
                }
                // Not in the key (the piece's audio is), but what moved the cut when it moved.
                if let Some(rule) = self.cut_by.get(&index) {
                    parts.insert("pauses", Value::String(rule.to_string()));
                }
                if let Value::Object(args) = &render.args {
                    for (arg, value) in args {
                        match value.get(FILE_PLACEHOLDER).and_then(Value::as_str) {
                            Some(sha256) => {
                                let written = files.get(sha256).cloned().unwrap_or_else(|| sha256.to_owned());
                                parts.insert(arg_name(arg, true), json!({"file": written, "sha256": sha256}));
                            }
                            None => parts.insert(arg_name(arg, false), value.clone()),
                        }
                    }
                }
            }
            NodeDetail::Speech(speech) => {
                parts.insert("voice", Value::String(speech.voice_id.clone()));
                parts.insert("model", Value::String(speech.model.clone()));
                parts.insert("voice settings", json!(speech.settings));
                parts.insert("output format", Value::String(speech.output_format.clone()));
                parts.insert("line", Value::String(speech.text.clone()));
            }
            NodeDetail::Align(align) => {
                parts.insert("audio", json!({"file": align.audio.written, "sha256": align.audio.sha256}));
                parts.insert("text", Value::String(align.text.clone()));
            }
            NodeDetail::Download { .. } => {}
            NodeDetail::Compose(spec) => {
                parts.insert("layout", json!(spec.layout));
                parts.insert("canvas", Value::String(spec.canvas.to_string()));
                parts.insert("fps", json!(spec.fps));
                parts.insert("length", Value::String(format!("{:.3} s", spec.seconds)));
                parts.insert("speaker seat", json!(spec.speaker_seat));
                parts.insert("listener fill", json!(spec.listener_fill));
                if let (Some(burn), Some(text)) = (&spec.burn, &spec.text) {
                    parts.insert(
                        "captions",
                        json!({"style": burn.style, "words_per_page": burn.words_per_page}),
                    );
                    parts.insert("caption text", Value::String(text.clone()));
                }
            }
            NodeDetail::Audio(spec) => {
                for segment in &spec.segments {
                    // A speaker's sound is read from its speech file, which is no node's output.
                    if let Some(file) = &segment.speech_file {
                        parts.insert(
                            format!("audio file of {}", segment.segment),
                            json!({"file": file.written, "sha256": file.sha256}),
                        );
                    }
                    parts.insert(
                        format!("length of {}", segment.segment),
                        Value::String(format!("{:.3} s", segment.seconds)),
                    );
                }
                parts.insert("sound", json!([spec.sample_rate, spec.channels, spec.bitrate]));
            }
            NodeDetail::Concat(spec) => {
                parts.insert("segment order", json!(spec.segments));
            }
            // The pieces' keys come in below, by their download's id.
            NodeDetail::Join(spec) => {
                parts.insert("fps", json!(spec.fps));

                for (number, piece) in (1..).zip(&spec.pieces) {
                    parts.insert(
                        format!("length of piece {number}"),
                        Value::String(format!("{:.3} s", piece.seconds)),
                    );
                    parts.insert(
                        format!("crossfade after piece {number}"),
                        Value::String(format!("{:.3} s", piece.fade)),
                    );
                }
            }
        }
        if !matches!(
            node.detail,
            NodeDetail::Upload(_) | NodeDetail::Render(_) | NodeDetail::Speech(_) | NodeDetail::Align(_)
        ) {
            for dep in self.graph.neighbors_directed(index, petgraph::Direction::Incoming) {
                let input = &self.graph[dep];
                parts.insert(input.id.clone(), Value::String(input.key.as_str().to_owned()));
            }
        }
        parts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(pairs: &[(&str, Value)]) -> Parts {
        let mut parts = Parts::default();
        for (name, value) in pairs {
            parts.insert(*name, value.clone());
        }
        parts
    }

    #[test]
    fn changes_name_each_input_in_words() {
        let before = parts(&[
            ("model", json!("kling-avatar-v2-pro")),
            ("prompt", json!("A long prompt that no table would quote in full, surely.")),
            ("audio file", json!({"file": "assets/x.mp3", "sha256": "aa"})),
            ("image file", json!({"file": "assets/a.png", "sha256": "bb"})),
            ("duration", json!("5")),
        ]);
        let after = parts(&[
            ("model", json!("kling-avatar-v2-standard")),
            ("prompt", json!("Another long prompt that no table would quote in full.")),
            ("audio file", json!({"file": "assets/x.mp3", "sha256": "cc"})),
            ("image file", json!({"file": "assets/b.png", "sha256": "dd"})),
            ("take", json!(2)),
        ]);
        let texts: Vec<String> = after.changes_from(&before).iter().map(ToString::to_string).collect();
        assert_eq!(
            texts,
            [
                "audio file assets/x.mp3",
                "image file assets/a.png → assets/b.png",
                "model kling-avatar-v2-pro → kling-avatar-v2-standard",
                "prompt",
                "take (new)",
                "duration (removed)",
            ]
        );
        assert!(after.changes_from(&after).is_empty());
    }

    #[test]
    fn parts_survive_the_journal() {
        let original =
            parts(&[("prompt", json!("hi")), ("audio file", json!({"file": "a.mp3", "sha256": "aa"}))]);
        let text = original.to_json();
        assert_eq!(text, r#"{"audio file":{"file":"a.mp3","sha256":"aa"},"prompt":"hi"}"#);
        assert_eq!(Parts::from_json(&text), Some(original));
        assert_eq!(Parts::from_json("[1]"), None);
    }

    #[test]
    fn argument_names_read_as_words() {
        assert_eq!(arg_name("audio_url", true), "audio file");
        assert_eq!(arg_name("end_image_url", true), "end image file");
        assert_eq!(arg_name("negative_prompt", false), "negative prompt");
    }
}
