//! The end-to-end scenarios, one module per item of the benchmark issue (1 and 2 share one; 7,
//! 8 and 9 too); 10 and 11 are the fleet's and speech's issues.

pub mod fleet;
pub mod makespan;
pub mod media;
pub mod overhead;
pub mod planner;
pub mod proportional;
pub mod speech;
