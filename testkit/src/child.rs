//! A server binary as a child process: its log in a temporary directory of its own
//! (its working directory too), a port found free for it, and a graceful stop.
use std::{
    io::{self, Read, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Command, ExitStatus, Stdio},
    time::Duration,
};

/// How long a server may take to stop after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// A server running as a child process; killed when dropped.
pub struct Child {
    child: std::process::Child,
    /// Where it listens (`127.0.0.1:PORT`).
    pub addr: SocketAddr,
    /// The database it serves, for hearth.
    pub database_url: Option<String>,
    log: PathBuf,
    dir: tempfile::TempDir,
}

/// An address on loopback whose port was free a moment ago.
pub fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap_or_else(|e| panic!("no free port on loopback: {e}"))
}

impl Child {
    /// Starts `binary` with `args` (`{addr}` and `{port}` in them become the address
    /// found free for it) and `env`, in a directory of its own, without waiting.
    pub fn spawn(binary: &Path, args: &[String], env: &[(String, String)]) -> io::Result<Child> {
        if !binary.exists() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{} does not exist: build it first", binary.display()),
            ));
        }
        let dir = tempfile::Builder::new().prefix("hearth-child-").tempdir()?;
        let addr = free_addr();
        let log = dir.path().join("server.log");
        let file = std::fs::File::create(&log)?;
        let args: Vec<String> = args
            .iter()
            .map(|a| {
                a.replace("{addr}", &addr.to_string())
                    .replace("{port}", &addr.port().to_string())
            })
            .collect();
        let child = Command::new(binary)
            .args(&args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()?;
        Ok(Child {
            child,
            addr,
            database_url: None,
            log,
            dir,
        })
    }

    /// Starts `hearth serve` from `binary` on `database_url` (a SQLite file in its own
    /// directory when `None`) with `extra` flags, without waiting. Its log level is
    /// `HEARTH_CHILD_LOG` (default `warn`).
    pub fn spawn_hearth(
        binary: &Path,
        database_url: Option<&str>,
        extra: &[&str],
        env: &[(String, String)],
    ) -> io::Result<Child> {
        let mut args: Vec<String> = vec!["serve".into(), "--addr".into(), "{addr}".into()];
        let sqlite = "sqlite://hearth.db?mode=rwc".to_owned();
        let url = database_url.map(str::to_owned).unwrap_or(sqlite);
        args.extend(["--database-url".into(), url.clone()]);
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        let mut env = env.to_vec();
        if !env.iter().any(|(k, _)| k == "RUST_LOG") {
            let level = std::env::var("HEARTH_CHILD_LOG").unwrap_or_else(|_| "warn".into());
            env.push(("RUST_LOG".into(), level));
        }
        let mut child = Self::spawn(binary, &args, &env)?;
        child.database_url = Some(match database_url {
            Some(url) => url.to_owned(),
            None => format!(
                "sqlite://{}?mode=rwc",
                child.dir.path().join("hearth.db").display()
            ),
        });
        Ok(child)
    }

    /// [`spawn_hearth`](Self::spawn_hearth), then waits until `/healthz` answers 200
    /// (within `within`); fails with the log's last lines.
    pub async fn hearth(
        binary: &Path,
        database_url: Option<&str>,
        extra: &[&str],
        env: &[(String, String)],
        within: Duration,
    ) -> Result<Child, String> {
        let mut child = Self::spawn_hearth(binary, database_url, extra, env)
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        child.until_healthy(within).await?;
        Ok(child)
    }

    /// Waits until hearth's `/healthz` answers 200; fails if the process exits or
    /// `within` passes, with the log's last lines.
    pub async fn until_healthy(&mut self, within: Duration) -> Result<(), String> {
        self.until(within, healthy).await
    }

    /// Waits until the port accepts connections (for servers without a health check).
    pub async fn until_listening(&mut self, within: Duration) -> Result<(), String> {
        self.until(within, |addr| TcpStream::connect(addr).is_ok())
            .await
    }

    async fn until(&mut self, within: Duration, up: fn(SocketAddr) -> bool) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let addr = self.addr;
            if tokio::task::spawn_blocking(move || up(addr))
                .await
                .unwrap_or(false)
            {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "the server exited at start ({status}); its log:\n{}",
                    self.log_tail(40)
                ));
            }
            if tokio::time::Instant::now() > deadline {
                return Err(format!(
                    "the server on {} did not come up within {within:?}; its log:\n{}",
                    self.addr,
                    self.log_tail(40)
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The directory it runs in (and keeps its SQLite file in, by default).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Everything it has written to stdout and stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The log's last `lines` lines, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = self.log();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Whether it has exited.
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Waits for it to exit by itself; `None` if it still runs after `within`.
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

    /// SIGTERM: asks it to stop, as an orchestrator would.
    pub fn sigterm(&self) {
        // SAFETY: kill(2) on the pid of our own child, which has not been reaped.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
    }

    /// SIGTERM, then SIGKILL if it has not stopped within the grace period.
    pub async fn stop(&mut self) {
        if self.has_exited() {
            return;
        }
        self.sigterm();
        if self.exit_within(STOP_GRACE).await.is_none() {
            self.sigkill();
        }
    }

    /// SIGKILL: no goodbye, no clean-up, no flush.
    pub fn sigkill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.sigkill();
    }
}

/// Whether hearth at `addr` answers `GET /healthz` with 200.
fn healthy(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut status = [0u8; 12];
    stream.read_exact(&mut status).is_ok() && status.ends_with(b" 200")
}
