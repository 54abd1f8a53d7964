//! The queries of a conversation: its history pages, what came after an id (catch-up),
//! and the write path of a new message.
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, FromQueryResult,
    JoinType, Order, QueryFilter, QueryOrder, QuerySelect, RelationTrait, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
    sea_query::{Expr, OnConflict},
};

use super::{Conversation, MessageBody};
use crate::live::{Bus, Event};
use crate::{
    db::now_ms,
    entities::{conversation, membership, message, user},
};

/// A message as pages and fragments show it.
#[derive(Clone, Debug, PartialEq, Eq, FromQueryResult)]
pub struct MessageView {
    pub id: i64,
    pub conversation_id: i64,
    pub author_id: i64,
    pub author: String,
    pub body: String,
    pub created_at: i64,
}

fn select_views() -> sea_orm::Select<message::Entity> {
    message::Entity::find()
        .select_only()
        .columns([
            message::Column::Id,
            message::Column::ConversationId,
            message::Column::AuthorId,
            message::Column::Body,
            message::Column::CreatedAt,
        ])
        .column_as(user::Column::Username, "author")
        .join(JoinType::InnerJoin, message::Relation::Author.def())
}

/// One page of history: up to `limit` messages before `before` (or the latest), oldest
/// first, and whether there are older ones.
pub async fn page(
    db: &impl ConnectionTrait,
    conversation_id: i64,
    before: Option<i64>,
    limit: u64,
) -> Result<(Vec<MessageView>, bool), DbErr> {
    let mut query = select_views().filter(message::Column::ConversationId.eq(conversation_id));
    if let Some(before) = before {
        query = query.filter(message::Column::Id.lt(before));
    }
    let mut rows = query
        .order_by(message::Column::Id, Order::Desc)
        .limit(limit + 1)
        .into_model::<MessageView>()
        .all(db)
        .await?;
    let has_older = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    rows.reverse();
    Ok((rows, has_older))
}

/// Messages with `after < id <= up_to`, in order: what a reconnecting page missed.
pub async fn between(
    db: &impl ConnectionTrait,
    conversation_id: i64,
    after: i64,
    up_to: Option<i64>,
    limit: u64,
) -> Result<Vec<MessageView>, DbErr> {
    let mut query = select_views()
        .filter(message::Column::ConversationId.eq(conversation_id))
        .filter(message::Column::Id.gt(after));
    if let Some(up_to) = up_to {
        query = query.filter(message::Column::Id.lte(up_to));
    }
    query
        .order_by(message::Column::Id, Order::Asc)
        .limit(limit)
        .into_model::<MessageView>()
        .all(db)
        .await
}

/// The id of the latest message of a conversation, if any.
pub async fn latest_id(
    db: &impl ConnectionTrait,
    conversation_id: i64,
) -> Result<Option<i64>, DbErr> {
    Ok(conversation::Entity::find_by_id(conversation_id)
        .one(db)
        .await?
        .and_then(|c| c.last_message_id))
}

/// A committed message and the message before it in the same conversation, so the hub
/// can tell whether it has missed one.
#[derive(Clone, Debug)]
pub struct Posted {
    pub message: MessageView,
    pub previous_id: Option<i64>,
    /// Whether the bus was told inside the transaction (and so at its commit).
    pub announced: bool,
}

/// Stores a message. The transaction first updates the conversation's row, which takes
/// that row's write lock: concurrent posts to one conversation then commit one after
/// the other, in the order of their ids, so "every message after id N" is a complete
/// answer the moment message N+k is visible (the catch-up depends on it).
pub async fn insert_message(
    db: &DatabaseConnection,
    bus: &dyn Bus,
    conversation: &Conversation,
    author_id: i64,
    author: &str,
    body: MessageBody,
) -> Result<Posted, DbErr> {
    let now = now_ms();
    let txn = db
        .begin_with_options(TransactionOptions {
            isolation_level: None,
            access_mode: None,
            // IMMEDIATE takes SQLite's write lock at BEGIN, so the transaction never has
            // to upgrade a read lock and fail with SQLITE_BUSY halfway.
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        })
        .await?;
    conversation::Entity::update_many()
        .col_expr(conversation::Column::LastActivityAt, Expr::value(now))
        .filter(conversation::Column::Id.eq(conversation.id))
        .exec(&txn)
        .await?;
    let previous_id = conversation::Entity::find_by_id(conversation.id)
        .one(&txn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("conversation".into()))?
        .last_message_id;
    let body = body.into_string();
    let inserted = message::Entity::insert(message::ActiveModel {
        conversation_id: Set(conversation.id),
        author_id: Set(author_id),
        body: Set(body.clone()),
        created_at: Set(now),
        ..Default::default()
    })
    .exec(&txn)
    .await?;
    let id = inserted.last_insert_id;
    conversation::Entity::update_many()
        .col_expr(conversation::Column::LastMessageId, Expr::value(id))
        .filter(conversation::Column::Id.eq(conversation.id))
        .exec(&txn)
        .await?;
    // Writing makes the conversation yours, and you have read what you wrote.
    membership::Entity::insert(membership::ActiveModel {
        conversation_id: Set(conversation.id),
        user_id: Set(author_id),
        last_read_message_id: Set(id),
        joined_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([
            membership::Column::ConversationId,
            membership::Column::UserId,
        ])
        .update_column(membership::Column::LastReadMessageId)
        .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    let event = Event::MessageCommitted {
        conversation_id: conversation.id,
        message_id: id,
        previous_id,
    };
    let announced = bus.publish_in(&txn, &event).await?;
    txn.commit().await?;
    Ok(Posted {
        message: MessageView {
            id,
            conversation_id: conversation.id,
            author_id,
            author: author.to_owned(),
            body,
            created_at: now,
        },
        previous_id,
        announced,
    })
}

/// Makes `user_id` a member of the conversation (opening a room does this), keeping
/// what they had read if they already were. Answers whether they were new.
pub async fn join(
    db: &impl ConnectionTrait,
    conversation_id: i64,
    user_id: i64,
) -> Result<bool, DbErr> {
    // Opening a room is a read for everyone but its newcomers: look before writing, so
    // page views do not queue for SQLite's one write lock.
    if membership::Entity::find_by_id((conversation_id, user_id))
        .one(db)
        .await?
        .is_some()
    {
        return Ok(false);
    }
    membership::Entity::insert(membership::ActiveModel {
        conversation_id: Set(conversation_id),
        user_id: Set(user_id),
        last_read_message_id: Set(0),
        joined_at: Set(now_ms()),
    })
    .on_conflict(
        OnConflict::columns([
            membership::Column::ConversationId,
            membership::Column::UserId,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(db)
    .await
    .map(|inserted| inserted > 0)
}

/// Takes `user_id` out of the conversation's members.
pub async fn leave(
    db: &impl ConnectionTrait,
    conversation_id: i64,
    user_id: i64,
) -> Result<bool, DbErr> {
    let done = membership::Entity::delete_many()
        .filter(membership::Column::ConversationId.eq(conversation_id))
        .filter(membership::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(done.rows_affected > 0)
}

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

pub async fn conversation_by_id(
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<Conversation>, DbErr> {
    conversation::Entity::find_by_id(id).one(db).await
}

/// The ids of a conversation's members.
pub async fn member_ids(
    db: &impl ConnectionTrait,
    conversation_id: i64,
) -> Result<Vec<i64>, DbErr> {
    Ok(membership::Entity::find()
        .filter(membership::Column::ConversationId.eq(conversation_id))
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.user_id)
        .collect())
}
