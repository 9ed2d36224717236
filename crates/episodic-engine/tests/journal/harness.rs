//! A small test runner for this binary, which is built with `harness = false` (see `main.rs` for
//! why). It understands the part of libtest's command line that `cargo test` and nextest use:
//! name filters, `--exact`, `--ignored`, `--include-ignored`, `--list` (`--format terse`),
//! `--skip`, `--test-threads`; other flags (`--nocapture`, `--quiet`, ...) are accepted and
//! ignored. Output is not captured: a failing test's panic message is printed as it happens.

use std::panic::AssertUnwindSafe;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One test: its name, its body, and whether it runs only when asked for (`--ignored`).
#[derive(Clone)]
pub struct Test {
    pub name: String,
    pub run: std::sync::Arc<dyn Fn() + Send + Sync>,
    pub ignored: bool,
    /// The journal backend it runs against, for tests of the shared suite.
    pub backend: Option<&'static str>,
}

/// `Test`s from function names; `#[ignore]`d ones are listed as `ignore name`.
macro_rules! tests {
    ($($(#[$ignore:ident])? $name:ident),* $(,)?) => {
        &[$(crate::harness::Test {
            name: stringify!($name).to_owned(),
            run: std::sync::Arc::new($name),
            ignored: tests!(@ignored $($ignore)?),
            backend: None,
        }),*]
    };
    (@ignored ignore) => { true };
    (@ignored) => { false };
}

/// Each test of the shared suite (a `fn(&Store)`) once per backend: `name_sqlite` and
/// `name_postgres`, each on a fresh journal.
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        &[$(
            crate::harness::Test {
                name: format!("{}_sqlite", stringify!($name)),
                run: std::sync::Arc::new(|| $name(&crate::store::Store::sqlite())),
                ignored: false,
                backend: Some("sqlite"),
            },
            crate::harness::Test {
                name: format!("{}_postgres", stringify!($name)),
                run: std::sync::Arc::new(|| $name(&crate::store::Store::postgres())),
                ignored: false,
                backend: Some("postgres"),
            },
        )*]
    };
}

#[derive(Default)]
struct Options {
    filters: Vec<String>,
    skip: Vec<String>,
    exact: bool,
    list: bool,
    ignored: bool,
    include_ignored: bool,
    threads: Option<usize>,
}

impl Options {
    fn parse(args: impl Iterator<Item = String>) -> Options {
        let mut options = Options::default();
        let mut args = args.peekable();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) if flag.starts_with("--") => (flag.to_owned(), Some(value.to_owned())),
                _ => (arg.clone(), None),
            };
            let mut value = || inline.clone().or_else(|| args.next()).unwrap_or_default();
            match flag.as_str() {
                "--exact" => options.exact = true,
                "--list" => options.list = true,
                "--ignored" => options.ignored = true,
                "--include-ignored" => options.include_ignored = true,
                "--skip" => options.skip.push(value()),
                "--test-threads" => options.threads = value().parse().ok(),
                // Flags that take a value and do not matter here.
                "--format" | "--color" | "--logfile" | "-Z" => {
                    value();
                }
                flag if flag.starts_with('-') => {}
                _ => options.filters.push(arg),
            }
        }
        options
    }

    fn selects(&self, test: &Test) -> bool {
        let matches = |pattern: &String| {
            if self.exact { test.name == *pattern } else { test.name.contains(pattern.as_str()) }
        };
        let wanted = self.filters.is_empty() || self.filters.iter().any(matches);
        let skipped = self.skip.iter().any(|pattern| test.name.contains(pattern.as_str()));
        let ignore_ok = self.include_ignored || (test.ignored == self.ignored);
        wanted && !skipped && (ignore_ok || self.list)
    }
}

/// Runs the tests the command line selects, in parallel, and exits like libtest: 0 if all passed,
/// 101 otherwise.
#[expect(clippy::print_stdout, reason = "a test runner reports on stdout, as libtest does")]
pub fn run(tests: &[Test]) -> ExitCode {
    let options = Options::parse(std::env::args().skip(1));
    let selected: Vec<&Test> = tests.iter().filter(|test| options.selects(test)).collect();
    if options.list {
        for test in &selected {
            if options.ignored && !test.ignored {
                continue;
            }
            println!("{}: test", test.name);
        }
        return ExitCode::SUCCESS;
    }
    let threads = options
        .threads
        .or_else(|| std::env::var("RUST_TEST_THREADS").ok().and_then(|n| n.parse().ok()))
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
        .max(1);
    println!("\nrunning {} tests", selected.len());
    let next = AtomicUsize::new(0);
    let failed = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads.min(selected.len()) {
            scope.spawn(|| {
                while let Some(test) = selected.get(next.fetch_add(1, Ordering::SeqCst)) {
                    // Each test on a thread named after it, so a panic message names the test.
                    let outcome = std::thread::Builder::new()
                        .name(test.name.clone())
                        .spawn({
                            let run = std::sync::Arc::clone(&test.run);
                            move || std::panic::catch_unwind(AssertUnwindSafe(|| run())).is_ok()
                        })
                        .map(|handle| handle.join().unwrap_or(false))
                        .unwrap_or(false);
                    println!("test {} ... {}", test.name, if outcome { "ok" } else { "FAILED" });
                    if !outcome {
                        failed
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .push(test.name.as_str());
                    }
                }
            });
        }
    });
    let failed = failed.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    let result = if failed.is_empty() { "ok" } else { "FAILED" };
    if !failed.is_empty() {
        println!("\nfailures:");
        for name in &failed {
            println!("    {name}");
        }
    }
    println!(
        "\ntest result: {result}. {} passed; {} failed; {} filtered out\n",
        selected.len() - failed.len(),
        failed.len(),
        tests.len() - selected.len()
    );
    if failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(101) }
}
