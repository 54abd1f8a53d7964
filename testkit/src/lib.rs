//! What hearth's tests and benchmarks share to run it from outside, as a user would:
//! - [`Child`]: a server binary as a child process, with its log in a file of its own
//!   and a way to stop it gracefully or kill it; [`Child::hearth`] starts
//!   `hearth serve` on a free port and waits for its health check.
//! - [`ScratchDatabase`]: an empty PostgreSQL database for one test or run, dropped
//!   after it.
//!
//! It knows nothing of hearth's insides: the fault, scale-out and browser tests and the
//! load generator start the real binary through it.
mod child;
mod postgres;

pub use child::{Child, free_addr};
pub use postgres::{ScratchDatabase, postgres_server};
