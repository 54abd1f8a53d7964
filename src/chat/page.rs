//! Rendering a conversation page (and its "older messages" fragment) for a viewer,
//! and the cache of each conversation's latest messages, rendered.
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use maud::Markup;
use sea_orm::{DatabaseConnection, DbErr};

use serde::Deserialize;

use super::{
    Chat, Conversation, ConversationKind, PAGE_SIZE, access,
    levels::Level,
    queries::{self, Window},
    sidebar, unread,
    views::{self, History},
};
use crate::{error::AppError, web::Viewer};

/// Conversations whose latest messages are kept rendered.
const CACHED_HISTORIES: u64 = 1024;

/// The latest page of each busy conversation's history, rendered once and kept until
/// the conversation's next event. An entry is served only while it is as of the
/// conversation's latest event: on PostgreSQL that is read from the conversation's
/// row (`last_seq`, written in the transaction of each event), so a stale entry is
/// never served, on one process or on several. On SQLite this process is the only
/// writer, so the writer tells the cache of each commit and a page needs no query for
/// it. It must not hold anything that differs between viewers.
pub struct HistoryCache {
    latest: moka::sync::Cache<i64, Arc<History>>,
    /// The latest event of each conversation this process has seen, when it is the
    /// only writer; `None` when other processes write too.
    written_here: Option<Mutex<HashMap<i64, i64>>>,
}

impl HistoryCache {
    /// A cache that trusts what it is told of commits when `only_writer` (SQLite).
    pub fn new(only_writer: bool) -> Self {
        Self {
            latest: moka::sync::Cache::new(CACHED_HISTORIES),
            written_here: only_writer.then(Mutex::default),
        }
    }

    /// The writer committed event `seq` of `conversation_id` (ignored unless this
    /// process is the only writer).
    pub fn committed(&self, conversation_id: i64, seq: i64) {
        if let Some(mut known) = self.known() {
            let latest = known.entry(conversation_id).or_insert(seq);
            *latest = (*latest).max(seq);
        }
    }

    /// Drops every rendered page: something every page shows of a person changed (an
    /// avatar, an account deleted). A known limit: other processes on PostgreSQL keep
    /// theirs until each conversation's next event.
    pub fn forget_all(&self) {
        self.latest.invalidate_all();
    }

    fn known(&self) -> Option<std::sync::MutexGuard<'_, HashMap<i64, i64>>> {
        let known = self.written_here.as_ref()?;
        // The map holds plain numbers, whole after any panic.
        Some(
            known
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    /// The conversation's latest event.
    async fn head(&self, db: &DatabaseConnection, conversation_id: i64) -> Result<i64, DbErr> {
        if let Some(seq) = self.known().and_then(|k| k.get(&conversation_id).copied()) {
            return Ok(seq);
        }
        let read = queries::head(db, conversation_id).await?;
        // As a commit would: one told meanwhile may be newer, and the larger stays.
        self.committed(conversation_id, read);
        Ok(read)
    }

    /// The latest messages of `conversation_id`.
    pub async fn latest(
        &self,
        db: &DatabaseConnection,
        conversation_id: i64,
    ) -> Result<Arc<History>, DbErr> {
        let head = self.head(db, conversation_id).await?;
        if let Some(history) = self.latest.get(&conversation_id) {
            if history.upto == head {
                return Ok(history);
            }
        }
        // The page says which event it is as of; it may be newer than `head`, which is
        // only fresher, and is kept as of that event.
        let page = queries::page(db, conversation_id, Window::Latest, PAGE_SIZE).await?;
        let history = Arc::new(History::new(&page));
        self.latest.insert(conversation_id, history.clone());
        Ok(history)
    }
}

/// What a conversation page shows, from its query: which messages, and the message
/// the composer answers (`?reply_to=`, for a reply without script).
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    pub before: Option<i64>,
    pub after: Option<i64>,
    pub around: Option<i64>,
    pub reply_to: Option<i64>,
}

impl PageQuery {
    pub fn window(&self) -> Window {
        match (self.around, self.before, self.after) {
            (Some(around), _, _) => Window::Around(around),
            (None, Some(before), _) => Window::Before(before),
            (None, None, Some(after)) => Window::After(after),
            (None, None, None) => Window::Latest,
        }
    }
}

/// The whole page, with the messages of `query`'s window. `composer` carries a refused
/// draft and the reason, for a plain form post that needs the page back.
pub async fn render(
    chat: &Chat,
    viewer: &Viewer,
    conversation: &Conversation,
    query: &PageQuery,
    composer: Option<(String, String)>,
) -> Result<Markup, AppError> {
    render_with(chat, viewer, conversation, query, composer, None).await
}

