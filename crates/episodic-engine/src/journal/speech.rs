//! Lines voiced by ElevenLabs: claimed before the request, the history item id journaled the
//! moment it arrives, completed when the audio is kept. The same claim semantics as renders
//! (`store.rs`): one `BEGIN IMMEDIATE` transaction per decision, owners judged alive by pid,
//! heartbeat and run, and every transition committed with `synchronous=FULL`.

use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

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
        self.write(true, |tx| match load(tx, key)? {
            None => {
                tx.execute(
                    "INSERT INTO speeches (key, voice_id, model_id, request, state, owner_run, owner_pid,
                                           owner_host, claimed_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, 'voicing', ?5, ?6, ?7, ?8, ?8)",
                    params![key, voice_id, model_id, request, owner.run_id.0, owner.pid, owner.host, now],
                )?;
                Ok(SpeechClaim::Claimed)
            }
            Some(record) if record.request != request => {
                Err(JournalError::KeyMismatch { key: key.to_owned() })
            }
            Some(record) => self.settle_speech(tx, record, owner, now),
        })
    }

    /// Claims a failed line again because the user asked (`--retry-failed`).
    pub fn retry_failed_speech(
        &self,
        key: &str,
        owner: &Owner,
        now: UnixSeconds,
    ) -> Result<SpeechClaim, JournalError> {
        self.write(true, |tx| {
            let record = load(tx, key)?.ok_or_else(|| unknown(key))?;
            if let SpeechState::Failed { .. } = record.state {
                reclaim(tx, key, owner, now)?;
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
        self.write(true, |tx| {
            let record = load(tx, key)?.ok_or_else(|| unknown(key))?;
            match self.settle_speech(tx, record, owner, now)? {
                SpeechClaim::Ambiguous { .. } => {
                    reclaim(tx, key, owner, now)?;
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
        self.write(true, |tx| {
            let record = load(tx, key)?.ok_or_else(|| unknown(key))?;
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
                    tx.execute(
                        "UPDATE speeches SET state = 'answered', history_item_id = ?2, request_id = ?3,
                                             answered_at = ?4, owner_run = ?5, owner_pid = ?6,
                                             owner_host = ?7, updated_at = ?4
                         WHERE key = ?1",
                        params![key, history_item_id, request_id, now, owner.run_id.0, owner.pid, owner.host],
                    )?;
                    Ok(())
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
        let characters = to_i64("characters", completion.characters)?;
        let credits = completion.credits.map(|credits| to_i64("credits", credits)).transpose()?;
        let cost = to_i64("cost", completion.cost_micros)?;
        self.write(true, |tx| {
            let record = load(tx, key)?.ok_or_else(|| unknown(key))?;
            match &record.state {
                SpeechState::Voicing { owner: holder, .. } | SpeechState::Answered { owner: holder, .. } => {
                    check_owner(key, holder, owner)?;
                    tx.execute(
                        "UPDATE speeches SET state = 'completed', characters = ?2, credits = ?3,
                                             cost_micros = ?4, aligned = ?5, completed_at = ?6,
                                             completed_by_run = ?7, updated_at = ?6
                         WHERE key = ?1",
                        params![key, characters, credits, cost, completion.aligned, now, owner.run_id.0],
                    )?;
                    Ok(())
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
        self.write(true, |tx| {
            let record = load(tx, key)?.ok_or_else(|| unknown(key))?;
            match &record.state {
                SpeechState::Voicing { owner: holder, .. } | SpeechState::Answered { owner: holder, .. } => {
                    check_owner(key, holder, owner)?;
                    tx.execute(
                        "UPDATE speeches SET state = 'failed', error = ?2, failed_at = ?3, updated_at = ?3
                         WHERE key = ?1",
                        params![key, error, now],
                    )?;
                    Ok(())
                }
                SpeechState::Failed { .. } => Ok(()),
                other => Err(wrong_state(key, "mark failed", other)),
            }
        })
    }

    /// Gives a `Voicing` claim back when the request certainly was not sent or was refused
    /// unbilled; a line with no row is a no-op.
    pub fn release_speech(&self, key: &str, owner: &Owner) -> Result<(), JournalError> {
        self.write(true, |tx| {
            let Some(record) = load(tx, key)? else { return Ok(()) };
            match &record.state {
                SpeechState::Voicing { owner: holder, .. } => {
                    check_owner(key, holder, owner)?;
                    tx.execute("DELETE FROM speeches WHERE key = ?1", params![key])?;
                    Ok(())
                }
                other => Err(wrong_state(key, "release", other)),
            }
        })
    }

    /// The line with this key, if it was ever claimed.
    pub fn speech(&self, key: &str) -> Result<Option<SpeechRecord>, JournalError> {
        load(&self.lock(), key)
    }

    /// Whether a line other than `key` already holds this history item: a history item is the
    /// audio of one line only.
    pub fn history_item_taken(&self, history_item_id: &str, key: &str) -> Result<bool, JournalError> {
        let conn = self.lock();
        let taken = conn
            .query_row(
                "SELECT 1 FROM speeches WHERE history_item_id = ?1 AND key <> ?2",
                params![history_item_id, key],
                |_| Ok(()),
            )
            .optional()?;
        Ok(taken.is_some())
    }

    fn settle_speech(
        &self,
        tx: &Transaction<'_>,
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
                tx.execute(
                    "UPDATE speeches SET owner_run = ?2, owner_pid = ?3, owner_host = ?4, updated_at = ?5
                     WHERE key = ?1",
                    params![record.key, caller.run_id.0, caller.pid, caller.host, now],
                )?;
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

fn reclaim(tx: &Transaction<'_>, key: &str, owner: &Owner, now: UnixSeconds) -> Result<(), JournalError> {
    tx.execute(
        "UPDATE speeches SET state = 'voicing', attempts = attempts + 1, owner_run = ?2, owner_pid = ?3,
                             owner_host = ?4, claimed_at = ?5, history_item_id = NULL, request_id = NULL,
                             answered_at = NULL, error = NULL, failed_at = NULL, updated_at = ?5
         WHERE key = ?1",
        params![key, owner.run_id.0, owner.pid, owner.host, now],
    )?;
    Ok(())
}

fn wrong_state(key: &str, operation: &'static str, state: &SpeechState) -> JournalError {
    JournalError::WrongState { key: key.to_owned(), operation, state: state.name() }
}

fn unknown(key: &str) -> JournalError {
    JournalError::UnknownRender { key: key.to_owned() }
}

const COLUMNS: &str = "key, voice_id, model_id, request, state, attempts, owner_run, owner_pid, owner_host,
    claimed_at, history_item_id, characters, credits, cost_micros, aligned, completed_by_run, error";

fn load(conn: &Connection, key: &str) -> Result<Option<SpeechRecord>, JournalError> {
    conn.query_row(&format!("SELECT {COLUMNS} FROM speeches WHERE key = ?1"), params![key], Raw::read)
        .optional()?
        .map(Raw::decode)
        .transpose()
}

/// A `speeches` row as stored, before its state is checked.
struct Raw {
    key: String,
    voice_id: String,
    model_id: String,
    request: String,
    state: String,
    attempts: u32,
    owner: Owner,
    claimed_at: i64,
    history_item_id: Option<String>,
    characters: Option<i64>,
    credits: Option<i64>,
    cost_micros: Option<i64>,
    aligned: Option<bool>,
    completed_by_run: Option<i64>,
    error: Option<String>,
}

impl Raw {
    fn read(row: &Row<'_>) -> rusqlite::Result<Raw> {
        Ok(Raw {
            key: row.get(0)?,
            voice_id: row.get(1)?,
            model_id: row.get(2)?,
            request: row.get(3)?,
            state: row.get(4)?,
            attempts: row.get(5)?,
            owner: Owner { run_id: RunId(row.get(6)?), pid: row.get(7)?, host: row.get(8)? },
            claimed_at: row.get(9)?,
            history_item_id: row.get(10)?,
            characters: row.get(11)?,
            credits: row.get(12)?,
            cost_micros: row.get(13)?,
            aligned: row.get(14)?,
            completed_by_run: row.get(15)?,
            error: row.get(16)?,
        })
    }

    fn decode(self) -> Result<SpeechRecord, JournalError> {
        let key = self.key;
        let invalid =
            |reason: &str| JournalError::InvalidRow { what: key.clone(), reason: reason.to_owned() };
        let state = match self.state.as_str() {
            "voicing" => SpeechState::Voicing { owner: self.owner, claimed_at: self.claimed_at },
            "answered" => SpeechState::Answered {
                owner: self.owner,
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
            attempts: self.attempts,
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
