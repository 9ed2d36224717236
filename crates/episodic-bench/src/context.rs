//! What every scenario shares: the binaries, the tools, a runtime for the studio, and helpers to
//! run `episodic` against a studio.

use episodic_bench::process::{self, Timed};
use episodic_studio::{StatsSnapshot, Studio, StudioConfig};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The key the studio requires and episodic sends.
pub const KEY: &str = "bench-key";

pub struct Context {
    /// The repository root.
    pub repo: PathBuf,
    /// The release `episodic` binary.
    pub episodic: PathBuf,
    /// This binary, for child processes.
    pub this: PathBuf,
    /// The target folder (criterion results, the Python venv).
    pub target: PathBuf,
    pub ffmpeg: episodic_media::Tool,
    pub ffprobe: episodic_media::Tool,
    pub runtime: tokio::runtime::Runtime,
    /// Small sizes for a smoke run.
    pub quick: bool,
    /// Keep every scenario's scratch folder (`--keep`), to read a figure's events and files after.
    pub keep: bool,
}

impl Context {
    pub fn new(quick: bool, keep: bool, episodic: Option<PathBuf>) -> Context {
        let this = std::env::current_exe().expect("the harness's own path");
        let bin_dir = this.parent().expect("the harness lives in a folder").to_path_buf();
        let episodic = episodic.unwrap_or_else(|| bin_dir.join("episodic"));
        assert!(
            episodic.exists(),
            "{} is missing: build it first (`cargo build --release --bin episodic`) or pass --episodic",
            episodic.display()
        );
        let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let repo = repo.canonicalize().unwrap_or(repo);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        Context {
            target: bin_dir.parent().map(Path::to_path_buf).unwrap_or_else(|| bin_dir.clone()),
            repo,
            episodic,
            this,
            ffmpeg: episodic_media::locate("ffmpeg", None).expect("ffmpeg is installed (bash .ci/setup)"),
            ffprobe: episodic_media::locate("ffprobe", None).expect("ffprobe is installed (bash .ci/setup)"),
            runtime,
            quick,
            keep,
        }
    }

    /// A scratch folder for one scenario: removed when dropped, unless `--keep` asked to keep it
    /// (its path is printed then).
    pub fn scratch(&self) -> tempfile::TempDir {
        let mut dir = tempfile::tempdir().expect("a scratch folder");
        if self.keep {
            dir.disable_cleanup(true);
            eprintln!("episodic-bench: keeping {}", dir.path().display());
        }
        dir
    }

    pub fn assets(&self) -> PathBuf {
        self.repo.join("assets")
    }

    /// The short commit measured, with `+dirty` when the tree has changes.
    pub fn commit(&self) -> String {
        let git = |args: &[&str]| {
            Command::new("git")
                .args(args)
                .current_dir(&self.repo)
                .output()
                .ok()
                .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
                .unwrap_or_default()
        };
        let commit = git(&["rev-parse", "--short", "HEAD"]);
        // BENCHMARKS.md itself is what a run rewrites: a change there is not a change measured.
        let dirty =
            !git(&["status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)BENCHMARKS.md"])
                .is_empty();
        format!("{commit}{}", if dirty { " (with uncommitted changes)" } else { "" })
    }

    /// A studio on loopback with the benchmark's key, `--scale 8`, and room for every render at once.
    pub fn studio(&self, queue_delay: Duration, fixed: Duration) -> Studio {
        self.studio_with(queue_delay, fixed, Duration::ZERO)
    }

    /// As [`Context::studio`], with `per_second` of render time per second of clip on top of `fixed`.
    pub fn studio_with(&self, queue_delay: Duration, fixed: Duration, per_second: Duration) -> Studio {
        self.start_studio(StudioConfig {
            key: Some(KEY.into()),
            scale: 8,
            queue_delay,
            fixed_render_time: fixed,
            render_time_per_second: per_second,
            concurrency: 256,
            ..StudioConfig::default()
        })
    }

    /// As [`Context::studio`], its clips at 1/`scale` of fal's size.
    pub fn studio_scaled(&self, queue_delay: Duration, fixed: Duration, scale: u32) -> Studio {
        self.start_studio(StudioConfig {
            key: Some(KEY.into()),
            scale,
            queue_delay,
            fixed_render_time: fixed,
            concurrency: 256,
            ..StudioConfig::default()
        })
    }

