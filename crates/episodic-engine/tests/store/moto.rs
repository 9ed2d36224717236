//! A real S3-compatible server for tests: moto in server mode (PyPI's `moto[server]`, installed
//! by `.ci/setup`), started on a free loopback port by the test that needs it and killed when
//! the handle drops. Shared by the engine's store suite and the CLI's end-to-end tests.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running moto server.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

impl Moto {
    /// Starts moto (`python3 -m moto.server`, or `$EPISODIC_TEST_PYTHON`) on a free port and
    /// waits until it listens.
    pub fn start() -> Moto {
        let python = std::env::var("EPISODIC_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let mut child = Command::new(&python)
            .args(["-u", "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| {
                panic!("cannot start moto with {python}: {err} (bash .ci/setup installs it)")
            });
        // Werkzeug prints the port it bound on stderr (some versions on stdout): read both.
        let (tx, rx) = mpsc::channel::<String>();
        let stderr = child.stderr.take().expect("piped stderr");
        let stdout = child.stdout.take().expect("piped stdout");
        for stream in [Box::new(stderr) as Box<dyn Read + Send>, Box::new(stdout)] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let mut seen = Vec::new();
        let endpoint = loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = rx.recv_timeout(left).unwrap_or_else(|_| {
                let _ = child.kill();
                panic!("moto did not start within 60 s; it said:\n{}", seen.join("\n"))
            });
            if let Some(at) = line.find("Running on http://") {
                break line[at + "Running on ".len()..].trim().to_owned();
            }
            seen.push(line);
        };
        Moto { child, endpoint }
    }

    /// Creates a bucket (moto checks no signature on this call, so a bare PUT does).
    pub fn create_bucket(&self, bucket: &str) {
        let host = self.endpoint.trim_start_matches("http://");
        let mut stream = TcpStream::connect(host).expect("moto listens");
        write!(
            stream,
            "PUT /{bucket} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .expect("a request to moto");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("moto's answer");
        assert!(answer.starts_with("HTTP/1.1 200"), "moto refused bucket {bucket}: {answer}");
    }

    /// The `AWS_*` settings a client needs for this server (moto takes any credentials).
    pub fn settings(&self) -> Vec<(String, String)> {
        [
            ("AWS_ACCESS_KEY_ID", "episodic-test"),
            ("AWS_SECRET_ACCESS_KEY", "episodic-test-secret"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
