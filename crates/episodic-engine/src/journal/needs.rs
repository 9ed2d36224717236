//! What each journaled episode needs (SQLite schema 3, PostgreSQL schema 2): every run records,
//! before it starts any node, the nodes of each episode's plan; `episodic cache ls` and `cache gc`
//! read it back with the artifacts, uploads and paid renders in one snapshot, and gc forgets
//! artifacts in the same transaction it decides in, holding the lock that makes a run recording
//! its needs wait (`Tx::lock_needs`), so that run is never half-seen.

use std::collections::HashMap;

use super::backend::{Tx, TxMode};
use super::error::JournalError;
use super::record::{ArtifactRecord, RunId, UnixSeconds, UploadRecord};
use super::store::{Journal, to_u64};

/// One node of an episode's plan, as recorded for the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeededNode {
    /// Its id in the plan (`compose/cold-open`).
    pub id: String,
    /// Its kind (`upload`, `render`, `download`, `compose`, `audio`, `concat`).
    pub kind: String,
    /// Its content key.
    pub key: String,
    /// For a download: the key of the render whose clip it holds.
    pub render_key: Option<String>,
    /// For an upload: the sha256 of the file.
    pub sha256: Option<String>,
}

/// Everything one episode's current plan needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpisodeNeeds {
    /// The episode's output file, absolute: what identifies it.
    pub output: String,
    /// The manifest's episode id.
    pub episode: String,
    /// The manifest, as given.
    pub manifest: String,
    /// Its plan's nodes.
    pub nodes: Vec<NeededNode>,
}

/// A journaled episode.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EpisodeRow {
    /// Its output file.
    pub output: String,
    /// Its episode id.
    pub episode: String,
    /// Its manifest.
    pub manifest: String,
    /// When a run last planned it.
    pub planned_at: UnixSeconds,
}

/// A node of a journaled episode that needs a key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Need {
    /// The episode id.
    pub episode: String,
    /// Its output file.
    pub output: String,
    /// The node id.
    pub node: String,
}

/// What made a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The node kind.
    pub kind: String,
    /// A download's render key.
    pub render_key: Option<String>,
    /// An upload's file sha256.
    pub sha256: Option<String>,
}

/// A completed render's payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Payment {
    /// What it cost, in micro-dollars (0 on the local studio).
    pub cost_micros: u64,
    /// When it completed (was paid for).
    pub completed_at: UnixSeconds,
}

/// One consistent snapshot of what the cache holds and what needs it.
#[derive(Debug, Clone, Default)]
pub struct CacheSnapshot {
    /// Every artifact row.
    pub artifacts: Vec<ArtifactRecord>,
    /// Every upload row.
    pub uploads: Vec<UploadRecord>,
    /// Every journaled episode.
    pub episodes: Vec<EpisodeRow>,
    /// Who needs each key.
    pub needs: HashMap<String, Vec<Need>>,
    /// What made each key, when a run recorded it.
    pub origins: HashMap<String, Origin>,
    /// Completed renders by key.
    pub payments: HashMap<String, Payment>,
}

impl Journal {
    /// Records `needs` as what its episode needs now, replacing what an earlier run recorded
    /// for the same output, and remembers each key's origin.
    pub fn record_needs(
        &self,
        needs: &EpisodeNeeds,
        run: RunId,
        now: UnixSeconds,
    ) -> Result<(), JournalError> {
        self.transaction(TxMode::Write, |tx| tx.replace_needs(needs, run, now))
    }

    /// What the cache holds and what needs it, read in one transaction.
    pub fn cache_snapshot(&self) -> Result<CacheSnapshot, JournalError> {
        self.transaction(TxMode::Read, read_snapshot)
    }

    /// Reads the snapshot and forgets the artifacts `decide` picks, in one write transaction:
    /// a run that records its needs does so wholly before or wholly after. A row is forgotten
    /// only if it still names the path it was decided on. Returns the snapshot decided on and
    /// the rows forgotten; the caller removes their files once no kept row names them.
    pub fn forget_artifacts(
        &self,
        decide: impl FnOnce(&CacheSnapshot) -> Vec<ArtifactRecord> + Send,
    ) -> Result<(CacheSnapshot, Vec<ArtifactRecord>), JournalError> {
        // `decide` runs once. A backend that runs a transaction again after a transient failure
        // has let go of the lock in between, so the decision would be stale: that attempt fails
        // instead, having changed nothing.
        let mut decide = Some(decide);
        self.transaction(TxMode::Write, |tx| {
            let decide = decide.take().ok_or(JournalError::Interrupted)?;
            tx.lock_needs()?;
            let snapshot = read_snapshot(tx)?;
            let chosen = decide(&snapshot);
            let mut forgotten = Vec::with_capacity(chosen.len());
            for record in chosen {
                let path = record.path.to_string_lossy().replace('\\', "/");
                if tx.delete_artifact_at(&record.key, &path)? {
                    forgotten.push(record);
                }
            }
            Ok((snapshot, forgotten))
        })
    }
}

