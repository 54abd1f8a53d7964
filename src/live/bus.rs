//! The one interface that delivery goes through. A [`Bus`] carries [`Event`]s to the
//! hub of every server process, this one included; the in-process [`LocalBus`] is the
//! whole story for a single process, and a PostgreSQL bus (LISTEN/NOTIFY) stands in
//! for it when several processes share a database. Nothing above this interface knows
//! which one is in use.
//!
//! Events carry ids, not HTML: each process renders what it delivers, once.
use async_trait::async_trait;
use sea_orm::{DatabaseTransaction, DbErr};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

/// What happened, as every process's hub needs to hear it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t")]
pub enum Event {
    /// Message `message_id` committed in `conversation_id`; `previous_id` is the
    /// message before it there, so a hub can tell whether it missed one.
    MessageCommitted {
        conversation_id: i64,
        message_id: i64,
        previous_id: Option<i64>,
    },
    /// `user_id` is typing in `conversation_id`.
    Typing {
        conversation_id: i64,
        user_id: i64,
        username: String,
    },
    /// `user_id` has read `conversation_id` up to message `up_to`.
    Read {
        conversation_id: i64,
        user_id: i64,
        up_to: i64,
    },
    /// Someone joined or left `conversation_id`.
    MembershipChanged { conversation_id: i64 },
    /// Who is online in `conversation_id` (0: on the site) changed in some process.
    PresenceChanged { conversation_id: i64 },
    /// The bus may have lost events (its connection dropped): refill from the database.
    Resync,
    /// The session was signed out: close its sockets.
    SessionEnded { session: String },
}

#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Sends `event` to every hub. Never blocks; delivery is best effort for
    /// everything but messages, which a hub can always recover from the database.
    fn publish(&self, event: Event);

    /// Writes `event` into `txn`, to go out when (and only if) it commits. Answers
    /// false when this bus cannot, and the caller must [`publish`](Bus::publish)
    /// after the commit instead.
    async fn publish_in(&self, _txn: &DatabaseTransaction, _event: &Event) -> Result<bool, DbErr> {
        Ok(false)
    }

    /// [`publish_in`](Bus::publish_in) for several events, in order; answers false
    /// (for all of them) when this bus cannot.
    async fn publish_all_in(
        &self,
        txn: &DatabaseTransaction,
        events: &[Event],
    ) -> Result<bool, DbErr> {
        for event in events {
            if !self.publish_in(txn, event).await? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// The bus of a single process: events go straight to this process's hub.
pub struct LocalBus {
    tx: mpsc::UnboundedSender<Event>,
}

impl LocalBus {
    /// The bus and the receiving end that the hub consumes.
    pub fn new() -> (Self, mpsc::UnboundedReceiver<Event>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self { tx }, rx)
    }
}

#[async_trait]
impl Bus for LocalBus {
    fn publish(&self, event: Event) {
        // The receiver lives as long as the hub; after shutdown there is nobody to tell.
        let _ = self.tx.send(event);
    }
}
