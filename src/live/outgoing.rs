//! What the hub hands a socket, and how: frames rendered once and shared by every
//! recipient, each socket's bounded queue, and the out-of-band word that closes it.
//!
//! Backpressure is this module's one rule: a send into a socket's queue never waits.
//! A socket whose queue is full has fallen too far behind; it is closed, and its page
//! catches up when it reconnects. One slow reader can cost itself its socket, never
//! anyone else their frames.
use std::sync::{
    Arc,
    atomic::{AtomicU16, Ordering},
};

use tokio::sync::{Notify, mpsc};
use tokio_tungstenite::tungstenite::Message;

/// Frames a socket may have waiting before it counts as too slow and is closed.
pub const SOCKET_QUEUE: usize = 256;

/// Close codes the hub uses.
pub const CLOSE_NORMAL: u16 = 1000;
pub const CLOSE_GOING_AWAY: u16 = 1001;
pub const CLOSE_TRY_AGAIN: u16 = 1013;

/// One frame for a socket: pre-rendered once, shared by every recipient. A pointer,
/// so that a socket's queue slots (allocated with the queue, 32 at a time) stay small.
#[derive(Clone, Debug)]
pub struct Outgoing(Arc<Frame>);

#[derive(Debug)]
struct Frame {
    kind: OutgoingKind,
    frame: Message,
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
    fn new(kind: OutgoingKind, frame: Message) -> Self {
        Self(Arc::new(Frame { kind, frame }))
    }

    /// An HTML fragment for htmx's out-of-band swaps.
    pub fn html(markup: maud::Markup) -> Self {
        Self::new(OutgoingKind::Fragment, Message::text(markup.into_string()))
    }

    /// Events `after + 1 ..= upto` of a conversation, as one fragment.
    pub(super) fn events(after: i64, upto: i64, html: String) -> Self {
        Self::new(OutgoingKind::Events { after, upto }, Message::text(html))
    }

    pub(super) fn ping() -> Self {
        Self::new(OutgoingKind::Ping, Message::Ping(Default::default()))
    }

    fn wake() -> Self {
        Self::new(OutgoingKind::Wake, Message::Text(Default::default()))
    }

    pub fn kind(&self) -> OutgoingKind {
        self.0.kind
    }

    /// The frame to write (its payload is shared, not copied).
    pub fn frame(&self) -> Message {
        self.0.frame.clone()
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
}

impl SocketControl {
    fn close(&self, code: u16) {
        // The first reason wins: a socket closed for being slow stays closed for that.
        let _ = self
            .close_code
            .compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire);
        self.notify.notify_one();
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

/// The hub's end of one socket.
#[derive(Clone, Debug)]
pub(super) struct Subscriber {
    pub(super) id: u64,
    tx: mpsc::Sender<Outgoing>,
    control: Arc<SocketControl>,
}

impl Subscriber {
    /// A socket's queue; the task reads `rx` and watches `control`.
    pub(super) fn new(id: u64) -> (Self, mpsc::Receiver<Outgoing>, Arc<SocketControl>) {
        let (tx, rx) = mpsc::channel(SOCKET_QUEUE);
        let control = Arc::new(SocketControl::default());
        let subscriber = Subscriber {
            id,
            tx,
            control: control.clone(),
        };
        (subscriber, rx, control)
    }

    /// Queues `out`, or closes a socket that has fallen too far behind.
    pub(super) fn offer(&self, out: Outgoing) {
        if self.tx.try_send(out).is_err() {
            // A full queue means a busy task: it reads the code after its next batch,
            // or is blocked writing and waiting on the code too.
            self.control.close(CLOSE_TRY_AGAIN);
        }
    }

    /// Asks the socket to close with `code`, waking its task if it is idle.
    pub(super) fn close(&self, code: u16) {
        self.control.close(code);
        let _ = self.tx.try_send(Outgoing::wake());
    }
}

/// Offers `out` to each of `subscribers`: clones of one frame, not copies.
pub(super) fn broadcast<'a>(subscribers: impl IntoIterator<Item = &'a Subscriber>, out: &Outgoing) {
    for subscriber in subscribers {
        subscriber.offer(out.clone());
    }
}
