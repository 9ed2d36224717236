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

# The whole test suite: formatting, lints, hygiene, then every test.
test: forbid
    cargo fmt --all --check
    cargo clippy --workspace --all-targets --locked -- -D warnings
    cargo test --workspace --locked

# Kill-and-resume trials against the studio (SIGKILL at seeded moments); CI runs 10.
chaos TRIALS="100" SEED="2026":
    CHAOS_TRIALS={{TRIALS}} CHAOS_SEED={{SEED}} cargo test --locked -p episodic-cli --test cli chaos -- --nocapture

# Fail on debugging leftovers in the sources.
forbid:
    ! grep -rnE '\bdbg!|\btodo!\(|\bunimplemented!\(' crates --include '*.rs'

# Benchmarks (not written yet: they come with the benchmark issue).
bench:
    @echo "No benchmarks yet: they arrive with the engine and the benchmark issue." >&2

# Run the local fal-compatible studio (add flags: --port 8710 --scale 4 --fail-rate-429 0.3 ...).
studio *ARGS:
    {{episodic}} studio {{ARGS}}
