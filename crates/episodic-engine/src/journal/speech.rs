//! Lines voiced by ElevenLabs: claimed before the request, the history item id journaled the
//! moment it arrives, completed when the audio is kept. The same claim semantics as renders
//! (`store.rs`): one transaction per decision that reads the line's row locked (see `backend.rs`),
//! owners judged alive by pid, heartbeat and run, and every transition a [`TxMode::Durable`]
//! commit. Both backends keep lines; on a shared PostgreSQL journal two machines never voice one
//! line twice.

use super::backend::{StoredSpeechCompletion, Tx, TxMode};
use super::error::JournalError;
use super::record::{Owner, RunId, UnixSeconds};
use super::store::{Journal, check_owner, to_i64, to_u64};

/// Where a line is in its life. A line with no row is planned but not claimed yet.
#[derive(Debug, Clone, PartialEq)]
pub enum SpeechState {
    /// Claimed by `owner`, whose request is about to go (or went, and the run died before its
    /// answer was journaled).
    Voicing {
        /// The claim's holder.
        owner: Owner,
        /// When it was claimed.
        claimed_at: UnixSeconds,
    },
    /// ElevenLabs answered with `history_item_id`, and the audio is not kept yet: it can be
    /// fetched from the history without paying again.
    Answered {
        /// The claim's holder.
        owner: Owner,
        /// ElevenLabs' history item id.
        history_item_id: String,
    },
    /// Voiced and kept: the audio (and alignment, when `aligned`) are artifacts of the key.
    Completed {
        /// ElevenLabs' history item id, when it sent one.
        history_item_id: Option<String>,
        /// Characters billed.
        characters: u64,
        /// Credits ElevenLabs says it charged, when it said.
        credits: Option<u64>,
        /// The cost in micro-dollars, from the catalog's price per character.
        cost_micros: u64,
        /// Whether the character timings were kept (a line found in the history has none).
        aligned: bool,
        /// The run that completed it.
        completed_by: RunId,
    },
    /// ElevenLabs refused it; voiced again only when the user asks.
    Failed {
        /// What went wrong.
        error: String,
    },
}

impl SpeechState {
    /// The state's name as stored.
    pub fn name(&self) -> &'static str {
        match self {
            SpeechState::Voicing { .. } => "voicing",
            SpeechState::Answered { .. } => "answered",
            SpeechState::Completed { .. } => "completed",
            SpeechState::Failed { .. } => "failed",
        }
    }
}

/// One line in the journal.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeechRecord {
    /// The speech node's key.
    pub key: String,
    /// The ElevenLabs voice id.
    pub voice_id: String,
    /// The ElevenLabs model id.
    pub model_id: String,
    /// The canonical JSON the key was hashed from.
    pub request: String,
    /// Where it is.
    pub state: SpeechState,
    /// Claims so far (more than one only after a retry or a forced revoice).
    pub attempts: u32,
}

/// What `claim_speech` decided; each answer says what the caller must do next.
#[derive(Debug, Clone, PartialEq)]
pub enum SpeechClaim {
    /// Now `Voicing`, owned by the caller: send the request.
    Claimed,
    /// Voiced earlier: reuse it, send nothing.
    Done(Box<SpeechRecord>),
    /// Answered earlier but the audio was not kept: fetch it from the history, send nothing.
    /// The caller now owns the line.
    Fetch {
        /// ElevenLabs' history item id.
        history_item_id: String,
    },
    /// Another live process holds it.
    Busy {
        /// The live owner.
        owner: Owner,
    },
    /// A `Voicing` claim whose process is gone: the request may or may not have reached
    /// ElevenLabs. Its history settles it.
    Ambiguous {
        /// The dead owner.
        owner: Owner,
        /// When it claimed the line.
        claimed_at: UnixSeconds,
    },
    /// Refused earlier.
    Failed {
        /// What went wrong.
        error: String,
    },
}

