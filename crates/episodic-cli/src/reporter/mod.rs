//! Reporters turn the engine's events into output: progress lines for a human on stderr, or one
//! JSON object per line on stdout for machines.

mod json;
mod lines;

pub use json::JsonReporter;
pub use lines::LineReporter;

use episodic_engine::Event;

/// Something that shows events as they happen.
pub trait Reporter {
    /// Shows one event.
    fn event(&mut self, event: &Event);
}
