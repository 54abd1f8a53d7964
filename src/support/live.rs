//! The inbox, live: when a visitor's conversation changes (a message, either way; an
//! assignment; closing or reopening), the operators of its site who have a page open
//! get its new row. Changes are gathered and sent once a second at most, one fragment
//! per site for all its operators, so a busy site costs each operator one frame a
//! second however many visitors write. A row also says who is typing in its
//! conversation (the visitor or an operator), so that two operators do not answer
//! one visitor unknowingly.
//!
//! It must not hold the hub: its task ends when the server's parts are dropped.
use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex, Weak},
    time::{Duration, Instant},
};

use sea_orm::DatabaseConnection;

use super::queries;
use crate::live::{Outgoing, WeakHub};

/// How often changed rows go out at most.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// How long a row says someone is typing after their last signal (a page signals
/// every few seconds while its composer is in use).
const TYPING_SHOWS: Duration = Duration::from_secs(6);

/// Which conversations changed since the last flush, and which conversations are
/// visitors' (a conversation's kind never changes, so what was looked up once holds).
pub struct Inbox {
    dirty: Mutex<HashSet<i64>>,
    /// Conversation id to its site and visitor, or `None` for one that is not a
    /// visitor's.
    sites: moka::sync::Cache<i64, Option<(i64, i64)>>,
    /// Who is typing in each visitor's conversation, and until when it shows.
    typists: Mutex<HashMap<i64, HashMap<String, Instant>>>,
}

impl Inbox {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            dirty: Mutex::default(),
            sites: moka::sync::Cache::new(100_000),
            typists: Mutex::default(),
        })
    }

    /// Starts the flushing task; it ends when the inbox or the hub is dropped.
    pub fn run(self: &Arc<Self>, db: DatabaseConnection, hub: WeakHub) {
        tokio::spawn(flush_forever(Arc::downgrade(self), db, hub));
    }

    /// `conversation_id` changed here without a message (assigned, closed, seen…): its
    /// row goes out with the next flush, here and in every other process.
    pub fn changed(&self, hub: &crate::live::Hub, conversation_id: i64) {
        self.changed_here(conversation_id);
        hub.publish(crate::live::Event::SupportChanged { conversation_id });
    }

    /// `conversation_id` changed; its row goes out with this process's next flush.
    pub fn changed_here(&self, conversation_id: i64) {
        lock(&self.dirty).insert(conversation_id);
    }

    /// The site and visitor of `conversation_id` when it is a visitor's conversation;
    /// `Err` when that cannot be read now. Each conversation is read once.
    async fn lookup(
        &self,
        db: &DatabaseConnection,
        conversation_id: i64,
    ) -> Result<Option<(i64, i64)>, sea_orm::DbErr> {
        if let Some(known) = self.sites.get(&conversation_id) {
            return Ok(known);
        }
        let found = queries::site_of_conversation(db, conversation_id).await?;
        self.sites.insert(conversation_id, found);
        Ok(found)
    }

    /// A message was posted to `conversation_id` by `author` (or changed, without
    /// one), here or in another process: when it is a visitor's conversation, its row
    /// changed. Other conversations cost a look-up the first time only.
    pub async fn posted(
        &self,
        db: &DatabaseConnection,
        conversation_id: i64,
        author: Option<&str>,
    ) {
        match self.lookup(db, conversation_id).await {
            Ok(Some(_)) => {
                // The typist's message is here: the row stops saying they type.
                if let Some(author) = author {
                    let mut typists = lock(&self.typists);
                    if let Some(typing) = typists.get_mut(&conversation_id) {
                        typing.remove(author);
                        if typing.is_empty() {
                            typists.remove(&conversation_id);
                        }
                    }
                }
                self.changed_here(conversation_id)
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, conversation_id, "could not tell whose conversation this is")
            }
        }
    }

    /// `name` is typing in `conversation_id`, here or in another process: when it is a
    /// visitor's conversation, its row says so for a while. A row that already names
    /// them is not sent again.
    pub async fn typed(&self, db: &DatabaseConnection, conversation_id: i64, name: &str) {
        match self.lookup(db, conversation_id).await {
            Ok(Some(_)) => {
                let until = Instant::now() + TYPING_SHOWS;
                let before = lock(&self.typists)
                    .entry(conversation_id)
                    .or_default()
                    .insert(name.to_owned(), until);
                if before.is_none() {
                    self.changed_here(conversation_id);
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, conversation_id, "could not tell whose conversation this is")
            }
        }
    }

    /// Forgets the typists whose signal ran out; their rows go out again without them.
    fn expire_typists(&self) {
        let now = Instant::now();
        let mut ended = Vec::new();
        lock(&self.typists).retain(|id, typing| {
            let before = typing.len();
            typing.retain(|_, until| *until > now);
            if typing.len() != before {
                ended.push(*id);
            }
            !typing.is_empty()
        });
        for id in ended {
            self.changed_here(id);
        }
    }

    /// Who is typing in each of `conversations`, by name, of those where someone is.
    fn typing_in(&self, conversations: &HashSet<i64>) -> HashMap<i64, Vec<String>> {
        lock(&self.typists)
            .iter()
            .filter(|(id, _)| conversations.contains(id))
            .map(|(id, typing)| {
                let mut names: Vec<String> = typing.keys().cloned().collect();
                names.sort();
                (*id, names)
            })
            .collect()
    }

    /// The visitor whose conversation `conversation_id` is, if it is one; `Err` when
    /// that cannot be told now.
    pub async fn visitor_of(
        &self,
        db: &DatabaseConnection,
        conversation_id: i64,
    ) -> Result<Option<i64>, sea_orm::DbErr> {
        Ok(self
            .lookup(db, conversation_id)
            .await?
            .map(|(_, guest)| guest))
    }

    fn take(&self) -> HashSet<i64> {
        std::mem::take(&mut *lock(&self.dirty))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn flush_forever(inbox: Weak<Inbox>, db: DatabaseConnection, hub: WeakHub) {
    let mut every = tokio::time::interval(FLUSH_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let (Some(inbox), Some(hub)) = (inbox.upgrade(), hub.upgrade()) else {
            return;
        };
        inbox.expire_typists();
        let changed = inbox.take();
        if changed.is_empty() {
            continue;
        }
        let typing = inbox.typing_in(&changed);
        if let Err(e) = flush(&db, &hub, changed, &typing).await {
            tracing::warn!(error = %e, "could not send the inbox's changes");
        }
    }
}

/// Sends each site's changed rows to its operators who are online.
async fn flush(
    db: &DatabaseConnection,
    hub: &crate::live::Hub,
    changed: HashSet<i64>,
    typing: &HashMap<i64, Vec<String>>,
) -> Result<(), sea_orm::DbErr> {
    let mut by_site: HashMap<i64, Vec<queries::SupportChat>> = HashMap::new();
    for conversation_id in changed {
        // One conversation that cannot be read does not hold back the others.
        let read = async {
            queries::note_first_reply(db, conversation_id).await?;
            queries::chat(db, conversation_id).await
        };
        match read.await {
            Ok(Some(chat)) => by_site.entry(chat.site_id).or_default().push(chat),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, conversation_id, "could not read an inbox row"),
        }
    }
    for (site_id, chats) in by_site {
        let operators: HashSet<i64> = queries::operators(db, site_id)
            .await?
            .into_iter()
            .map(|(id, _)| id)
            .filter(|id| hub.is_online(*id))
            .collect();
        if operators.is_empty() {
            continue;
        }
        let out = Outgoing::html(super::views::inbox_rows(&chats, typing, true));
        hub.send_to_users(&operators, &out);
    }
    Ok(())
}
