//! What operators read off a running server: its log ([`init`], here) and its figures
//! ([`metrics`], scraped by Prometheus from the metrics address).
//!
//! The log is `tracing` to stderr, filtered by `RUST_LOG` (default `info`), as text
//! for people or as one JSON object per line for a log collector. Colours only when
//! stderr is a terminal: escape codes in a file or a collector's pipe are noise. Only
//! the binary calls [`init`]; the library itself never installs a subscriber.
use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub mod metrics;

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One line of text per event, for people.
    #[default]
    Text,
    /// One JSON object per line (`timestamp`, `level`, `message`, the event's fields
    /// and its spans), for log collectors.
    Json,
}

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr);
    // A second call (e.g. from a test harness) is harmless: keep the first subscriber.
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder
            .json()
            // `message` beside `level`, not inside a `fields` object.
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}