/// What a completed line cost and kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpeechCompletion {
    /// Characters billed.
    pub characters: u64,
    /// Credits ElevenLabs says it charged.
    pub credits: Option<u64>,
    /// Cost in micro-dollars.
    pub cost_micros: u64,
    /// Whether the alignment was kept.
    pub aligned: bool,
}

impl Journal {
    /// Claims a line for voicing, or says why not. `request` is the canonical JSON the key was
    /// hashed from; a key seen with another request is refused.
    pub fn claim_speech(
        &self,
        key: &str,
        voice_id: &str,
        model_id: &str,
        request: &str,
        owner: &Owner,
        now: UnixSeconds,
    ) -> Result<SpeechClaim, JournalError> {
        self.transaction(TxMode::Durable, |tx| {
            let record = match tx.speech(key, true)? {
                Some(record) => record,
                None if tx.insert_speech_claim(key, voice_id, model_id, request, owner, now)? => {
                    return Ok(SpeechClaim::Claimed);
                }
                // Another transaction inserted it between our read and our insert.
                None => tx.speech(key, true)?.ok_or_else(|| unknown(key))?,
            };
            if record.request != request {
                return Err(JournalError::KeyMismatch { key: key.to_owned() });
            }
            self.settle_speech(tx, record, owner, now)
        })
    }

    /// Claims a failed line again because the user asked (`--retry-failed`).
    pub fn retry_failed_speech(
        &self,
        key: &str,
        owner: &Owner,
        now: UnixSeconds,
    ) -> Result<SpeechClaim, JournalError> {
        self.transaction(TxMode::Durable, |tx| {
            let record = tx.speech(key, true)?.ok_or_else(|| unknown(key))?;
            if let SpeechState::Failed { .. } = record.state {
                tx.reclaim_speech(key, owner, now)?;
                return Ok(SpeechClaim::Claimed);
            }
            self.settle_speech(tx, record, owner, now)
        })
    }

    /// Claims an `Ambiguous` line to voice it again (the history did not show it, or the user
    /// decided): `Claimed` if its owner is still gone, otherwise what a claim answers now.
    pub fn force_revoice(
        &self,
        key: &str,
        owner: &Owner,
        now: UnixSeconds,
    ) -> Result<SpeechClaim, JournalError> {
        self.transaction(TxMode::Durable, |tx| {
            let record = tx.speech(key, true)?.ok_or_else(|| unknown(key))?;
            match self.settle_speech(tx, record, owner, now)? {
                SpeechClaim::Ambiguous { .. } => {
                    tx.reclaim_speech(key, owner, now)?;
                    Ok(SpeechClaim::Claimed)
                }
                other => Ok(other),
            }
        })
    }

    /// Journals ElevenLabs' answer the moment it arrives (durable before it returns). A dead
    /// run's `Voicing` claim is taken over when `take_over` (its request was found in the
    /// history); the same id again is a no-op.
    pub fn mark_speech_answered(
        &self,
        key: &str,
        owner: &Owner,
        history_item_id: &str,
        request_id: Option<&str>,
        take_over: bool,
        now: UnixSeconds,
    ) -> Result<(), JournalError> {
        self.transaction(TxMode::Durable, |tx| {
            let record = tx.speech(key, true)?.ok_or_else(|| unknown(key))?;
            match &record.state {
                SpeechState::Voicing { owner: holder, .. } => {
                    if !take_over {
                        check_owner(key, holder, owner)?;
                    } else if holder.run_id != owner.run_id && self.alive(tx, holder, owner, now)? {
                        return Err(JournalError::NotOwner {
                            key: key.to_owned(),
                            owner: holder.run_id,
                            caller: owner.run_id,
                        });
                    }
                    tx.set_speech_answered(key, history_item_id, request_id, owner, now)
                }
                SpeechState::Answered { owner: holder, history_item_id: recorded } => {
                    check_owner(key, holder, owner)?;
                    if recorded != history_item_id {
                        return Err(JournalError::ConflictingRequestId {
                            key: key.to_owned(),
                            recorded: recorded.clone(),
                            given: history_item_id.to_owned(),
                        });
                    }
                    Ok(())
                }
                other => Err(wrong_state(key, "mark answered", other)),
            }
        })
    }

