//! Item 10: fleet throughput. One batch of compose-heavy episodes (1080p canvas) rendered by one
//! process, then by two processes at once (`--shard 0/2` and `--shard 1/2`) sharing a PostgreSQL
//! journal and an S3 artifact store (moto), each process with `--ffmpeg-jobs 1`; the throughput
//! ratio is the one process's wall over the two's makespan. Every run gets a fresh database, store
//! prefix and studio, so none reuses another's work.

use crate::context::{Context, secs};
use crate::fleet_services::{Database, Moto, POSTGRES_URL};
use episodic_bench::generate;
use episodic_bench::markdown::{Figure, Section};
use episodic_bench::process::{self, Timed, shown};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The studio stands for fal: a queue delay and a fixed render time, its clips at 1/8 of fal's size.
const QUEUE_DELAY: Duration = Duration::from_millis(200);
const RENDER_TIME: Duration = Duration::from_secs(1);
const STUDIO_SCALE: u32 = 8;
/// The bucket every run's prefix lives in.
const BUCKET: &str = "fleet";

/// The shard (of `count`) an episode id falls to: the first 8 bytes of its sha256, big-endian,
/// modulo `count`, as `render --shard` computes it (docs/fleet.md). The harness picks ids with
/// it so the split is balanced, and checks each shard's own summary line against it.
fn shard_of(id: &str, count: u64) -> u64 {
    let digest = Sha256::digest(id.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first) % count.max(1)
}

/// `per_shard` ids for each of two shards, the first that hash there in `fleet-00`, `fleet-01`, …,
/// in the order the batch's speech is dealt to them: the clips grow longer from the first episode
/// to the last, so the episodes go shard 0, 1, then 1, 0, and so on (a snake), and each shard gets
/// as many seconds of speech to compose as the other, not only as many episodes.
fn balanced_ids(per_shard: usize) -> Vec<String> {
    let mut shards: [Vec<String>; 2] = [Vec::new(), Vec::new()];
    for n in 0.. {
        let id = format!("fleet-{n:02}");
        let shard = &mut shards[shard_of(&id, 2) as usize];
        if shard.len() < per_shard {
            shard.push(id);
        }
        if shards.iter().all(|ids| ids.len() == per_shard) {
            break;
        }
    }
    let [first, second] = shards;
    first
        .into_iter()
        .zip(second)
        .enumerate()
        .flat_map(|(round, (a, b))| if round % 2 == 0 { [a, b] } else { [b, a] })
        .collect()
}

/// One process: its wall and what its shard line said.
struct Machine {
    timed: Timed,
    shard_line: Option<String>,
    command: String,
}

/// What one trial (one process, or two at once) measured.
struct Trial {
    machines: Vec<Machine>,
    /// For one process: its composes against its wall, read from its episodes' reports before
    /// the next trial writes over them.
    compose_share: Option<ComposeShare>,
    makespan: Duration,
    submits: u64,
    load: (String, String),
}

/// Whether each process is held to one core of its own (`taskset`), as a machine of one core.
#[derive(Clone, Copy, PartialEq)]
enum Cores {
    Shared,
    Pinned,
}

/// One batch of the item: its manifests and what the harness predicts of it.
struct Batch {
    episodes: usize,
    segments: usize,
    manifests: Vec<String>,
    renders: u64,
    composes: usize,
    /// Seconds of speech in all, and each shard's.
    seconds: f64,
    per_shard: [f64; 2],
}

