//! What episodic has learned about files that have not changed since: their content hash and what
//! ffprobe said of them, keyed by each file's stamp (size, modification and change times, inode).
//!
//! ffprobe costs 70–130 ms a file on these machines, almost all of it loading ffmpeg's libraries,
//! and a manifest names dozens of files. `validate`, `plan` and `render` of the same episode, and
//! every rerun, would probe them all again; with the store they probe only what changed. The
//! store lives in a file shared by every command (see [`FactStore::open`]); a store opened with
//! [`FactStore::in_memory`] still spares a run probing the same file twice.
//!
//! A stamp is what `make`, cargo and git trust to tell a changed file. Its one blind spot is a
//! file rewritten with the same size within one tick of the file system's clock after it was
//! read; facts about a file that was younger than that tick when read are kept for this process
//! only, never written down, as git does with "racily clean" entries.

use crate::MediaInfo;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The store's file format; another version is ignored (and replaced on the next save).
const VERSION: u32 = 1;
/// The most files the store remembers; the least recently used are forgotten first.
const MAX_ENTRIES: usize = 20_000;

/// What identifies one state of a file's content without reading it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Stamp {
    len: u64,
    /// Modification time, nanoseconds since the epoch.
    modified: i128,
    /// Status change time (Unix), nanoseconds since the epoch; 0 elsewhere.
    changed: i128,
    inode: u64,
    device: u64,
}

impl Stamp {
    /// The file's size in bytes.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// The stamp of the regular file at `path`, or `None` (missing, a folder, a pipe...).
    pub(crate) fn of(path: &Path) -> Option<Stamp> {
        let metadata = std::fs::metadata(path).ok()?;
        if !metadata.is_file() {
            return None;
        }
        Some(Self::from_metadata(&metadata))
    }

    #[cfg(unix)]
    fn from_metadata(metadata: &std::fs::Metadata) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        let nanos = |secs: i64, nsecs: i64| i128::from(secs) * 1_000_000_000 + i128::from(nsecs);
        Stamp {
            len: metadata.len(),
            modified: nanos(metadata.mtime(), metadata.mtime_nsec()),
            changed: nanos(metadata.ctime(), metadata.ctime_nsec()),
            inode: metadata.ino(),
            device: metadata.dev(),
        }
    }

    #[cfg(not(unix))]
    fn from_metadata(metadata: &std::fs::Metadata) -> Stamp {
        let modified = metadata
            .modified()
            .ok()
            .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |since| since.as_nanos() as i128);
        Stamp { len: metadata.len(), modified, changed: 0, inode: 0, device: 0 }
    }

    /// Whether the file may still change within its clock's tick: a file system that keeps
    /// nanoseconds ticks finely; one that keeps whole seconds (FAT keeps two) does not.
    fn racy(&self, now: i128) -> bool {
        let tick: i128 = if self.modified % 1_000_000_000 == 0 { 2_000_000_000 } else { 10_000_000 };
        now - self.modified.max(self.changed) < tick
    }
}

/// The facts known about one state of one file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Known {
    stamp: Stamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    info: Option<MediaInfo>,
    /// Where the first audio stream's packets end (`Some(None)`: it has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    audio_end: Option<Option<f64>>,
    /// When these facts were last used, seconds since the epoch.
    used: u64,
    /// Learned too soon after the file changed to be trusted by another process.
    #[serde(skip)]
    racy: bool,
}

/// The facts file: `{"version": 1, "files": {path: facts}}`.
#[derive(Serialize, Deserialize)]
struct Saved {
    version: u32,
    files: HashMap<PathBuf, Known>,
}

/// Facts about files, by absolute path; see the module's documentation.
#[derive(Debug, Default)]
pub struct FactStore {
    file: Option<PathBuf>,
    known: Mutex<HashMap<PathBuf, Known>>,
    learned: AtomicBool,
}

