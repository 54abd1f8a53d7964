//! Live delivery: the WebSocket endpoint ([`socket`]), the [`Hub`] that keeps this
//! process's sockets and fans events out to them, and the [`Bus`] that carries events
//! to every process's hub.
//!
//! The hub renders each event once into a shared frame and hands clones of it (a
//! reference count, not a copy) to every recipient's bounded queue. It never renders
//! or queries per recipient, and it never waits on a socket: a socket whose queue is
//! full is closed and catches up when it reconnects.
pub mod bus;
pub mod fragments;
pub mod hub;
pub mod pg_bus;
pub mod presence;
pub mod socket;

pub use bus::{Bus, Event, LocalBus};
pub use hub::{Hub, Presence};
pub use pg_bus::PgBus;
