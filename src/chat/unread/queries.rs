//! The read marks of members, and the unread count of one conversation.
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    sea_query::Expr,
};

use crate::{chat::Conversation, db, entities::membership};

/// Records that `user_id` has read up to `up_to` (never moving backwards, never past
/// the last message). Answers the new mark when it moved.
pub async fn mark_read(
    db: &impl ConnectionTrait,
    conversation: &Conversation,
    user_id: i64,
    up_to: i64,
) -> Result<Option<i64>, DbErr> {
    let up_to = up_to.min(conversation.last_message_id.unwrap_or(0));
    let done = membership::Entity::update_many()
        .col_expr(membership::Column::LastReadMessageId, Expr::value(up_to))
        .filter(membership::Column::ConversationId.eq(conversation.id))
        .filter(membership::Column::UserId.eq(user_id))
        .filter(membership::Column::LastReadMessageId.lt(up_to))
        .exec(db)
        .await?;
    Ok((done.rows_affected > 0).then_some(up_to))
}

/// How far `user_id` has read in the conversation (0 when not a member).
pub async fn read_mark(
    db: &impl ConnectionTrait,
    conversation_id: i64,
    user_id: i64,
) -> Result<i64, DbErr> {
    Ok(membership::Entity::find_by_id((conversation_id, user_id))
        .one(db)
        .await?
        .map_or(0, |m| m.last_read_message_id))
}

/// How many messages of one conversation `user_id` has not read, and how many of those
/// mention them.
pub async fn unread_counts(
    db: &DatabaseConnection,
    conversation_id: i64,
    user_id: i64,
) -> Result<(i64, i64), DbErr> {
    let row = db
        .query_one_raw(db::statement(
            db,
            "SELECT (SELECT COUNT(*) FROM messages msg WHERE msg.conversation_id = m.conversation_id \
                 AND msg.id > m.last_read_message_id AND msg.author_id <> m.user_id) AS unread, \
               (SELECT COUNT(*) FROM mentions mn WHERE mn.user_id = m.user_id \
                 AND mn.conversation_id = m.conversation_id \
                 AND mn.message_id > m.last_read_message_id) AS mentions \
             FROM memberships m WHERE m.conversation_id = ? AND m.user_id = ?",
            [conversation_id.into(), user_id.into()],
        ))
        .await?;
    match row {
        Some(row) => Ok((row.try_get("", "unread")?, row.try_get("", "mentions")?)),
        None => Ok((0, 0)),
    }
}