/// [`render`] with `panel` shown under the page's heading (a support conversation's
/// visitor and actions, for its operators).
pub async fn render_with(
    chat: &Chat,
    viewer: &Viewer,
    conversation: &Conversation,
    query: &PageQuery,
    composer: Option<(String, String)>,
    panel: Option<Markup>,
) -> Result<Markup, AppError> {
    let kind = ConversationKind::of(conversation);
    let mut peer_read = None;
    let mut peer = None;
    let (heading, url) = match kind {
        ConversationKind::Room => (
            format!("#{}", conversation.name),
            crate::chat::room_path(conversation.slug.as_deref().unwrap_or_default()),
        ),
        ConversationKind::Direct => {
            let other = access::other_member(&chat.db, conversation, viewer.id).await?;
            peer_read =
                Some(unread::queries::read_mark(&chat.db, conversation.id, other.id).await?);
            let online = chat.hub.online_among(&[other.id]).await.contains(&other.id);
            peer = Some((other.id, online));
            (other.username.clone(), format!("/dm/{}", other.username))
        }
        ConversationKind::Support => {
            // The operators' messages tick as the visitor reads them.
            peer_read = Some(
                crate::support::queries::read_marks(&chat.db, conversation.id)
                    .await?
                    .visitor,
            );
            (
                conversation.name.clone(),
                crate::support::inbox_path(conversation.id),
            )
        }
        ConversationKind::Group => {
            let names = queries::member_names(&chat.db, conversation.id).await?;
            (
                crate::direct::groups::title(&names, &viewer.username),
                crate::chat::group_path(conversation.id),
            )
        }
    };
    let private_members = if access::is_private_room(conversation) {
        Some(queries::member_names(&chat.db, conversation.id).await?)
    } else {
        None
    };
    let window = query.window();
    let history = match window {
        Window::Latest => chat.histories.latest(&chat.db, conversation.id).await?,
        window => {
            let page = queries::page(&chat.db, conversation.id, window, PAGE_SIZE).await?;
            Arc::new(History::new(&page))
        }
    };
    let (composer_error, draft) = match composer {
        Some((error, draft)) => (Some(error), draft),
        None => (None, String::new()),
    };
    let reply = match query.reply_to {
        Some(id) => queries::message_by_id(&chat.db, id)
            .await?
            .filter(|m| m.conversation_id == conversation.id),
        None => None,
    };
    let entries = sidebar::entries(&chat.db, viewer.id).await?;
    // The first message the viewer has not read, marked as new on their page alone.
    let own = entries
        .iter()
        .find(|e| e.conversation_id == conversation.id);
    let read_up_to = own.map(|e| (e.read_up_to, e.unread));
    let level = own.map_or_else(|| Level::default_for(kind), |e| e.level);
    let first_unread = match read_up_to {
        Some((read_up_to, unread)) if unread > 0 && window == Window::Latest => {
            history.first_unread(read_up_to, viewer.id)
        }
        _ => None,
    };
    Ok(views::conversation_page(views::ConversationPage {
        viewer,
        id: conversation.id,
        kind,
        heading,
        url,
        history: &history,
        // A page that does not end at the latest message does not grow with new ones.
        live: window == Window::Latest,
        presence: with_viewer(chat.hub.presence(conversation.id).await, viewer),
        // The viewer is here, whether or not their page has its socket yet.
        site_online: chat.hub.site_online().await.max(1),
        peer,
        composer_error,
        draft,
        reply: reply.as_ref(),
        first_unread,
        peer_read,
        level,
        sidebar: Some(sidebar::of(&entries, Some(conversation.id))),
        private_members,
        topic: conversation.topic.clone(),
        archived: conversation.archived_at.is_some(),
        members_added_by_admins: conversation.members_added_by == "admins",
        panel,
    }))
}

/// `presence` counting the viewer, who is looking at the page (its socket, if the page
/// has one, connects after it is shown).
fn with_viewer(mut presence: crate::live::Presence, viewer: &Viewer) -> crate::live::Presence {
    if !presence.users.iter().any(|(id, _)| *id == viewer.id) {
        presence.users.push((viewer.id, viewer.username.clone()));
        presence = crate::live::presence::sorted(presence.users);
    }
    presence
}

/// The htmx answer to "load older": the next `#older` and the messages before `before`.
pub async fn older(
    db: &DatabaseConnection,
    conversation: &Conversation,
    base_url: &str,
    before: i64,
) -> Result<Markup, AppError> {
    let page = queries::page(db, conversation.id, Window::Before(before), PAGE_SIZE).await?;
    Ok(views::older_fragment(
        base_url,
        &page.messages,
        page.has_older,
    ))
}
