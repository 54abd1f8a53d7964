//! Rendering a conversation page (and its "older messages" fragment) for a viewer.
use maud::Markup;

use super::{Conversation, ConversationKind, PAGE_SIZE, access, queries, sidebar, views};
use crate::{error::AppError, startup::AppState, web::Viewer};

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
    let (messages, has_older) =
        queries::page(&state.db, conversation.id, before, PAGE_SIZE).await?;
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
        messages,
        has_older,
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
