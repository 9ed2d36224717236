//! Reporters turn the engine's events into output: bars on a terminal, progress lines for a log
//! file (stderr that is not a terminal), or one JSON object per line on stdout for machines.

mod json;
mod lines;
mod terminal;

pub use json::JsonReporter;
pub use lines::LineReporter;
pub use terminal::TerminalReporter;

use crate::printer::OutputClosed;
use episodic_engine::{Event, HistoryWait, StopReason};

/// Something that shows events as they happen.
pub trait Reporter {
    /// Shows one event; `Err` once whoever reads the output has gone (the run then stops).
    fn event(&mut self, event: &Event) -> Result<(), OutputClosed>;
}

/// What a render waiting on fal's request history tells the producer: what, until when, and how
/// to decide now.
pub(crate) fn history_wait_line(reason: &HistoryWait, until_unix: i64) -> String {
    let until = episodic_fal::timefmt::format_rfc3339(until_unix);
    let why = match reason {
        HistoryWait::LostAnswer { lost: 1 } => "the answer to its submit was lost".to_owned(),
        HistoryWait::LostAnswer { lost } => format!("the answer to its submit was lost ({lost} times now)"),
        HistoryWait::Crashed { owner } => format!("{owner} died while submitting it"),
        HistoryWait::SpeechAnswerLost { lost: 1 } => "the answer to its request was lost".to_owned(),
        HistoryWait::SpeechAnswerLost { lost } => {
            format!("the answer to its request was lost ({lost} times now)")
        }
        HistoryWait::SpeechCrashed { owner } => format!("{owner} died while voicing it"),
    };
    match reason {
        HistoryWait::SpeechAnswerLost { .. } | HistoryWait::SpeechCrashed { .. } => format!(
            "{why}; ElevenLabs may have voiced it, so its history is checked until {until}: found, its audio is fetched; still absent then, it is voiced again. To decide now, stop and rerun with --resubmit-ambiguous (it may be paid twice)"
        ),
        HistoryWait::LostAnswer { .. } | HistoryWait::Crashed { .. } => format!(
            "{why}; fal may have queued it, so its request history is checked until {until} (it lists requests late): found, the render is re-attached; still absent then, it is submitted again. To decide now, stop and rerun with --resubmit-ambiguous (it may be paid twice)"
        ),
    }
}

/// The line that says why a run stops starting work.
pub(crate) fn stopping_line(cause: StopReason) -> &'static str {
    match cause {
        StopReason::Interrupted => {
            "interrupted: starting nothing new; answers to submits in flight are journaled (press Ctrl-C again to stop at once)"
        }
        StopReason::OutputClosed => {
            "the output was closed: starting nothing new, journaling what is in flight"
        }
        StopReason::OutOfCredit => {
            "fal says the account is out of credit: nothing more is submitted; renders already at fal finish and are journaled"
        }
        StopReason::FailFast => "a node failed and --fail-fast is set: starting nothing new",
    }
}
