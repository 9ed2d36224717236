//! `episodic plan` on the shipped pipelines: the table, the JSON schema, the DOT graph.

use crate::support::{episodic, repo};
use serde_json::Value;
use std::collections::HashSet;

fn plan_json(manifest: &str, extra: &[&str]) -> Value {
    let mut args = vec!["plan", manifest, "--json"];
    args.extend_from_slice(extra);
    let output = episodic(&repo(), &args);
    assert_eq!(output.code, 0, "{}", output.stderr);
    serde_json::from_str(&output.stdout).expect("plan --json is JSON")
}

#[test]
fn demo_plan_table() {
    // A state folder that does not exist: nothing is done yet, whatever the checkout holds.
    let output =
        episodic(&repo(), &["plan", "pipelines/demo/episode.yaml", "--state-dir", "target/no-state-here"]);
    assert_eq!(output.code, 0, "{}", output.stderr);
    insta::assert_snapshot!(output.transcript());
}

#[test]
fn json_totals_are_the_sum_of_the_nodes() {
    for manifest in
        ["pipelines/demo/episode.yaml", "pipelines/short/episode.yaml", "pipelines/longform/episode.yaml"]
    {
        let plan = plan_json(manifest, &[]);
        assert_eq!(plan["schema_version"], 2);
        let nodes = plan["nodes"].as_array().expect("nodes");
        let sum: u64 = nodes.iter().map(|node| node["cost_micros"].as_u64().expect("micros")).sum();
        assert_eq!(plan["totals"]["cost_micros"].as_u64(), Some(sum), "{manifest}");
        assert!(sum > 0);
        let renders = nodes.iter().filter(|node| node["kind"] == "render").count();
        assert_eq!(plan["totals"]["renders"].as_u64(), Some(renders as u64));
        // Every dependency names a node listed before it.
        let mut seen = HashSet::new();
        for node in nodes {
            for dep in node["deps"].as_array().expect("deps") {
                assert!(seen.contains(dep.as_str().expect("id")), "{} needs {dep} before it", node["id"]);
            }
            seen.insert(node["id"].as_str().expect("id"));
        }
    }
}

#[test]
fn uploads_are_deduplicated_by_content_hash() {
    let plan = plan_json("pipelines/longform/episode.yaml", &[]);
    let nodes = plan["nodes"].as_array().expect("nodes");
    let uploads: Vec<&Value> = nodes.iter().filter(|node| node["kind"] == "upload").collect();
    let keys: HashSet<&str> = uploads.iter().map(|node| node["key"].as_str().expect("key")).collect();
    assert_eq!(keys.len(), uploads.len(), "one upload per unique file");
    // Every `$file` placeholder in render arguments names an upload node's key.
    let mut references = 0;
    for node in nodes.iter().filter(|node| node["kind"] == "render") {
        for value in node["args"].as_object().expect("args").values() {
            if let Some(hash) = value.get("$file").and_then(Value::as_str) {
                assert!(keys.contains(hash), "{hash} is not an upload key");
                references += 1;
            }
        }
    }
    assert!(
        references > uploads.len(),
        "the long-form episode reuses files: {references} references, {} uploads",
        uploads.len()
    );
}

#[test]
fn draft_is_cheaper_and_says_by_how_much() {
    let full = plan_json("pipelines/demo/episode.yaml", &[]);
    let draft = plan_json("pipelines/demo/episode.yaml", &["--draft"]);
    let full_cost = full["totals"]["cost_micros"].as_u64().expect("cost");
    let draft_cost = draft["totals"]["cost_micros"].as_u64().expect("cost");
    assert!(draft_cost < full_cost);
    let savings = draft["totals"]["draft_savings_usd"].as_f64().expect("savings");
    assert!((savings - (full_cost - draft_cost) as f64 / 1e6).abs() < 1e-9);
    for node in draft["nodes"].as_array().expect("nodes") {
        if node["kind"] == "render" && node["id"].as_str().is_some_and(|id| id.ends_with("/speaker")) {
            assert_eq!(node["model"], "kling-avatar-v2-standard");
        }
    }
}

