//! The sidebar on every signed-in page: the rooms you are in and your private chats,
//! most recent activity first, each with its unread count, its count of unread
//! mentions and its notification level. Unread means: written by someone else after
//! the last message you read there.
use std::collections::HashMap;

use maud::{Markup, html};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};

use super::{ConversationKind, levels::Level};
use crate::{db, web::layout::Sidebar};

/// One line of the sidebar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub conversation_id: i64,
    pub kind: ConversationKind,
    /// `#general`, the other person's name, or a group's other members' names.
    pub label: String,
    pub url: String,
    pub unread: i64,
    /// Unread messages that mention the person.
    pub mentions: i64,
    /// The last message the person has read there.
    pub read_up_to: i64,
    pub level: Level,
}

impl Entry {
    /// What the entry adds to the count on the tab and the Menu button: every unread
    /// message, the mentions among them, or nothing, as the level says.
    pub fn notifying(&self) -> i64 {
        match self.level {
            Level::Everything => self.unread.max(0),
            Level::Mentions => self.mentions.max(0),
            Level::Nothing => 0,
        }
    }
}

/// The sidebar of `user_id`: rooms and private chats, most recently active first; a
/// private chat someone else opened shows once it has a message. One query, and one
/// more for the names in the person's group chats when they have any: it runs on every
/// page.
pub async fn entries(db: &DatabaseConnection, user_id: i64) -> Result<Vec<Entry>, DbErr> {
    let rows = db
        .query_all_raw(db::statement(
            db,
            "SELECT c.id, c.kind, c.name, c.slug, m.last_read_message_id, m.notify, \
               (SELECT COUNT(*) FROM messages msg WHERE msg.conversation_id = c.id \
                  AND msg.id > m.last_read_message_id AND msg.author_id <> ?) AS unread, \
               (SELECT COUNT(*) FROM mentions mn WHERE mn.user_id = m.user_id \
                  AND mn.conversation_id = c.id AND mn.message_id > m.last_read_message_id) AS mentions, \
               (SELECT u.username FROM memberships other JOIN users u ON u.id = other.user_id \
                  WHERE c.kind = 'direct' AND other.conversation_id = c.id \
                    AND other.user_id <> ? LIMIT 1) AS other_name \
             FROM memberships m JOIN conversations c ON c.id = m.conversation_id \
             WHERE m.user_id = ? AND c.kind <> 'support' \
               AND (c.kind NOT IN ('direct', 'group') OR c.last_message_id IS NOT NULL OR c.created_by = ?) \
             ORDER BY c.last_activity_at DESC, c.id DESC LIMIT 200",
            [
                user_id.into(),
                user_id.into(),
                user_id.into(),
                user_id.into(),
            ],
        ))
        .await?;
    let mut entries = Vec::with_capacity(rows.len());
    for row in rows {
        let conversation_id: i64 = row.try_get("", "id")?;
        let kind: String = row.try_get("", "kind")?;
        let unread: i64 = row.try_get("", "unread")?;
        let mentions: i64 = row.try_get("", "mentions")?;
        let read_up_to: i64 = row.try_get("", "last_read_message_id")?;
        let notify: Option<String> = row.try_get("", "notify")?;
        let kind = ConversationKind::named(&kind);
        let entry = if kind == ConversationKind::Group {
            Entry {
                conversation_id,
                kind,
                // Named below, once all the person's groups are known.
                label: String::new(),
                url: super::group_path(conversation_id),
                unread,
                mentions,
                read_up_to,
                level: Level::stored(notify.as_deref(), kind),
            }
        } else if kind == ConversationKind::Direct {
            // A private chat whose other member is gone has nobody to show.
            let Some(other) = row.try_get::<Option<String>>("", "other_name")? else {
                continue;
            };
            Entry {
                conversation_id,
                kind: ConversationKind::Direct,
                url: format!("/dm/{other}"),
                label: other,
                unread,
                mentions,
                read_up_to,
                level: Level::stored(notify.as_deref(), ConversationKind::Direct),
            }
        } else {
            let name: String = row.try_get("", "name")?;
            let slug: Option<String> = row.try_get("", "slug")?;
            Entry {
                conversation_id,
                kind: ConversationKind::Room,
                label: format!("#{name}"),
                url: super::room_path(&slug.unwrap_or_default()),
                unread,
                mentions,
                read_up_to,
                level: Level::stored(notify.as_deref(), ConversationKind::Room),
            }
        };
        entries.push(entry);
    }
    name_groups(db, user_id, &mut entries).await?;
    Ok(entries)
}

