//! # hearth-bench
//!
//! hearth's measuring instrument (issue 6): how fast, how lean and how correct live
//! delivery is, measured against limit-server, a bare tokio-tungstenite broadcast
//! server that marks the most this machine can do for the job.
//!
//! ## Layout
//! - [`seed`] prepares the people of a run: the admin path that writes users, rooms and
//!   their sessions (logged in) straight into hearth's database (through hearth's own library,
//!   so the formats cannot drift), or the slow real path of signing up over HTTP.
//! - [`servers`] starts hearth and limit-server (or points at running ones) and stops
//!   them.
//! - [`fleet`] opens the sockets, posts at a set rate over the socket or over HTTP, and
//!   checks every frame that arrives: latency, loss, duplicates, order.
//! - [`procstat`] reads a process's CPU time and resident memory from `/proc`.
//! - [`scenarios`] runs the scenarios, the search for the highest sustainable
//!   rate, and compares hearth with limit-server.
//! - [`report`] writes the JSON results, the SVG chart and the markdown table.
//! - [`http`] measures the room page and posting over HTTP with wrk.
//! - [`search`] seeds a million messages and measures search while people post.
//! - [`upload`] uploads 100 MB files while people talk: memory and their latency.
//! - [`support`] puts 2,000 widget visitors and 10 operators on one site and compares
//!   their delivery with a room of the same size.
//!
//! The `loadgen` binary (`src/bin/loadgen.rs`) is the command line over all this; the
//! criterion micro-benchmarks are in `benches/hot_paths.rs`.
pub mod fleet;
pub mod http;
pub mod procstat;
pub mod report;
pub mod scenarios;
pub mod search;
pub mod seed;
pub mod servers;
pub mod support;
pub mod upload;