impl Batch {
    /// Writes `episodes` manifests of `segments` segments into `dir` (over a smaller batch's).
    fn write(ctx: &Context, dir: &Path, episodes: usize, segments: usize) -> Batch {
        let audio =
            generate::cut_lines(&ctx.ffmpeg.path, dir, episodes * segments).expect("cut speech clips");
        let ids = balanced_ids(episodes / 2);
        let mut manifests = Vec::new();
        let mut render_keys = BTreeSet::new();
        let mut composes = 0;
        for (index, id) in ids.iter().enumerate() {
            let lines = &audio[index * segments..(index + 1) * segments];
            let yaml = generate::dual_anchor_yaml_with(id, segments, lines, "side_by_side", false);
            let name = format!("{id}.yaml");
            generate::write_manifest(dir, &name, &yaml).expect("write a manifest");
            let plan = ctx.plan_json(dir, &name);
            for node in plan["nodes"].as_array().into_iter().flatten() {
                if node["kind"] == "render" {
                    render_keys.insert(node["key"].as_str().unwrap_or_default().to_owned());
                }
                if node["kind"] == "compose" {
                    composes += 1;
                }
            }
            manifests.push(name);
        }
        // Given in name order, as the shell's `fleet-*.yaml` would give them.
        manifests.sort();
        // `generate::cut_lines`' lengths: 2.5 s, then a tenth more each.
        let length = |index: usize| 2.5 + 0.1 * (index % 20) as f64;
        let seconds: f64 = (0..episodes * segments).map(length).sum();
        let mut per_shard = [0.0_f64; 2];
        for (index, id) in ids.iter().enumerate() {
            per_shard[shard_of(id, 2) as usize] +=
                (index * segments..(index + 1) * segments).map(length).sum::<f64>();
        }
        Batch {
            episodes,
            segments,
            manifests,
            renders: render_keys.len() as u64,
            composes,
            seconds,
            per_shard,
        }
    }

    fn larger_share(&self) -> f64 {
        self.per_shard[0].max(self.per_shard[1]) / self.seconds.max(f64::EPSILON)
    }

    fn label(&self) -> String {
        format!("{}×{}", self.episodes, self.segments)
    }
}

