//! Running the binary, and a scratch copy of the fixture tree with generated media.

use episodic_studio::{StatsSnapshot, Studio, StudioConfig};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repo root")
}

/// What a run printed and how it ended.
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Exit code, stdout and stderr, for a snapshot.
    pub fn transcript(&self) -> String {
        let mut text = format!("exit: {}\n", self.code);
        if !self.stdout.is_empty() {
            text.push_str("--- stdout\n");
            text.push_str(&self.stdout);
        }
        if !self.stderr.is_empty() {
            text.push_str("--- stderr\n");
            text.push_str(&self.stderr);
        }
        text
    }
}

/// One test's world, in the spirit of uv's `TestContext`: a temporary root holding its own cache,
/// home and temporary folders, and the only way these tests spawn `episodic`. Every command starts
/// from a cleared environment, so nothing of the user's (a real `FAL_KEY`, `EPISODIC_*`,
/// `COLUMNS`, their cache) leaks in and nothing is written outside the root.
///
/// Layout of [`TestContext::root`] (`[ROOT]` in snapshots): `cache/` (`EPISODIC_CACHE_DIR`,
/// `[CACHE_DIR]`), `home/` (`HOME`), `tmp/` (`TMPDIR`), and `.state/` (`[STATE_DIR]`) once a
/// command run in the root is given `--state-dir .state`. Tests put their inputs in the root too.
pub struct TestContext {
    root: tempfile::TempDir,
}

impl TestContext {
    /// A new context with empty folders.
    pub fn new() -> TestContext {
        let root = tempfile::tempdir().expect("a temporary root");
        for dir in ["cache", "home", "tmp"] {
            std::fs::create_dir_all(root.path().join(dir)).expect("a folder of the test context");
        }
        TestContext { root }
    }

    /// The context of the tests that need no folder of their own (running in the repository, or
    /// in a fixture copy). Its cache is shared by all of them, as one user's runs share theirs.
    pub fn shared() -> &'static TestContext {
        static SHARED: OnceLock<TestContext> = OnceLock::new();
        SHARED.get_or_init(TestContext::new)
    }

    /// The temporary root.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// The cache folder (`EPISODIC_CACHE_DIR`).
    pub fn cache_dir(&self) -> PathBuf {
        self.root().join("cache")
    }

    /// The state folder of commands run in the root with `--state-dir .state`.
    pub fn state_dir(&self) -> PathBuf {
        self.root().join(".state")
    }

    /// `episodic ARGS`, run in the root, in a clean environment: `PATH` (for ffmpeg and
    /// ffprobe), a temporary `HOME` and `TMPDIR`, `NO_COLOR=1` and the context's
    /// `EPISODIC_CACHE_DIR`, nothing else. Add what a test needs with `.env(..)` and
    /// `.current_dir(..)`.
    pub fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut command = Command::new(env!("CARGO_BIN_EXE_episodic"));
        command
            .args(args)
            .current_dir(self.root())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.root().join("home"))
            .env("TMPDIR", self.root().join("tmp"))
            .env("NO_COLOR", "1")
            .env("EPISODIC_CACHE_DIR", self.cache_dir());
        // Coverage tools collect from child processes through this one.
        if let Some(profile) = std::env::var_os("LLVM_PROFILE_FILE") {
            command.env("LLVM_PROFILE_FILE", profile);
        }
        command
    }

    /// Runs `episodic ARGS` in `cwd` with extra variables, to its end (at most two minutes).
    pub fn run(&self, cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = self.command(args);
        command.current_dir(cwd).envs(env.iter().copied());
        run_bounded(&mut command, Duration::from_secs(120)).0
    }

    /// Regex filters for snapshots of this context's output, applied in order: the context's
    /// folders, then the repository, request ids, ports, pids, host name, and times. Costs are
    /// never filtered: a changed price must show in a snapshot.
    pub fn filters(&self) -> Vec<(String, String)> {
        let mut filters = Vec::new();
        let mut path = |path: PathBuf, name: &str| {
            let canonical = path.canonicalize().unwrap_or_else(|_| path.clone());
            for path in [canonical, path] {
                filters.push((regex_escape(&path.display().to_string()), name.to_owned()));
            }
        };
        path(self.state_dir(), "[STATE_DIR]");
        path(self.cache_dir(), "[CACHE_DIR]");
        path(self.root().to_owned(), "[ROOT]");
        path(repo(), "[REPO]");
        filters.extend(
            [
                // The studio's and fal's request ids.
                (r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", "[REQUEST_ID]"),
                (r"\b(127\.0\.0\.1|localhost):\d+", "$1:[PORT]"),
                (r"\b(pid|process) \d+", "$1 [PID]"),
                (r"\brun (#?)\d+\b", "run $1[RUN_ID]"),
                // Elapsed-time columns (`[   1.2s]`) and durations (`1.23 s`, `12ms`, `0.5s`).
                (r"\[\s*\d+(\.\d+)?s\]", "[ELAPSED]"),
                (r"\b\d+(\.\d+)?\s?(ms|µs|s)\b", "[TIME]"),
            ]
            .map(|(from, to)| (from.to_owned(), to.to_owned())),
        );
        if let Some(host) = ["/proc/sys/kernel/hostname", "/etc/hostname"]
            .iter()
            .find_map(|file| std::fs::read_to_string(file).ok())
            .map(|text| text.trim().to_owned())
            .filter(|host| host.len() > 3)
        {
            filters.push((format!(r"\b{}\b", regex_escape(&host)), "[HOST]".to_owned()));
        }
        filters
    }

    /// insta settings with [`TestContext::filters`]; snapshots go beside the other ones.
    pub fn insta_settings(&self) -> insta::Settings {
        let mut settings = insta::Settings::clone_current();
        for (from, to) in self.filters() {
            settings.add_filter(&from, to);
        }
        settings
    }
}

