//! The servers under test: hearth and limit-server, started by the load generator or
//! already running elsewhere on this machine.
//!
//! Both are started as child processes by [`hearth_testkit::Child`], as the tests
//! start hearth. A started hearth runs `hearth serve --addr 127.0.0.1:PORT
//! --database-url sqlite://hearth.db?mode=rwc` in a temporary directory of its own
//! (deleted when it stops), or on a PostgreSQL database it is given
//! ([`ScratchDatabase`], for several processes on one database), and counts as up once
//! `GET /healthz` answers 200. A started limit-server runs `limit-server --port PORT`
//! and counts as up once its port accepts. Both write their logs to that directory;
//! the last lines are shown if a server dies early. Started servers inherit the load
//! generator's (raised) open-files limit.
use std::{
    fmt,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{Context, anyhow, bail};
use hearth_testkit::Child;

use crate::procstat::Process;

/// How long a started server may take to come up.
const STARTUP_LIMIT: Duration = Duration::from_secs(60);

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
        let started = Instant::now();
        let mut child = match kind {
            ServerKind::Hearth => Child::spawn_hearth(binary, shared_database, &[], env),
            ServerKind::Limit => Child::spawn(binary, &["--port".into(), "{port}".into()], env),
        }
        .with_context(|| format!("cannot start {kind} ({})", binary.display()))?;
        let up = match kind {
            ServerKind::Hearth => child.until_healthy(STARTUP_LIMIT).await,
            ServerKind::Limit => child.until_listening(STARTUP_LIMIT).await,
        };
        if let Err(e) = up {
            child.stop().await;
            bail!("{kind} did not come up: {e}");
        }
        let server = Self {
            kind,
            authority: child.addr.to_string(),
            pid: Some(child.pid()),
            database_url: child.database_url.clone(),
            child: Some(child),
        };
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
        self.child.as_mut().is_some_and(Child::has_exited)
    }

    /// The last lines of a started server's log.
    pub fn log_tail(&self) -> String {
        self.child
            .as_ref()
            .map(|c| c.log_tail(20))
            .unwrap_or_default()
    }

    /// Stops a started server (SIGTERM, then SIGKILL after a grace period); leaves an
    /// external one alone.
    pub async fn stop(mut self) {
        if let Some(mut child) = self.child.take() {
            child.stop().await;
        }
    }
}

pub use hearth_testkit::ScratchDatabase;

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