    /// Journals a kept line and what it cost; the cost counts for `owner`'s run. Completing a
    /// completed line changes nothing.
    pub fn mark_speech_completed(
        &self,
        key: &str,
        owner: &Owner,
        completion: &SpeechCompletion,
        now: UnixSeconds,
    ) -> Result<(), JournalError> {
        let stored = StoredSpeechCompletion {
            characters: to_i64("characters", completion.characters)?,
            credits: completion.credits.map(|credits| to_i64("credits", credits)).transpose()?,
            cost_micros: to_i64("cost", completion.cost_micros)?,
            aligned: completion.aligned,
        };
        self.transaction(TxMode::Durable, |tx| {
            let record = tx.speech(key, true)?.ok_or_else(|| unknown(key))?;
            match &record.state {
                SpeechState::Voicing { owner: holder, .. } | SpeechState::Answered { owner: holder, .. } => {
                    check_owner(key, holder, owner)?;
                    tx.set_speech_completed(key, &stored, owner.run_id, now)
                }
                SpeechState::Completed { .. } => Ok(()),
                other => Err(wrong_state(key, "mark completed", other)),
            }
        })
    }

    /// Journals that ElevenLabs refused the line (the same request would be refused again).
    pub fn mark_speech_failed(
        &self,
        key: &str,
        owner: &Owner,
        error: &str,
        now: UnixSeconds,
    ) -> Result<(), JournalError> {
        self.transaction(TxMode::Durable, |tx| {
            let record = tx.speech(key, true)?.ok_or_else(|| unknown(key))?;
            match &record.state {
                SpeechState::Voicing { owner: holder, .. } | SpeechState::Answered { owner: holder, .. } => {
                    check_owner(key, holder, owner)?;
                    tx.set_speech_failed(key, error, now)
                }
                SpeechState::Failed { .. } => Ok(()),
                other => Err(wrong_state(key, "mark failed", other)),
            }
        })
    }

    /// Gives a `Voicing` claim back when the request certainly was not sent or was refused
    /// unbilled; a line with no row is a no-op.
    pub fn release_speech(&self, key: &str, owner: &Owner) -> Result<(), JournalError> {
        self.transaction(TxMode::Durable, |tx| {
            let Some(record) = tx.speech(key, true)? else { return Ok(()) };
            match &record.state {
                SpeechState::Voicing { owner: holder, .. } => {
                    check_owner(key, holder, owner)?;
                    tx.delete_speech(key)
                }
                other => Err(wrong_state(key, "release", other)),
            }
        })
    }

    /// The line with this key, if it was ever claimed.
    pub fn speech(&self, key: &str) -> Result<Option<SpeechRecord>, JournalError> {
        self.transaction(TxMode::Read, |tx| tx.speech(key, false))
    }

    /// Whether a line other than `key` already holds this history item: a history item is the
    /// audio of one line only.
    pub fn history_item_taken(&self, history_item_id: &str, key: &str) -> Result<bool, JournalError> {
        self.transaction(TxMode::Read, |tx| tx.history_item_taken(history_item_id, key))
    }

