//! Outgoing webhooks: a bot's URL that hearth calls when the bot is mentioned or sent
//! a private message (or, when asked, for every message in its rooms), with the
//! message and its conversation as JSON, signed with HMAC-SHA256. A JSON answer with
//! `text` is posted as the bot's reply.
//!
//! The calls never run on the request path. A task looks through new messages for the
//! ones each bot is owed ([`queries::scan`]) and stores a delivery for each, then makes
//! the deliveries that are due ([`call`]): so a restart loses none, a slow or dead
//! target slows down nobody's posting, and a target that refuses, times out or answers
//! 5xx is tried again with backoff, then marked failing on the bots page. Targets are
//! held to the push endpoints' rules ([`crate::push::endpoint`]): public HTTPS only,
//! checked when set and again at every call by the client's resolver, no redirects.
mod call;
pub mod queries;

use std::{
    sync::{Arc, Weak},
    time::Duration,
};

use crate::chat::Chat;

/// How outgoing webhooks behave; the defaults suit a public server.
#[derive(Clone, Debug)]
pub struct WebhookSettings {
    /// Allow targets over plain HTTP and on private or loopback addresses (tests and
    /// closed networks only).
    pub allow_private_targets: bool,
    /// How long a call may take.
    pub timeout: Duration,
    /// How long to wait before each retry; a delivery fails for good after the last.
    pub retry_after: Vec<Duration>,
    /// How often the task looks for new messages and due deliveries while some bot
    /// has a webhook (four times as seldom while none has).
    pub poll_every: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            allow_private_targets: false,
            timeout: Duration::from_secs(10),
            retry_after: [10, 60, 300, 1800]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
            poll_every: Duration::from_millis(500),
        }
    }
}

/// How often deliveries long done are forgotten.
const TIDY_EVERY: Duration = Duration::from_secs(3600);
/// Deliveries made at once, at most.
const IN_FLIGHT: usize = 8;

/// Starts the task; it ends with the chat.
pub fn start(chat: Weak<Chat>, settings: WebhookSettings) -> anyhow::Result<()> {
    let client = call::client(&settings)?;
    tokio::spawn(run(chat, settings, client));
    Ok(())
}

async fn run(chat: Weak<Chat>, settings: WebhookSettings, client: reqwest::Client) {
    let settings = Arc::new(settings);
    let mut calls = tokio::task::JoinSet::new();
    let mut last_tidy = tokio::time::Instant::now();
    let mut any_hooks = true;
    loop {
        // With no webhook anywhere, a look costs a query and finds nothing.
        let pause = if any_hooks || !calls.is_empty() {
            settings.poll_every
        } else {
            settings.poll_every * 4
        };
        tokio::time::sleep(pause).await;
        let Some(chat) = chat.upgrade() else { return };
        if last_tidy.elapsed() >= TIDY_EVERY {
            last_tidy = tokio::time::Instant::now();
            if let Err(e) = queries::forget_old(&chat.db).await {
                tracing::warn!(error = %e, "could not forget old webhook deliveries");
            }
        }
        match queries::scan(&chat.db).await {
            Ok(found) => any_hooks = found,
            Err(e) => {
                any_hooks = true;
                tracing::warn!(error = %e, "could not look for outgoing webhook deliveries");
            }
        }
        while calls.try_join_next().is_some() {}
        let room = IN_FLIGHT.saturating_sub(calls.len());
        if room == 0 || !any_hooks {
            continue;
        }
        match queries::take_due(&chat.db, room as u64, &settings).await {
            Ok(due) => {
                for delivery in due {
                    let (chat, client, settings) = (chat.clone(), client.clone(), settings.clone());
                    calls.spawn(
                        async move { call::make(&chat, &client, &settings, delivery).await },
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not read due webhook deliveries"),
        }
    }
}
