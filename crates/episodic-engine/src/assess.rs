//! What a run would reuse and what it would run, read from the journal without changing it:
//! the status and reason of every node that `plan` shows.

use crate::journal::{Journal, JournalError, RenderState, SpeechState, UnixSeconds};
use episodic_plan::{Assessment, NodeDetail, NodeStatus, Parts, Plan, Reason, UploadSpec};
use std::path::Path;

/// Each node of `plan` as the journal finds it (`None`: no state folder, nothing done yet).
/// Renders follow their journaled state; every other node is done when its output is kept (an
/// upload's URL still valid, a file in the artifact store), and otherwise waits on inputs that
/// will run, or says which of its inputs changed since it was last made.
pub fn assess(plan: &Plan, journal: Option<&Journal>, now: UnixSeconds) -> Result<Assessment, JournalError> {
    let Some(journal) = journal else { return Ok(Assessment::fresh(plan)) };
    let files = plan.file_names();
    let mut nodes = Vec::with_capacity(plan.order.len());
    let mut runs = vec![false; plan.graph.node_count()];
    for index in &plan.order {
        let node = &plan.graph[*index];
        let key = node.key.as_str();
        let status = match &node.detail {
            NodeDetail::Upload(UploadSpec::File { file }) => {
                upload_status(journal, &file.sha256, now, || changed_or_new(journal, plan, *index, &files))?
            }
            NodeDetail::Upload(UploadSpec::Speech { speech }) => {
                let voiced = plan.graph.neighbors_directed(*index, petgraph::Direction::Incoming).next();
                match voiced {
                    Some(dep) if runs[dep.index()] => {
                        NodeStatus::will_run(Reason::After(vec![speech.clone()]))
                    }
                    // The voiced audio's hash is known once it is kept: uploads are cached by it.
                    Some(dep) => match journal.artifact(plan.graph[dep].key.as_str())? {
                        Some(audio) => upload_status(journal, &audio.sha256, now, || Ok(Reason::New))?,
                        None => NodeStatus::will_run(Reason::New),
                    },
                    None => NodeStatus::will_run(Reason::New),
                }
            }
            NodeDetail::Speech(_) => match journal.speech(key)?.map(|record| record.state) {
                Some(SpeechState::Completed { .. }) if kept(journal, key)? => NodeStatus::done(),
                Some(SpeechState::Completed { .. }) => NodeStatus::will_run(Reason::Missing),
                Some(SpeechState::Failed { error }) => NodeStatus::will_run(Reason::FailedEarlier(error)),
                Some(SpeechState::Answered { history_item_id, .. }) => {
                    NodeStatus::will_run(Reason::InFlight(history_item_id))
                }
                Some(SpeechState::Voicing { .. }) => NodeStatus::will_run(Reason::Ambiguous),
                None => NodeStatus::will_run(changed_or_new(journal, plan, *index, &files)?),
            },
            NodeDetail::Render(render) if !render.fallbacks.is_empty() => {
                match chain_state(journal, key, render)? {
                    Some(RenderState::Completed { .. }) => NodeStatus::done(),
                    Some(RenderState::Failed { error, .. }) => {
                        NodeStatus::will_run(Reason::FailedEarlier(error))
                    }
                    Some(RenderState::Submitted { request_id, .. }) => {
                        NodeStatus::will_run(Reason::InFlight(request_id))
                    }
                    Some(RenderState::Submitting { .. }) => NodeStatus::will_run(Reason::Ambiguous),
                    None => NodeStatus::will_run(changed_or_new(journal, plan, *index, &files)?),
                }
            }
            NodeDetail::Render(_) => match journal.render(key)?.map(|record| record.state) {
                Some(RenderState::Completed { .. }) => NodeStatus::done(),
                Some(RenderState::Failed { error, .. }) => NodeStatus::will_run(Reason::FailedEarlier(error)),
                Some(RenderState::Submitted { request_id, .. }) => {
                    NodeStatus::will_run(Reason::InFlight(request_id))
                }
                Some(RenderState::Submitting { .. }) => NodeStatus::will_run(Reason::Ambiguous),
                None => NodeStatus::will_run(changed_or_new(journal, plan, *index, &files)?),
            },
            _ => {
                let waits_on: Vec<String> = plan
                    .graph
                    .neighbors_directed(*index, petgraph::Direction::Incoming)
                    .filter(|dep| runs[dep.index()] && !is_upload(plan, *dep))
                    .map(|dep| plan.graph[dep].id.clone())
                    .collect();
                if kept(journal, key)? {
                    NodeStatus::done()
                } else if !waits_on.is_empty() {
                    let mut waits_on = waits_on;
                    waits_on.sort_unstable();
                    NodeStatus::will_run(Reason::After(waits_on))
                } else if journal.has_artifact_record(key)? {
                    NodeStatus::will_run(Reason::Missing)
                } else {
                    NodeStatus::will_run(changed_or_new(journal, plan, *index, &files)?)
                }
            }
        };
        runs[index.index()] = status.runs();
        nodes.push(status);
    }
    Ok(Assessment { nodes })
}