/// `text` as a regex matching itself.
pub fn regex_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// Runs `episodic` in `cwd` in the shared context.
pub fn episodic(cwd: &Path, args: &[&str]) -> Output {
    episodic_with_env(cwd, args, &[])
}

/// Runs `episodic` in `cwd` in the shared context, with extra environment variables.
pub fn episodic_with_env(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    TestContext::shared().run(cwd, args, env)
}

/// ffmpeg or ffprobe from PATH. The one place these tests look for them: a machine without them
/// fails, saying how to install them, rather than passing without testing.
pub fn tool(name: &'static str) -> episodic_media::Tool {
    episodic_media::locate(name, None).unwrap_or_else(|err| {
        panic!(
            "{err}: these tests run ffmpeg and ffprobe; install them (`apt-get install ffmpeg`, or \
             `bash .ci/setup` from the repository root) and run the tests again"
        )
    })
}

/// ffprobe, ready to probe.
pub fn probe() -> episodic_media::Probe {
    episodic_media::Probe::new(tool("ffprobe"))
}

/// Runs a command to its end, killing it (and failing the test with what it printed so far) if
/// it takes longer than `limit`: a hang must fail a test, not stall the suite. Returns how long
/// it took.
pub fn run_bounded(command: &mut Command, limit: Duration) -> (Output, Duration) {
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn episodic");
    // Both pipes are drained on threads, so a chatty child never blocks on a full pipe.
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{command:?} still ran after {limit:?} and was killed\n--- stderr\n{}",
                stderr.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let elapsed = started.elapsed();
    let output = Output {
        code: status.code().unwrap_or(-1),
        stdout: stdout.join().expect("stdout thread"),
        stderr: stderr.join().expect("stderr thread"),
    };
    (output, elapsed)
}

/// A copy of `tests/fixtures` in a temporary folder, with the media too large to commit
/// generated in `generated/`. Shared by every test of this binary.
pub fn fixtures() -> &'static Path {
    static FIXTURES: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = FIXTURES.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("fixtures");
        copy_tree(&repo().join("tests/fixtures"), &root);
        std::fs::create_dir_all(root.join("generated")).expect("generated dir");
        write_silent_wav(&root.join("generated/big.wav"), 30.0, 48_000, 2);
        (dir, root)
    });
    path
}

/// The sha256 of a file's bytes, in hex: whether two runs wrote the same file.
pub fn sha256(path: &Path) -> String {
    use sha2::Digest;
    let bytes = std::fs::read(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Copies a folder recursively.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read fixtures") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// A PCM WAV of silence: a real, decodable file whose only fault is its size.
fn write_silent_wav(path: &Path, seconds: f64, rate: u32, channels: u16) {
    let bytes_per_frame = u32::from(channels) * 2;
    let data_len = (seconds * f64::from(rate)) as u32 * bytes_per_frame;
    let mut wav = Vec::with_capacity(44 + data_len as usize);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&channels.to_le_bytes());
    wav.extend_from_slice(&rate.to_le_bytes());
    wav.extend_from_slice(&(rate * bytes_per_frame).to_le_bytes());
    wav.extend_from_slice(&(bytes_per_frame as u16).to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    wav.resize(44 + data_len as usize, 0);
    std::fs::write(path, wav).expect("write wav");
}

/// The YAML files in a fixture folder, sorted.
pub fn yaml_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".yaml"))
        .collect();
    names.sort();
    names
}

