//! Live delivery: the [`Hub`] that keeps this process's sockets and fans events out to
//! them, the [`Bus`] that carries events to the other processes, and the socket's own
//! task ([`socket`]).
//!
//! This layer knows conversations only as numbered streams of fragments: what a
//! message looks like, who may read it and what changed since an event are the
//! [`Source`]'s (the chat layer's), which the hub asks when it must read from the
//! database.
//!
//! The hub renders each event once into a shared frame and hands clones of it (a
//! reference count, not a copy) to every recipient's bounded queue. It never renders
//! or queries per recipient, and it never waits on a socket: a socket whose queue is
//! full is closed and catches up when it reconnects.
use std::time::Duration;

use async_trait::async_trait;
use sea_orm::DbErr;

pub mod bus;
mod delivery;
mod fragments;
pub mod hub;
pub mod leases;
pub mod notices;
pub mod outgoing;
pub mod pg_bus;
pub mod presence;
mod registry;
mod remote;
mod sequence;
pub mod slots;
pub mod socket;
mod ticker;
mod typing;
pub mod wire;

pub use bus::{Bus, Event, LocalBus};
pub use hub::{Hub, Registration, WeakHub};
pub use notices::Notice;
pub use outgoing::{Outgoing, OutgoingKind};
pub use pg_bus::PgBus;
pub use presence::Presence;
pub use registry::SocketOwner;
pub use sequence::{Committed, Filled};

/// The live layer's clocks. The defaults suit a server; tests shorten them.
#[derive(Clone, Debug)]
pub struct LiveSettings {
    /// How often typing and presence changes go out (coalescing them).
    pub flush_every: Duration,
    /// How often each socket is pinged.
    pub ping_every: Duration,
    /// How long a peer may stay silent (not answering pings) before it is dropped.
    pub silence_limit: Duration,
    /// How long "typing…" lasts after the last signal.
    pub typing_lasts: Duration,
    /// Messages a socket's catch-up reads at a time.
    pub catch_up_page: u64,
}

impl Default for LiveSettings {
    fn default() -> Self {
        Self {
            flush_every: Duration::from_millis(250),
            ping_every: Duration::from_secs(20),
            silence_limit: Duration::from_secs(50),
            typing_lasts: Duration::from_secs(5),
            catch_up_page: 200,
        }
    }
}

/// What the hub needs to know of conversations, from the layer that owns them.
#[async_trait]
pub trait Source: Send + Sync + 'static {
    /// What changed in each conversation after event `after`, as one fragment each, or
    /// only the latest event number where `after` is `None`.
    async fn changes(&self, wanted: &[(i64, Option<i64>)]) -> Result<Vec<Filled>, DbErr>;

    /// Whether a conversation is a public room (whose count the lobby shows).
    async fn is_room(&self, conversation_id: i64) -> Option<bool>;

    /// Another process sent `event`: what the owner of conversations does with it
    /// (members' news, read receipts), after the hub has done its part.
    async fn heard(&self, hub: &Hub, event: &Event);
}