fn read_snapshot(tx: &mut dyn Tx) -> Result<CacheSnapshot, JournalError> {
    let mut needs: HashMap<String, Vec<Need>> = HashMap::new();
    for (key, need) in tx.needs()? {
        needs.entry(key).or_default().push(need);
    }
    let payments = tx
        .payments()?
        .into_iter()
        .map(|(key, cost, completed_at)| {
            Ok((key.clone(), Payment { cost_micros: to_u64(&key, cost)?, completed_at }))
        })
        .collect::<Result<HashMap<_, _>, JournalError>>()?;
    Ok(CacheSnapshot {
        artifacts: tx.all_artifacts()?,
        uploads: tx.all_uploads()?,
        episodes: tx.episodes()?,
        needs,
        origins: tx.origins()?.into_iter().collect(),
        payments,
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::journal::{Process, RunOutcome};

    fn needs(output: &str, keys: &[(&str, &str)]) -> EpisodeNeeds {
        EpisodeNeeds {
            output: output.to_owned(),
            episode: "ep".to_owned(),
            manifest: "ep.yaml".to_owned(),
            nodes: keys
                .iter()
                .map(|(id, key)| NeededNode {
                    id: (*id).to_owned(),
                    kind: id.split('/').next().unwrap_or("").to_owned(),
                    key: (*key).to_owned(),
                    render_key: id.starts_with("download").then(|| format!("r-{key}")),
                    sha256: None,
                })
                .collect(),
        }
    }

    fn artifact(key: &str) -> ArtifactRecord {
        ArtifactRecord {
            key: key.to_owned(),
            path: PathBuf::from(format!("artifacts/{key}.mp4")),
            sha256: key.to_owned(),
            size: 10,
            created_at: 5,
        }
    }

    #[test]
    fn a_later_run_of_an_output_replaces_what_it_needs_and_origins_stay() {
        let journal = Journal::open_in_memory().unwrap();
        let owner = journal.start_run(&Process::current(), &[], 1).unwrap();
        journal
            .record_needs(&needs("/o/ep.mp4", &[("download/a", "k1"), ("compose/a", "k2")]), owner.run_id, 1)
            .unwrap();
        journal.record_needs(&needs("/o/ep.preview.mp4", &[("compose/a", "k2")]), owner.run_id, 1).unwrap();
        journal.record_needs(&needs("/o/ep.mp4", &[("download/a", "k3")]), owner.run_id, 2).unwrap();
        journal.finish_run(owner.run_id, RunOutcome::Succeeded, 3).unwrap();
        let snapshot = journal.cache_snapshot().unwrap();
        assert_eq!(snapshot.episodes.len(), 2);
        assert!(!snapshot.needs.contains_key("k1"), "replaced by the later run");
        assert_eq!(snapshot.needs["k2"].len(), 1, "still needed by the preview");
        assert_eq!(snapshot.needs["k3"][0].node, "download/a");
        assert_eq!(snapshot.origins["k1"].render_key.as_deref(), Some("r-k1"), "origins outlive needs");
    }

    #[test]
    fn forgetting_takes_only_rows_that_still_name_the_decided_path() {
        let journal = Journal::open_in_memory().unwrap();
        for key in ["a", "b"] {
            journal.record_artifact(&artifact(key)).unwrap();
        }
        let moved = ArtifactRecord { path: PathBuf::from("artifacts/elsewhere.mp4"), ..artifact("b") };
        let (snapshot, forgotten) = journal
            .forget_artifacts(|snapshot| {
                assert_eq!(snapshot.artifacts.len(), 2);
                vec![artifact("a"), moved.clone()]
            })
            .unwrap();
        assert_eq!(snapshot.artifacts.len(), 2);
        assert_eq!(forgotten, vec![artifact("a")]);
        assert_eq!(journal.artifact("a").unwrap(), None);
        assert_eq!(journal.artifact("b").unwrap(), Some(artifact("b")));
    }
}