pub fn run(ctx: &Context) -> Section {
    // (episodes, segments, cores): the shape of the row at two sizes, since what a second
    // machine gains depends on how much of the run is composing rather than run-up and tail.
    let variants: &[(usize, usize, Cores)] = if ctx.quick {
        &[(2, 2, Cores::Shared), (2, 2, Cores::Pinned)]
    } else {
        &[(4, 3, Cores::Shared), (4, 3, Cores::Pinned), (8, 3, Cores::Pinned)]
    };
    let mut section = Section {
        title: "10. Fleet throughput: two processes against one on a batch of composes".into(),
        ..Section::default()
    };
    let Some(server) = std::env::var(POSTGRES_URL).ok().filter(|url| !url.is_empty()) else {
        section.setup = "Two `episodic render --shard I/2` processes sharing a PostgreSQL journal and an S3 \
                         store, against one process on the same batch."
            .into();
        section.notes.push(format!(
            "skipped: {POSTGRES_URL} is not set, so there is no PostgreSQL server for the shared journal. \
             `just bench` runs the harness through `bash .ci/postgres`, which starts a throwaway server \
             and sets it (`bash .ci/setup` installs the server binaries)."
        ));
        return section;
    };
    let moto = match Moto::start().and_then(|moto| moto.create_bucket(BUCKET).map(|()| moto)) {
        Ok(moto) => moto,
        Err(err) => {
            section
                .notes
                .push(format!("skipped: no S3 store for the fleet: {err} (`bash .ci/setup` installs moto)"));
            return section;
        }
    };

    let dir = ctx.scratch();
    let dir = dir.path();
    generate::copy_assets(&ctx.assets(), dir).expect("copy the assets");

    let pinned_possible =
        Command::new("taskset").arg("--version").output().is_ok_and(|out| out.status.success());
    let mut trials = Vec::new();
    let mut batches: Vec<Batch> = Vec::new();
    for (index, &(episodes, segments, cores)) in variants.iter().enumerate() {
        if cores == Cores::Pinned && !pinned_possible {
            continue;
        }
        if batches.last().is_none_or(|batch| (batch.episodes, batch.segments) != (episodes, segments)) {
            batches.push(Batch::write(ctx, dir, episodes, segments));
        }
        let Some(batch) = batches.last() else { continue };
        // One studio for the pair, warmed by an untimed run of the batch (its own database and
        // store prefix): the studio keeps each placeholder it encoded, so during A and B it only
        // queues, waits and serves, as fal's machines cost ours nothing. Cold, its encodes took
        // about a tenth of the two cores while both shards composed, and none while A did.
        let studio = ctx.studio_scaled(QUEUE_DELAY, RENDER_TIME, STUDIO_SCALE);
        let fleet = Fleet { server: &server, moto: &moto, studio: &studio };
        trial(ctx, dir, &fleet, &batch.manifests, Cores::Shared, &format!("w{index}"), 1);
        let one = trial(ctx, dir, &fleet, &batch.manifests, cores, &format!("a{index}"), 1);
        let two = trial(ctx, dir, &fleet, &batch.manifests, cores, &format!("b{index}"), 2);
        ctx.stop(studio);
        trials.push((batches.len() - 1, cores, one, two));
    }
    let Some(first) = batches.first() else { return section };

    let sizes: Vec<String> = batches
        .iter()
        .map(|batch| {
            format!(
                "{} ({} episodes of {} dual-anchor segments: {} composes of {:.1} s of speech, {} distinct renders)",
                batch.label(),
                batch.episodes,
                batch.segments,
                batch.composes,
                batch.seconds,
                batch.renders
            )
        })
        .collect();
    section.setup = format!(
        "Batches of episodes (distinct ids) at the full 16:9 canvas of a pro episode (1920x1080: `--scale 1`): \
         {}; the renders are each segment's speaker clip and one listener clip per character that every \
         episode shares. Run A: one `episodic render` of the whole batch. Run B: two at once, `--shard 0/2` \
         and `--shard 1/2`, each with its own state and cache folders, on one shared PostgreSQL journal (a \
         fresh database) and one S3 artifact store (a fresh prefix of a moto bucket). Every process runs \
         `--ffmpeg-jobs 1`: this machine has 2 cores, so a second machine is simulated by a second process, \
         and each process may compose one segment at a time. A and B each get a fresh database and store \
         prefix and share one studio, warmed by an untimed run of the batch (see below). The {} pair is run \
         twice: first with the processes sharing both cores, then with each \
         held to one core of its own (`taskset -c`, A on core 0, B's shards on 0 and 1): the pinned pairs are \
         the two-machine simulation the target is for.",
        sizes.join("; "),
        first.label()
    );
    section.commands = vec![
        format!(
            "# studio: StudioConfig {{ queue_delay: {QUEUE_DELAY:?}, fixed_render_time: {RENDER_TIME:?}, scale: {STUDIO_SCALE}, concurrency: 256, encoders: one per core }}"
        ),
        "# every process: EPISODIC_JOURNAL_URL=postgres://…/<fresh database>, EPISODIC_ARTIFACTS_URL=s3://fleet/<database>, AWS_ENDPOINT_URL=<moto>, its own EPISODIC_CACHE_DIR".into(),
    ];
    for (batch, cores, one, two) in &trials {
        let batch = &batches[*batch];
        let renders = batch.renders;
        let label = match cores {
            Cores::Shared => format!("{}, both cores shared", batch.label()),
            Cores::Pinned => format!("{}, one core per process", batch.label()),
        };
        section.commands.push(format!("# {label}: A, then B's two at once"));
        section
            .commands
            .extend(one.machines.iter().chain(&two.machines).map(|machine| machine.command.clone()));
        let ratio = one.makespan.as_secs_f64() / two.makespan.as_secs_f64();
        section.figures.push(Figure::info(format!("{label}: A, one process, wall"), secs(one.makespan)));
        if let Some(share) = &one.compose_share {
            section.figures.push(Figure::info(
                format!("{label}: A's composes (its episodes' reports)"),
                share.describe(one.makespan),
            ));
            section.figures.push(Figure::info(
                format!(
                    "{label}: A split perfectly, an estimate from A's own shape: A / (before its first compose + the larger shard's share of its composing + after its last)"
                ),
                format!("{:.2}×", share.bound(one.makespan, batch.larger_share())),
            ));
        }
        section.figures.push(Figure::info(
            format!("{label}: B, shard 0/2 and 1/2 walls → makespan"),
            format!(
                "{} and {} → {}",
                secs(two.machines[0].timed.wall),
                secs(two.machines[1].timed.wall),
                secs(two.makespan)
            ),
        ));
        let name = format!("{label}: throughput ratio, A wall / B makespan");
        match cores {
            Cores::Pinned => {
                section.figures.push(Figure::target(name, format!("{ratio:.2}×"), "≥ 1.7×", ratio >= 1.7));
            }
            Cores::Shared => section.figures.push(Figure::info(name, format!("{ratio:.2}×"))),
        }
        section.figures.push(Figure::target(
            format!("{label}: renders submitted, A; B (both shards)"),
            format!("{}; {}", one.submits, two.submits),
            format!("= the batch's {renders}, each"),
            one.submits == renders && two.submits == renders,
        ));
        section.figures.push(Figure::info(
            format!("{label}: load average (1 min) before → after A; B"),
            format!("{} → {}; {} → {}", one.load.0, one.load.1, two.load.0, two.load.1),
        ));
    }
    if let Some((_, _, _, two)) = trials.first() {
        let split: Vec<String> =
            two.machines.iter().filter_map(|machine| machine.shard_line.clone()).collect();
        section.figures.insert(
            0,
            Figure::info(
                "shard split (each shard's own summary line)",
                if split.is_empty() { "not found in the output".to_owned() } else { split.join(" / ") },
            ),
        );
    }
    section.notes.push(format!(
        "Ids chosen balanced: the harness takes the first ids `fleet-NN` that hash to each shard (half the \
         batch each; the hash is the one `--shard` uses, sha256 of the id modulo 2) and checks each shard's \
         summary line against it. The speech clips (2.5 s, then a tenth of a second longer each) are dealt to \
         the episodes shard 0, 1, 1, 0, … so the shards also get the same seconds to compose: {}.",
        batches
            .iter()
            .map(|batch| format!("{}: {:.1} s and {:.1} s", batch.label(), batch.per_shard[0], batch.per_shard[1]))
            .collect::<Vec<_>>()
            .join("; ")
    ));
    section.notes.push(format!(
        "The studio stands for fal, a remote service: on these 2 cores its placeholder encodes would compete \
         with the composes being measured. It renders every clip at 1/{STUDIO_SCALE} of fal's size \
         (`StudioConfig::scale`: 134x134 avatars, 240x134 listener clips), encodes at `nice 10` one clip per \
         core at a time, and renders a listener clip of the same portrait and length once; episodic still \
         composes at the full 1080p canvas (`--scale 1`: clips are scaled up to their halves of the frame), so \
         the composes cost what they cost at fal's sizes. {} ms of queue and {} s of render per request make \
         the renders short against the composes without being free. Before each pair an untimed run of the \
         batch (its own database and store prefix) has the studio encode every placeholder once; it keeps \
         them, so during A and B it only queues, waits and serves, as fal's GPUs cost this machine nothing. \
         Cold, its encodes took about a tenth of the two cores while both shards composed, and ran on the \
         idle core while A composed on the other, which favoured A.",
        QUEUE_DELAY.as_millis(),
        RENDER_TIME.as_secs()
    ));
    section.notes.push(
        "Artifact store: S3 on moto (`python3 -m moto.server`, as the fleet tests use), on the same machine: \
         what crosses it here is the clips (a few KB at the studio's scale), segments and episodes (hundreds \
         of KB), so its cost is small against the composes."
            .into(),
    );
    section.notes.push(
        "What limits the ratio besides the cores' other load: each shard pays the whole run-up before its \
         first compose (process start, uploads, the renders' queue and render time, downloads) and the tail \
         after its last, and the harness's studio, moto and PostgreSQL run on the same two cores (not pinned). \
         The \"A split perfectly\" figure takes A's own run-up and tail as fixed and splits only its \
         composing, by the shards' seconds of speech: an estimate, not a bound (a pinned A shares its core \
         with the harness's threads, so a measured ratio can pass it)."
            .into(),
    );
    section.notes.push(
        "`--ffmpeg-jobs 1` bounds a process to one ffmpeg job at a time, not to one core: a lone compose keeps \
         ffmpeg's own thread count and x264 spreads it over both cores. With the cores shared, A already uses \
         most of the machine while it composes, and B's two processes share the same two cores: that pair \
         shows what a second process on the same machine gains (the idle gaps of one process, while it \
         uploads, waits for renders, downloads, probes and writes the store, filled by the other), not what a \
         second machine does. Held to one core each, A is one one-core machine and B two of them."
            .into(),
    );
    section
}

