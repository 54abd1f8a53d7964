//! The one interface between server processes. A [`Bus`] carries [`Event`]s from this
//! process to the hubs of the others; this process's own hub hears of its events
//! directly, from the thread that committed them. A single process has nobody to tell
//! ([`LocalBus`]); processes sharing PostgreSQL tell each other over LISTEN/NOTIFY
//! ([`super::PgBus`]). Nothing above this interface knows which one is in use.
//!
//! Events carry ids, not HTML: each process renders what it delivers, once.
use async_trait::async_trait;
use sea_orm::{DatabaseTransaction, DbErr};
use serde::{Deserialize, Serialize};

/// What happened, as every process's hub needs to hear it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t")]
pub enum Event {
    /// Event `seq` of `conversation_id` committed: it posted message `message_id`
    /// (`posted`) or changed it. A hub reads what it needs from the database.
    Changed {
        conversation_id: i64,
        seq: i64,
        message_id: i64,
        posted: bool,
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
    /// `conversation_id` changed for good (a room archived or renamed): close its
    /// sockets, whose pages reconnect to it as it now is.
    ConversationClosed { conversation_id: i64 },
    /// `user_id` was added to the private room `conversation_id`: their pages show it.
    Added { conversation_id: i64, user_id: i64 },
    /// `user_id` may no longer read `conversation_id` (removed from a private room, or
    /// left it), or, without one, may no longer use hearth at all (deactivated): close
    /// those sockets.
    AccessEnded {
        user_id: i64,
        conversation_id: Option<i64>,
    },
    /// A program published event `id` (`app_events`): its people's pages get it.
    Published { id: i64 },
    /// A visitor's conversation changed without a message (assigned, closed, reopened,
    /// the visitor seen or their email given): its inbox row goes out again.
    SupportChanged { conversation_id: i64 },
}

#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Sends `event` to every other process's hub. Never blocks; delivery is best
    /// effort for everything but conversation events, which a hub can always recover
    /// from the database.
    fn publish(&self, event: Event);

    /// Writes `events` into `txn`, in order, to go out when (and only if) it commits.
    async fn publish_all_in(
        &self,
        txn: &DatabaseTransaction,
        events: &[Event],
    ) -> Result<(), DbErr>;

    /// Whether events from the other processes are being heard right now (a process
    /// alone has none to hear, and is always listening).
    fn is_listening(&self) -> bool {
        true
    }
}

/// The bus of a single process: there is no other process to tell.
pub struct LocalBus;

#[async_trait]
impl Bus for LocalBus {
    fn publish(&self, _event: Event) {}

    async fn publish_all_in(
        &self,
        _txn: &DatabaseTransaction,
        _events: &[Event],
    ) -> Result<(), DbErr> {
        Ok(())
    }
}