/// Labels each group entry with its members other than `user_id`.
async fn name_groups(
    db: &DatabaseConnection,
    user_id: i64,
    entries: &mut [Entry],
) -> Result<(), DbErr> {
    let groups: Vec<i64> = entries
        .iter()
        .filter(|e| e.kind == ConversationKind::Group)
        .map(|e| e.conversation_id)
        .collect();
    if groups.is_empty() {
        return Ok(());
    }
    let places = vec!["?"; groups.len()].join(", ");
    let mut values: Vec<sea_orm::Value> = vec![user_id.into()];
    values.extend(groups.iter().map(|&id| sea_orm::Value::from(id)));
    let rows = db
        .query_all_raw(db::statement(
            db,
            &format!(
                "SELECT m.conversation_id, u.username FROM memberships m \
                 JOIN users u ON u.id = m.user_id \
                 WHERE m.user_id <> ? AND m.conversation_id IN ({places}) \
                 ORDER BY u.username_key"
            ),
            values,
        ))
        .await?;
    let mut names: HashMap<i64, Vec<String>> = HashMap::new();
    for row in rows {
        names
            .entry(row.try_get("", "conversation_id")?)
            .or_default()
            .push(row.try_get("", "username")?);
    }
    for entry in entries
        .iter_mut()
        .filter(|e| e.kind == ConversationKind::Group)
    {
        entry.label = names
            .remove(&entry.conversation_id)
            .unwrap_or_default()
            .join(", ");
    }
    Ok(())
}

/// One line of the sidebar, as the page and the live "new conversation" event show it.
pub fn entry(e: &Entry, current: Option<i64>) -> Markup {
    html! {
        li.conv-item data-conversation-id=(e.conversation_id) {
            a.conv-link href=(e.url) data-conversation-id=(e.conversation_id)
                aria-current=[(current == Some(e.conversation_id)).then_some("page")] {
                span.conv-label dir="auto" { (e.label) }
                (super::levels::mark(e.conversation_id, e.level, false))
                (super::unread::mention_badge(e.conversation_id, e.mentions, false))
                (super::unread::badge(e.conversation_id, e.unread, false))
            }
        }
    }
}

/// The whole sidebar, with `current` marked; out of band for a socket when `oob`.
pub fn render(entries: &[Entry], current: Option<i64>, oob: bool) -> Markup {
    let rooms = entries.iter().filter(|e| e.kind == ConversationKind::Room);
    let direct = entries.iter().filter(|e| e.kind.is_private_chat());
    html! {
        nav #sidebar popover aria-label="Conversations" hx-swap-oob=[oob.then_some("true")] {
            h2 { "Rooms" }
            ul #sidebar-rooms.conv-list {
                @for e in rooms { (entry(e, current)) }
            }
            h2 { "Private chats" }
            ul #sidebar-direct.conv-list {
                @for e in direct { (entry(e, current)) }
            }
            p.sidebar-more { a href="/mentions" { "Mentions" } " · " a href="/users" { "Find people" } " · " a href="/" { "All rooms" } " · " a href="/search" { "Search" } }
        }
    }
}

/// The sidebar of `user_id` for a page showing `current`.
pub async fn for_user(
    db: &DatabaseConnection,
    user_id: i64,
    current: Option<i64>,
) -> Result<Sidebar, DbErr> {
    Ok(of(&entries(db, user_id).await?, current))
}

/// The sidebar of `entries`, and their unread total.
pub fn of(entries: &[Entry], current: Option<i64>) -> Sidebar {
    Sidebar {
        html: render(entries, current, false),
        unread: entries.iter().map(Entry::notifying).sum(),
    }
}
