//! The HTTP server loop: accepts TCP connections with Nagle's algorithm off, serves
//! each with hyper (HTTP/1.1 and HTTP/2), hands every request to the poem endpoint, and
//! shuts down gracefully. It knows no routes and renders nothing. Which connections it
//! keeps is [`super::admission`]'s to say, and how long they may wait
//! [`super::watch`]'s.
//!
//! poem's own server wraps every connection in boxed, split I/O (a lock and two
//! dynamic calls per read and per write, several layers deep). A page does not notice;
//! a WebSocket does, since it reads and writes for as long as it lives, once per frame.
//! So this loop keeps hyper's upgrade of any request that asks for one aside as a
//! [`RawUpgrade`], and whoever upgrades gets the connection's own `TcpStream` back
//! ([`RawUpgrade::tcp`]). An upgrade request waits for its turn
//! ([`super::handshakes`]) before poem sees it.
use std::{
    convert::Infallible,
    future::Future,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use hyper::{body::Incoming, service::service_fn};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::{
        conn::auto::{self, upgrade},
        graceful::GracefulShutdown,
    },
};
use poem::{
    Addr, Endpoint, IntoResponse,
    http::uri::Scheme,
    web::{LocalAddr, RemoteAddr},
};
use tokio::net::{TcpListener, TcpStream};

use crate::error::AppError;

use super::{
    admission::{Admission, Reserve},
    handshakes::{HandshakeTurns, Turn},
    watch::{Timeouts, Watch, WatchedIo},
};

/// hyper's upgrade of a request that asked for one, kept out of poem's reach (poem
/// would wrap it) in the request's extensions, with the request's handshake turn.
#[derive(Clone)]
pub struct RawUpgrade(Arc<Mutex<Option<(hyper::upgrade::OnUpgrade, Turn)>>>);

impl RawUpgrade {
    /// Takes the upgrade and its turn: the first caller gets them.
    pub fn take(&self) -> Option<(hyper::upgrade::OnUpgrade, Turn)> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }

    /// Waits for the upgrade (after the 101 answer has gone out) and answers the TCP
    /// stream with the bytes the client sent after its request, if any.
    ///
    /// The bytes are copied out: hyper's are a view of its whole read buffer, which an
    /// idle socket would otherwise keep alive for as long as it is open (it doubled the
    /// memory of each idle socket).
    pub async fn tcp(upgrade: hyper::upgrade::OnUpgrade) -> Option<(TcpStream, Vec<u8>)> {
        let upgraded = upgrade.await.ok()?;
        match upgrade::downcast::<TokioIo<WatchedIo>>(upgraded) {
            Ok(parts) => Some((parts.io.into_inner().into_inner(), parts.read_buf.to_vec())),
            Err(_) => {
                tracing::warn!("an upgraded connection is not a TCP stream");
                None
            }
        }
    }
}

/// How the server treats connections, from flags.
#[derive(Clone, Debug)]
pub struct HttpSettings {
    /// From a request's first byte to the end of its head.
    pub header_read_timeout: Duration,
    /// How long a connection may wait for its next request.
    pub keep_alive_timeout: Duration,
    /// How long a request's body may take to arrive (read by [`super::session`]).
    pub body_timeout: Duration,
    /// Connections one address may hold open at once (WebSockets aside: they are
    /// capped per person).
    pub connections_per_address: usize,
    /// WebSocket handshakes worked on at once (see [`super::handshakes`]).
    pub handshakes_at_once: usize,
}

/// Two handshakes per core: enough to keep every core and the database busy.
pub fn default_handshakes_at_once() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get()) * 2
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            keep_alive_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(30),
            connections_per_address: 256,
            handshakes_at_once: default_handshakes_at_once(),
        }
    }
}

