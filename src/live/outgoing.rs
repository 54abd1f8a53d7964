//! What the hub hands a socket, and how: frames rendered once and shared by every
//! recipient, each socket's bounded queue, and the out-of-band word that closes it.
//!
//! Backpressure is this module's one rule: a send into a socket's queue never waits.
//! A socket whose queue is full has fallen too far behind; it is closed, and its page
//! catches up when it reconnects. One slow reader can cost itself its socket, never
//! anyone else their frames.
//!
//! The queue is a locked `VecDeque` beside the close word, in one allocation per
//! socket: a channel's blocks and padding cost an idle socket more than its frames do,
//! and an empty queue gives its room back.
use std::{
    collections::VecDeque,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicU16, Ordering},
    },
};

use bytes::Bytes;
use tokio::sync::Notify;

use super::wire;
use crate::telemetry::metrics::LiveMetrics;

/// Frames a socket may have waiting before it counts as too slow and is closed.
pub const SOCKET_QUEUE: usize = 256;

/// Close codes the hub uses.
pub const CLOSE_NORMAL: u16 = 1000;
pub const CLOSE_GOING_AWAY: u16 = 1001;
pub const CLOSE_TRY_AGAIN: u16 = 1013;

/// One frame for a socket: rendered and encoded once, shared by every recipient. A
/// pointer, so that a socket's queue slots (allocated with the queue, 32 at a time)
/// stay small.
#[derive(Clone, Debug)]
pub struct Outgoing(Arc<Frame>);

#[derive(Debug)]
struct Frame {
    kind: OutgoingKind,
    /// The WebSocket frame as it goes on the wire.
    frame: Bytes,
}

/// What a queued item asks of a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutgoingKind {
    /// A conversation's events from `after` (exclusive) to `upto` (inclusive): a socket
    /// writes it only where it continues what the socket has written.
    Events { after: i64, upto: i64 },
    /// Any other fragment (counts, typing, the person's own news).
    Fragment,
    /// Time to ping the peer, and to give up on one that has been silent too long.
    Ping,
    /// Nothing to write: the hub has asked the socket to close (see [`SocketControl`]).
    Wake,
}

impl Outgoing {
    fn new(kind: OutgoingKind, frame: Bytes) -> Self {
        Self(Arc::new(Frame { kind, frame }))
    }

    /// An HTML fragment for htmx's out-of-band swaps.
    pub fn html(markup: maud::Markup) -> Self {
        Self::new(
            OutgoingKind::Fragment,
            wire::text_frame(markup.into_string()),
        )
    }

    /// Events `after + 1 ..= upto` of a conversation, as one fragment.
    pub(super) fn events(after: i64, upto: i64, html: String) -> Self {
        Self::new(OutgoingKind::Events { after, upto }, wire::text_frame(html))
    }

    pub(super) fn ping() -> Self {
        Self::new(OutgoingKind::Ping, wire::ping_frame())
    }

    fn wake() -> Self {
        Self::new(OutgoingKind::Wake, Bytes::new())
    }

    pub fn kind(&self) -> OutgoingKind {
        self.0.kind
    }

    /// The encoded frame to write (shared, not copied).
    pub fn frame(&self) -> Bytes {
        self.0.frame.clone()
    }

    /// A text frame's payload.
    #[cfg(test)]
    pub fn text(&self) -> Option<&str> {
        let frame = &self.0.frame;
        let header = match frame.get(1)? & 0x7f {
            126 => 4,
            127 => 10,
            _ => 2,
        };
        (frame.first()? & 0x0f == 1)
            .then(|| std::str::from_utf8(frame.get(header..)?).ok())
            .flatten()
    }
}

/// How the hub tells a socket's task to close, out of band of its (maybe full) queue.
///
/// The socket's task reads the code after each batch it writes, and waits on it only
/// while a write is blocked; an idle socket is woken through its queue instead
/// ([`Subscriber::close`]), so the task does not poll one more future on every frame.
#[derive(Debug, Default)]
pub struct SocketControl {
    close_code: AtomicU16,
    notify: Notify,
    /// The frames waiting for the socket's task, oldest first.
    frames: Mutex<VecDeque<Outgoing>>,
    /// Wakes the task when the queue was empty.
    ready: Notify,
}

/// Queue slots kept once a socket's queue is empty; a longer one is given back.
const KEPT_SLOTS: usize = 8;

