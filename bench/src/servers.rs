//! The servers under test: hearth and limit-server, started by the load generator or
//! already running elsewhere on this machine.
//!
//! A started hearth runs `hearth serve --addr 127.0.0.1:PORT --database-url
//! sqlite://DIR/bench.db?mode=rwc` in a temporary directory of its own (deleted when
//! it stops), or on a PostgreSQL database it is given ([`ScratchDatabase`], for
//! several processes on one database), and counts as up once `GET /healthz` answers
//! 200. A started limit-server
//! runs `limit-server --port PORT` and counts as up once its port accepts. Both write
//! their logs to that directory; the last lines are shown if a server dies early.
//! Started servers inherit the load generator's (raised) open-files limit.
use std::{
    fmt,
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{Context, anyhow, bail};
use tokio::process::{Child, Command};

use crate::procstat::Process;

/// How long a started server may take to come up.
const STARTUP_LIMIT: Duration = Duration::from_secs(60);
/// How long a server may take to stop after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum ServerKind {
    #[serde(rename = "hearth")]
    Hearth,
    #[serde(rename = "limit-server")]
    Limit,
}

impl fmt::Display for ServerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ServerKind::Hearth => "hearth",
            ServerKind::Limit => "limit-server",
        })
    }
}

/// How to get a server: start this binary, or use one that runs at this address.
#[derive(Clone, Debug)]
pub enum ServerSource {
    Spawn(PathBuf),
    /// `host:port`, its pid if known (for CPU and memory), and for hearth the database
    /// URL it serves (needed by the admin path of seeding).
    External {
        authority: String,
        pid: Option<u32>,
        database_url: Option<String>,
    },
}

/// A server that is up.
pub struct RunningServer {
    pub kind: ServerKind,
    /// `127.0.0.1:PORT`.
    pub authority: String,
    pub pid: Option<u32>,
    /// hearth's database, when known.
    pub database_url: Option<String>,
    child: Option<Child>,
    dir: Option<tempfile::TempDir>,
}

impl RunningServer {
    /// Starts (or reaches) a server of `kind` from `source` and waits until it serves.
    /// A started server gets `env` on top of the load generator's environment; a
    /// started hearth serves `database_url` when given, else a SQLite file of its own.
    pub async fn start(
        kind: ServerKind,
        source: &ServerSource,
        env: &[(String, String)],
        database_url: Option<&str>,
    ) -> anyhow::Result<Self> {
        match source {
            ServerSource::Spawn(binary) => Self::spawn(kind, binary, env, database_url).await,
            ServerSource::External {
                authority,
                pid,
                database_url,
            } => {
                let server = Self {
                    kind,
                    authority: authority.clone(),
                    pid: *pid,
                    database_url: database_url.clone(),
                    child: None,
                    dir: None,
                };
                server.wait_until_up(None).await?;
                Ok(server)
            }
        }
    }

    async fn spawn(
        kind: ServerKind,
        binary: &Path,
        env: &[(String, String)],
        shared_database: Option<&str>,
    ) -> anyhow::Result<Self> {
        if !binary.exists() {
            bail!(
                "{kind} binary {} does not exist: build it first (see bench/README.md)",
                binary.display()
            );
        }
        let dir = tempfile::Builder::new()
            .prefix(&format!("{kind}-bench-"))
            .tempdir()?;
        let port = free_port()?;
        let authority = format!("127.0.0.1:{port}");
        let log = std::fs::File::create(dir.path().join("server.log"))?;
        let mut command = Command::new(binary);
        let mut database_url = None;
        match kind {
            ServerKind::Hearth => {
                let url = match shared_database {
                    Some(url) => url.to_owned(),
                    None => format!(
                        "sqlite://{}?mode=rwc",
                        dir.path().join("bench.db").display()
                    ),
                };
                command.args(["serve", "--addr", &authority, "--database-url", &url]);
                database_url = Some(url);
            }
            ServerKind::Limit => {
                command.args(["--port", &port.to_string()]);
            }
        }
        let child = command
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let server = Self {
            kind,
            authority,
            pid: child.id(),
            database_url,
            child: Some(child),
            dir: Some(dir),
        };
        let started = Instant::now();
        if let Err(e) = server.wait_until_up(Some(STARTUP_LIMIT)).await {
            let tail = server.log_tail();
            server.stop().await;
            return Err(e.context(format!(
                "{kind} did not come up; its log ends with:\n{tail}"
            )));
        }
        eprintln!(
            "  {kind} is up at {} (pid {:?}) after {:.1?}",
            server.authority,
            server.pid,
            started.elapsed()
        );
        Ok(server)
    }