/// Serves `endpoint` on `listener` until `shutdown` completes; then stops accepting,
/// lets requests in flight finish for up to `grace`, and returns.
pub async fn serve<E>(
    listener: TcpListener,
    endpoint: E,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
    settings: &HttpSettings,
) -> std::io::Result<()>
where
    E: Endpoint + 'static,
{
    let endpoint = Arc::new(endpoint);
    let local = LocalAddr(Addr::SocketAddr(listener.local_addr()?));
    let graceful = GracefulShutdown::new();
    // Upgraded WebSockets are not here: their tasks are the hub's to close.
    let mut connections = tokio::task::JoinSet::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    let admission = Admission::new(settings.connections_per_address, 0);
    let turns = HandshakeTurns::new(settings.handshakes_at_once);
    let mut reserve = Reserve::new();
    let timeouts = Timeouts {
        header_read: settings.header_read_timeout,
        keep_alive: settings.keep_alive_timeout,
    };
    tokio::pin!(shutdown);
    loop {
        let (tcp, remote) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) if Reserve::is_exhaustion(&e) => {
                    // The connection that is waiting would make accept fail again at
                    // once: let the reserve go, take it and close it.
                    reserve.release();
                    if let Ok(Ok((shed, _))) =
                        tokio::time::timeout(Duration::from_millis(10), listener.accept()).await
                    {
                        drop(shed);
                    }
                    reserve.refill();
                    tracing::warn!(error = %e, "out of file descriptors: a connection was closed unserved");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some(admitted) = admission.admit(remote.ip()) else {
            // Over the address's share, or into the reserve: closed unserved.
            tracing::debug!(%remote, "a connection over the limits was closed");
            continue;
        };
        if let Err(e) = tcp.set_nodelay(true) {
            // The connection still works, only with its small writes coalesced.
            tracing::debug!(error = %e, "cannot turn Nagle's algorithm off");
        }
        let watch = Watch::new();
        let service = {
            let endpoint = endpoint.clone();
            let local = local.clone();
            let watch = watch.clone();
            let turns = turns.clone();
            service_fn(move |mut req| {
                let endpoint = endpoint.clone();
                let local = local.clone();
                let watch = watch.clone();
                let turns = turns.clone();
                async move {
                    watch.request_started();
                    // hyper sets an upgrade on any request with an `Upgrade` header (and
                    // on CONNECTs); only a WebSocket handshake gets one, and its turn.
                    let upgrade = req
                        .extensions_mut()
                        .remove::<hyper::upgrade::OnUpgrade>()
                        .filter(|_| {
                            req.method() == hyper::Method::GET
                                && upgrades_to_websocket(req.headers())
                        });
                    // `None`: a handshake that found the line full.
                    let admitted = match upgrade {
                        Some(upgrade) => turns.enter().await.map(|turn| Some((upgrade, turn))),
                        None => Some(None),
                    };
                    let response = match admitted {
                        Some(upgrade) => {
                            let request = poem_request(req, local, remote, upgrade);
                            endpoint.get_response(request).await
                        }
                        None => AppError::SocketsBusy.into_response(),
                    };
                    watch.request_ended();
                    Ok::<_, Infallible>(hyper::Response::from(response))
                }
            })
        };
        let io = TokioIo::new(WatchedIo::new(tcp, watch.clone()));
        let connection = builder
            .serve_connection_with_upgrades(io, service)
            .into_owned();
        let connection = graceful.watch(connection);
        // Finished connections are reaped here, so the set holds only live ones.
        while connections.try_join_next().is_some() {}
        connections.spawn(async move {
            let _admitted = admitted;
            tokio::select! {
                ended = connection => {
                    if let Err(e) = ended {
                        // A client that went away mid-request, most often.
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                }
                () = watch.expired(timeouts) => {
                    tracing::debug!(%remote, "a connection waited too long and was closed");
                }
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::info!("requests still in flight after the grace period were dropped");
        connections.abort_all();
    }
    Ok(())
}

/// Whether `headers` ask to upgrade to a WebSocket (RFC 6455); the handler checks the
/// rest of the handshake.
pub fn upgrades_to_websocket(headers: &hyper::HeaderMap) -> bool {
    headers
        .get(hyper::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// poem's request for `req`, with its upgrade and turn, if it asked for one, as a
/// [`RawUpgrade`].
fn poem_request(
    mut req: hyper::Request<Incoming>,
    local: LocalAddr,
    remote: SocketAddr,
    upgrade: Option<(hyper::upgrade::OnUpgrade, Turn)>,
) -> poem::Request {
    if let Some(upgrade) = upgrade {
        req.extensions_mut()
            .insert(RawUpgrade(Arc::new(Mutex::new(Some(upgrade)))));
    }
    poem::Request::from((
        req,
        local,
        RemoteAddr(Addr::SocketAddr(remote)),
        Scheme::HTTP,
    ))
}