impl SocketControl {
    fn frames(&self) -> MutexGuard<'_, VecDeque<Outgoing>> {
        self.frames.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `out` unless `bounded` and the queue is full; answers whether it did.
    fn push(&self, out: Outgoing, bounded: bool) -> bool {
        let mut frames = self.frames();
        if bounded && frames.len() >= SOCKET_QUEUE {
            return false;
        }
        let was_empty = frames.is_empty();
        frames.push_back(out);
        drop(frames);
        if was_empty {
            self.ready.notify_one();
        }
        true
    }

    /// The oldest waiting frame, if any.
    fn pop(&self) -> Option<Outgoing> {
        let mut frames = self.frames();
        let out = frames.pop_front();
        if frames.is_empty() && frames.capacity() > KEPT_SLOTS {
            *frames = VecDeque::new();
        }
        out
    }

    /// Asks the task to close with `code`; answers whether this was the first ask.
    fn close(&self, code: u16) -> bool {
        // The first reason wins: a socket closed for being slow stays closed for that.
        let first = self
            .close_code
            .compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        self.notify.notify_one();
        first
    }

    /// The close code the hub asked for, if it has.
    pub fn requested(&self) -> Option<u16> {
        match self.close_code.load(Ordering::Acquire) {
            0 => None,
            code => Some(code),
        }
    }

    /// Waits until the hub asks this socket to close; answers the close code.
    pub async fn closed(&self) -> u16 {
        loop {
            if let Some(code) = self.requested() {
                return code;
            }
            self.notify.notified().await;
        }
    }
}

/// The socket task's end of its queue.
#[derive(Debug)]
pub struct Receiver(Arc<SocketControl>);

impl Receiver {
    /// The next frame, waiting for one.
    pub async fn recv(&mut self) -> Outgoing {
        loop {
            // A frame queued after this look stores a wake-up for `notified`.
            if let Some(out) = self.0.pop() {
                return out;
            }
            self.0.ready.notified().await;
        }
    }

    /// The next frame, if one is waiting.
    pub fn try_recv(&mut self) -> Option<Outgoing> {
        self.0.pop()
    }
}

/// The hub's end of one socket.
#[derive(Clone, Debug)]
pub(super) struct Subscriber {
    pub(super) id: u64,
    control: Arc<SocketControl>,
}

impl Subscriber {
    /// A socket's queue; the task reads the receiver and watches `control`.
    pub(super) fn new(id: u64) -> (Self, Receiver, Arc<SocketControl>) {
        let control = Arc::new(SocketControl::default());
        let subscriber = Subscriber {
            id,
            control: control.clone(),
        };
        (subscriber, Receiver(control.clone()), control)
    }

    /// Queues `out`, or closes a socket that has fallen too far behind.
    pub(super) fn offer(&self, out: Outgoing) -> Offered {
        if self.control.push(out, true) {
            return Offered::Queued;
        }
        // A full queue means a busy task: it reads the code after its next batch, or
        // is blocked writing and waiting on the code too.
        if self.control.close(CLOSE_TRY_AGAIN) {
            Offered::Dropped
        } else {
            Offered::Refused
        }
    }

    /// Asks the socket to close with `code`, waking its task if it is idle.
    pub(super) fn close(&self, code: u16) {
        self.control.close(code);
        self.control.push(Outgoing::wake(), false);
    }
}

/// What became of a frame offered to a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Offered {
    Queued,
    /// The queue was full: the socket is closed for being too far behind.
    Dropped,
    /// The queue was full of a socket already asked to close.
    Refused,
}

/// Offers `out` to each of `subscribers` (clones of one frame, not copies), and counts
/// the fan-out once.
pub(super) fn broadcast<'a>(
    subscribers: impl IntoIterator<Item = &'a Subscriber>,
    out: &Outgoing,
    metrics: &LiveMetrics,
) {
    let mut tally = Tally::default();
    for subscriber in subscribers {
        tally.add(subscriber.offer(out.clone()));
    }
    tally.count(metrics);
}

/// Offers of one fan-out, counted as they go and told to the metrics once.
#[derive(Default)]
pub(super) struct Tally {
    queued: u64,
    dropped: u64,
}

impl Tally {
    pub(super) fn add(&mut self, offered: Offered) {
        match offered {
            Offered::Queued => self.queued += 1,
            Offered::Dropped => self.dropped += 1,
            Offered::Refused => {}
        }
    }

    pub(super) fn count(self, metrics: &LiveMetrics) {
        metrics.fanned_out(self.queued, self.dropped);
    }
}
