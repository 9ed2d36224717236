//! Item 3: the production notes' patterns with the official Python `fal-client`, on the same batch
//! and the same studio settings as item 1, against episodic's wall time from item 1.

use crate::context::{Context, KEY, secs};
use crate::scenarios::makespan::{Batch, QUEUE_DELAY, RENDER_TIME};
use episodic_bench::markdown::{Figure, Section};
use episodic_bench::process;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The fal-client release the studio's interop test pins.
pub const FAL_CLIENT: &str = "fal-client==1.0.3";

pub fn run(ctx: &Context, batch: Option<&Batch>) -> Section {
    let mut section = Section {
        title: "3. Against the anchor: the notes' Python pattern".into(),
        setup:
            "`crates/episodic-bench/anchor/anchor.py`: the official `fal-client` from PyPI doing exactly the \
                production notes' parallel batch pattern (upload, `submit` all, collect `h.get()`), then \
                downloads, one ffmpeg `hstack` per segment and a concat by copy, on the same renders (same \
                endpoints and arguments, taken from `episodic plan --json`) against a studio with the same \
                settings as item 1; and the notes' sequential `subscribe` loop for reference."
                .into(),
        ..Section::default()
    };
    let Some(batch) = batch else {
        section.notes.push("not run: it needs item 1's batch".into());
        return section;
    };
    let python = match venv(ctx) {
        Ok(python) => python,
        Err(err) => {
            section.notes.push(format!("not run: could not install {FAL_CLIENT}: {err}"));
            return section;
        }
    };
    let dir = batch.dir.path();
    let spec = dir.join("anchor-spec.json");
    std::fs::write(&spec, serde_json::to_vec_pretty(&spec_of(ctx, &batch.plan, dir)).expect("JSON"))
        .expect("write spec");
    let script = ctx.repo.join("crates/episodic-bench/anchor/anchor.py");
    let run = |mode: &str| {
        let studio = ctx.studio(QUEUE_DELAY, RENDER_TIME);
        let mut command = Command::new(&python);
        command
            .arg(&script)
            .args([mode, "anchor-spec.json"])
            .arg(format!("anchor-{mode}"))
            .current_dir(dir)
            .env("STUDIO_URL", &studio.urls().queue_url)
            .env("FAL_KEY", KEY);
        let timed = process::run(&mut command).expect("run python");
        assert!(timed.success, "anchor.py {mode} failed:\n{}", timed.stderr);
        let submits = studio.stats().submits.total;
        ctx.stop(studio);
        let shown =
            format!("python crates/episodic-bench/anchor/anchor.py {mode} anchor-spec.json anchor-{mode}");
        (timed, submits, shown)
    };
    let (parallel, submits, parallel_cmd) = run("parallel");
    let ratio = batch.wall.as_secs_f64() / parallel.wall.as_secs_f64();
    section.commands = vec![batch.command.clone(), parallel_cmd];
    section.figures = vec![
        Figure::info("episodic wall (item 1, --concurrency 40)", secs(batch.wall)),
        Figure::info(format!("anchor.py parallel wall ({submits} submits)"), secs(parallel.wall)),
        Figure::target("episodic / anchor.py parallel", format!("{ratio:.2}"), "≤ 1.0", ratio <= 1.0),
    ];
    if ctx.quick {
        section.notes.push("--quick: the sequential loop is skipped".into());
    } else {
        let (sequential, _, sequential_cmd) = run("sequential");
        section.commands.push(sequential_cmd);
        section
            .figures
            .push(Figure::info("anchor.py sequential `subscribe` loop wall", secs(sequential.wall)));
        section.figures.push(Figure::info(
            "episodic / sequential loop",
            format!("{:.3}", batch.wall.as_secs_f64() / sequential.wall.as_secs_f64()),
        ));
    }
    section.notes.push(format!(
        "Python {FAL_CLIENT} in a venv under the target folder; the script's wall includes Python's start \
         and imports, as episodic's includes its own start. The script scales both clips to {} px high for \
         hstack (heights must match) at 30 fps, and encodes with x264 `veryfast`, as episodic does.",
        136
    ));
    section
}