#[test]
fn render_arguments_follow_the_schema() {
    let plan = plan_json("pipelines/demo/episode.yaml", &[]);
    for node in plan["nodes"].as_array().expect("nodes").iter().filter(|node| node["kind"] == "render") {
        let args = node["args"].as_object().expect("args");
        let id = node["id"].as_str().expect("id");
        if id.ends_with("/speaker") {
            // Avatar v2 takes image_url, audio_url and prompt only (fal-protocol.md §7.11).
            assert!(
                args.keys().all(|key| ["image_url", "audio_url", "prompt"].contains(&key.as_str())),
                "{id}: {args:?}"
            );
        }
        if id.ends_with("/listener") {
            assert!(args["prompt"].as_str().expect("prompt").to_lowercase().contains("mouth closed"));
            assert!(
                args["negative_prompt"]
                    .as_str()
                    .expect("negative")
                    .contains("talking, speaking, mouth movement")
            );
            assert_eq!(args["generate_audio"], false);
            assert!(args.contains_key("start_image_url"));
            assert!(["5", "10"].contains(&args["duration"].as_str().expect("duration")));
        }
    }
}

#[test]
fn dot_is_a_digraph_with_every_node() {
    let output = episodic(&repo(), &["plan", "pipelines/demo/episode.yaml", "--dot"]);
    assert_eq!(output.code, 0, "{}", output.stderr);
    assert!(output.stdout.starts_with("digraph \"ninja-news-demo\" {"));
    assert!(output.stdout.trim_end().ends_with('}'));
    let plan = plan_json("pipelines/demo/episode.yaml", &[]);
    for node in plan["nodes"].as_array().expect("nodes") {
        let id = node["id"].as_str().expect("id");
        assert!(output.stdout.contains(&format!("\"{id}\" [label=")), "{id} missing from DOT");
    }
    assert!(output.stdout.contains("\"compose/cold-open\" -> \"concat/ninja-news-demo\""));
}

/// The demo's comment quotes its cost ("Estimate ~$4.99: ... = $2.82; ... = $1.75; ..."); it must
/// say what `plan` says, and its parts must add up to it, so it cannot drift from the catalog.
#[test]
fn the_demo_comment_quotes_the_planned_cost() {
    let text = std::fs::read_to_string(repo().join("pipelines/demo/episode.yaml")).expect("the demo");
    let dollars = |s: &str| -> u64 {
        let figure: String = s.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
        let (whole, cents) = figure.split_once('.').expect("a figure in dollars and cents");
        assert_eq!(cents.len(), 2, "{figure}: quote cents");
        whole.parse::<u64>().expect("dollars") * 100 + cents.parse::<u64>().expect("cents")
    };
    let (_, quoted) = text.split_once("Estimate ~$").expect("the demo quotes an estimate");
    let estimate = dollars(quoted);
    // The comment runs to the first line that is not a comment.
    let comment: String = quoted.lines().take_while(|line| !line.trim().is_empty()).collect();
    let parts: Vec<u64> = comment.split("= $").skip(1).map(dollars).collect();
    assert_eq!(parts.len(), 3, "speakers, listeners, b-roll: {comment}");

    let plan = plan_json("pipelines/demo/episode.yaml", &[]);
    let micros = plan["totals"]["cost_micros"].as_u64().expect("total micros");
    let planned = (micros + 5_000) / 10_000;
    assert_eq!(estimate, planned, "episode.yaml says {estimate} cents; plan says {micros} micros");
    let sum: u64 = parts.iter().sum();
    assert!(sum.abs_diff(estimate) <= 1, "the parts add up to {sum} cents, not {estimate}");
}

#[test]
fn the_episodes_audio_needs_the_main_clips_not_the_composes() {
    for manifest in ["pipelines/demo/episode.yaml", "pipelines/longform/episode.yaml"] {
        let plan = plan_json(manifest, &[]);
        let nodes = plan["nodes"].as_array().expect("nodes");
        let of_kind =
            |kind: &str| -> Vec<&Value> { nodes.iter().filter(|node| node["kind"] == kind).collect() };
        let [audio] = of_kind("audio")[..] else { panic!("one audio node in {manifest}") };
        let deps: HashSet<&str> =
            audio["deps"].as_array().expect("deps").iter().map(|dep| dep.as_str().expect("id")).collect();
        // Exactly the speakers' and b-rolls' downloads: the clips whose sound each segment carries.
        let mains: HashSet<&str> = of_kind("download")
            .iter()
            .map(|node| node["id"].as_str().expect("id"))
            .filter(|id| !id.ends_with("/listener"))
            .collect();
        assert_eq!(deps, mains, "{manifest}");
        let [concat] = of_kind("concat")[..] else { panic!("one concat node in {manifest}") };
        let concat_deps = concat["deps"].as_array().expect("deps");
        assert!(concat_deps.iter().any(|dep| dep == &audio["id"]), "concat copies the audio");
        assert_eq!(concat_deps.len(), of_kind("compose").len() + 1, "every segment and the audio");
    }
}

