//! `GET /mentions` and `GET /conversations/{id}/people?q=` (whom the composer's `@`
//! may mean).
use std::sync::Arc;

use poem::{
    IntoResponse, Response, handler,
    web::{Data, Path, Query},
};
use serde::Deserialize;

use super::{queries, views};
use crate::{
    accounts::Username,
    chat::{Chat, ConversationKind, access, sidebar},
    error::AppError,
    web::Viewer,
};

/// Mentions one page shows.
const PAGE: u64 = 50;
/// People one suggestion list offers.
const SUGGESTED: u64 = 8;

#[derive(Debug, Deserialize)]
pub struct MentionsQuery {
    before: Option<i64>,
}

#[handler]
pub async fn mentions(
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Query(query): Query<MentionsQuery>,
) -> Result<Response, AppError> {
    let found = queries::recent(&chat.db, viewer.id, query.before, PAGE + 1).await?;
    let older = (found.len() as u64 > PAGE)
        .then(|| found.get(PAGE as usize - 1).map(|m| m.message.id))
        .flatten();
    let shown = &found[..found.len().min(PAGE as usize)];
    let sidebar = sidebar::for_user(&chat.db, viewer.id, None).await?;
    Ok(views::page(&viewer, shown, older, chat.hub.site_online().await, sidebar).into_response())
}

#[derive(Debug, Deserialize)]
pub struct PeopleQuery {
    #[serde(default)]
    q: String,
}

/// The people whose names start with `q`, for a conversation the viewer may read:
/// its members first. A `q` no username could start with finds nobody, unasked.
#[handler]
pub async fn people(
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Path(conversation_id): Path<i64>,
    Query(query): Query<PeopleQuery>,
) -> Result<Response, AppError> {
    let conversation = access::open(&chat.db, &viewer, conversation_id).await?;
    let q = query.q.trim().trim_start_matches('@');
    let searchable = q.len() <= Username::MAX
        && q.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let people = if searchable {
        let mut found = queries::suggestions(&chat.db, conversation.id, q, SUGGESTED + 1).await?;
        found.retain(|(id, _, _)| *id != viewer.id);
        found.truncate(SUGGESTED as usize);
        found
    } else {
        Vec::new()
    };
    // A room's groups, when what is typed starts one.
    let lower = q.to_ascii_lowercase();
    let groups: Vec<&str> = match ConversationKind::of(&conversation) {
        ConversationKind::Room => ["here", "everyone"]
            .into_iter()
            .filter(|g| !lower.is_empty() && g.starts_with(&lower))
            .collect(),
        ConversationKind::Direct | ConversationKind::Group | ConversationKind::Support => {
            Vec::new()
        }
    };
    Ok(views::suggestions(&people, &groups).into_response())
}
