//! A TCP proxy that stands in for the database server's port, so a test can take the
//! database away from one hearth without touching the PostgreSQL other tests use.
//!
//! [`Proxy::stop`] is the database going down: every open connection is reset and the
//! port refuses new ones (nothing listens on it). [`Proxy::resume`] is it coming back:
//! the same port accepts again and forwards to the real server.
use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{
    net::{TcpListener, TcpStream},
    task::{AbortHandle, JoinHandle},
};

pub struct Proxy {
    addr: SocketAddr,
    upstream: String,
    accepting: Mutex<Option<JoinHandle<()>>>,
    connections: Arc<Mutex<Vec<AbortHandle>>>,
}

impl Proxy {
    /// A proxy on a free loopback port forwarding to `upstream` (`host:port`).
    pub async fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the proxy binds");
        let addr = listener.local_addr().expect("the proxy's address");
        let proxy = Proxy {
            addr,
            upstream: upstream.to_owned(),
            accepting: Mutex::new(None),
            connections: Arc::new(Mutex::new(Vec::new())),
        };
        proxy.accept_on(listener);
        proxy
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The database goes away: the port stops listening (connecting is refused) and
    /// every connection through the proxy is reset.
    pub async fn stop(&self) {
        let accepting = self.accepting.lock().expect("lock").take();
        if let Some(task) = accepting {
            task.abort();
            // Once it has ended, its listener is closed and it adds no more connections.
            let _ = task.await;
        }
        self.cut_all();
    }

    fn cut_all(&self) {
        for connection in self.connections.lock().expect("lock").drain(..) {
            connection.abort();
        }
    }

    /// The database is back: the same port accepts and forwards again.
    pub async fn resume(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(listener) => break listener,
                Err(e) => {
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "the proxy cannot listen on {} again: {e}",
                        self.addr
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        };
        self.accept_on(listener);
    }

    fn accept_on(&self, listener: TcpListener) {
        let upstream = self.upstream.clone();
        let connections = self.connections.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    continue;
                };
                let upstream = upstream.clone();
                let connection = tokio::spawn(forward(inbound, upstream));
                let mut open = connections.lock().expect("lock");
                open.retain(|c| !c.is_finished());
                open.push(connection.abort_handle());
            }
        });
        *self.accepting.lock().expect("lock") = Some(task);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(task) = self.accepting.lock().expect("lock").take() {
            task.abort();
        }
        self.cut_all();
    }
}

async fn forward(mut inbound: TcpStream, upstream: String) {
    // Closing with a zero linger sends a reset, as a crashed or unplugged server would
    // leave the client: no orderly goodbye.
    let _ = inbound.set_zero_linger();
    let _ = inbound.set_nodelay(true);
    let Ok(mut outbound) = TcpStream::connect(&upstream).await else {
        return;
    };
    let _ = outbound.set_nodelay(true);
    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
}