impl FactStore {
    /// A store that lives as long as this process.
    pub fn in_memory() -> FactStore {
        FactStore::default()
    }

    /// The store kept in `file`. A missing, unreadable or foreign file is an empty store: it is a
    /// cache, and the worst a lost one costs is probing again.
    pub fn open(file: PathBuf) -> FactStore {
        let known = read_saved(&file).unwrap_or_default();
        FactStore { file: Some(file), known: Mutex::new(known), learned: AtomicBool::new(false) }
    }

    /// Where the store is kept, if anywhere.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// How many files the store knows.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the store knows no file.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes what this process learned into the store's file, merged with what other processes
    /// wrote there meanwhile; facts about files that changed or are gone are dropped. Does
    /// nothing for an in-memory store, or when nothing was learned.
    pub fn save(&self) -> std::io::Result<()> {
        let Some(file) = &self.file else { return Ok(()) };
        if !self.learned.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut files = read_saved(file).unwrap_or_default();
        for (path, known) in self.lock().iter() {
            let newer = files.get(path).is_none_or(|theirs| theirs.used <= known.used);
            if !known.racy && newer {
                files.insert(path.clone(), known.clone());
            }
        }
        files.retain(|path, known| Stamp::of(path).as_ref() == Some(&known.stamp));
        if files.len() > MAX_ENTRIES {
            let mut by_use: Vec<(u64, PathBuf)> =
                files.iter().map(|(path, known)| (known.used, path.clone())).collect();
            by_use.sort_unstable();
            for (_, path) in by_use.into_iter().take(files.len() - MAX_ENTRIES) {
                files.remove(&path);
            }
        }
        let dir = file.parent().filter(|dir| !dir.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let mut temp = tempfile::NamedTempFile::new_in(dir)?;
        serde_json::to_writer(&mut temp, &Saved { version: VERSION, files })?;
        temp.flush()?;
        temp.persist(file).map_err(|err| err.error)?;
        self.learned.store(false, Ordering::Release);
        Ok(())
    }

    /// The facts known about `path` as it is now (`stamp`), if `pick` finds what is wanted in them.
    pub(crate) fn recall<T>(
        &self,
        path: &Path,
        stamp: &Stamp,
        pick: impl Fn(&Known) -> Option<T>,
    ) -> Option<T> {
        let mut known = self.lock();
        let entry = known.get_mut(path).filter(|entry| entry.stamp == *stamp)?;
        let found = pick(entry)?;
        entry.used = unix_seconds();
        Some(found)
    }

    /// Records what was learned of `path`, read while its stamp was `before`; a file that changed
    /// while it was read teaches nothing.
    pub(crate) fn learn(&self, path: &Path, before: &Stamp, teach: impl FnOnce(&mut Known)) {
        if Stamp::of(path).as_ref() != Some(before) {
            return;
        }
        let racy = before.racy(unix_nanos());
        let mut known = self.lock();
        let entry = known.entry(path.to_path_buf()).or_insert_with(|| Known::blank(before.clone()));
        if entry.stamp != *before {
            *entry = Known::blank(before.clone());
        }
        teach(entry);
        entry.used = unix_seconds();
        entry.racy = racy;
        drop(known);
        self.learned.store(true, Ordering::Release);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Known>> {
        self.known.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A store kept in a file is saved when the last probe using it is dropped, however the command
/// ended; an error then costs only probing again next time.
impl Drop for FactStore {
    fn drop(&mut self) {
        let _ = self.save();
    }
}

impl Known {
    fn blank(stamp: Stamp) -> Known {
        Known { stamp, sha256: None, info: None, audio_end: None, used: 0, racy: false }
    }

    pub(crate) fn sha256(&self) -> Option<(String, u64)> {
        self.sha256.clone().map(|sha| (sha, self.stamp.len))
    }

    pub(crate) fn info(&self) -> Option<MediaInfo> {
        self.info.clone()
    }

    pub(crate) fn audio(&self) -> Option<(MediaInfo, Option<f64>)> {
        Some((self.info.clone()?, self.audio_end?))
    }

    pub(crate) fn set_sha256(&mut self, sha256: String) {
        self.sha256 = Some(sha256);
    }

    pub(crate) fn set_info(&mut self, info: MediaInfo) {
        self.info = Some(info);
    }

    pub(crate) fn set_audio_end(&mut self, audio_end: Option<f64>) {
        self.audio_end = Some(audio_end);
    }
}

fn read_saved(file: &Path) -> Option<HashMap<PathBuf, Known>> {
    let bytes = std::fs::read(file).ok()?;
    let saved: Saved = serde_json::from_slice(&bytes).ok()?;
    (saved.version == VERSION).then_some(saved.files)
}

fn unix_seconds() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs()
}

fn unix_nanos() -> i128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_nanos() as i128)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file older than a fine clock's tick (its change time included), so not racy.
    fn old_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        std::thread::sleep(Duration::from_millis(30));
        path
    }

