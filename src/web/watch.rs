//! How long an HTTP connection may sit idle or send a request's head: each connection's
//! reads and writes are watched ([`WatchedIo`]) alongside the requests it serves, and a
//! connection that waits too long is dropped. hyper's own header-read timer also runs
//! while a kept-alive connection waits for its next request, so it cannot tell a slow
//! head from an idle connection; this tells them apart, and gives each its own limit.
//! It only measures and decides; the server loop ([`super::serve`]) drops.
use std::{
    io,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
    time::Instant,
};

/// The limits on a connection's waits.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// From a request's first byte to the end of its head.
    pub header_read: Duration,
    /// With no request in flight and nothing read or written.
    pub keep_alive: Duration,
}

/// One connection's state, as its reads and its requests tell it. Relaxed atomics:
/// each value stands alone, and a stale read only moves a deadline by one wake.
pub struct Watch {
    opened: Instant,
    /// Milliseconds after `opened` when the current wait began.
    since: AtomicU64,
    in_flight: AtomicUsize,
    /// Bytes of the next request have arrived since the last request was answered.
    head_started: AtomicBool,
    /// Told when a head starts, whose limit is shorter than the idle one it ends.
    changed: tokio::sync::Notify,
}

impl Watch {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            opened: Instant::now(),
            since: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            head_started: AtomicBool::new(false),
            changed: tokio::sync::Notify::new(),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// A request's head has been read and its handler starts.
    pub fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    /// The request's handler has answered.
    pub fn request_ended(&self) {
        self.head_started.store(false, Ordering::Relaxed);
        self.since.store(self.now_ms(), Ordering::Relaxed);
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    fn read(&self) {
        if self.in_flight.load(Ordering::Relaxed) == 0
            && !self.head_started.swap(true, Ordering::Relaxed)
        {
            self.since.store(self.now_ms(), Ordering::Relaxed);
            self.changed.notify_one();
        }
    }

    fn wrote(&self) {
        // A long answer still going out is not idleness.
        if !self.head_started.load(Ordering::Relaxed) {
            self.since.store(self.now_ms(), Ordering::Relaxed);
        }
    }

    /// Completes when the connection has waited longer than `timeouts` allow.
    pub async fn expired(&self, timeouts: Timeouts) {
        loop {
            let limit = if self.in_flight.load(Ordering::Relaxed) > 0 {
                None
            } else if self.head_started.load(Ordering::Relaxed) {
                Some(timeouts.header_read)
            } else {
                Some(timeouts.keep_alive)
            };
            let since = Duration::from_millis(self.since.load(Ordering::Relaxed));
            let wake = match limit {
                Some(limit) => {
                    let deadline = self.opened + since + limit;
                    if Instant::now() >= deadline {
                        return;
                    }
                    deadline
                }
                // A handler's time is its own (bodies have their own timeout): look
                // again later.
                None => Instant::now() + timeouts.keep_alive.min(timeouts.header_read),
            };
            tokio::select! {
                () = tokio::time::sleep_until(wake) => {}
                () = self.changed.notified() => {}
            }
        }
    }
}

/// A TCP stream whose reads and writes tell its [`Watch`].
pub struct WatchedIo {
    tcp: TcpStream,
    watch: Arc<Watch>,
}

impl WatchedIo {
    pub fn new(tcp: TcpStream, watch: Arc<Watch>) -> Self {
        Self { tcp, watch }
    }

    /// The stream, unwatched (for an upgraded connection, which has timers of its own).
    pub fn into_inner(self) -> TcpStream {
        self.tcp
    }
}

impl AsyncRead for WatchedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.tcp).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.watch.read();
        }
        polled
    }
}

impl AsyncWrite for WatchedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.tcp).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.watch.wrote();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.watch.wrote();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}
