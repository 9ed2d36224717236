//! What a fleet shares, started for item 10: a database of its own on the PostgreSQL server
//! `EPISODIC_TEST_POSTGRES_URL` names (`bash .ci/postgres` starts one), and an S3 bucket on a moto
//! server (`python3 -m moto.server`, installed by `.ci/setup`), as the CLI's fleet tests use.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The variable naming the PostgreSQL server the fleet's journals are created on.
pub const POSTGRES_URL: &str = "EPISODIC_TEST_POSTGRES_URL";

/// A fresh database on the test server, dropped with the handle: one run's shared journal.
pub struct Database {
    /// `postgres://…/<name>`: what `EPISODIC_JOURNAL_URL` is set to (never printed).
    pub url: String,
    /// The database's name, also the run's prefix in the artifact store.
    pub name: String,
    server: String,
}

impl Database {
    /// Creates `name` on the server at `server` (a URL with credentials).
    pub fn create(server: &str, name: &str) -> Result<Database, String> {
        let mut client = postgres::Client::connect(server, postgres::NoTls)
            .map_err(|err| format!("cannot connect to {POSTGRES_URL}: {err}"))?;
        client.batch_execute(&format!("CREATE DATABASE {name}")).map_err(|err| err.to_string())?;
        let mut url = url::Url::parse(server).map_err(|err| err.to_string())?;
        url.set_path(name);
        Ok(Database { url: url.to_string(), name: name.to_owned(), server: server.to_owned() })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&self.server, postgres::NoTls) {
            let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}

/// A moto server on a free loopback port, killed with the handle.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

impl Moto {
    /// Starts moto and waits (up to a minute) until it says where it listens.
    pub fn start() -> Result<Moto, String> {
        let mut child = Command::new("python3")
            .args(["-u", "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|err| format!("cannot start python3 -m moto.server: {err}"))?;
        // Werkzeug prints the port it bound on stderr (some versions on stdout): read both.
        let (tx, rx) = mpsc::channel::<String>();
        let streams: [Option<Box<dyn Read + Send>>; 2] = [
            child.stderr.take().map(|pipe| Box::new(pipe) as Box<dyn Read + Send>),
            child.stdout.take().map(|pipe| Box::new(pipe) as Box<dyn Read + Send>),
        ];
        for stream in streams.into_iter().flatten() {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let Ok(line) = rx.recv_timeout(left) else {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("moto did not start within 60 s: {}", seen.join(" / ")));
            };
            if let Some(at) = line.find("Running on http://") {
                let endpoint = line[at + "Running on ".len()..].trim().to_owned();
                return Ok(Moto { child, endpoint });
            }
            seen.push(line);
        }
    }

    /// Creates a bucket (moto checks no signature on this call, so a bare PUT does).
    pub fn create_bucket(&self, bucket: &str) -> Result<(), String> {
        let host = self.endpoint.trim_start_matches("http://");
        let mut stream = TcpStream::connect(host).map_err(|err| err.to_string())?;
        write!(
            stream,
            "PUT /{bucket} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .map_err(|err| err.to_string())?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).map_err(|err| err.to_string())?;
        if answer.starts_with("HTTP/1.1 200") {
            Ok(())
        } else {
            Err(format!("moto refused bucket {bucket}: {}", answer.lines().next().unwrap_or_default()))
        }
    }

    /// The `AWS_*` settings a client needs for this server (moto takes any credentials).
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", "episodic-bench".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "episodic-bench-secret".to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
        ]
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
