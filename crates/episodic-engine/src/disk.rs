//! The state folder's disk: what `artifacts/` holds, why each file is kept, and collecting what
//! no journaled episode needs (`episodic cache ls`, `episodic cache gc`).
//!
//! A file is kept while the current plan of a journaled episode uses it (every run records its
//! plans' nodes before it starts, see `journal/needs.rs`). A file no episode needs is removed,
//! unless it is a render's only copy of something paid for within the window: the clip of a
//! render billed less than `paid_window` ago. A rerun of the old manifest would otherwise download
//! that clip again from fal's URL, which expires, and then only paying again brings it back. The
//! rest (composed segments, the episode's audio, joined episodes, clips of renders that billed
//! nothing) is made again from what is kept, for the price of ffmpeg.
//!
//! Files no journal row names (left by an interrupted run, or an older episodic) are removed
//! too, once older than [`ORPHAN_GRACE`]: a run names its file a moment after writing it.

use crate::journal::{
    ARTIFACTS_DIR, ArtifactRecord, CacheSnapshot, EpisodeRow, Journal, JournalError, Need, Payment,
    UnixSeconds,
};
use serde::Serialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// How old a file no journal row names must be before gc removes it: a run writes a file under a
/// temporary name, renames it and then records it, so a young unnamed file may be in the making.
pub const ORPHAN_GRACE_SECS: i64 = 3_600;
/// The same for `.tmp-*` scratch files, which a run writes for as long as a download or an
/// ffmpeg job lasts.
pub const SCRATCH_GRACE_SECS: i64 = 24 * 3_600;
/// [`ORPHAN_GRACE_SECS`], for the docs.
pub const ORPHAN_GRACE: std::time::Duration = std::time::Duration::from_secs(ORPHAN_GRACE_SECS as u64);

/// What gc keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// A clip of a render paid for less than this many seconds ago is kept even when no episode
    /// needs it.
    pub paid_window_secs: i64,
    /// The time to judge ages by.
    pub now: UnixSeconds,
}

/// Why a file is kept, or that it is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The current plan of a journaled episode uses it.
    Needed,
    /// No episode needs it, but it is the only copy of a render paid for within the window (or it
    /// was recorded before episodic kept what made each file, and is young enough to be one).
    PaidWithinWindow,
    /// No row names it yet: a run may be writing it.
    Recent,
    /// No episode needs it and it is free to make again, or was paid for before the window.
    Unneeded,
    /// No journal row names it, and it is older than the grace.
    Orphan,
}

impl Verdict {
    /// Whether gc removes a file with this verdict.
    pub fn removable(self) -> bool {
        matches!(self, Verdict::Unneeded | Verdict::Orphan)
    }
}

/// A file (or a recorded file gone missing) of the artifact store.
#[derive(Debug, Clone, Serialize)]
pub struct CachedFile {
    /// Relative to the state folder (`artifacts/<sha256>.mp4`).
    pub path: PathBuf,
    /// The node key that made it (`None` for a file no row names).
    pub key: Option<String>,
    /// `clip` (a render's download), `compose`, `audio`, `concat`, `unknown` (recorded before
    /// schema 3), `scratch` (a run's temporary file) or `file`.
    pub kind: String,
    /// Bytes on disk now, its thumbnail included (0 when the file is gone).
    pub bytes: u64,
    /// When it was recorded (or last modified, for a file no row names).
    pub created_at: Option<UnixSeconds>,
    /// Which episodes' nodes need it.
    pub needed_by: Vec<Need>,
    /// For a clip: what its render cost and when.
    pub paid: Option<Payment>,
    /// The verdict.
    pub verdict: Verdict,
    /// The journal names it but the file is gone or has another size.
    pub missing: bool,
    /// In a gc's `removed`: its row is forgotten but its file stays, because a kept entry has
    /// the same bytes (files are named by their content). `bytes` is then 0: what was freed.
    pub file_kept: bool,
    /// Files that go with it (a composed segment's thumbnail).
    #[serde(skip)]
    companions: Vec<PathBuf>,
    #[serde(skip)]
    record: Option<ArtifactRecord>,
}

/// An upload the journal remembers: a URL at fal's storage, no local bytes.
#[derive(Debug, Clone, Serialize)]
pub struct CachedUpload {
    /// The file's sha256.
    pub sha256: String,
    /// Its size.
    pub bytes: u64,
    /// When it was uploaded.
    pub uploaded_at: UnixSeconds,
    /// When fal's URL expires (`None`: no known expiry).
    pub expires_at: Option<UnixSeconds>,
    /// Which episodes' upload nodes need it.
    pub needed_by: Vec<Need>,
}

