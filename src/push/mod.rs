//! Web Push (RFC 8030, with VAPID as in RFC 8292 and payloads encrypted as in RFC 8291)
//! for people with no page open: the server's key pair ([`keys`]), the browsers that
//! subscribed ([`queries`], [`routes`]), whether a push service's address may be called
//! ([`endpoint`]), and the sending, coalesced per person and conversation ([`sender`]).
//! The service worker, the manifest and the offline page that make hearth installable
//! are served here too ([`routes`]).
//!
//! It decides whom to push from each member's level and the message's mentions; it must
//! not render pages, and it never holds up the writer: news of a message reaches it
//! through a bounded queue, and a full queue drops pushes, never messages.
pub mod endpoint;
pub mod keys;
pub mod queries;
pub mod routes;
pub mod sender;

use std::time::Duration;

pub use sender::Pusher;

/// How Web Push behaves; the defaults suit a public server.
#[derive(Clone, Debug)]
pub struct PushSettings {
    /// Who runs this server, as push services ask (`mailto:…` or `https://…`).
    pub contact: String,
    /// Allow push endpoints over plain HTTP and on private or loopback addresses (tests
    /// and closed networks only: a browser's push service is always public HTTPS).
    pub allow_private_endpoints: bool,
    /// After a push for a conversation, further messages there wait this long and go
    /// as one.
    pub coalesce: Duration,
}

impl Default for PushSettings {
    fn default() -> Self {
        Self {
            contact: "mailto:hearth@localhost".into(),
            allow_private_endpoints: false,
            coalesce: Duration::from_secs(15),
        }
    }
}
