//! End-to-end tests of the `episodic` binary: the real executable, real files, real ffprobe.
//! One integration binary, so the build links once.

mod backlog;
mod bad_inputs;
mod broken_manifests;
mod cache;
mod captions;
mod chaos;
mod commands;
mod compare;
mod facts;
mod fallbacks;
mod fleet;
mod long_lines;
#[path = "../../../episodic-engine/tests/store/moto.rs"]
mod moto;
mod paying;
mod plan;
mod plan_apply;
mod plan_state;
mod previews;
mod render;
mod render_output;
mod report_page;
mod secrets;
mod sharing;
mod speech;
mod stops;
mod support;
mod webhooks;
