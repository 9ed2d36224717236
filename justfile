# episodic's tasks. `just` alone lists them.

set shell := ["bash", "-euo", "pipefail", "-c"]

episodic := "cargo run --quiet --locked --bin episodic --"

# List the recipes.
default:
    @just --list --unsorted

# Render manifests into MP4s (add --backend, --scale 4 for a quick preview, --json, ...).
render +ARGS:
    {{episodic}} render {{ARGS}}

# Show the render DAG and its cost (add --json, --dot or --draft).
plan MANIFEST *ARGS:
    {{episodic}} plan {{MANIFEST}} {{ARGS}}

# Check manifests and their media.
validate +MANIFESTS:
    {{episodic}} validate {{MANIFESTS}}

# The whole test suite: formatting, lints, hygiene, then every test (with a throwaway PostgreSQL
# for the shared-journal tests, started by .ci/postgres when the server binaries are installed).
test: forbid
    cargo fmt --all --check
    cargo clippy --workspace --all-targets --locked -- -D warnings
    bash .ci/postgres cargo test --workspace --locked

# Kill-and-resume trials against the studio (SIGKILL at seeded moments); CI runs 10.
chaos TRIALS="100" SEED="2026":
    CHAOS_TRIALS={{TRIALS}} CHAOS_SEED={{SEED}} cargo test --locked -p episodic-cli --test cli chaos -- --nocapture

# Fail on debugging leftovers in the sources.
forbid:
    ! grep -rnE '\bdbg!|\btodo!\(|\bunimplemented!\(' crates --include '*.rs'

# Fuzz manifest parsing and validation for SECONDS (default 60). Crashes are saved in
# fuzz/artifacts/manifest/; commit each to tests/fixtures/fuzz/ (the manifest crate's tests replay them).
# Seeds are every manifest in the repository, named by content; cargo-fuzz needs nightly flags,
# which RUSTC_BOOTSTRAP lets the stable toolchain accept.
fuzz SECONDS="60":
    command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
    mkdir -p fuzz/corpus/manifest
    find tests/fixtures pipelines -name '*.yaml' -print0 | while IFS= read -r -d '' f; do cp "$f" "fuzz/corpus/manifest/seed-$(sha1sum < "$f" | cut -c1-16)"; done
    cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run manifest -- -max_total_time={{SECONDS}} -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1

# Benchmarks: release build, criterion micro-benchmarks, then the end-to-end scenarios against the
# studio; writes BENCHMARKS.md (about 20 minutes on 2 cores, builds aside). Through .ci/postgres: the
# fleet item (10) needs a PostgreSQL server for its shared journal (and moto, from .ci/setup).
bench:
    cargo build --release --locked --bin episodic --bin episodic-bench
    cargo bench --locked -p episodic-bench --benches
    bash .ci/postgres "${CARGO_TARGET_DIR:-target}/release/episodic-bench"

# Re-take docs/report.png (the README's picture of the HTML report) from the report test's run.
docs-screenshot:
    EPISODIC_WRITE_DOCS=1 cargo test --locked -p episodic-cli --test cli report_page::the_html_report_plays_its_video

# The benchmarks at small sizes (about a minute), written to the target folder, not BENCHMARKS.md.
bench-quick:
    cargo build --release --locked --bin episodic --bin episodic-bench
    cargo bench --locked -p episodic-bench --benches -- --quick
    bash .ci/postgres "${CARGO_TARGET_DIR:-target}/release/episodic-bench" --quick --out "${CARGO_TARGET_DIR:-target}/BENCHMARKS.quick.md"

# Run the local fal-compatible studio (add flags: --port 8710 --scale 4 --fail-rate-429 0.3 ...).
studio *ARGS:
    {{episodic}} studio {{ARGS}}
