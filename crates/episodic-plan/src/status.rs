//! What a run would do with each node, given what the state folder already holds: reuse it
//! (`done`) or run it (`will run`), and why, in words.
//!
//! The plan crate does no I/O: the engine reads the journal and fills these in
//! (`episodic_engine::assess`); `plan` prints them and `plan --json` carries them.

use crate::Change;
use crate::Plan;
use episodic_catalog::Usd;
use serde::Serialize;
use std::fmt;

/// Whether a run reuses a node or runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Its output is in the state folder: reused, not paid for again.
    Done,
    /// A run does it (a render is paid for, unless the reason says otherwise).
    WillRun,
}

impl Status {
    /// The name in tables: `done` or `will run`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Done => "done",
            Status::WillRun => "will run",
        }
    }
}

/// Why a node is done or will run.
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    /// Made by an earlier run with exactly these inputs.
    Reused,
    /// Never made for this node.
    New,
    /// Made before with other inputs: these changed.
    Changed(Vec<Change>),
    /// Waits on inputs that will run first (their rows say why).
    After(Vec<String>),
    /// Its file was made before but is no longer in the state folder.
    Missing,
    /// Uploaded before, but the URL has expired (or the local studio's died with its run).
    Expired,
    /// The render failed in an earlier run; the message is fal's or the engine's.
    FailedEarlier(String),
    /// Submitted by an earlier run that did not see it finish: a run re-attaches to the
    /// request, which is paid once.
    InFlight(String),
    /// Claimed by an earlier run that may or may not have submitted it: a run searches fal's
    /// request history before paying again.
    Ambiguous,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Reused => f.write_str("reused"),
            Reason::New => f.write_str("new"),
            Reason::Changed(changes) => {
                f.write_str("changed: ")?;
                for (at, change) in changes.iter().enumerate() {
                    if at > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{change}")?;
                }
                Ok(())
            }
            Reason::After(inputs) => write!(f, "after {}", inputs.join(", ")),
            Reason::Missing => f.write_str("its file is no longer in the state folder"),
            Reason::Expired => f.write_str("the uploaded copy has expired"),
            Reason::FailedEarlier(error) => write!(
                f,
                "failed earlier ({error}); only `render --retry-failed` pays for it again, without it the segment fails again"
            ),
            Reason::InFlight(request_id) => {
                write!(f, "submitted earlier as {request_id}, not finished: a run waits for it, paid once")
            }
            Reason::Ambiguous => f.write_str(
                "ambiguous: an earlier run may have submitted it; a run searches fal's request history before paying again",
            ),
        }
    }
}

/// One node's status and reason.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeStatus {
    /// Done or will run.
    pub status: Status,
    /// Why.
    pub reason: Reason,
}

impl NodeStatus {
    /// A node reused as it is.
    pub fn done() -> NodeStatus {
        NodeStatus { status: Status::Done, reason: Reason::Reused }
    }

    /// A node that will run, and why.
    pub fn will_run(reason: Reason) -> NodeStatus {
        NodeStatus { status: Status::WillRun, reason }
    }

    /// Whether a run does this node.
    pub fn runs(&self) -> bool {
        self.status == Status::WillRun
    }
}

/// Every node's status, in plan order (`nodes[i]` is the status of `plan.order[i]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    /// In plan order.
    pub nodes: Vec<NodeStatus>,
}

impl Assessment {
    /// A plan with nothing done yet (no state folder).
    pub fn fresh(plan: &Plan) -> Assessment {
        Assessment { nodes: plan.order.iter().map(|_| NodeStatus::will_run(Reason::New)).collect() }
    }

    /// What the renders that will run are estimated to cost: the cost line of `plan`.
    pub fn to_spend(&self, plan: &Plan) -> Usd {
        plan.nodes().zip(&self.nodes).filter(|(_, status)| status.runs()).map(|(node, _)| node.cost).sum()
    }

    /// Seconds of video the renders that will run produce.
    pub fn seconds_to_render(&self, plan: &Plan) -> f64 {
        plan.nodes()
            .zip(&self.nodes)
            .filter(|(_, status)| status.runs())
            .filter_map(|(node, _)| node.render().map(|render| render.seconds))
            // `sum` of no floats is -0.0.
            .fold(0.0, |total, seconds| total + seconds)
    }

    /// How many renders will run.
    pub fn renders_to_run(&self, plan: &Plan) -> usize {
        plan.nodes()
            .zip(&self.nodes)
            .filter(|(node, status)| status.runs() && node.render().is_some())
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_as_sentences() {
        let changed = Reason::Changed(vec![
            Change { part: "prompt".into(), text: "prompt".into() },
            Change { part: "audio file".into(), text: "audio file assets/x.mp3".into() },
        ]);
        assert_eq!(changed.to_string(), "changed: prompt, audio file assets/x.mp3");
        assert_eq!(Reason::After(vec!["render/a/speaker".into()]).to_string(), "after render/a/speaker");
        assert!(Reason::FailedEarlier("boom".into()).to_string().contains("--retry-failed"));
    }
}