/// What the processes of a trial share: the PostgreSQL server (a fresh database each trial), the
/// S3 server (a fresh prefix each trial) and the studio standing for fal.
struct Fleet<'a> {
    server: &'a str,
    moto: &'a Moto,
    studio: &'a episodic_studio::Studio,
}

/// One run of `processes` processes at once (1: the whole batch; 2: the two shards), each with
/// a fresh state and cache folder, against a fresh database and store prefix.
fn trial(
    ctx: &Context,
    dir: &Path,
    fleet: &Fleet<'_>,
    manifests: &[String],
    cores: Cores,
    name: &str,
    processes: usize,
) -> Trial {
    let Fleet { server, moto, studio } = *fleet;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|since| since.subsec_nanos())
        .unwrap_or_default();
    let database = Database::create(server, &format!("bench_fleet_{name}_{}_{nanos}", std::process::id()))
        .expect("a fresh database for the trial");
    let before = studio.stats().submits.total;
    let commands: Vec<Command> = (0..processes)
        .map(|index| {
            let machine = format!("{name}-{index}");
            let mut command = if cores == Cores::Pinned {
                let mut command = Command::new("taskset");
                command.args(["-c", &index.to_string()]).arg(&ctx.episodic);
                command
            } else {
                Command::new(&ctx.episodic)
            };
            command
                .arg("render")
                .args(manifests)
                .args(["--backend", "fal", "--scale", "1", "--concurrency", "40", "--ffmpeg-jobs", "1"])
                .args(["--state-dir", &format!(".state-{machine}")])
                .current_dir(dir)
                .env("NO_COLOR", "1")
                .env("EPISODIC_CACHE_DIR", dir.join(format!(".cache-{machine}")))
                .env("EPISODIC_JOURNAL_URL", &database.url)
                .env("EPISODIC_ARTIFACTS_URL", format!("s3://{BUCKET}/{}", database.name))
                .envs(moto.settings())
                .envs(ctx.fal_env(studio))
                .env_remove("EPISODIC_STATE_DIR");
            if processes > 1 {
                command.args(["--shard", &format!("{index}/{processes}")]);
            }
            command
        })
        .collect();
    let shown_commands: Vec<String> = commands
        .iter()
        .map(|command| {
            // The binary by name (not this machine's path), the manifests by their pattern.
            shown(command, dir)
                .replace(&ctx.episodic.to_string_lossy().into_owned(), "episodic")
                .replace(&manifests.join(" "), "fleet-*.yaml")
        })
        .collect();
    let load_before = episodic_bench::machine::load_average();
    let started = std::time::Instant::now();
    let handles: Vec<_> = commands
        .into_iter()
        .map(|mut command| std::thread::spawn(move || process::run(&mut command).expect("run episodic")))
        .collect();
    let timed: Vec<Timed> =
        handles.into_iter().map(|handle| handle.join().expect("a process thread")).collect();
    let makespan = started.elapsed();
    let load_after = episodic_bench::machine::load_average();
    for run in &timed {
        assert!(run.success, "episodic render ({name}) failed:\n{}", run.stderr);
    }
    let submits = studio.stats().submits.total - before;
    drop(database);
    let machines = timed
        .into_iter()
        .zip(shown_commands)
        .enumerate()
        .map(|(index, (timed, command))| {
            let shard_line = timed
                .stderr
                .lines()
                .find_map(|line| line.find("shard ").map(|at| line[at..].trim().to_owned()))
                .filter(|_| processes > 1);
            if let Some(line) = &shard_line {
                let expected: Vec<&str> = manifests
                    .iter()
                    .filter_map(|manifest| manifest.strip_suffix(".yaml"))
                    .filter(|id| shard_of(id, processes as u64) == index as u64)
                    .collect();
                assert!(
                    line.contains(&format!("took {} episode(s): {}", expected.len(), expected.join(", "))),
                    "shard {index}/{processes} took other episodes than the harness predicted: {line}"
                );
            }
            Machine { timed, shard_line, command }
        })
        .collect();
    let ids: Vec<&str> = manifests.iter().filter_map(|manifest| manifest.strip_suffix(".yaml")).collect();
    let compose_share = (processes == 1).then(|| compose_share(dir, &ids));
    Trial { machines, compose_share, makespan, submits, load: (load_before, load_after) }
}

