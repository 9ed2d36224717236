//! How a run is asked to stop, and the spend breaker that stops it paying.

use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::watch;

/// How far a run is from stopping. Ordered by urgency: a later value never gives way to an
/// earlier one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Stop {
    /// Keep going.
    #[default]
    Running,
    /// Start nothing new and stop waiting on fal: submits in flight are answered and journaled,
    /// ffmpeg jobs and transfers already running finish. A rerun re-attaches to the rest.
    Drain(StopCause),
    /// Now: kill ffmpeg jobs and transfers, return at once. What is journaled stays journaled.
    Abort,
}

/// Why a run drains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StopCause {
    /// The user interrupted it (Ctrl-C, SIGTERM).
    Signal,
    /// Whoever read its output went away (a closed pipe).
    OutputClosed,
}

impl Stop {
    /// Whether the run should start nothing new.
    pub fn is_stopping(self) -> bool {
        self != Stop::Running
    }
}

/// Resolves once the run is told to stop with at least `at_least`'s urgency (never, if the sender is
/// gone without asking).
pub(crate) async fn stopped(mut stop: watch::Receiver<Stop>, at_least: Stop) {
    loop {
        if *stop.borrow_and_update() >= at_least {
            return;
        }
        if stop.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Trips on fal's first "out of credit" answer: from then on no render of the run is submitted,
/// in any episode. Renders already at fal finish and are journaled.
#[derive(Debug, Default)]
pub(crate) struct SpendBreaker {
    tripped: AtomicBool,
}

impl SpendBreaker {
    /// Stops all later submits.
    pub(crate) fn trip(&self) {
        self.tripped.store(true, Ordering::SeqCst);
    }

    /// Whether a submit may go out.
    pub(crate) fn is_tripped(&self) -> bool {
        self.tripped.load(Ordering::SeqCst)
    }
}

/// Resolves once the run starts stopping, however urgently.
pub(crate) async fn draining(stop: watch::Receiver<Stop>) {
    stopped(stop, Stop::Drain(StopCause::Signal)).await;
}