/// A venv with fal-client, made once per target folder.
pub fn venv(ctx: &Context) -> Result<PathBuf, String> {
    let dir = ctx.target.join("bench/fal-client-venv");
    let python = dir.join("bin/python");
    if dir.join(".installed").exists() {
        return Ok(python);
    }
    let made =
        Command::new("python3").args(["-m", "venv"]).arg(&dir).status().map_err(|err| err.to_string())?;
    if !made.success() {
        return Err("python3 -m venv failed".into());
    }
    let installed = Command::new(&python)
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", FAL_CLIENT])
        .status()
        .map_err(|err| err.to_string())?;
    if !installed.success() {
        return Err("pip install failed".into());
    }
    std::fs::write(dir.join(".installed"), FAL_CLIENT).map_err(|err| err.to_string())?;
    Ok(python)
}

/// The batch's renders by segment, with each `{"$file": sha256}` replaced by the file's path.
fn spec_of(ctx: &Context, plan: &Value, dir: &Path) -> Value {
    spec_with(ctx, plan, dir, json!({}))
}

/// As [`spec_of`], with `extra`'s fields (`canvas`, `compose_jobs`) added to the spec. Each
/// segment's two renders are found through its compose's inputs, so a listener render the plan
/// shares between segments appears in each of them, with the same endpoint and arguments: the
/// script submits it once.
pub fn spec_with(ctx: &Context, plan: &Value, dir: &Path, extra: Value) -> Value {
    let probe = episodic_media::Probe::new(ctx.ffprobe.clone());
    let mut by_hash = HashMap::new();
    for folder in ["characters", "audio"] {
        for entry in std::fs::read_dir(dir.join(folder)).expect("read the batch's folder") {
            let path = entry.expect("an entry").path();
            let (sha, _) = probe.hash(&path).expect("hash an input");
            by_hash.insert(sha, path);
        }
    }
    let nodes = plan["nodes"].as_array().cloned().unwrap_or_default();
    let by_id: HashMap<&str, &Value> =
        nodes.iter().filter_map(|node| Some((node["id"].as_str()?, node))).collect();
    let deps = |node: &Value| -> Vec<String> {
        node["deps"].as_array().map_or_else(Vec::new, |deps| {
            deps.iter().filter_map(|dep| dep.as_str().map(str::to_owned)).collect()
        })
    };
    let render = |compose: &Value, role: &str| {
        let download = deps(compose)
            .into_iter()
            .find(|dep| dep.starts_with("download/") && dep.ends_with(&format!("/{role}")))
            .expect("every compose has a speaker and a listener download");
        let node = deps(by_id[download.as_str()])
            .into_iter()
            .find_map(|dep| by_id.get(dep.as_str()).filter(|node| node["kind"] == "render").copied())
            .expect("every download has its render");
        let mut args = node["args"].clone();
        if let Some(map) = args.as_object_mut() {
            for value in map.values_mut() {
                if let Some(sha) = value.get("$file").and_then(Value::as_str) {
                    let path = by_hash.get(sha).expect("every input file is in the batch's folder");
                    *value = json!({ "$file": path });
                }
            }
        }
        json!({ "endpoint": node["endpoint"], "args": args })
    };
    let segments: Vec<Value> = nodes
        .iter()
        .filter(|node| node["kind"] == "compose")
        .filter_map(|node| {
            let segment = node["id"].as_str()?.strip_prefix("compose/")?;
            Some(json!({ "id": segment, "speaker": render(node, "speaker"), "listener": render(node, "listener") }))
        })
        .collect();
    let mut spec = json!({ "segments": segments });
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        spec.extend(extra.clone());
    }
    spec
}
