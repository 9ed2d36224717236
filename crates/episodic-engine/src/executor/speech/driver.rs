//! The speech driver: does what [`step`] decides, one effect at a time, against the journal,
//! the artifact folder and ElevenLabs, and feeds each outcome back in as an event. Every decision
//! lives in `stage.rs`; this file only performs them.

use super::api::{Alignment, SpeechApi, SpeechError, SpeechRequest, Spoken, find_item};
use super::stage::{ClaimFate, Effect, Event, Policy, Search, SearchReason, Stage, step};
use crate::NodeError;
use crate::events::{EventKind, HistoryWait};
use crate::executor::artifact::Artifacts;
use crate::executor::{Done, Output};
use crate::journal::{Journal, Owner, SpeechCompletion, SpeechState, SpendDecision, now};
use crate::stop::{SpendBreaker, Stop, draining};
use episodic_catalog::Usd;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::watch;

/// One line to voice: what is sent, and what names it in the journal.
pub(crate) struct Job<'a> {
    /// The node id, for events.
    pub(crate) node: &'a str,
    /// The speech key.
    pub(crate) key: &'a str,
    /// The voice.
    pub(crate) voice_id: &'a str,
    /// The request.
    pub(crate) request: SpeechRequest,
    /// The canonical JSON the key was hashed from: what the journal keeps.
    pub(crate) canonical: String,
    /// Characters billed.
    pub(crate) characters: usize,
    /// What it costs at the catalog's price.
    pub(crate) cost: Usd,
}

/// What a driver works with, shared by every line of a run.
pub(crate) struct Driver<'a> {
    /// ElevenLabs, or a script of it.
    pub(crate) api: &'a dyn SpeechApi,
    /// The journal.
    pub(crate) journal: &'a Journal,
    /// This run.
    pub(crate) owner: &'a Owner,
    /// Where the audio and alignment are kept: this machine's folder and the shared store, so
    /// another machine with the same journal takes them instead of fetching them again.
    pub(crate) artifacts: Artifacts<'a>,
    /// What the user allowed.
    pub(crate) policy: Policy,
    /// The run's spending cap.
    pub(crate) cap: Option<Usd>,
    /// Trips on ElevenLabs' first `quota_exceeded`: no line is voiced after.
    pub(crate) breaker: &'a SpendBreaker,
    /// The backend bills nothing (the local studio): what ElevenLabs would charge is reported apart.
    pub(crate) free: bool,
    /// Whether (and how urgently) the run is stopping.
    pub(crate) stop: watch::Receiver<Stop>,
    /// Sends a progress event for this line's node.
    pub(crate) progress: &'a (dyn Fn(EventKind) + Send + Sync),
}

/// The key the alignment of a line is kept under in the artifact table.
pub(crate) fn alignment_key(key: &str) -> String {
    format!("{key}.alignment")
}

