//! Logging setup: `tracing` to stderr, filtered by `RUST_LOG` (default `info`).
//! Only the binary calls [`init`]; the library itself never installs a subscriber.
use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    // A second call (e.g. from a test harness) is harmless: keep the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .try_init();
}
