//! Where a test's journal lives: a fresh SQLite state folder, or a fresh database on the
//! PostgreSQL server named by `EPISODIC_TEST_POSTGRES_URL` (`bash .ci/postgres` starts one).
//!
//! Without that variable the PostgreSQL tests fail when `CI` is set, and are skipped with a
//! notice otherwise (see `main`).

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use episodic_engine::journal::Journal;

/// The variable naming the test server.
pub const POSTGRES_URL: &str = "EPISODIC_TEST_POSTGRES_URL";
/// Tells a child process which database to open (instead of its folder's SQLite file).
pub const CHILD_URL: &str = "JOURNAL_CHILD_URL";

/// The test server's URL, if there is one.
pub fn postgres_url() -> Option<String> {
    std::env::var(POSTGRES_URL).ok().filter(|url| !url.is_empty())
}

/// One test's journal: a folder (always: artifacts and child outputs go there) and, for
/// PostgreSQL, a database of its own, dropped at the end.
pub struct Store {
    pub dir: tempfile::TempDir,
    pub database: Option<TestDatabase>,
}

impl Store {
    /// A fresh SQLite journal.
    pub fn sqlite() -> Store {
        Store { dir: tempfile::tempdir().unwrap(), database: None }
    }

    /// A fresh PostgreSQL database.
    pub fn postgres() -> Store {
        let Some(base) = postgres_url() else {
            panic!(
                "{POSTGRES_URL} is not set: run the tests through `bash .ci/postgres` (see ARCHITECTURE.md)"
            )
        };
        Store { dir: tempfile::tempdir().unwrap(), database: Some(TestDatabase::create(&base)) }
    }

    /// Opens the journal (another connection each time, as another process would).
    pub fn open(&self) -> Journal {
        match &self.database {
            Some(database) => Journal::connect(&database.url, Some(self.dir.path())).unwrap(),
            None => Journal::open(self.dir.path()).unwrap(),
        }
    }

    /// Opens the journal to read it only, as `plan` does.
    pub fn open_read_only(&self) -> Journal {
        let url = self.database.as_ref().map(|database| database.url.as_str());
        Journal::open_read_only_at(self.dir.path(), url).unwrap().unwrap()
    }

    /// The folder children write their findings to.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Points a child process at this journal.
    pub fn child_env(&self, command: &mut Command) {
        if let Some(database) = &self.database {
            command.env(CHILD_URL, &database.url);
        }
    }
}

/// Opens the journal a child was pointed at: the database in [`CHILD_URL`], else `dir`.
pub fn open_in_child(dir: &Path) -> Journal {
    match std::env::var(CHILD_URL) {
        Ok(url) => Journal::connect(&url, Some(dir)).unwrap(),
        Err(_) => Journal::open(dir).unwrap(),
    }
}

/// A database created for one test on the test server, dropped when the test ends.
pub struct TestDatabase {
    pub url: String,
    base: String,
    name: String,
}

impl TestDatabase {
    fn create(base: &str) -> TestDatabase {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let name = format!("journal_{}_{}_{nanos}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
        let mut client = postgres::Client::connect(base, postgres::NoTls).unwrap();
        client.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        let mut url = url::Url::parse(base).unwrap();
        url.set_path(&name);
        TestDatabase { url: url.to_string(), base: base.to_owned(), name }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&self.base, postgres::NoTls) {
            let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}
