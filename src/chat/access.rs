//! Who may see a conversation. A public room is open to everyone signed in; a private
//! room and a group private chat only to their members; a private chat of two only to
//! its two members; a visitor's support conversation only to the visitor and the
//! site's operators. Anyone else is
//! told the conversation does not exist (404), never that it is forbidden (403): a 403
//! would confirm that two people talk, or that a private room by that name exists.
use sea_orm::{DatabaseConnection, EntityTrait};

use super::{Conversation, ConversationKind, queries};
use crate::entities::membership;
use crate::{entities::user, error::AppError, web::Viewer};

/// The two members of a private chat, from its key `"{low id}:{high id}"`.
pub fn direct_members(conversation: &Conversation) -> Option<(i64, i64)> {
    let (a, b) = conversation.direct_key.as_deref()?.split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// The key of the private chat of two people, the same from either side.
pub fn direct_key(a: i64, b: i64) -> String {
    format!("{}:{}", a.min(b), a.max(b))
}

/// The key of the group private chat of `members` (the creator among them), the same
/// whoever starts it and in whatever order: their ids, sorted, joined by `:`. It shares
/// the unique column of two-person keys, which have two ids where a group has three
/// or more, so the two never meet.
pub fn group_key(members: &[i64]) -> String {
    let mut ids = members.to_vec();
    ids.sort_unstable();
    ids.dedup();
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(":")
}

/// Whether a conversation is a private room (its members only may read it).
pub fn is_private_room(conversation: &Conversation) -> bool {
    ConversationKind::of(conversation) == ConversationKind::Room
        && conversation.visibility == "private"
}

/// Whether `user_id` may read `conversation`. A private room asks the database
/// (not the members cache, which may lag a removal in another process by a moment).
pub async fn may_read(
    db: &DatabaseConnection,
    conversation: &Conversation,
    user_id: i64,
) -> Result<bool, AppError> {
    Ok(match ConversationKind::of(conversation) {
        // A group's members are fixed at its creation, in the transaction that makes it.
        ConversationKind::Group => membership::Entity::find_by_id((conversation.id, user_id))
            .one(db)
            .await?
            .is_some(),
        ConversationKind::Room if is_private_room(conversation) => {
            membership::Entity::find_by_id((conversation.id, user_id))
                .one(db)
                .await?
                .is_some()
        }
        ConversationKind::Room => true,
        // The visitor is its one member; the site's operators read it without joining.
        ConversationKind::Support => {
            membership::Entity::find_by_id((conversation.id, user_id))
                .one(db)
                .await?
                .is_some_and(|_| conversation.created_by == Some(user_id))
                || crate::support::may_operate(db, conversation.id, user_id).await?
        }
        ConversationKind::Direct => {
            direct_members(conversation).is_some_and(|(a, b)| a == user_id || b == user_id)
        }
    })
}

/// Loads conversation `id` if `viewer` may see it; otherwise, and when it does not
/// exist, [`AppError::NotFound`].
pub async fn open(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: i64,
) -> Result<Conversation, AppError> {
    open_for(db, viewer.id, id).await
}

/// [`open`] for `user_id`, however they are signed in (a page's session, an API token).
pub async fn open_for(
    db: &DatabaseConnection,
    user_id: i64,
    id: i64,
) -> Result<Conversation, AppError> {
    match queries::conversation_by_id(db, id).await? {
        Some(c) if may_read(db, &c, user_id).await? => Ok(c),
        _ => Err(AppError::NotFound),
    }
}

/// The other member of a private chat, as seen by `viewer_id`.
pub async fn other_member(
    db: &DatabaseConnection,
    conversation: &Conversation,
    viewer_id: i64,
) -> Result<user::Model, AppError> {
    let (a, b) = direct_members(conversation).ok_or(AppError::NotFound)?;
    let other = if a == viewer_id { b } else { a };
    user::Entity::find_by_id(other)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)
}

/// The conversation's URL for `viewer`: `/rooms/{slug}`, `/dm/{other person}` or
/// `/dm/g/{id}`.
pub async fn url_for(
    db: &DatabaseConnection,
    conversation: &Conversation,
    viewer: &Viewer,
) -> Result<String, AppError> {
    match ConversationKind::of(conversation) {
        ConversationKind::Room => Ok(crate::chat::room_path(
            conversation.slug.as_deref().unwrap_or_default(),
        )),
        ConversationKind::Direct => {
            let other = other_member(db, conversation, viewer.id).await?;
            Ok(format!("/dm/{}", other.username))
        }
        ConversationKind::Group => Ok(crate::chat::group_path(conversation.id)),
        ConversationKind::Support => Ok(crate::support::inbox_path(conversation.id)),
    }
}