    /// A studio on loopback with `config`.
    pub fn start_studio(&self, config: StudioConfig) -> Studio {
        self.runtime
            .block_on(Studio::start(
                config,
                episodic_catalog::Catalog::builtin(),
                self.ffmpeg.clone(),
                self.ffprobe.clone(),
            ))
            .expect("the studio starts")
    }

    pub fn stop(&self, studio: Studio) {
        self.runtime.block_on(studio.shutdown());
    }

    /// The variables that point episodic's fal backend (and ElevenLabs, with any key) at `studio`.
    pub fn fal_env(&self, studio: &Studio) -> Vec<(&'static str, String)> {
        let urls = studio.urls();
        vec![
            ("FAL_KEY", KEY.to_owned()),
            ("EPISODIC_FAL_QUEUE_URL", urls.queue_url.clone()),
            ("EPISODIC_FAL_REST_URL", urls.rest_url.clone()),
            ("EPISODIC_FAL_CDN_URL", urls.cdn_url.clone()),
            ("EPISODIC_FAL_API_URL", urls.api_url.clone()),
            ("ELEVENLABS_API_KEY", KEY.to_owned()),
            ("EPISODIC_ELEVENLABS_URL", urls.elevenlabs_url.clone()),
        ]
    }

    /// `episodic render MANIFEST --backend fal --scale 8` in `dir`, pointed at `studio`.
    pub fn render_command(&self, studio: &Studio, dir: &Path, manifest: &str, extra: &[&str]) -> Command {
        let urls = studio.urls();
        let mut command = Command::new(&self.episodic);
        command
            .arg("render")
            .arg(manifest)
            .args(["--backend", "fal", "--scale", "8"])
            .args(extra)
            .current_dir(dir)
            .env("NO_COLOR", "1")
            // The cache `plan_cached` fills, as a producer's `plan` before `render` does.
            .env("EPISODIC_CACHE_DIR", dir.join(".cache"))
            .env("FAL_KEY", KEY)
            .env("EPISODIC_FAL_QUEUE_URL", &urls.queue_url)
            .env("EPISODIC_FAL_REST_URL", &urls.rest_url)
            .env("EPISODIC_FAL_CDN_URL", &urls.cdn_url)
            .env("EPISODIC_FAL_API_URL", &urls.api_url)
            .env_remove("EPISODIC_STATE_DIR");
        command
    }

    /// Runs a render to the end; panics with its stderr if it failed.
    pub fn render(&self, command: &mut Command) -> Timed {
        let timed = process::run(command).expect("run episodic");
        assert!(timed.success, "episodic render failed:\n{}", timed.stderr);
        timed
    }

    /// `episodic plan MANIFEST --json` in `dir`, as a producer runs it before `render`: with the
    /// cache the renders use (`dir/.cache`), so what it probes the render recalls. Also how long
    /// it took.
    pub fn plan_cached(&self, dir: &Path, manifest: &str) -> (serde_json::Value, Duration) {
        let mut command = Command::new(&self.episodic);
        command
            .args(["plan", manifest, "--json"])
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .env("EPISODIC_CACHE_DIR", dir.join(".cache"));
        let timed = process::run(&mut command).expect("run episodic plan");
        assert!(timed.success, "episodic plan failed:\n{}", timed.stderr);
        (serde_json::from_str(&timed.stdout).expect("plan --json is JSON"), timed.wall)
    }

    /// `episodic plan MANIFEST --json` in `dir`.
    pub fn plan_json(&self, dir: &Path, manifest: &str) -> serde_json::Value {
        let output = Command::new(&self.episodic)
            .args(["plan", manifest, "--json"])
            .current_dir(dir)
            .env("NO_COLOR", "1")
            // Learn nothing for the runs measured after it.
            .env("EPISODIC_CACHE_DIR", "off")
            .output()
            .expect("run episodic plan");
        assert!(
            output.status.success(),
            "episodic plan failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("plan --json is JSON")
    }
}

/// A count of a plan's nodes of one kind.
pub fn count(plan: &serde_json::Value, kind: &str) -> usize {
    plan["nodes"].as_array().map_or(0, |nodes| nodes.iter().filter(|node| node["kind"] == kind).count())
}

/// Uploads and submits between two snapshots of a studio's counters.
pub fn delta(before: &StatsSnapshot, after: &StatsSnapshot) -> (u64, u64) {
    (after.uploads.count - before.uploads.count, after.submits.total - before.submits.total)
}

/// Seconds with two decimals.
pub fn secs(duration: Duration) -> String {
    format!("{:.2} s", duration.as_secs_f64())
}