    async fn wait_until_up(&self, limit: Option<Duration>) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit.unwrap_or(Duration::from_secs(5));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        loop {
            let up = match self.kind {
                ServerKind::Hearth => http
                    .get(self.http_url("/healthz"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success()),
                ServerKind::Limit => tokio::net::TcpStream::connect(&self.authority)
                    .await
                    .is_ok(),
            };
            if up {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("{} at {} is not answering", self.kind, self.authority);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.authority)
    }

    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.authority)
    }

    /// The server's process, when its pid is known.
    pub fn process(&self) -> Option<Process> {
        self.pid.map(Process::Pid)
    }

    /// Whether a started server has exited.
    pub fn has_exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))))
    }

    /// The last lines of a started server's log.
    pub fn log_tail(&self) -> String {
        let Some(dir) = &self.dir else {
            return String::new();
        };
        let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Stops a started server (SIGTERM, then SIGKILL after a grace period); leaves an
    /// external one alone.
    pub async fn stop(mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Some(pid) = child.id() {
            // SAFETY: kill(2) on the pid of our own child, which we have not reaped.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
        }
        if tokio::time::timeout(STOP_GRACE, child.wait())
            .await
            .is_err()
        {
            let _ = child.kill().await;
        }
    }
}

/// A PostgreSQL database made for one run and dropped after it.
pub struct ScratchDatabase {
    /// `postgres://…/hearth_bench_…`.
    pub url: String,
    server: String,
    name: String,
}

impl ScratchDatabase {
    /// Creates an empty database on the PostgreSQL server at `server`
    /// (`postgres://user@host:port`, no database name).
    pub async fn create(server: &str, tag: &str) -> anyhow::Result<Self> {
        let server = server.trim_end_matches('/').to_owned();
        let name = format!(
            "hearth_bench_{}",
            tag.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
        );
        let admin = sea_orm::Database::connect(format!("{server}/postgres"))
            .await
            .with_context(|| format!("cannot reach PostgreSQL at {server} (--postgres-url)"))?;
        sea_orm::ConnectionTrait::execute_unprepared(&admin, &format!("CREATE DATABASE {name}"))
            .await
            .with_context(|| format!("cannot create database {name}"))?;
        let _ = admin.close().await;
        Ok(Self {
            url: format!("{server}/{name}"),
            server,
            name,
        })
    }

    /// Drops the database (after its servers have stopped).
    pub async fn drop_now(self) {
        if let Ok(admin) = sea_orm::Database::connect(format!("{}/postgres", self.server)).await {
            let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
            if let Err(e) = sea_orm::ConnectionTrait::execute_unprepared(&admin, &sql).await {
                eprintln!("loadgen: could not drop {}: {e}", self.name);
            }
            let _ = admin.close().await;
        }
    }
}

/// A port that was free a moment ago on loopback.
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("no free port")?;
    Ok(listener.local_addr()?.port())
}

/// `host:port` of a URL such as `http://127.0.0.1:8080/` or `ws://127.0.0.1:9001`.
pub fn authority_of(url: &str) -> anyhow::Result<String> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() {
        return Err(anyhow!("no host:port in {url}"));
    }
    Ok(authority.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities_come_out_of_urls() {
        assert_eq!(
            authority_of("http://127.0.0.1:8080/").ok().as_deref(),
            Some("127.0.0.1:8080")
        );
        assert_eq!(
            authority_of("ws://127.0.0.1:9001").ok().as_deref(),
            Some("127.0.0.1:9001")
        );
        assert_eq!(
            authority_of("127.0.0.1:9").ok().as_deref(),
            Some("127.0.0.1:9")
        );
        assert!(authority_of("http://").is_err());
    }
}