    fn settle_speech(
        &self,
        tx: &mut dyn Tx,
        record: SpeechRecord,
        caller: &Owner,
        now: UnixSeconds,
    ) -> Result<SpeechClaim, JournalError> {
        match record.state {
            SpeechState::Completed { .. } => Ok(SpeechClaim::Done(Box::new(record))),
            SpeechState::Failed { error } => Ok(SpeechClaim::Failed { error }),
            SpeechState::Answered { owner, history_item_id } => {
                if owner.run_id == caller.run_id {
                    return Ok(SpeechClaim::Fetch { history_item_id });
                }
                if self.alive(tx, &owner, caller, now)? {
                    return Ok(SpeechClaim::Busy { owner });
                }
                tx.set_speech_owner(&record.key, caller, now)?;
                Ok(SpeechClaim::Fetch { history_item_id })
            }
            SpeechState::Voicing { owner, claimed_at } => {
                if owner.run_id == caller.run_id || self.alive(tx, &owner, caller, now)? {
                    Ok(SpeechClaim::Busy { owner })
                } else {
                    Ok(SpeechClaim::Ambiguous { owner, claimed_at })
                }
            }
        }
    }
}

fn wrong_state(key: &str, operation: &'static str, state: &SpeechState) -> JournalError {
    JournalError::WrongState { key: key.to_owned(), operation, state: state.name() }
}

fn unknown(key: &str) -> JournalError {
    JournalError::UnknownRender { key: key.to_owned() }
}

/// The columns of a `speeches` row, in the order [`RawSpeech`] reads them.
pub(crate) const SPEECH_COLUMNS: &str =
    "key, voice_id, model_id, request, state, attempts, owner_run, owner_pid, owner_host,
    claimed_at, history_item_id, characters, credits, cost_micros, aligned, completed_by_run, error";

/// A `speeches` row as stored, before its state is checked; each backend fills it from its row.
pub(crate) struct RawSpeech {
    pub(crate) key: String,
    pub(crate) voice_id: String,
    pub(crate) model_id: String,
    pub(crate) request: String,
    pub(crate) state: String,
    pub(crate) attempts: i64,
    pub(crate) owner_run: i64,
    pub(crate) owner_pid: i64,
    pub(crate) owner_host: String,
    pub(crate) claimed_at: i64,
    pub(crate) history_item_id: Option<String>,
    pub(crate) characters: Option<i64>,
    pub(crate) credits: Option<i64>,
    pub(crate) cost_micros: Option<i64>,
    pub(crate) aligned: Option<bool>,
    pub(crate) completed_by_run: Option<i64>,
    pub(crate) error: Option<String>,
}