/// How much of a one-process run its composes took, from its episodes' reports.
struct ComposeShare {
    count: usize,
    /// Seconds of composing: with `--ffmpeg-jobs 1` composes run one after another, and a
    /// compose's `wall` counts from its start, its wait for the slot included, so each one's own
    /// time is its end minus the later of its start and the previous compose's end.
    busy: f64,
    /// When the first compose started and the last ended, in seconds since the run started.
    first: f64,
    last: f64,
}

impl ComposeShare {
    fn describe(&self, wall: Duration) -> String {
        let wall = wall.as_secs_f64();
        format!(
            "{} composes, one at a time: {:.1} s of composing ({:.0} % of the run's {wall:.1} s), from {:.1} s to {:.1} s",
            self.count,
            self.busy,
            100.0 * self.busy / wall.max(f64::EPSILON),
            self.first,
            self.last
        )
    }

    /// A's wall over what the larger of two shards would take if it paid A's whole run-up
    /// (start, uploads, renders, downloads) and tail and `share` of its composing: what the fixed
    /// parts leave of a perfect 2×.
    fn bound(&self, wall: Duration, share: f64) -> f64 {
        let wall = wall.as_secs_f64();
        wall / (self.first + self.busy * share + (wall - self.last).max(0.0))
    }
}

