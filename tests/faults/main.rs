//! The fault suite: what a person notices when the things under hearth fail, and that
//! nothing they were told was saved goes missing.
//!
//! - [`database_outage`]: PostgreSQL goes away under a running server and comes back
//!   (through a TCP [`proxy`] that cuts and refuses connections; the machine's
//!   PostgreSQL itself is never stopped). Needs PostgreSQL (`HEARTH_TEST_POSTGRES_URL`).
//! - [`sigkill`]: a server killed with SIGKILL while clients post keeps every message
//!   whose post was answered 2xx (SQLite).
//! - [`storage`]: a read-only database stops the server at start with an error a person
//!   can read; a full disk answers posts with a clear error, and clears by itself.
//!
//! - [`exhaustion`]: a server out of file descriptors sheds connections and keeps
//!   answering.
//!
//! Every test runs the real `hearth` binary ([`server::Hearth`]).
#[path = "../api/helpers.rs"]
mod helpers;

mod database_outage;
mod exhaustion;
mod proxy;
mod server;
mod sigkill;
mod storage;
