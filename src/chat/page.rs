//! Rendering a conversation page (and its "older messages" fragment) for a viewer,
//! and the cache of each conversation's latest messages, rendered.
use std::sync::Arc;

use maud::Markup;
use sea_orm::{DatabaseConnection, DbErr};

use super::{
    Conversation, ConversationKind, PAGE_SIZE, access, queries, sidebar,
    views::{self, History},
};
use crate::{error::AppError, startup::AppState, web::Viewer};

/// Conversations whose latest messages are kept rendered.
const CACHED_HISTORIES: u64 = 1024;

/// The latest page of each busy conversation's history, rendered once and kept until
/// the conversation's next message. Whether an entry is current is told by the
/// conversation's row as the request read it (`last_message_id`, written in the
/// transaction of each message), so a stale entry is never served, on one process or
/// on several. It must not hold anything that differs between viewers.
pub struct HistoryCache {
    latest: moka::sync::Cache<i64, (Option<i64>, Arc<History>)>,
}

impl Default for HistoryCache {
    fn default() -> Self {
        Self {
            latest: moka::sync::Cache::new(CACHED_HISTORIES),
        }
    }
}

impl HistoryCache {
    /// The latest messages of `conversation`, as of its row.
    async fn latest(
        &self,
        db: &DatabaseConnection,
        conversation: &Conversation,
    ) -> Result<Arc<History>, DbErr> {
        if let Some((up_to, history)) = self.latest.get(&conversation.id) {
            if up_to == conversation.last_message_id {
                return Ok(history);
            }
        }
        // Read after the row: this holds every message up to the row's latest (and
        // maybe newer ones, which is only fresher).
        let (messages, has_older) = queries::page(db, conversation.id, None, PAGE_SIZE).await?;
        let history = Arc::new(History::new(&messages, has_older));
        self.latest.insert(
            conversation.id,
            (conversation.last_message_id, history.clone()),
        );
        Ok(history)
    }
}

/// The whole page, with the latest messages or those before `before`. `composer`
/// carries a refused draft and the reason, for a plain form post that needs the page
/// back.
pub async fn render(
    state: &AppState,
    viewer: &Viewer,
    conversation: &Conversation,
    before: Option<i64>,
    composer: Option<(String, String)>,
) -> Result<Markup, AppError> {
    let kind = ConversationKind::of(conversation);
    let mut peer_read = None;
    let (heading, url) = match kind {
        ConversationKind::Room => (
            format!("#{}", conversation.name),
            format!(
                "/rooms/{}",
                conversation.slug.as_deref().unwrap_or_default()
            ),
        ),
        ConversationKind::Direct => {
            let other = access::other_member(state, conversation, viewer.id).await?;
            peer_read = Some(queries::read_mark(&state.db, conversation.id, other.id).await?);
            (other.username.clone(), format!("/dm/{}", other.username))
        }
    };
    let history = match before {
        None => state.histories.latest(&state.db, conversation).await?,
        Some(before) => {
            let (messages, has_older) =
                queries::page(&state.db, conversation.id, Some(before), PAGE_SIZE).await?;
            Arc::new(History::new(&messages, has_older))
        }
    };
    let (composer_error, draft) = match composer {
        Some((error, draft)) => (Some(error), draft),
        None => (None, String::new()),
    };
    Ok(views::conversation_page(views::ConversationPage {
        viewer,
        id: conversation.id,
        kind,
        heading,
        url,
        history: &history,
        presence: state.hub.presence(conversation.id).await,
        site_online: state.hub.site_online().await,
        composer_error,
        draft,
        peer_read,
        sidebar: Some(sidebar::for_user(&state.db, viewer.id, Some(conversation.id)).await?),
    }))
}

/// The htmx answer to "load older": the next `#older` and the messages before `before`.
pub async fn older(
    state: &AppState,
    conversation: &Conversation,
    base_url: &str,
    before: i64,
) -> Result<Markup, AppError> {
    let (messages, has_older) =
        queries::page(&state.db, conversation.id, Some(before), PAGE_SIZE).await?;
    Ok(views::older_fragment(base_url, &messages, has_older))
}
