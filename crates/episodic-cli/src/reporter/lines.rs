//! Plain progress lines on stderr: one line when a node starts something worth waiting for,
//! finishes, fails or is skipped; queue moves and runner logs for renders.

use super::{Reporter, history_wait_line, stopping_line};
use crate::printer::{OutputClosed, Printer};
use episodic_engine::{Event, EventKind};
use episodic_plan::NodeKind;

/// Writes events as human lines.
pub struct LineReporter<'a> {
    printer: &'a Printer,
}

impl<'a> LineReporter<'a> {
    /// A reporter writing through `printer`.
    pub fn new(printer: &'a Printer) -> Self {
        Self { printer }
    }
}

impl Reporter for LineReporter<'_> {
    fn event(&mut self, event: &Event) -> Result<(), OutputClosed> {
        let at = format!("[{:>6.1}s]", event.elapsed.as_secs_f64());
        let line = match &event.kind {
            EventKind::RunStarted { nodes, estimate_to_go } => {
                format!(
                    "{at} starting {nodes} nodes; renders still to pay for are estimated at {estimate_to_go}"
                )
            }
            EventKind::NodeStarted { node, kind: NodeKind::Speech | NodeKind::Render | NodeKind::Concat } => {
                format!("{at} {} {node}: started", event.episode)
            }
            EventKind::NodeStarted { .. } => return Ok(()),
            EventKind::NodeProgress { node, queue_position, log, request_id } => {
                let mut parts = Vec::new();
                if let Some(id) = request_id {
                    parts.push(format!("submitted as {id}"));
                }
                if let Some(position) = queue_position {
                    parts.push(format!("queue position {position}"));
                }
                if let Some(log) = log {
                    parts.push(log.clone());
                }
                if parts.is_empty() {
                    return Ok(());
                }
                format!("{at} {} {node}: {}", event.episode, parts.join("; "))
            }
            EventKind::NodeFinished { node, cache_hit, wall, cost, request_id, .. } => {
                let how = if *cache_hit {
                    "reused".to_owned()
                } else {
                    format!("done in {:.1}s", wall.as_secs_f64())
                };
                let paid = if cost.micros() > 0 { format!(", {cost}") } else { String::new() };
                let id = request_id.as_deref().map(|id| format!(" (request {id})")).unwrap_or_default();
                format!("{at} {} {node}: {how}{paid}{id}", event.episode)
            }
            EventKind::AwaitingHistory { node, reason, until_unix } => {
                format!("{at} {} {node}: {}", event.episode, history_wait_line(reason, *until_unix))
            }
            EventKind::FellBack { node, from, to, reason } => {
                format!("{at} {} {node}: {to} takes over from {from} ({reason})", event.episode)
            }
            EventKind::Stopping { cause } => format!("{at} {}", stopping_line(*cause)),
            EventKind::NodeFailed { node, error, .. } => {
                format!("{at} {} {node}: FAILED: {error}", event.episode)
            }
            EventKind::NodeSkipped { node, reason } => {
                format!("{at} {} {node}: skipped ({reason})", event.episode)
            }
            EventKind::EpisodeFinished { ok, output, spent } => match (ok, output) {
                (true, Some(output)) => {
                    format!("{at} {}: wrote {output} ({spent} billed in this run)", event.episode)
                }
                _ => format!("{at} {}: not finished ({spent} billed in this run)", event.episode),
            },
        };
        self.printer.note(&line);
        Ok(())
    }
}