/// The demo manifest, relative to a [`Bench`]'s root.
pub const DEMO: &str = "pipelines/demo/episode.yaml";

/// The demo written as lines, relative to a [`Bench`]'s root.
pub const DEMO_LINES: &str = "pipelines/demo-lines/episode.yaml";

/// The key the bench's studio expects unless a test names another.
pub const BENCH_KEY: &str = "render-test-key";

/// A studio in its own runtime, and a scratch copy of the demo and its assets.
pub struct Bench {
    runtime: tokio::runtime::Runtime,
    studio: Option<Studio>,
    /// Studios replaced by `switch_studio`, kept serving the files they stored.
    retired: Vec<Studio>,
    context: TestContext,
    key: String,
}

impl Bench {
    /// A studio expecting [`BENCH_KEY`].
    pub fn new(config: StudioConfig) -> Bench {
        Bench::with_key(config, BENCH_KEY)
    }

    /// A studio expecting `key`; `render` sends the same key.
    pub fn with_key(config: StudioConfig, key: &str) -> Bench {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let (ffmpeg, ffprobe) = (tool("ffmpeg"), tool("ffprobe"));
        let config = StudioConfig {
            key: Some(key.into()),
            scale: 8,
            queue_delay: Duration::from_millis(20),
            ..config
        };
        let studio = runtime
            .block_on(Studio::start(config, episodic_catalog::Catalog::builtin(), ffmpeg, ffprobe))
            .expect("studio");
        let context = TestContext::new();
        copy_tree(&repo().join("assets"), &context.root().join("assets"));
        copy_tree(&repo().join("pipelines/demo"), &context.root().join("pipelines/demo"));
        let _ = std::fs::remove_dir_all(context.root().join("pipelines/demo/out"));
        copy_tree(&repo().join("pipelines/demo-lines"), &context.root().join("pipelines/demo-lines"));
        let _ = std::fs::remove_dir_all(context.root().join("pipelines/demo-lines/out"));
        Bench { runtime, studio: Some(studio), retired: Vec::new(), context, key: key.to_owned() }
    }

    /// Points later renders at a new studio; the old one keeps serving its files.
    pub fn switch_studio(&mut self, config: StudioConfig) {
        let (ffmpeg, ffprobe) = (tool("ffmpeg"), tool("ffprobe"));
        let config = StudioConfig {
            key: Some(self.key.clone()),
            scale: 8,
            queue_delay: Duration::from_millis(20),
            ..config
        };
        let studio = self
            .runtime
            .block_on(Studio::start(config, episodic_catalog::Catalog::builtin(), ffmpeg, ffprobe))
            .expect("studio");
        if let Some(old) = self.studio.replace(studio) {
            self.retired.push(old);
        }
    }

    /// Expires every file the studio stores, as its storage lifecycle would.
    pub fn expire_files(&self) {
        self.studio.as_ref().expect("studio").expire_files();
    }

    /// The studio's base URL.
    pub fn studio_url(&self) -> String {
        self.studio.as_ref().expect("studio").urls().queue_url.clone()
    }

    /// The scratch folder, the context's root: `assets/`, `pipelines/demo/`, and `.state/` once
    /// rendered.
    pub fn root(&self) -> &Path {
        self.context.root()
    }

    /// The test context every command of this bench runs in.
    pub fn context(&self) -> &TestContext {
        &self.context
    }

    /// The variables that point the fal backend at the studio and send `key`.
    pub fn fal_env(&self, key: &str) -> Vec<(&'static str, String)> {
        let urls = self.studio.as_ref().expect("studio").urls();
        vec![
            ("FAL_KEY", key.to_owned()),
            ("EPISODIC_FAL_QUEUE_URL", urls.queue_url.clone()),
            ("EPISODIC_FAL_REST_URL", urls.rest_url.clone()),
            ("EPISODIC_FAL_CDN_URL", urls.cdn_url.clone()),
            ("EPISODIC_FAL_API_URL", urls.api_url.clone()),
        ]
    }