fn compose_share(dir: &Path, ids: &[&str]) -> ComposeShare {
    let mut spans: Vec<(f64, f64)> = Vec::new();
    for id in ids {
        let Ok(bytes) = std::fs::read(dir.join("out").join(format!("{id}.report.json"))) else {
            continue;
        };
        let Ok(report) = serde_json::from_slice::<Value>(&bytes) else { continue };
        for node in report["nodes"].as_array().into_iter().flatten() {
            if node["kind"] == "compose"
                && node["cache_hit"] != true
                && let (Some(start), Some(end)) =
                    (node["started_seconds"].as_f64(), node["finished_seconds"].as_f64())
            {
                spans.push((start, end));
            }
        }
    }
    spans.sort_by(|a, b| a.1.total_cmp(&b.1));
    let mut busy = 0.0;
    let mut last = f64::NEG_INFINITY;
    for (start, end) in &spans {
        busy += end - start.max(last);
        last = *end;
    }
    let first = spans.iter().map(|span| span.0).fold(f64::INFINITY, f64::min);
    ComposeShare { count: spans.len(), busy, first, last }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_ids_split_evenly_between_two_shards() {
        let ids = balanced_ids(3);
        assert_eq!(ids.len(), 6);
        let shards: Vec<u64> = ids.iter().map(|id| shard_of(id, 2)).collect();
        assert_eq!(shards, [0, 1, 1, 0, 0, 1], "dealt as a snake: {ids:?}");
        assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 6, "distinct ids");
    }
}
