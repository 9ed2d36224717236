//! Shared pieces of episodic's benchmarks: the manifests they render or plan, the machine they
//! ran on, and the `BENCHMARKS.md` they write.
//!
//! The `episodic-bench` binary runs the end-to-end scenarios (the real `episodic` binary against an
//! in-process studio); `benches/` holds the criterion micro-benchmarks. Nothing here asserts on
//! timing: the numbers are reported against their targets, never tested.

pub mod avsync;
pub mod generate;
pub mod machine;
pub mod markdown;
pub mod process;