impl RawSpeech {
    /// The record, or why the row cannot be one.
    pub(crate) fn decode(self) -> Result<SpeechRecord, JournalError> {
        let key = self.key;
        let invalid =
            |reason: &str| JournalError::InvalidRow { what: key.clone(), reason: reason.to_owned() };
        let pid = u32::try_from(self.owner_pid).map_err(|_| invalid("owner pid out of range"))?;
        let attempts = u32::try_from(self.attempts).map_err(|_| invalid("attempts out of range"))?;
        let owner = Owner { run_id: RunId(self.owner_run), pid, host: self.owner_host };
        let state = match self.state.as_str() {
            "voicing" => SpeechState::Voicing { owner, claimed_at: self.claimed_at },
            "answered" => SpeechState::Answered {
                owner,
                history_item_id: self
                    .history_item_id
                    .ok_or_else(|| invalid("answered without a history item"))?,
            },
            "completed" => SpeechState::Completed {
                history_item_id: self.history_item_id,
                characters: to_u64(
                    &key,
                    self.characters.ok_or_else(|| invalid("completed without characters"))?,
                )?,
                credits: self.credits.map(|credits| to_u64(&key, credits)).transpose()?,
                cost_micros: to_u64(
                    &key,
                    self.cost_micros.ok_or_else(|| invalid("completed without a cost"))?,
                )?,
                aligned: self.aligned.ok_or_else(|| invalid("completed without `aligned`"))?,
                completed_by: RunId(self.completed_by_run.ok_or_else(|| invalid("completed without a run"))?),
            },
            "failed" => {
                SpeechState::Failed { error: self.error.ok_or_else(|| invalid("failed without an error"))? }
            }
            other => return Err(invalid(&format!("unknown state {other:?}"))),
        };
        Ok(SpeechRecord {
            key,
            voice_id: self.voice_id,
            model_id: self.model_id,
            request: self.request,
            state,
            attempts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::Process;

    fn live(journal: &Journal) -> Owner {
        journal.start_run(&Process::current(), &[], 100).unwrap()
    }

    fn claim(journal: &Journal, owner: &Owner, now: UnixSeconds) -> SpeechClaim {
        journal.claim_speech("k", "voice", "eleven_v3", r#"{"text":"hi"}"#, owner, now).unwrap()
    }

    const DONE: SpeechCompletion =
        SpeechCompletion { characters: 2, credits: Some(2), cost_micros: 200, aligned: true };

    #[test]
    fn a_line_is_claimed_answered_completed_then_reused() {
        let journal = Journal::open_in_memory().unwrap();
        let me = live(&journal);
        assert_eq!(claim(&journal, &me, 100), SpeechClaim::Claimed);
        assert_eq!(
            claim(&journal, &me, 100),
            SpeechClaim::Busy { owner: me.clone() },
            "our other task holds it"
        );
        journal.mark_speech_answered("k", &me, "hist-1", Some("req-1"), false, 101).unwrap();
        journal.mark_speech_answered("k", &me, "hist-1", Some("req-1"), false, 101).unwrap();
        assert!(journal.mark_speech_answered("k", &me, "hist-2", None, false, 101).is_err());
        journal.mark_speech_completed("k", &me, &DONE, 102).unwrap();
        assert_eq!(journal.spent_micros(me.run_id).unwrap(), 200);
        let later = live(&journal);
        let SpeechClaim::Done(record) = claim(&journal, &later, 103) else { panic!("reused") };
        assert!(matches!(record.state, SpeechState::Completed { aligned: true, cost_micros: 200, .. }));
        assert!(journal.history_item_taken("hist-1", "other").unwrap());
        assert!(!journal.history_item_taken("hist-1", "k").unwrap());
        let error =
            journal.claim_speech("k", "voice", "eleven_v3", r#"{"text":"bye"}"#, &later, 104).unwrap_err();
        assert!(matches!(error, JournalError::KeyMismatch { .. }));
    }

    #[test]
    fn a_dead_runs_claims_are_ambiguous_or_fetched() {
        let journal = Journal::open_in_memory().unwrap();
        let dead = journal.start_run(&Process { pid: 1, host: "gone".into() }, &[], 100).unwrap();
        journal.finish_run(dead.run_id, crate::journal::RunOutcome::Failed, 100).unwrap();
        assert_eq!(claim(&journal, &dead, 100), SpeechClaim::Claimed);
        let me = live(&journal);
        assert_eq!(
            claim(&journal, &me, 101),
            SpeechClaim::Ambiguous { owner: dead.clone(), claimed_at: 100 }
        );
        // Found in the history: taken over with its history item.
        journal.mark_speech_answered("k", &me, "hist-9", None, true, 102).unwrap();
        assert_eq!(claim(&journal, &me, 103), SpeechClaim::Fetch { history_item_id: "hist-9".into() });
        journal.mark_speech_completed("k", &me, &DONE, 104).unwrap();

        journal.claim_speech("j", "voice", "eleven_v3", "{}", &dead, 100).unwrap();
        assert_eq!(journal.force_revoice("j", &me, 105).unwrap(), SpeechClaim::Claimed);
        journal.mark_speech_failed("j", &me, "voice_not_found", 106).unwrap();
        assert_eq!(
            journal.claim_speech("j", "voice", "eleven_v3", "{}", &me, 107).unwrap(),
            SpeechClaim::Failed { error: "voice_not_found".into() }
        );
        assert_eq!(journal.retry_failed_speech("j", &me, 108).unwrap(), SpeechClaim::Claimed);
        journal.release_speech("j", &me).unwrap();
        assert_eq!(journal.speech("j").unwrap(), None);
    }
}
