//! What every page shares: the HTTP server loop (with its connection limits,
//! timeouts and turns for WebSocket handshakes), the session middleware and its store,
//! the CSRF check on every POST, the key cookies are signed with, the [`Viewer`] extractor for signed-in requests, the
//! page layout and the error pages. Capabilities (accounts, rooms, chat, live) build on this and
//! this module knows nothing about them.
pub mod admission;
pub mod errors;
pub mod handshakes;
pub mod layout;
pub mod request_log;
pub mod security;
pub mod serve;
pub mod session;
pub mod session_store;
pub mod signing;
pub mod watch;

pub use session::{Viewer, is_htmx};
