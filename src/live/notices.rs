//! Notices for listeners that are not sockets (the API's event streams): which
//! conversation or event changed, on a bounded broadcast channel. A notice carries no
//! content; its listener reads what it needs from the database after its own cursor,
//! so a listener that falls behind (the channel overflows) reads everything again and
//! loses nothing. Sending never waits, and costs next to nothing with nobody
//! listening.
use std::sync::Arc;

use tokio::sync::broadcast;

/// How many notices wait for a slow listener before it must read everything again.
const BACKLOG: usize = 1024;

/// What changed, as a listener needs to hear it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// An event of this conversation committed (here or in another process).
    Changed(i64),
    /// A program published app event `id`.
    Published(i64),
    /// Someone joined or left conversation N (here or in another process).
    MembershipChanged(i64),
    /// `user_id` may no longer read `conversation_id`, or, without one, use hearth.
    AccessEnded {
        user_id: i64,
        conversation_id: Option<i64>,
    },
    /// The session was signed out.
    SessionEnded(Arc<str>),
    /// Events may have been lost (the bus reconnected): read everything again.
    Resync,
}

/// The sending side, kept by the hub.
pub(super) struct Notices(broadcast::Sender<Notice>);

impl Default for Notices {
    fn default() -> Self {
        Self(broadcast::channel(BACKLOG).0)
    }
}

impl Notices {
    pub(super) fn send(&self, notice: Notice) {
        // Nobody listening is the common case, not an error.
        if self.0.receiver_count() > 0 {
            let _ = self.0.send(notice);
        }
    }

    pub(super) fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.0.subscribe()
    }
}
