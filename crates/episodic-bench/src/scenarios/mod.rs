//! The end-to-end scenarios, one module per item of the benchmark issue (1 and 2 share one).

pub mod makespan;
pub mod media;
pub mod overhead;
pub mod planner;
pub mod proportional;