    /// The variables that point ElevenLabs at the studio (which accepts any key).
    pub fn elevenlabs_env(&self) -> Vec<(&'static str, String)> {
        let urls = self.studio.as_ref().expect("studio").urls();
        vec![
            ("ELEVENLABS_API_KEY", "speech-test-key".to_owned()),
            ("EPISODIC_ELEVENLABS_URL", urls.elevenlabs_url.clone()),
        ]
    }

    /// What the studio has seen so far.
    pub fn stats(&self) -> StatsSnapshot {
        self.studio.as_ref().expect("studio").stats()
    }

    /// `episodic render` of the demo with the fal backend pointed at the studio, sending the
    /// bench's key.
    pub fn command(&self, extra: &[&str]) -> Command {
        self.command_with_key(extra, &self.key)
    }

    /// As [`Bench::command`], sending `key` instead.
    pub fn command_with_key(&self, extra: &[&str], key: &str) -> Command {
        let mut command = self.context.command(["render", DEMO]);
        command
            .args(["--backend", "fal", "--scale", "8", "--state-dir", ".state"])
            .args(extra)
            .envs(self.fal_env(key));
        command
    }

    /// `episodic render MANIFEST` with the fal backend pointed at the studio and ElevenLabs at its
    /// `elevenlabs_url` (without an ElevenLabs key: the studio takes any caller).
    pub fn speech_command(&self, manifest: &str, extra: &[&str]) -> Command {
        self.speech_command_in(".state", manifest, extra)
    }

    /// [`Bench::speech_command`] with the state in `state_dir` (a machine of its own).
    pub fn speech_command_in(&self, state_dir: &str, manifest: &str, extra: &[&str]) -> Command {
        let url = self.studio.as_ref().expect("studio").urls().elevenlabs_url.clone();
        let mut command = self.context.command(["render", manifest]);
        command
            .args(["--backend", "fal", "--scale", "8", "--state-dir", state_dir])
            .args(extra)
            .envs(self.fal_env(&self.key))
            .env("EPISODIC_ELEVENLABS_URL", url);
        command
    }

    /// Renders the demo and checks that the key did not leak into stderr.
    pub fn render(&self, extra: &[&str]) -> std::process::Output {
        let output = self.command(extra).output().expect("run episodic render");
        assert!(!String::from_utf8_lossy(&output.stderr).contains(&self.key), "the key leaked into stderr");
        output
    }

    /// Where the demo's episode is written.
    pub fn output_path(&self) -> PathBuf {
        self.root().join("pipelines/demo/out/ninja-news-demo.mp4")
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        for studio in self.studio.take().into_iter().chain(self.retired.drain(..)) {
            self.runtime.block_on(studio.shutdown());
        }
    }
}

/// The demo's plan: its render count, upload count, and the segment lengths that sum to the episode.
pub fn demo_plan(root: &Path) -> (u64, u64, f64) {
    let output = TestContext::shared().run(root, &["plan", DEMO, "--json"], &[]);
    assert_eq!(output.code, 0, "{}", output.stderr);
    let plan: serde_json::Value = serde_json::from_str(&output.stdout).expect("plan json");
    let totals = &plan["totals"];
    let seconds: f64 = plan["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter(|node| {
            node["kind"] == "render" && !node["id"].as_str().is_some_and(|id| id.ends_with("/listener"))
        })
        .map(|node| node["seconds"].as_f64().expect("seconds"))
        .sum();
    (totals["renders"].as_u64().expect("renders"), totals["uploads"].as_u64().expect("uploads"), seconds)
}

/// A `render` run that ended well, or its stderr.
pub fn assert_ok(output: &std::process::Output) {
    assert!(
        output.status.success(),
        "render failed ({:?}):\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Reads a `--json` run's events until `wanted` accepts one, then keeps draining stdout on a
/// thread (a closed pipe would end the process early). Fails the test if no event is accepted
/// within a minute.
pub fn wait_for_event(
    child: &mut std::process::Child,
    mut wanted: impl FnMut(&serde_json::Value) -> bool + Send + 'static,
) {
    use std::io::BufRead;
    let stdout = child.stdout.take().expect("stdout");
    let (seen, waiter) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
            if !sent && wanted(&event) {
                sent = true;
                let _ = seen.send(());
            }
        }
    });
    waiter.recv_timeout(Duration::from_secs(60)).expect("the awaited event");
}