    #[test]
    fn a_changed_file_is_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let path = old_file(dir.path(), "a.bin", b"first");
        let store = FactStore::in_memory();
        let stamp = Stamp::of(&path).unwrap();
        store.learn(&path, &stamp, |known| known.set_sha256("aaa".into()));
        assert_eq!(store.recall(&path, &stamp, Known::sha256), Some(("aaa".into(), 5)));
        // Same size, new content, and the modification time put back as `cp -p` or rsync would:
        // the change time still moves.
        let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
        std::fs::write(&path, b"other").unwrap();
        std::fs::File::options().write(true).open(&path).unwrap().set_modified(modified).unwrap();
        let now = Stamp::of(&path).unwrap();
        assert_ne!(now, stamp);
        assert_eq!(store.recall(&path, &now, Known::sha256), None);
    }

    #[test]
    fn saved_facts_reach_another_store_but_racy_ones_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let old = old_file(dir.path(), "old.bin", b"old");
        let young = dir.path().join("young.bin");
        std::fs::write(&young, b"young").unwrap();
        let file = dir.path().join("cache").join("facts.json");
        let store = FactStore::open(file.clone());
        for path in [&old, &young] {
            let stamp = Stamp::of(path).unwrap();
            store.learn(path, &stamp, |known| known.set_sha256("x".into()));
        }
        store.save().unwrap();
        let reopened = FactStore::open(file.clone());
        assert_eq!(reopened.len(), 1);
        assert!(reopened.recall(&old, &Stamp::of(&old).unwrap(), Known::sha256).is_some());
        // A file that is gone is dropped at the next save.
        std::fs::remove_file(&old).unwrap();
        let other = old_file(dir.path(), "other.bin", b"other");
        reopened.learn(&other, &Stamp::of(&other).unwrap(), |known| known.set_sha256("y".into()));
        reopened.save().unwrap();
        let third = FactStore::open(file);
        assert_eq!(third.len(), 1);
        assert!(third.recall(&other, &Stamp::of(&other).unwrap(), Known::sha256).is_some());
    }

    #[test]
    fn a_broken_store_file_is_an_empty_store() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("facts.json");
        std::fs::write(&file, b"{not json").unwrap();
        assert!(FactStore::open(file.clone()).is_empty());
        std::fs::write(&file, br#"{"version": 999, "files": {}}"#).unwrap();
        assert!(FactStore::open(file).is_empty());
    }

    #[test]
    fn whole_second_clocks_wait_two_seconds() {
        let stamp = |modified: i128| Stamp { len: 1, modified, changed: modified, inode: 1, device: 1 };
        let second = 1_000_000_000;
        assert!(stamp(100 * second).racy(101 * second));
        assert!(!stamp(100 * second).racy(103 * second));
        assert!(stamp(100 * second + 5).racy(100 * second + 1_000));
        assert!(!stamp(100 * second + 5).racy(101 * second));
    }
}