/// Where a render with a fallback chain stands: `Completed` when any model of the chain rendered
/// it (a rerun reuses that render, as the runner does), else the state of the furthest try the
/// journal holds (the one a rerun resumes from), or `None` when nothing was tried.
fn chain_state(
    journal: &Journal,
    key: &str,
    render: &episodic_plan::RenderSpec,
) -> Result<Option<RenderState>, JournalError> {
    let mut furthest = None;
    for try_key in crate::executor::try_keys(key, render) {
        match journal.render(&try_key)?.map(|record| record.state) {
            Some(state @ RenderState::Completed { .. }) => return Ok(Some(state)),
            Some(state) => furthest = Some(state),
            None => {}
        }
    }
    Ok(furthest)
}

/// An upload of `sha256`: done while fal still holds a copy, else expired or `otherwise`.
fn upload_status(
    journal: &Journal,
    sha256: &str,
    now: UnixSeconds,
    otherwise: impl FnOnce() -> Result<Reason, JournalError>,
) -> Result<NodeStatus, JournalError> {
    Ok(if journal.cached_upload(sha256, now)?.is_some() {
        NodeStatus::done()
    } else if journal.ever_uploaded(sha256)? {
        NodeStatus::will_run(Reason::Expired)
    } else {
        NodeStatus::will_run(otherwise()?)
    })
}

fn is_upload(plan: &Plan, index: petgraph::graph::NodeIndex) -> bool {
    matches!(plan.graph[index].detail, NodeDetail::Upload(_))
}

/// Whether the artifact of `key` is in the store, whole (as the executors check before reuse).
fn kept(journal: &Journal, key: &str) -> Result<bool, JournalError> {
    let (Some(record), Some(state_dir)) = (journal.artifact(key)?, journal.state_dir()) else {
        return Ok(false);
    };
    Ok(std::fs::metadata(Path::new(state_dir).join(&record.path)).is_ok_and(|meta| meta.len() == record.size))
}

/// `Changed` with what differs from the parts the node was last made with, or `New`.
fn changed_or_new(
    journal: &Journal,
    plan: &Plan,
    index: petgraph::graph::NodeIndex,
    files: &episodic_plan::FileNames,
) -> Result<Reason, JournalError> {
    let node = &plan.graph[index];
    let Some((_, earlier)) = journal.last_parts(&plan.episode, &node.id)? else { return Ok(Reason::New) };
    let Some(earlier) = Parts::from_json(&earlier) else { return Ok(Reason::New) };
    let changes = plan.parts(index, files).changes_from(&earlier);
    Ok(if changes.is_empty() { Reason::New } else { Reason::Changed(changes) })
}
