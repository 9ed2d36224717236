//! Reporters turn the engine's events into output: bars on a terminal, progress lines for a log
//! file (stderr that is not a terminal), or one JSON object per line on stdout for machines.

mod json;
mod lines;
mod terminal;

pub use json::JsonReporter;
pub use lines::LineReporter;
pub use terminal::TerminalReporter;

use episodic_engine::Event;

/// Something that shows events as they happen.
pub trait Reporter {
    /// Shows one event.
    fn event(&mut self, event: &Event);
}
