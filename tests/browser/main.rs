//! Browser tests: headless Chromium (Debian's `chromium` and `chromium-driver`), driven
//! over WebDriver with fantoccini, against a real server on a free port. Each test has
//! its own server, database, chromedriver and browsers (one per person, each with its own
//! profile), and shares nothing with the others.
//!
//! They are `#[ignore = "needs chromium"]`: `cargo test` skips them, and
//! `cargo test --test browser -- --include-ignored --test-threads=1` runs them. They
//! share nothing, so they also pass side by side; one at a time is the steadiest on a
//! busy two-core machine, where each Chromium wants a core of its own.
//! Screenshots land in `target/screenshots/`, with the page's DOM and console log
//! beside a screenshot whenever a wait fails.
#[path = "../api/helpers.rs"]
mod helpers;

mod harness;

mod events;
mod files;
mod first_minutes;
mod live;
mod mentions;
mod messages;
mod offline;
mod people;
mod private_chats;
mod readme;
mod rooms;
mod search;
mod support;
