//! The queries of a conversation: its history pages, what came after an id (catch-up),
//! and the write path of a new message.
use std::collections::HashMap;

use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, FromQueryResult,
    JoinType, Order, QueryFilter, QueryOrder, QuerySelect, RelationTrait, TransactionTrait, Value,
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

/// The messages with these ids, in id order (those that exist).
pub async fn by_ids(db: &impl ConnectionTrait, ids: &[i64]) -> Result<Vec<MessageView>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    select_views()
        .filter(message::Column::Id.is_in(ids.iter().copied()))
        .order_by(message::Column::Id, Order::Asc)
        .into_model::<MessageView>()
        .all(db)
        .await
}

/// The id of the latest message of a conversation, if any.
pub async fn latest_id(
    db: &impl ConnectionTrait,
    conversation_id: i64,
) -> Result<Option<i64>, DbErr> {
    // One column: pages on PostgreSQL ask this on every view.
    let latest: Option<Option<i64>> = conversation::Entity::find_by_id(conversation_id)
        .select_only()
        .column(conversation::Column::LastMessageId)
        .into_tuple()
        .one(db)
        .await?;
    Ok(latest.flatten())
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

/// A message to store: where, by whom, and its checked body.
#[derive(Clone, Debug)]
pub struct NewMessage {
    pub conversation_id: i64,
    pub author_id: i64,
    pub author: String,
    pub body: MessageBody,
}

/// PostgreSQL's write path: stores a batch of messages in one transaction; answers
/// them stored, in the order given. The transaction first locks the rows of the
/// batch's conversations, in id order: concurrent writers to one conversation (other
/// processes) then commit one after the other, in the order of their ids (and never
/// wait on each other in a circle), so "every message after id N" is a complete
/// answer the moment message N+k is visible (the catch-up depends on it). Each
/// message's event is written into the transaction too, where the bus can
/// ([`Bus::publish_all_in`]), so it goes out if and only if the messages commit.
/// SQLite's path is [`insert_messages_sqlite`].
pub async fn insert_messages_postgres(
    db: &DatabaseConnection,
    bus: &dyn Bus,
    batch: &[NewMessage],
) -> Result<Vec<Posted>, DbErr> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let now = now_ms();
    let txn = db.begin().await?;

    let conversations = conversations_of(batch);
    let marks = vec!["?"; conversations.len()].join(", ");
    let rows = txn
        .query_all_raw(crate::db::statement(
            db,
            &format!(
                "SELECT id, last_message_id FROM conversations WHERE id IN ({marks}) \
                 ORDER BY id FOR UPDATE"
            ),
            conversations.iter().map(|c| (*c).into()),
        ))
        .await?;
    let mut last: HashMap<i64, Option<i64>> = HashMap::with_capacity(rows.len());
    for row in rows {
        last.insert(
            row.try_get::<i64>("", "id")?,
            row.try_get::<Option<i64>>("", "last_message_id")?,
        );
    }
    if last.len() != conversations.len() {
        return Err(DbErr::RecordNotFound("conversation".into()));
    }

    // One statement for every message. Ids are handed out in the order of the rows
    // (SQLite's rowids and PostgreSQL's sequence both count up as rows go in), though
    // RETURNING may list them in any order: sorted, they are the rows' ids in order.
    let rows = vec!["(?, ?, ?, ?)"; batch.len()].join(", ");
    let values = batch.iter().flat_map(|new| {
        [
            new.conversation_id.into(),
            new.author_id.into(),
            new.body.as_str().into(),
            now.into(),
        ]
    });
    let returned = txn
        .query_all_raw(crate::db::statement(
            db,
            &format!(
                "INSERT INTO messages (conversation_id, author_id, body, created_at) \
                 VALUES {rows} RETURNING id"
            ),
            values,
        ))
        .await?;
    let ids = returned
        .iter()
        .map(|row| row.try_get::<i64>("", "id"))
        .collect::<Result<Vec<i64>, DbErr>>()?;
    if ids.len() != batch.len() {
        return Err(DbErr::Custom(format!(
            "stored {} messages of {}",
            ids.len(),
            batch.len()
        )));
    }
    let mut posted = in_id_order(batch, ids, &mut last, now);

    // Each conversation's latest message and activity, in one statement.
    let mut values: Vec<Value> = Vec::with_capacity(conversations.len() * 3 + 1);
    let mut cases = String::new();
    for conversation in &conversations {
        cases.push_str(" WHEN ? THEN ?");
        values.push((*conversation).into());
        values.push(last.get(conversation).copied().flatten().into());
    }
    values.push(now.into());
    values.extend(conversations.iter().map(|c| Value::from(*c)));
    txn.execute_raw(crate::db::statement(
        db,
        &format!(
            "UPDATE conversations SET last_message_id = CASE id{cases} END, last_activity_at = ? \
             WHERE id IN ({marks})"
        ),
        values,
    ))
    .await?;

    // Writing makes the conversation yours, and you have read what you wrote: one row
    // per (conversation, author), at their latest message of the batch.
    let mut read_up_to: HashMap<(i64, i64), i64> = HashMap::new();
    for p in &posted {
        read_up_to.insert(
            (p.message.conversation_id, p.message.author_id),
            p.message.id,
        );
    }
    let rows = vec!["(?, ?, ?, ?)"; read_up_to.len()].join(", ");
    let values = read_up_to
        .into_iter()
        .flat_map(|((conversation, author), id)| {
            [conversation.into(), author.into(), id.into(), now.into()]
        });
    txn.execute_raw(crate::db::statement(
        db,
        &format!(
            "INSERT INTO memberships (conversation_id, user_id, last_read_message_id, joined_at) \
             VALUES {rows} ON CONFLICT (conversation_id, user_id) \
             DO UPDATE SET last_read_message_id = EXCLUDED.last_read_message_id"
        ),
        values,
    ))
    .await?;

    let events: Vec<Event> = posted
        .iter()
        .map(|p| Event::MessageCommitted {
            conversation_id: p.message.conversation_id,
            message_id: p.message.id,
            previous_id: p.previous_id,
        })
        .collect();
    let announced = bus.publish_all_in(&txn, &events).await?;
    txn.commit().await?;
    for p in &mut posted {
        p.announced = announced;
    }
    Ok(posted)
}

