//! One real `hearth serve` process, its log kept in a file so that a failing test can
//! show what the server said.
use std::{
    net::{SocketAddr, TcpListener},
    path::PathBuf,
    process::{Child, Command, ExitStatus, Stdio},
    time::Duration,
};

use crate::helpers::Visitor;

/// How long a server may take to come up (migrations included, on a busy machine).
const STARTUP: Duration = Duration::from_secs(60);

pub struct Hearth {
    child: Child,
    pub addr: SocketAddr,
    log: PathBuf,
    _log_dir: tempfile::TempDir,
}

impl Hearth {
    /// Starts `hearth serve` on `database_url` with `extra` flags, and waits until
    /// `/healthz` answers 200.
    pub async fn start(database_url: &str, extra: &[&str]) -> Hearth {
        let mut hearth = Self::spawn(database_url, extra);
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("http client");
        let deadline = tokio::time::Instant::now() + STARTUP;
        loop {
            if let Ok(resp) = client
                .get(format!("http://{}/healthz", hearth.addr))
                .send()
                .await
            {
                if resp.status() == 200 {
                    return hearth;
                }
            }
            if let Ok(Some(status)) = hearth.child.try_wait() {
                panic!(
                    "hearth exited at start ({status}); its log:\n{}",
                    hearth.log_tail()
                );
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "hearth on {} did not come up within {STARTUP:?}; its log:\n{}",
                hearth.addr,
                hearth.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts `hearth serve` without waiting for anything.
    pub fn spawn(database_url: &str, extra: &[&str]) -> Hearth {
        let addr = free_addr();
        let log_dir = tempfile::tempdir().expect("a temp dir for the log");
        let log = log_dir.path().join("hearth.log");
        let file = std::fs::File::create(&log).expect("a log file");
        let child = Command::new(env!("CARGO_BIN_EXE_hearth"))
            .args([
                "serve",
                "--addr",
                &addr.to_string(),
                "--database-url",
                database_url,
            ])
            .args(extra)
            .env(
                "RUST_LOG",
                std::env::var("HEARTH_CHILD_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file"))
            .stderr(file)
            .spawn()
            .expect("hearth starts");
        Hearth {
            child,
            addr,
            log,
            _log_dir: log_dir,
        }
    }

    /// Waits for the process to exit by itself; `None` if it is still running after
    /// `within`.
    pub async fn exit_within(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if tokio::time::Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Everything the server has written to stdout and stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last lines of the log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// SIGKILL: no goodbye, no clean-up, no flush.
    pub fn sigkill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Fails the test with `what` and the server's log.
    pub fn fail(&self, what: &str) -> ! {
        panic!("{what}\nhearth's log:\n{}", self.log_tail())
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A visitor who has signed up as `username` here.
    pub async fn member(&self, username: &str) -> Visitor {
        let visitor = Visitor::new(self.addr);
        let resp = visitor.signup(username, "password123").await;
        assert_eq!(resp.status(), 303, "sign-up of {username}");
        visitor
    }
}

impl Drop for Hearth {
    fn drop(&mut self) {
        self.sigkill();
    }
}

/// An address on loopback whose port was free a moment ago.
pub fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

/// POSTs `body` to the conversation as htmx does, with a CSRF token read earlier (the
/// page that carries it may not load while the database is away).
pub async fn post_htmx(
    visitor: &Visitor,
    token: &str,
    conversation: i64,
    body: &str,
) -> reqwest::Result<reqwest::Response> {
    visitor
        .http
        .post(visitor.url(&format!("/conversations/{conversation}/messages")))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", token)
        .form(&[("body", body)])
        .send()
        .await
}

/// Every message of the room at `room_url`, oldest first, read as a person would: the
/// page, then "older messages" (`?before=`) until there are none.
pub async fn all_messages(visitor: &Visitor, room_url: &str) -> Vec<(i64, String)> {
    let mut messages: Vec<(i64, String)> = Vec::new();
    let mut path = room_url.to_owned();
    loop {
        let page = visitor.page(&path).await;
        assert_eq!(page.status, 200, "GET {path}");
        let ids = page.message_ids();
        let bodies = page.message_bodies();
        assert_eq!(ids.len(), bodies.len(), "every message has a body");
        let Some(&oldest) = ids.first() else { break };
        let mut older: Vec<(i64, String)> = ids.into_iter().zip(bodies).collect();
        older.append(&mut messages);
        messages = older;
        path = format!("{room_url}?before={oldest}");
    }
    messages
}
