//! How long an HTTP connection may sit idle or send a request's head: each connection's
//! reads and writes are watched ([`WatchedIo`]) alongside the requests it serves, and a
//! connection that waits too long is dropped. hyper's own header-read timer also runs
//! while a kept-alive connection waits for its next request, so it cannot tell a slow
//! head from an idle connection; this tells them apart, and gives each its own limit.
//! It only measures and decides; the server loop ([`super::serve`]) drops.
//!
//! It also closes gently ([`WatchedIo`]'s shutdown): a request refused before its body
//! was read (a file over the limit, a form without its token) leaves the client still
//! sending, and closing on unread bytes makes the kernel reset the connection, which
//! can throw away the answer before the client reads it. So the write side is shut and
//! what still arrives is read and dropped, for a bounded time and size, as nginx's
//! lingering close does.
use std::{
    future::Future,
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

/// How long a closing connection reads what the client still sends.
const LINGER: Duration = Duration::from_secs(2);
/// The most it reads then.
const LINGER_BYTES: usize = 32 * 1024 * 1024;

/// A TCP stream whose reads and writes tell its [`Watch`].
pub struct WatchedIo {
    tcp: TcpStream,
    watch: Arc<Watch>,
    /// Set once the write side is shut: what is left of the lingering close.
    linger: Option<Linger>,
}

struct Linger {
    until: Pin<Box<tokio::time::Sleep>>,
    bytes_left: usize,
}

impl WatchedIo {
    pub fn new(tcp: TcpStream, watch: Arc<Watch>) -> Self {
        Self {
            tcp,
            watch,
            linger: None,
        }
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

    /// Shuts the write side, then reads and drops what the client still sends until
    /// it closes, [`LINGER`] passes or [`LINGER_BYTES`] arrive.
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.linger.is_none() {
            std::task::ready!(Pin::new(&mut this.tcp).poll_shutdown(cx))?;
            this.linger = Some(Linger {
                until: Box::pin(tokio::time::sleep(LINGER)),
                bytes_left: LINGER_BYTES,
            });
        }
        let Some(linger) = this.linger.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        let mut scratch = [0u8; 8 * 1024];
        loop {
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut this.tcp).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if !buf.filled().is_empty() => {
                    linger.bytes_left = linger.bytes_left.saturating_sub(buf.filled().len());
                    if linger.bytes_left == 0 {
                        return Poll::Ready(Ok(()));
                    }
                }
                // The client closed (or reset): nothing is left to lose.
                Poll::Ready(_) => return Poll::Ready(Ok(())),
                Poll::Pending => {
                    return match linger.until.as_mut().poll(cx) {
                        Poll::Ready(()) => Poll::Ready(Ok(())),
                        Poll::Pending => Poll::Pending,
                    };
                }
            }
        }
    }
}