impl Driver<'_> {
    /// Drives `job` from its claim to its end.
    pub(crate) async fn run(&self, job: &Job<'_>) -> Result<Done, NodeError> {
        let mut stage = Stage::Start;
        let mut effect = Effect::Claim;
        loop {
            let event = match effect {
                Effect::Reuse(record) => return self.reuse(job, &record.state).await,
                Effect::Keep(spoken) => return self.keep(job, *spoken).await,
                Effect::Fetch { history_item_id, take_over } => {
                    match self.fetch(job, &history_item_id, take_over).await {
                        // The local studio forgets its history when it stops, and voicing there
                        // is free: the line is voiced again instead of failing every rerun.
                        Err(NodeError::Speech { .. }) if self.free => {
                            let forgotten = "the local studio no longer has this line's audio";
                            self.journal.mark_speech_failed(job.key, self.owner, forgotten, now())?;
                            Event::Journal(self.journal.retry_failed_speech(job.key, self.owner, now())?)
                        }
                        other => return other,
                    }
                }
                Effect::Fail { error, claim } => {
                    self.settle_claim(job, &claim)?;
                    return Err(self.name_the_line(job, error));
                }
                effect => self.perform(job, effect).await?,
            };
            let Some((next, next_effect)) = step(&stage, event, &self.policy) else {
                return Err(NodeError::Unexpected(format!(
                    "the speech driver has no way on from {stage:?} for {}",
                    job.node
                )));
            };
            stage = next;
            effect = next_effect;
        }
    }

    async fn perform(&self, job: &Job<'_>, effect: Effect) -> Result<Event, NodeError> {
        let key = job.key;
        let journal = self.journal;
        Ok(match effect {
            Effect::Claim => Event::Journal(journal.claim_speech(
                key,
                job.voice_id,
                &job.request.model_id,
                &job.canonical,
                self.owner,
                now(),
            )?),
            Effect::RetryFailed => Event::Journal(journal.retry_failed_speech(key, self.owner, now())?),
            Effect::ForceRevoice => Event::Journal(journal.force_revoice(key, self.owner, now())?),
            Effect::Pause(pause) => match self.wait(pause).await {
                true => Event::Paused,
                false => Event::Cancelled,
            },
            Effect::Speak { after } => {
                if !self.wait(after).await {
                    return Ok(Event::NotSent(NodeError::Interrupted));
                }
                self.speak(job).await?
            }
            Effect::SearchHistory { search, after, announce } => {
                if announce {
                    self.announce(job, &search);
                }
                if !self.wait(after).await {
                    return Ok(Event::Cancelled);
                }
                match self.api.history(job.voice_id).await {
                    Ok(items) => {
                        let taken = |id: &str| journal.history_item_taken(id, key);
                        match find_item(&items, job.voice_id, &job.request, search.since, taken)? {
                            Some(item) => Event::Found { history_item_id: item.history_item_id.clone() },
                            None => Event::Absent { at: now() },
                        }
                    }
                    Err(error) => Event::HistoryUnreadable { at: now(), error: error.to_string() },
                }
            }
            Effect::Reuse(_) | Effect::Keep(_) | Effect::Fetch { .. } | Effect::Fail { .. } => {
                return Err(NodeError::Unexpected("a final effect reached perform".into()));
            }
        })
    }

    /// Checks what may stop a request, then sends it.
    async fn speak(&self, job: &Job<'_>) -> Result<Event, NodeError> {
        if self.stop.borrow().is_stopping() {
            return Ok(Event::NotSent(NodeError::Interrupted));
        }
        if self.breaker.is_tripped() {
            return Ok(Event::NotSent(NodeError::SpeechStopped));
        }
        // The journal's word counts across machines: renders and lines of every run of the batch
        // share one budget.
        let cap = self.cap.map(Usd::micros);
        match self.journal.reserve_speech_spend(job.key, self.owner, job.cost.micros(), cap)? {
            SpendDecision::OverBudget { committed_micros } => {
                let (spent, cap) = (Usd::from_micros(committed_micros), self.cap.unwrap_or(Usd::ZERO));
                return Ok(Event::NotSent(NodeError::SpeechOverBudget { estimate: job.cost, spent, cap }));
            }
            // Only renders consult fal's out-of-credit breaker.
            SpendDecision::Reserved | SpendDecision::OutOfCredit { .. } => {}
        }
        // Not raced with the stop signal: an answer in flight is kept before the run ends.
        Ok(match self.api.speak_with_timestamps(job.voice_id, &job.request).await {
            Ok(spoken) => Event::Answered(Box::new(spoken)),
            Err(SpeechError::AnswerLost { .. }) => Event::AnswerLost { at: now() },
            Err(error) => {
                if matches!(error, SpeechError::QuotaExceeded { .. }) {
                    self.breaker.trip();
                }
                Event::Refused(error)
            }
        })
    }

    /// Journals the history item the moment the answer is in, keeps the audio and alignment,
    /// journals the line done.
    async fn keep(&self, job: &Job<'_>, spoken: Spoken) -> Result<Done, NodeError> {
        if let Some(history_item_id) = &spoken.history_item_id {
            self.journal.mark_speech_answered(
                job.key,
                self.owner,
                history_item_id,
                spoken.request_id.as_deref(),
                false,
                now(),
            )?;
        }
        let audio = self.store(job.key, &spoken.audio, "mp3").await?;
        let alignment = match &spoken.alignment {
            Some(alignment) => Some(self.store_alignment(job.key, alignment).await?),
            None => None,
        };
        let completion = SpeechCompletion {
            characters: job.characters as u64,
            credits: spoken.character_cost,
            cost_micros: job.cost.micros(),
            aligned: alignment.is_some(),
        };
        self.journal.mark_speech_completed(job.key, self.owner, &completion, now())?;
        if let Some(history_item_id) = &spoken.history_item_id {
            (self.progress)(EventKind::NodeProgress {
                node: job.node.to_owned(),
                queue_position: None,
                log: Some(format!("voiced: ElevenLabs history item {history_item_id}")),
                request_id: None,
            });
        }
        Ok(self.done(job, audio, alignment, spoken.history_item_id, false))
    }

    /// Takes the audio of a history item instead of voicing the line again.
    async fn fetch(&self, job: &Job<'_>, history_item_id: &str, take_over: bool) -> Result<Done, NodeError> {
        self.journal.mark_speech_answered(job.key, self.owner, history_item_id, None, take_over, now())?;
        (self.progress)(EventKind::NodeProgress {
            node: job.node.to_owned(),
            queue_position: None,
            log: Some(format!(
                "found in ElevenLabs' history as {history_item_id}: its audio is fetched, the line is not voiced again"
            )),
            request_id: None,
        });
        // Failing here leaves the line answered: the next run fetches it again, free.
        let bytes =
            self.api.history_audio(history_item_id).await.map_err(|error| self.refusal(job, error))?;
        let audio = self.store(job.key, &bytes, "mp3").await?;
        let alignment = self.align_recovered(job, &bytes).await?;
        let completion = SpeechCompletion {
            characters: job.characters as u64,
            credits: None,
            cost_micros: job.cost.micros(),
            aligned: alignment.is_some(),
        };
        self.journal.mark_speech_completed(job.key, self.owner, &completion, now())?;
        Ok(self.done(job, audio, alignment, Some(history_item_id.to_owned()), false))
    }

    /// The history keeps a line's audio but not its timings: forced alignment of the exact text
    /// against that audio gives the captions their words back. A refusal leaves the line without
    /// captions (said in its progress), never unvoiced: the audio is paid for and kept.
    async fn align_recovered(
        &self,
        job: &Job<'_>,
        audio: &[u8],
    ) -> Result<Option<(PathBuf, String)>, NodeError> {
        match self.api.forced_alignment(audio, &job.request.text).await {
            Ok(times) => {
                let alignment = Alignment {
                    character_start_times_seconds: times.characters.iter().map(|c| c.start).collect(),
                    character_end_times_seconds: times.characters.iter().map(|c| c.end).collect(),
                    characters: times.characters.into_iter().map(|c| c.text).collect(),
                };
                Ok(Some(self.store_alignment(job.key, &alignment).await?))
            }
            Err(error) => {
                (self.progress)(EventKind::NodeProgress {
                    node: job.node.to_owned(),
                    queue_position: None,
                    log: Some(format!("its words could not be timed again, so it has no captions: {error}")),
                    request_id: None,
                });
                Ok(None)
            }
        }
    }

    /// What an earlier run kept; audio gone from the artifact folder is fetched from the history.
    async fn reuse(&self, job: &Job<'_>, state: &SpeechState) -> Result<Done, NodeError> {
        let SpeechState::Completed { history_item_id, aligned, .. } = state else {
            return Err(NodeError::Unexpected("the journal called a line done without its audio".into()));
        };
        let alignment = if *aligned { self.existing(&alignment_key(job.key)).await? } else { None };
        if let Some(audio) = self.existing(job.key).await? {
            return Ok(self.done(job, audio, alignment, history_item_id.clone(), true));
        }
        let Some(history_item_id) = history_item_id else {
            return Err(NodeError::Unexpected(format!(
                "the audio of {} is gone from the state folder and ElevenLabs gave it no history item",
                job.node
            )));
        };
        let bytes =
            self.api.history_audio(history_item_id).await.map_err(|error| self.refusal(job, error))?;
        let audio = self.store(job.key, &bytes, "mp3").await?;
        let alignment = match alignment {
            Some(alignment) => Some(alignment),
            None => self.align_recovered(job, &bytes).await?,
        };
        Ok(self.done(job, audio, alignment, Some(history_item_id.clone()), true))
    }

    fn done(
        &self,
        job: &Job<'_>,
        audio: (PathBuf, String),
        alignment: Option<(PathBuf, String)>,
        history_item_id: Option<String>,
        reused: bool,
    ) -> Done {
        let output = Output::Speech {
            audio: audio.0,
            sha256: audio.1,
            alignment: alignment.map(|(path, _)| path),
            seconds: None,
        };
        if reused {
            let mut done = Done::cached(output);
            done.request_id = history_item_id;
            return done;
        }
        // The local studio bills nothing; what ElevenLabs would have charged is reported apart.
        let cost = if self.free { Usd::ZERO } else { job.cost };
        Done {
            output,
            cache_hit: false,
            cost,
            list_cost: job.cost,
            request_id: history_item_id,
            fallback: None,
        }
    }

    /// Writes `bytes` into the artifact folder under their hash and records them for `key`
    /// (published to the shared store too, when there is one).
    async fn store(&self, key: &str, bytes: &[u8], extension: &str) -> Result<(PathBuf, String), NodeError> {
        let part = self.artifacts.scratch(extension);
        tokio::fs::write(&part, bytes)
            .await
            .map_err(|source| NodeError::Io { what: format!("cannot write `{}`", part.display()), source })?;
        let kept = self.artifacts.adopt(key, &part, extension).await?;
        Ok((kept.path, kept.sha256))
    }

    async fn store_alignment(
        &self,
        key: &str,
        alignment: &Alignment,
    ) -> Result<(PathBuf, String), NodeError> {
        let json = serde_json::to_vec(alignment)
            .map_err(|error| NodeError::Unexpected(format!("the alignment cannot be written: {error}")))?;
        self.store(&alignment_key(key), &json, "json").await
    }

    /// The file kept for `key`, if it is still there whole (or another machine's, from the
    /// shared store).
    async fn existing(&self, key: &str) -> Result<Option<(PathBuf, String)>, NodeError> {
        Ok(self.artifacts.existing(key).await?.map(|kept| (kept.path, kept.sha256)))
    }

    fn settle_claim(&self, job: &Job<'_>, claim: &ClaimFate) -> Result<(), NodeError> {
        match claim {
            ClaimFate::Keep => {}
            ClaimFate::Release => self.journal.release_speech(job.key, self.owner)?,
            ClaimFate::MarkFailed(message) => {
                self.journal.mark_speech_failed(job.key, self.owner, message, now())?
            }
        }
        Ok(())
    }

    /// ElevenLabs' refusal, with the line and the voice it was about.
    fn refusal(&self, job: &Job<'_>, error: SpeechError) -> NodeError {
        NodeError::Speech { error, voice_id: job.voice_id.to_owned(), line: excerpt(&job.request.text) }
    }

    fn name_the_line(&self, job: &Job<'_>, error: NodeError) -> NodeError {
        match error {
            NodeError::Speech { error, .. } => self.refusal(job, error),
            other => other,
        }
    }

    async fn wait(&self, pause: Duration) -> bool {
        if self.stop.borrow().is_stopping() {
            return false;
        }
        if pause.is_zero() {
            return true;
        }
        tokio::select! {
            () = tokio::time::sleep(pause) => true,
            () = draining(self.stop.clone()) => false,
        }
    }

    fn announce(&self, job: &Job<'_>, search: &Search) {
        let reason = match &search.reason {
            SearchReason::LostAnswer { lost } => HistoryWait::SpeechAnswerLost { lost: *lost },
            SearchReason::Orphan { owner } => HistoryWait::SpeechCrashed { owner: owner.clone() },
        };
        (self.progress)(EventKind::AwaitingHistory {
            node: job.node.to_owned(),
            reason,
            until_unix: search.deadline,
        });
    }
}

/// A line shortened for messages: its first 60 characters.
fn excerpt(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(60).collect();
    if chars.next().is_some() { format!("{head}…") } else { head }
}

#[cfg(test)]
#[path = "driver_tests.rs"]
mod tests;
