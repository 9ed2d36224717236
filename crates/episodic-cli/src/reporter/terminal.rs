//! Progress bars on a terminal: an overall bar (nodes done of all, dollars billed) and one line
//! per running node that is worth watching (renders with their queue position and last log line,
//! composes, the episode's audio, concat), each with its elapsed time.

use super::{Reporter, history_wait_line, stopping_line};
use crate::printer::OutputClosed;
use episodic_catalog::Usd;
use episodic_engine::{Event, EventKind, HistoryWait};
use episodic_plan::NodeKind;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::time::Duration;

/// Draws bars on stderr.
pub struct TerminalReporter {
    bars: MultiProgress,
    overall: ProgressBar,
    running: HashMap<String, ProgressBar>,
    spent: Usd,
}

impl TerminalReporter {
    /// A reporter drawing on stderr.
    pub fn new() -> Self {
        let bars = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let overall = bars.add(ProgressBar::new(0));
        overall.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} nodes  {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        overall.enable_steady_tick(Duration::from_millis(200));
        Self { bars, overall, running: HashMap::new(), spent: Usd::ZERO }
    }

    fn node_line(&mut self, episode: &str, node: &str) -> ProgressBar {
        let bar = self.bars.insert_before(&self.overall, ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("  {spinner} {prefix} {elapsed:>4} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(format!("{episode} {node}"));
        bar.enable_steady_tick(Duration::from_millis(120));
        self.running.insert(node.to_owned(), bar.clone());
        bar
    }

    fn done(&mut self, node: &str) {
        if let Some(bar) = self.running.remove(node) {
            bar.finish_and_clear();
        }
        self.overall.inc(1);
    }
}

impl Reporter for TerminalReporter {
    fn event(&mut self, event: &Event) -> Result<(), OutputClosed> {
        match &event.kind {
            EventKind::RunStarted { nodes, estimate_to_go } => {
                self.overall.set_length(*nodes as u64);
                self.overall.set_message(format!("billed $0.00 of {estimate_to_go} to go"));
            }
            EventKind::NodeStarted {
                node,
                kind:
                    kind @ (NodeKind::Speech
                    | NodeKind::Render
                    | NodeKind::Compose
                    | NodeKind::Audio
                    | NodeKind::Concat
                    | NodeKind::Join),
            } => {
                let bar = self.node_line(&event.episode, node);
                bar.set_message(match kind {
                    NodeKind::Speech => "voicing with ElevenLabs (or waiting for a speech slot)",
                    NodeKind::Render => "submitting (or waiting for a render slot)",
                    _ => "encoding with ffmpeg",
                });
            }
            EventKind::NodeStarted { .. } => {}
            EventKind::NodeProgress { node, queue_position, log, request_id } => {
                if let Some(bar) = self.running.get(node) {
                    if let Some(position) = queue_position {
                        bar.set_message(format!("in fal's queue, position {position}"));
                    }
                    if let Some(log) = log {
                        bar.set_message(log.clone());
                    }
                    if let (Some(id), None, None) = (request_id, queue_position, log) {
                        bar.set_message(format!("submitted as {id}"));
                    }
                }
            }
            EventKind::NodeFinished { node, cost, .. } => {
                self.spent += *cost;
                self.done(node);
                self.overall.set_message(format!("billed {}", self.spent));
            }
            EventKind::AwaitingHistory { node, reason, until_unix } => {
                if let Some(bar) = self.running.get(node) {
                    bar.set_message(match reason {
                        HistoryWait::SpeechAnswerLost { .. } | HistoryWait::SpeechCrashed { .. } => {
                            "checking ElevenLabs' history for a lost request"
                        }
                        HistoryWait::LostAnswer { .. } | HistoryWait::Crashed { .. } => {
                            "checking fal's request history for a lost submit"
                        }
                    });
                }
                let line = history_wait_line(reason, *until_unix);
                let _ = self.bars.println(format!("{} {node}: {line}", event.episode));
            }
            EventKind::FellBack { node, from, to, reason } => {
                let _ = self
                    .bars
                    .println(format!("{} {node}: {to} takes over from {from} ({reason})", event.episode));
            }
            EventKind::Stopping { cause } => {
                let _ = self.bars.println(stopping_line(*cause));
            }
            EventKind::NodeFailed { node, error, .. } => {
                let _ = self.bars.println(format!("{} {node}: FAILED: {error}", event.episode));
                self.done(node);
            }
            EventKind::NodeSkipped { node, .. } => self.done(node),
            EventKind::EpisodeFinished { ok, output, spent } => {
                let line = match (ok, output) {
                    (true, Some(output)) => {
                        format!("{}: wrote {output} ({spent} billed in this run)", event.episode)
                    }
                    _ => format!("{}: not finished ({spent} billed in this run)", event.episode),
                };
                let _ = self.bars.println(line);
            }
        }
        Ok(())
    }
}

impl Drop for TerminalReporter {
    fn drop(&mut self) {
        for bar in self.running.values() {
            bar.finish_and_clear();
        }
        self.overall.finish_and_clear();
    }
}
