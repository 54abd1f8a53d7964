//! The reads of a conversation (its history pages, its members) and membership: joining,
//! leaving, and how far someone has read. What changed since an event is
//! [`super::catchup`]'s; storing messages is [`super::store`]'s.
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    FromQueryResult, QueryFilter, QueryResult, sea_query::OnConflict,
};

use super::Conversation;
use crate::{
    db::{self, now_ms},
    entities::{conversation, membership},
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
    /// The event that created the message, and the one that last changed it.
    pub seq: i64,
    pub updated_seq: i64,
}

/// The columns of a [`MessageView`], for statements that join `messages m` with the
/// author `users u`.
pub(super) const MESSAGE_COLUMNS: &str = "m.id, m.conversation_id, m.author_id, u.username AS author, \
     m.body, m.created_at, m.seq, m.updated_seq";

impl MessageView {
    /// The message in `row`, or `None` where an outer join found none.
    pub(super) fn from_joined_row(row: &QueryResult) -> Result<Option<Self>, DbErr> {
        if row.try_get::<Option<i64>>("", "id")?.is_none() {
            return Ok(None);
        }
        Ok(Some(Self::from_query_result(row, "")?))
    }
}

/// A page of history: messages oldest first, whether there are older ones, and the
/// conversation's latest event when the page was read (the page's cursor: a socket
/// that starts from it misses nothing and repeats nothing).
#[derive(Debug)]
pub struct HistoryPage {
    pub messages: Vec<MessageView>,
    pub has_older: bool,
    pub upto: i64,
}

/// Up to `limit` messages before message `before`, or the latest ones, in one statement
/// with the conversation's latest event, so that the two agree.
pub async fn page(
    db: &DatabaseConnection,
    conversation_id: i64,
    before: Option<i64>,
    limit: u64,
) -> Result<HistoryPage, DbErr> {
    let before = before.unwrap_or(i64::MAX);
    let rows = db
        .query_all_raw(db::statement(
            db,
            &format!(
                "SELECT c.last_seq AS head, m.* FROM conversations c LEFT JOIN ( \
                   SELECT {MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.author_id \
                   WHERE m.conversation_id = ? AND m.id < ? ORDER BY m.id DESC LIMIT ?) m ON 1 = 1 \
                 WHERE c.id = ? ORDER BY m.id DESC"
            ),
            [
                conversation_id.into(),
                before.into(),
                (limit as i64 + 1).into(),
                conversation_id.into(),
            ],
        ))
        .await?;
    let mut upto = 0;
    let mut messages = Vec::with_capacity(rows.len());
    for row in &rows {
        upto = row.try_get::<i64>("", "head")?;
        if let Some(message) = MessageView::from_joined_row(row)? {
            messages.push(message);
        }
    }
    let has_older = messages.len() as u64 > limit;
    messages.truncate(limit as usize);
    messages.reverse();
    Ok(HistoryPage {
        messages,
        has_older,
        upto,
    })
}

/// The number of the conversation's latest event (0 before the first).
pub async fn head(db: &impl ConnectionTrait, conversation_id: i64) -> Result<i64, DbErr> {
    use sea_orm::QuerySelect;
    // One column: pages on PostgreSQL ask this on every view.
    let head: Option<i64> = conversation::Entity::find_by_id(conversation_id)
        .select_only()
        .column(conversation::Column::LastSeq)
        .into_tuple()
        .one(db)
        .await?;
    Ok(head.unwrap_or(0))
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

/// One message, as pages show it.
pub async fn message_by_id(
    db: &DatabaseConnection,
    message_id: i64,
) -> Result<Option<MessageView>, DbErr> {
    let row = db
        .query_one_raw(db::statement(
            db,
            &format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.author_id \
                 WHERE m.id = ?"
            ),
            [message_id.into()],
        ))
        .await?;
    match row {
        Some(row) => MessageView::from_joined_row(&row),
        None => Ok(None),
    }
}