/// The plan of a manifest in the fixtures' copy, by node id: (kind, key, the whole node).
fn nodes_by_id(plan: &Value) -> std::collections::BTreeMap<String, Value> {
    plan["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|node| (node["id"].as_str().expect("id").to_owned(), node.clone()))
        .collect()
}

#[test]
fn lines_are_voiced_once_priced_by_character_and_their_renders_marked_estimates() {
    let root = crate::support::fixtures();
    let output = episodic(root, &["plan", "valid/lines.yaml", "--json"]);
    assert_eq!(output.code, 0, "{}", output.stderr);
    let plan: Value = serde_json::from_str(&output.stdout).expect("JSON");
    let nodes = nodes_by_id(&plan);
    let speeches: Vec<&Value> = nodes.values().filter(|node| node["kind"] == "speech").collect();
    // cold-open and sign-off say the same line with the same voice: voiced once.
    assert_eq!(speeches.len(), 2, "{:?}", nodes.keys());
    assert_eq!(plan["totals"]["speeches"], 2);
    let mut characters = 0;
    for speech in &speeches {
        let chars = speech["characters"].as_u64().expect("characters");
        characters += chars;
        assert_eq!(
            speech["text"].as_str().map(|text| text.chars().count() as u64),
            Some(chars),
            "tags count"
        );
        assert_eq!(speech["cost_micros"].as_u64(), Some(chars * 100), "$0.10 per 1,000 characters");
        assert_eq!(speech["estimated"], true);
        assert_eq!(speech["output_format"], "mp3_44100_128");
        assert!(speech["price"]["as_of"].is_string() && speech["price"]["source"].is_string());
    }
    assert_eq!(plan["totals"]["characters"].as_u64(), Some(characters));
    let cold_open = &nodes["speech/cold-open"];
    assert_eq!(cold_open["model"], "eleven_v3");
    assert_eq!(cold_open["voice_settings"], serde_json::json!({}), "unset settings are omitted");
    assert_eq!(
        nodes["speech/reply"]["voice_settings"],
        serde_json::json!({"stability": 0.4, "similarity_boost": 0.8, "style": 0.2, "use_speaker_boost": true, "speed": 1.05})
    );
    // speech → upload → render, the render priced from the estimate and marked so.
    assert_eq!(nodes["upload/speech-cold-open.mp3"]["deps"], serde_json::json!(["speech/cold-open"]));
    let render = &nodes["render/cold-open/speaker"];
    assert_eq!(render["estimated"], true);
    let upload_key = nodes["upload/speech-cold-open.mp3"]["key"].as_str().expect("key");
    assert_eq!(render["args"]["audio_url"]["$file"].as_str(), Some(upload_key));
    assert!(nodes["render/recorded/speaker"].get("estimated").is_none(), "a recorded file is measured");
    // The totals, budget included, count the speech.
    let sum: u64 = nodes.values().map(|node| node["cost_micros"].as_u64().expect("micros")).sum();
    assert_eq!(plan["totals"]["cost_micros"].as_u64(), Some(sum));

    let table = episodic(root, &["plan", "valid/lines.yaml"]);
    assert!(table.stdout.contains("~$"), "estimates are marked in the table:\n{}", table.stdout);
    assert!(table.stdout.contains("Speech: 2 lines"), "{}", table.stdout);
    let dot = episodic(root, &["plan", "valid/lines.yaml", "--dot"]);
    assert!(dot.stdout.contains("speech/cold-open") && dot.stdout.contains("(estimate)"), "{}", dot.stdout);
}

#[test]
fn an_edited_line_changes_only_its_own_speech_upload_render_and_compose() {
    let root = crate::support::fixtures();
    let manifest = std::fs::read_to_string(root.join("valid/lines.yaml")).expect("fixture");
    let edited = manifest.replace("Very, very long.", "Very, very dull.");
    assert_ne!(edited, manifest);
    let path = root.join("generated/lines-edited.yaml");
    std::fs::write(&path, edited).expect("write");
    let plan_of = |manifest: &str| {
        let output = episodic(root, &["plan", manifest, "--json"]);
        assert_eq!(output.code, 0, "{}", output.stderr);
        nodes_by_id(&serde_json::from_str(&output.stdout).expect("JSON"))
    };
    let before = plan_of("valid/lines.yaml");
    let after = plan_of("generated/lines-edited.yaml");
    assert_eq!(before.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>());
    let changed: Vec<&str> = before
        .iter()
        .filter(|(id, node)| node["key"] != after[*id]["key"])
        .map(|(id, _)| id.as_str())
        .collect();
    assert_eq!(
        changed,
        [
            "audio/lines",
            "compose/reply",
            "concat/lines",
            "download/reply/speaker",
            "render/reply/speaker",
            "speech/reply",
            "upload/speech-reply.mp3",
        ]
    );
}