/// The batch's conversations, each once, in id order (the order their rows are locked).
fn conversations_of(batch: &[NewMessage]) -> Vec<i64> {
    let mut conversations: Vec<i64> = batch.iter().map(|m| m.conversation_id).collect();
    conversations.sort_unstable();
    conversations.dedup();
    conversations
}

/// The batch as stored: `ids` are the new rows' ids in any order, `last` each
/// conversation's latest message before the batch (updated to its latest after it).
/// Ids count up as rows go in (SQLite's rowids and PostgreSQL's sequence both do),
/// so sorted they are the batch's ids in the order given.
fn in_id_order(
    batch: &[NewMessage],
    mut ids: Vec<i64>,
    last: &mut HashMap<i64, Option<i64>>,
    now: i64,
) -> Vec<Posted> {
    ids.sort_unstable();
    batch
        .iter()
        .zip(ids)
        .map(|(new, id)| Posted {
            message: MessageView {
                id,
                conversation_id: new.conversation_id,
                author_id: new.author_id,
                author: new.author.clone(),
                body: new.body.as_str().to_owned(),
                created_at: now,
            },
            previous_id: last.insert(new.conversation_id, Some(id)).flatten(),
            announced: false,
        })
        .collect()
}

/// SQLite's write path, on the message writer's own connection
/// ([`crate::db::open_sqlite_writer`]), called from the writer's thread: each
/// statement is a function call into SQLite, not a hand-off to another thread, so
/// the statements run one by one, prepared once and cached by the connection.
///
/// SQLite's process is the database's only writer and IMMEDIATE takes its write lock
/// at BEGIN (so the transaction never fails with SQLITE_BUSY halfway): no row locks
/// are needed, and ids commit in order. On any error the transaction is rolled back
/// as it is dropped; the caller drops a connection that failed, in case that rollback
/// failed too. The in-process bus is told after the commit (`announced` is false).
pub fn insert_messages_sqlite(
    conn: &mut rusqlite::Connection,
    batch: &[NewMessage],
) -> Result<Vec<Posted>, DbErr> {
    use crate::db::from_sqlite;
    use rusqlite::{OptionalExtension, TransactionBehavior, params};
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let now = now_ms();
    let txn = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(from_sqlite)?;
    let mut last: HashMap<i64, Option<i64>> = HashMap::new();
    let mut ids = Vec::with_capacity(batch.len());
    {
        let mut latest = txn
            .prepare_cached("SELECT last_message_id FROM conversations WHERE id = ?1")
            .map_err(from_sqlite)?;
        for conversation in conversations_of(batch) {
            let before: Option<i64> = latest
                .query_row([conversation], |row| row.get(0))
                .optional()
                .map_err(from_sqlite)?
                .flatten();
            last.insert(conversation, before);
        }
        let mut insert = txn
            .prepare_cached(
                "INSERT INTO messages (conversation_id, author_id, body, created_at) \
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(from_sqlite)?;
        // The newest message of the batch, per conversation and per author in one.
        let mut newest: HashMap<i64, i64> = HashMap::new();
        let mut read_up_to: HashMap<(i64, i64), i64> = HashMap::new();
        for new in batch {
            insert
                .execute(params![
                    new.conversation_id,
                    new.author_id,
                    new.body.as_str(),
                    now
                ])
                .map_err(from_sqlite)?;
            let id = txn.last_insert_rowid();
            ids.push(id);
            newest.insert(new.conversation_id, id);
            read_up_to.insert((new.conversation_id, new.author_id), id);
        }
        let mut touch = txn
            .prepare_cached(
                "UPDATE conversations SET last_activity_at = ?1, last_message_id = ?2 \
                 WHERE id = ?3",
            )
            .map_err(from_sqlite)?;
        for (conversation, id) in &newest {
            touch
                .execute(params![now, id, conversation])
                .map_err(from_sqlite)?;
        }
        // Authors have read what they wrote.
        let mut mark_read = txn
            .prepare_cached(
                "INSERT INTO memberships (conversation_id, user_id, last_read_message_id, \
                 joined_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (conversation_id, user_id) \
                 DO UPDATE SET last_read_message_id = excluded.last_read_message_id",
            )
            .map_err(from_sqlite)?;
        for ((conversation, author), id) in &read_up_to {
            mark_read
                .execute(params![conversation, author, id, now])
                .map_err(from_sqlite)?;
        }
    }
    txn.commit().map_err(from_sqlite)?;
    Ok(in_id_order(batch, ids, &mut last, now))
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
