//! The HTTP server loop: accepts TCP connections with Nagle's algorithm off, serves
//! each with hyper (HTTP/1.1 and HTTP/2), hands every request to the poem endpoint, and
//! shuts down gracefully. It knows no routes and renders nothing.
//!
//! poem's own server wraps every connection in boxed, split I/O (a lock and two
//! dynamic calls per read and per write, several layers deep). A page does not notice;
//! a WebSocket does, since it reads and writes for as long as it lives, once per frame.
//! So this loop keeps hyper's upgrade of any request that asks for one aside as a
//! [`RawUpgrade`], and whoever upgrades gets the connection's own `TcpStream` back
//! ([`RawUpgrade::tcp`]).
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
    Addr, Endpoint,
    http::uri::Scheme,
    web::{LocalAddr, RemoteAddr},
};
use tokio::net::{TcpListener, TcpStream};

/// hyper's upgrade of a request that asked for one, kept out of poem's reach (poem
/// would wrap it) in the request's extensions.
#[derive(Clone)]
pub struct RawUpgrade(Arc<Mutex<Option<hyper::upgrade::OnUpgrade>>>);

impl RawUpgrade {
    /// Takes the upgrade: the first caller gets it.
    pub fn take(&self) -> Option<hyper::upgrade::OnUpgrade> {
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
        match upgrade::downcast::<TokioIo<TcpStream>>(upgraded) {
            Ok(parts) => Some((parts.io.into_inner(), parts.read_buf.to_vec())),
            Err(_) => {
                tracing::warn!("an upgraded connection is not a TCP stream");
                None
            }
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
    tokio::pin!(shutdown);
    loop {
        let (tcp, remote) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, most likely: wait rather than spin.
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        if let Err(e) = tcp.set_nodelay(true) {
            // The connection still works, only with its small writes coalesced.
            tracing::debug!(error = %e, "cannot turn Nagle's algorithm off");
        }
        let service = {
            let endpoint = endpoint.clone();
            let local = local.clone();
            service_fn(move |req| {
                let endpoint = endpoint.clone();
                let local = local.clone();
                async move {
                    let request = poem_request(req, local, remote);
                    let response = endpoint.get_response(request).await;
                    Ok::<_, Infallible>(hyper::Response::from(response))
                }
            })
        };
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(tcp), service)
            .into_owned();
        let connection = graceful.watch(connection);
        // Finished connections are reaped here, so the set holds only live ones.
        while connections.try_join_next().is_some() {}
        connections.spawn(async move {
            if let Err(e) = connection.await {
                // A client that went away mid-request, most often.
                tracing::debug!(error = %e, "connection ended with an error");
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

/// poem's request for `req`; its upgrade, if it asked for one (hyper sets none on
/// other requests), is moved to a [`RawUpgrade`] first.
fn poem_request(
    mut req: hyper::Request<Incoming>,
    local: LocalAddr,
    remote: SocketAddr,
) -> poem::Request {
    if let Some(upgrade) = req.extensions_mut().remove::<hyper::upgrade::OnUpgrade>() {
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
