//! Events programs publish to people's open pages (`POST /api/v1/events`, see
//! docs/api.md): for everyone signed in, for one person, or for a conversation's
//! members. Each is stored first; once it has committed it is rendered once into a
//! `.live-event` fragment and handed to the hub for the sockets of the people in scope,
//! here and (over the bus, which carries only its id) in the other processes. The
//! page's script (`assets/js/events.js`) fires `hearth:{type}` on `window` with the
//! detail. Events are kept for [`KEPT_FOR_MS`]; a page that reconnects with
//! `events_since` gets the ones it missed ([`missed`]).
//!
//! It owns the events' storage and delivery. Who may publish what is the API's
//! operation's to decide; nothing here renders or queries per recipient.
mod queries;
mod views;

use std::sync::{
    Arc,
    atomic::{AtomicI64, Ordering},
};

use sea_orm::{DatabaseConnection, DbErr};

pub use queries::{by_id, missed, recent};
pub use views::{cursor, fragment};

use crate::{chat::members::Members, live::Hub};

/// How long events are kept for pages that reconnect, and for the admins' list.
pub const KEPT_FOR_MS: i64 = 24 * 3600 * 1000;
/// The most an event's detail may hold, as JSON text.
pub const MAX_DETAIL_BYTES: usize = 8 * 1024;
/// The longest type (`hearth:{type}` is the DOM event's name).
pub const MAX_KIND_CHARS: usize = 64;

/// Whom an event is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Everyone signed in.
    All,
    /// One person.
    User(i64),
    /// The members of a conversation.
    Conversation(i64),
}

impl Scope {
    /// As stored and as the API says it: `user`, `room` or `all`, and the target's id.
    pub fn parts(self) -> (&'static str, Option<i64>) {
        match self {
            Scope::All => ("all", None),
            Scope::User(id) => ("user", Some(id)),
            Scope::Conversation(id) => ("room", Some(id)),
        }
    }

    fn from_parts(scope: &str, target: Option<i64>) -> Option<Self> {
        match (scope, target) {
            ("all", _) => Some(Scope::All),
            ("user", Some(id)) => Some(Scope::User(id)),
            ("room", Some(id)) => Some(Scope::Conversation(id)),
            _ => None,
        }
    }
}

/// A stored event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppEvent {
    pub id: i64,
    pub scope: Scope,
    /// Its type: lower-case letters, digits, `.`, `_` and `-` ([`is_kind`]).
    pub kind: String,
    /// Its detail, as JSON text.
    pub detail: String,
    pub author_id: i64,
    pub created_at: i64,
}

/// Whether `kind` may name an event: 1 to 64 of `a-z 0-9 . _ -`, starting with a
/// letter or digit, so that `hearth:{kind}` is a plain DOM event name.
pub fn is_kind(kind: &str) -> bool {
    let mut chars = kind.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && kind.len() <= MAX_KIND_CHARS
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
}

/// The newest event this process knows of: a page that connects without a cursor
/// starts there. One from another process not yet heard here may be newer; the page
/// then gets it both live and on its next reconnect, and its script keeps the first.
#[derive(Debug, Default)]
pub struct Latest(AtomicI64);

impl Latest {
    /// Read from the database at start.
    pub async fn load(db: &DatabaseConnection) -> Result<Arc<Self>, DbErr> {
        Ok(Arc::new(Self(AtomicI64::new(
            queries::latest_id(db).await?,
        ))))
    }

    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }

    fn saw(&self, id: i64) {
        self.0.fetch_max(id, Ordering::Relaxed);
    }
}

/// What a program asks to publish.
#[derive(Clone, Debug)]
pub struct NewAppEvent {
    pub scope: Scope,
    pub kind: String,
    pub detail: String,
    pub author_id: i64,
}

/// Stores `new` (and forgets events past [`KEPT_FOR_MS`]), then delivers it.
pub async fn publish(
    db: &DatabaseConnection,
    hub: &Hub,
    members: &Members,
    latest: &Latest,
    new: NewAppEvent,
) -> Result<AppEvent, DbErr> {
    let event = queries::insert(db, hub.bus(), new).await?;
    latest.saw(event.id);
    hub.notify(crate::live::Notice::Published(event.id));
    deliver(hub, members, &event).await;
    Ok(event)
}

/// Another process published event `id`: its people here get it.
pub async fn heard(
    db: &DatabaseConnection,
    hub: &Hub,
    members: &Members,
    latest: &Latest,
    id: i64,
) {
    match queries::by_id(db, id).await {
        Ok(Some(event)) => {
            latest.saw(event.id);
            deliver(hub, members, &event).await;
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "could not load a published event"),
    }
}

/// Hands `event`, rendered once, to the sockets here of the people in its scope.
async fn deliver(hub: &Hub, members: &Members, event: &AppEvent) {
    let out = crate::live::Outgoing::html(views::fragment(std::slice::from_ref(event)));
    match event.scope {
        Scope::All => hub.send_to_everyone(&out),
        Scope::User(user_id) => hub.send_to_user(user_id, out),
        Scope::Conversation(conversation_id) => match members.of(conversation_id).await {
            Ok(people) => hub.send_to_users(&people, &out),
            Err(e) => tracing::warn!(error = %e, "could not read whom an event is for"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::is_kind;

    #[test]
    fn a_type_is_a_plain_dom_event_name() {
        for good in ["deploy", "export.ready", "build_12-done", "9lives"] {
            assert!(is_kind(good), "{good}");
        }
        let long = "a".repeat(65);
        for bad in [
            "",
            "Deploy",
            "-x",
            ".x",
            "a b",
            "a:b",
            "é",
            "<script>",
            long.as_str(),
        ] {
            assert!(!is_kind(bad), "{bad}");
        }
    }
}
