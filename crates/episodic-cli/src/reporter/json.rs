//! `--json`: one JSON object per event, on stdout. The shape is `episodic_engine::Event`
//! serialised: `elapsed` seconds, `episode`, `event` (`node_started`, `node_progress`,
//! `node_finished`, `node_failed`, `node_skipped`, `episode_finished`, `run_started`, `awaiting_history`,
//! `stopping`) and the
//! event's fields (`node`, `kind`, `cache_hit`, `wall`, `cost`, `request_id`, ...).

use super::Reporter;
use crate::printer::{OutputClosed, Printer};
use episodic_engine::Event;

/// Writes events as JSON lines.
pub struct JsonReporter<'a> {
    printer: &'a Printer,
}

impl<'a> JsonReporter<'a> {
    /// A reporter writing through `printer`.
    pub fn new(printer: &'a Printer) -> Self {
        Self { printer }
    }
}

impl Reporter for JsonReporter<'_> {
    fn event(&mut self, event: &Event) -> Result<(), OutputClosed> {
        match serde_json::to_string(event) {
            Ok(line) => self.printer.out(&format!("{line}\n")),
            Err(_) => Ok(()),
        }
    }
}