/// What the state folder holds and why.
#[derive(Debug, Clone, Serialize)]
pub struct Inventory {
    /// Every file, in the order recorded; files no row names last.
    pub files: Vec<CachedFile>,
    /// Every upload.
    pub uploads: Vec<CachedUpload>,
    /// Every journaled episode: output, id, manifest, when planned.
    pub episodes: Vec<EpisodeRow>,
}

/// What a gc did (or would do, in a dry run).
#[derive(Debug, Clone, Serialize)]
pub struct Collected {
    /// Whether nothing was removed (`--dry-run`).
    pub dry_run: bool,
    /// Bytes freed (or that would be).
    pub freed_bytes: u64,
    /// The files removed (or that would be); each one's `bytes` is what removing it freed.
    pub removed: Vec<CachedFile>,
    /// The files kept.
    pub kept: Vec<CachedFile>,
    /// Files that could not be removed, and why.
    pub errors: Vec<String>,
}

/// Why the cache could not be read or collected.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The journal could not be read or written.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The journal has no state folder (an in-memory journal holds no files).
    #[error("the journal has no state folder")]
    NoStateDir,
    /// The artifact folder could not be listed.
    #[error("cannot list `{path}`: {source}")]
    List {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// What the state folder holds and why, as gc under `policy` would judge it.
pub fn inventory(journal: &Journal, policy: Policy) -> Result<Inventory, CacheError> {
    let state_dir = journal.state_dir().ok_or(CacheError::NoStateDir)?;
    let snapshot = journal.cache_snapshot()?;
    let files = classify(&snapshot, state_dir, policy)?;
    let uploads = snapshot
        .uploads
        .iter()
        .map(|upload| CachedUpload {
            sha256: upload.sha256.clone(),
            bytes: upload.size,
            uploaded_at: upload.uploaded_at,
            expires_at: upload.expires_at,
            needed_by: upload_needs(&snapshot, &upload.sha256),
        })
        .collect();
    Ok(Inventory { files, uploads, episodes: snapshot.episodes })
}

/// Removes what no journaled episode needs under `policy` (nothing when `dry_run`): the journal
/// forgets the files in the same transaction that decides, then the files go.
pub fn collect(journal: &Journal, policy: Policy, dry_run: bool) -> Result<Collected, CacheError> {
    let state_dir = journal.state_dir().ok_or(CacheError::NoStateDir)?.to_owned();
    let mut files = Vec::new();
    let mut listing = Ok(());
    let decide = |snapshot: &CacheSnapshot| {
        match classify(snapshot, &state_dir, policy) {
            Ok(classified) => files = classified,
            Err(err) => listing = Err(err),
        }
        if dry_run {
            return Vec::new();
        }
        files.iter().filter(|file| file.verdict.removable()).filter_map(|file| file.record.clone()).collect()
    };
    let (_, forgotten) = journal.forget_artifacts(decide)?;
    listing?;
    let forgotten: HashSet<(String, PathBuf)> =
        forgotten.into_iter().map(|record| (record.key, record.path)).collect();
    let (removable, kept): (Vec<CachedFile>, Vec<CachedFile>) =
        files.into_iter().partition(|file| file.verdict.removable());
    // A file is named by its content, so two keys may share it: it stays while a kept row names it.
    let still_named: HashSet<&Path> =
        kept.iter().filter(|file| file.key.is_some()).flat_map(|file| file.all_paths()).collect();
    let mut removed = Vec::new();
    let mut errors = Vec::new();
    let mut freed_bytes = 0;
    let mut gone: HashSet<PathBuf> = HashSet::new();
    for mut file in removable {
        // In a real run, a row another process re-recorded since is not ours to remove.
        let ours = match (&file.key, dry_run) {
            (Some(key), false) => forgotten.contains(&(key.clone(), file.path.clone())),
            _ => true,
        };
        if !ours {
            continue;
        }
        let mut freed_here = 0;
        let mut paths: Vec<PathBuf> = Vec::new();
        let mut file_kept = false;
        for path in file.all_paths() {
            if still_named.contains(path) {
                file_kept |= path == file.path;
                continue;
            }
            if gone.insert(path.to_owned()) {
                paths.push(path.to_owned());
            }
        }
        file.file_kept = file_kept;
        for path in paths {
            let full = state_dir.join(&path);
            let Ok(meta) = std::fs::symlink_metadata(&full) else { continue };
            if dry_run {
                freed_here += meta.len();
                continue;
            }
            match std::fs::remove_file(&full) {
                Ok(()) => freed_here += meta.len(),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => errors.push(format!("cannot remove `{}`: {err}", full.display())),
            }
        }
        file.bytes = freed_here;
        freed_bytes += freed_here;
        removed.push(file);
    }
    Ok(Collected { dry_run, freed_bytes, removed, kept, errors })
}

impl CachedFile {
    fn all_paths(&self) -> impl Iterator<Item = &Path> {
        std::iter::once(self.path.as_path()).chain(self.companions.iter().map(PathBuf::as_path))
    }
}

/// Every recorded file and every file of `artifacts/`, judged.
fn classify(
    snapshot: &CacheSnapshot,
    state_dir: &Path,
    policy: Policy,
) -> Result<Vec<CachedFile>, CacheError> {
    let mut files = Vec::with_capacity(snapshot.artifacts.len());
    let mut named: HashSet<PathBuf> = HashSet::new();
    for record in &snapshot.artifacts {
        let thumbnail = record.path.with_extension("thumb.png");
        let full = state_dir.join(&record.path);
        let size = std::fs::metadata(&full).map(|meta| meta.len()).ok();
        let thumbnail_size = std::fs::metadata(state_dir.join(&thumbnail)).map(|meta| meta.len()).ok();
        let origin = snapshot.origins.get(&record.key);
        let kind = match origin.map(|origin| origin.kind.as_str()) {
            Some("download") => "clip",
            Some(kind) => kind,
            None => "unknown",
        };
        let paid = origin
            .and_then(|origin| origin.render_key.as_ref())
            .and_then(|render| snapshot.payments.get(render))
            .copied();
        let needed_by = snapshot.needs.get(&record.key).cloned().unwrap_or_default();
        let within = |at: UnixSeconds| policy.now.saturating_sub(at) < policy.paid_window_secs;
        let verdict = if !needed_by.is_empty() {
            Verdict::Needed
        } else {
            match (kind, paid) {
                ("clip", Some(payment)) if payment.cost_micros > 0 && within(payment.completed_at) => {
                    Verdict::PaidWithinWindow
                }
                ("clip", Some(_)) => Verdict::Unneeded,
                // A clip whose render the journal no longer knows, or a file recorded before the
                // journal kept origins: it may be a paid clip, so it is kept as one.
                ("clip" | "unknown", None) if within(record.created_at) => Verdict::PaidWithinWindow,
                _ => Verdict::Unneeded,
            }
        };
        named.insert(record.path.clone());
        named.insert(thumbnail.clone());
        files.push(CachedFile {
            path: record.path.clone(),
            key: Some(record.key.clone()),
            kind: kind.to_owned(),
            bytes: size.unwrap_or(0) + thumbnail_size.unwrap_or(0),
            created_at: Some(record.created_at),
            needed_by,
            paid,
            verdict,
            missing: size != Some(record.size),
            file_kept: false,
            companions: thumbnail_size.map(|_| thumbnail).into_iter().collect(),
            record: Some(record.clone()),
        });
    }
    files.extend(unnamed(state_dir, &named, policy)?);
    Ok(files)
}

/// The files of `artifacts/` no row names (nor is a named file's thumbnail).
fn unnamed(
    state_dir: &Path,
    named: &HashSet<PathBuf>,
    policy: Policy,
) -> Result<Vec<CachedFile>, CacheError> {
    let dir = state_dir.join(ARTIFACTS_DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(CacheError::List { path: dir, source }),
    };
    let mut files = Vec::new();
    for entry in entries.flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let path = PathBuf::from(ARTIFACTS_DIR).join(entry.file_name());
        if named.contains(&path) {
            continue;
        }
        let modified = meta
            .modified()
            .ok()
            .and_then(|at| at.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(policy.now, |since| i64::try_from(since.as_secs()).unwrap_or(i64::MAX));
        let scratch = entry.file_name().to_string_lossy().starts_with(".tmp-");
        let grace = if scratch { SCRATCH_GRACE_SECS } else { ORPHAN_GRACE_SECS };
        let verdict =
            if policy.now.saturating_sub(modified) >= grace { Verdict::Orphan } else { Verdict::Recent };
        files.push(CachedFile {
            path,
            key: None,
            kind: if scratch { "scratch" } else { "file" }.to_owned(),
            bytes: meta.len(),
            created_at: Some(modified),
            needed_by: Vec::new(),
            paid: None,
            verdict,
            missing: false,
            file_kept: false,
            companions: Vec::new(),
            record: None,
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// The upload nodes that need the file with `sha256`.
fn upload_needs(snapshot: &CacheSnapshot, sha256: &str) -> Vec<Need> {
    let mut needs: Vec<Need> = snapshot
        .origins
        .iter()
        .filter(|(_, origin)| origin.kind == "upload" && origin.sha256.as_deref() == Some(sha256))
        .flat_map(|(key, _)| snapshot.needs.get(key).cloned().unwrap_or_default())
        .collect();
    needs.sort_by(|a, b| (&a.episode, &a.node).cmp(&(&b.episode, &b.node)));
    needs.dedup();
    needs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{EpisodeNeeds, NeededNode, Process, RunOutcome};

    const DAY: i64 = 86_400;

    struct World {
        _dir: tempfile::TempDir,
        journal: Journal,
    }

    impl World {
        fn new() -> World {
            let dir = tempfile::tempdir().unwrap();
            let journal = Journal::open(dir.path().join("state")).unwrap();
            World { _dir: dir, journal }
        }

        fn state(&self) -> &Path {
            self.journal.state_dir().unwrap()
        }

        /// An artifact for `key` of `bytes`, recorded at `at`.
        fn file(&self, key: &str, name: &str, bytes: usize, at: UnixSeconds) {
            let path = PathBuf::from(ARTIFACTS_DIR).join(name);
            std::fs::write(self.state().join(&path), vec![7u8; bytes]).unwrap();
            self.journal
                .record_artifact(&ArtifactRecord {
                    key: key.to_owned(),
                    path,
                    sha256: name.to_owned(),
                    size: bytes as u64,
                    created_at: at,
                })
                .unwrap();
        }

        /// A render completed at `at` for `cost` micro-dollars.
        fn paid(&self, key: &str, cost: u64, at: UnixSeconds) {
            let owner = self.journal.start_run(&Process::current(), &[], at).unwrap();
            self.journal.claim_render(key, "fal-ai/x", "{}", &owner, at).unwrap();
            self.journal.mark_submitted(key, &owner, &format!("req-{key}"), at).unwrap();
            self.journal.mark_completed(key, &owner, &serde_json::json!({}), 5.0, cost, at).unwrap();
            self.journal.finish_run(owner.run_id, RunOutcome::Succeeded, at).unwrap();
        }

        fn needs(&self, output: &str, nodes: &[(&str, &str, Option<&str>)]) {
            let owner = self.journal.start_run(&Process::current(), &[], 1).unwrap();
            let nodes = nodes
                .iter()
                .map(|(id, key, render)| NeededNode {
                    id: (*id).to_owned(),
                    kind: id.split('/').next().unwrap().to_owned(),
                    key: (*key).to_owned(),
                    render_key: render.map(str::to_owned),
                    sha256: None,
                })
                .collect();
            let needs = EpisodeNeeds {
                output: output.to_owned(),
                episode: "ep".to_owned(),
                manifest: "ep.yaml".to_owned(),
                nodes,
            };
            self.journal.record_needs(&needs, owner.run_id, 1).unwrap();
            self.journal.finish_run(owner.run_id, RunOutcome::Succeeded, 1).unwrap();
        }
    }

    #[test]
    fn gc_keeps_what_is_needed_and_paid_clips_within_the_window() {
        let world = World::new();
        let now = 100 * DAY;
        world.paid("r-old", 500_000, now - 40 * DAY);
        world.paid("r-new", 500_000, now - DAY);
        world.paid("r-free", 0, now - DAY);
        world.paid("r-used", 500_000, now - 90 * DAY);
        world.file("d-old", "old.mp4", 100, now - 40 * DAY);
        world.file("d-new", "new.mp4", 200, now - DAY);
        world.file("d-free", "free.mp4", 300, now - DAY);
        world.file("d-used", "used.mp4", 400, now - 90 * DAY);
        world.file("c-old", "seg.mov", 500, now - DAY);
        std::fs::write(world.state().join("artifacts/seg.thumb.png"), [1u8; 50]).unwrap();
        // First the episode needed everything; then its manifest changed and only d-used stayed.
        world.needs(
            "/out/ep.mp4",
            &[
                ("download/a", "d-old", Some("r-old")),
                ("download/b", "d-new", Some("r-new")),
                ("download/c", "d-free", Some("r-free")),
                ("download/d", "d-used", Some("r-used")),
                ("compose/a", "c-old", None),
            ],
        );
        world.needs("/out/ep.mp4", &[("download/d", "d-used", Some("r-used"))]);
        let policy = Policy { paid_window_secs: 30 * DAY, now };

        let dry = collect(&world.journal, policy, true).unwrap();
        let names = |files: &[CachedFile]| {
            let mut names: Vec<String> = files.iter().map(|f| f.path.display().to_string()).collect();
            names.sort();
            names
        };
        assert_eq!(names(&dry.removed), ["artifacts/free.mp4", "artifacts/old.mp4", "artifacts/seg.mov"]);
        assert_eq!(dry.freed_bytes, 100 + 300 + 500 + 50, "the thumbnail goes with its segment");
        assert!(world.state().join("artifacts/old.mp4").exists(), "a dry run removes nothing");
        assert!(world.journal.artifact("d-old").unwrap().is_some());

        let done = collect(&world.journal, policy, false).unwrap();
        assert_eq!(done.freed_bytes, dry.freed_bytes);
        assert_eq!(names(&done.removed), names(&dry.removed));
        assert!(done.errors.is_empty());
        for gone in ["old.mp4", "free.mp4", "seg.mov", "seg.thumb.png"] {
            assert!(!world.state().join("artifacts").join(gone).exists(), "{gone}");
        }
        for kept in ["new.mp4", "used.mp4"] {
            assert!(world.state().join("artifacts").join(kept).exists(), "{kept}");
        }
        assert_eq!(world.journal.artifact("d-old").unwrap(), None);
        let verdicts: Vec<(String, Verdict)> =
            done.kept.iter().map(|f| (f.kind.clone(), f.verdict)).collect();
        assert!(verdicts.contains(&("clip".to_owned(), Verdict::PaidWithinWindow)));
        assert!(verdicts.contains(&("clip".to_owned(), Verdict::Needed)));

        // Nothing left to do; a window of 0 days takes the paid clip no episode needs.
        assert_eq!(collect(&world.journal, policy, false).unwrap().freed_bytes, 0);
        let all = collect(&world.journal, Policy { paid_window_secs: 0, now }, false).unwrap();
        assert_eq!(all.freed_bytes, 200);
    }

    #[test]
    fn files_no_row_names_go_after_their_grace_and_shared_files_stay() {
        let world = World::new();
        let now = crate::journal::now();
        world.file("a", "same.mp4", 10, now);
        world.file("b", "same.mp4", 10, now);
        world.needs("/out/ep.mp4", &[("compose/b", "b", None)]);
        std::fs::write(world.state().join("artifacts/.tmp-1-2.mp4"), [0u8; 5]).unwrap();
        std::fs::write(world.state().join("artifacts/stray.mp4"), [0u8; 7]).unwrap();
        let young = collect(&world.journal, Policy { paid_window_secs: 0, now }, false).unwrap();
        assert_eq!(young.freed_bytes, 0, "the file is still named by b; the unnamed ones are young");
        assert_eq!(young.removed.len(), 1, "a's row is forgotten");
        assert!(young.removed[0].file_kept && young.removed[0].bytes == 0);
        assert!(world.state().join("artifacts/same.mp4").exists());
        let later = Policy { paid_window_secs: 0, now: now + ORPHAN_GRACE_SECS + 1 };
        let inventory = inventory(&world.journal, later).unwrap();
        let verdict = |name: &str| {
            inventory.files.iter().find(|f| f.path.ends_with(name)).map(|f| (f.kind.as_str(), f.verdict))
        };
        assert_eq!(verdict("stray.mp4"), Some(("file", Verdict::Orphan)));
        assert_eq!(verdict(".tmp-1-2.mp4"), Some(("scratch", Verdict::Recent)), "a scratch file waits a day");
        assert_eq!(collect(&world.journal, later, false).unwrap().freed_bytes, 7);
    }

    #[test]
    fn a_file_recorded_before_origins_were_kept_is_treated_as_a_paid_clip() {
        let world = World::new();
        let now = 100 * DAY;
        world.file("legacy", "legacy.mp4", 10, now - DAY);
        let policy = Policy { paid_window_secs: 30 * DAY, now };
        let kept = inventory(&world.journal, policy).unwrap();
        assert_eq!(
            (kept.files[0].kind.as_str(), kept.files[0].verdict),
            ("unknown", Verdict::PaidWithinWindow)
        );
        let later = Policy { paid_window_secs: 30 * DAY, now: now + 30 * DAY };
        assert_eq!(collect(&world.journal, later, false).unwrap().freed_bytes, 10);
    }
}
