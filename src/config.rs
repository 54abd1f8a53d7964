//! The settings a running server needs, as one plain struct. `main.rs` builds it from
//! flags and environment variables; tests build it directly. No parsing happens here.
use std::time::Duration;

use crate::{
    accounts::{mail::MailSettings, policy::SignupPolicy},
    files::FileSettings,
    limits::LimitSettings,
    live::LiveSettings,
    push::PushSettings,
    web::serve::HttpSettings,
};

#[derive(Clone, Debug)]
pub struct Config {
    /// Where to listen, e.g. `127.0.0.1:8080`; port 0 picks a free port.
    pub addr: String,
    /// `sqlite://…` or `postgres://…`.
    pub database_url: String,
    /// Mark the session cookie `Secure` (serve behind TLS).
    pub secure_cookies: bool,
    /// Extra origins allowed to open WebSockets, for deployments behind a proxy whose
    /// public host differs from the `Host` header the server sees.
    pub allowed_origins: Vec<String>,
    /// How long graceful shutdown waits for requests in flight.
    pub shutdown_grace: Duration,
    /// Abuse limits (messages, sign-ups, log-ins, sockets).
    pub limits: LimitSettings,
    /// The live layer's clocks (ticks, pings, typing).
    pub live: LiveSettings,
    /// Web Push: the contact push services see, and which endpoints may be called.
    pub push: PushSettings,
    /// Outgoing webhooks: which targets may be called, timeouts and retries.
    pub webhooks: crate::bots::outgoing::WebhookSettings,
    /// HTTP timeouts and connection limits.
    pub http: HttpSettings,
    /// The sign-up policy to store on start; `None` keeps the stored one (open when
    /// none was ever chosen).
    pub signup: Option<SignupPolicy>,
    /// Where attached files are kept, and how big they may be.
    pub files: FileSettings,
    /// Where `GET /metrics` is served (a second listener, never the public one);
    /// `None` keeps no figures at all. Port 0 picks a free port.
    pub metrics_addr: Option<String>,
    /// The SMTP server password reset links go through, if any.
    pub mail: MailSettings,
}

impl Config {
    /// A config for tests and tools: the given database, a free port on loopback.
    pub fn for_database(database_url: impl Into<String>) -> Self {
        Self {
            addr: "127.0.0.1:0".into(),
            database_url: database_url.into(),
            secure_cookies: false,
            allowed_origins: Vec::new(),
            shutdown_grace: Duration::from_secs(8),
            limits: LimitSettings::default(),
            live: LiveSettings::default(),
            push: PushSettings::default(),
            webhooks: crate::bots::outgoing::WebhookSettings::default(),
            http: HttpSettings::default(),
            signup: None,
            files: FileSettings::default(),
            metrics_addr: None,
            mail: MailSettings::default(),
        }
    }
}
