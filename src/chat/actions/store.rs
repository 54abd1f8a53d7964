//! Storing a change to a message, with the next event number of its conversation,
//! on either backend. The conversation's row is the lock: its `last_seq` is raised
//! first, so that concurrent changes to one conversation (from the message writer, or
//! from other processes) number and commit one after the other. On SQLite the change
//! waits for its turn at the write lock behind the message writer ([`WriteGate`]).
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, TransactionTrait};

use crate::{
    chat::{MessageBody, MessageView, queries, reactions::Emoji},
    db::{self, WriteGate, now_ms},
    error::AppError,
    live::{Bus, Event},
};

/// A change to one message.
#[derive(Clone, Debug)]
pub enum Change {
    /// New text, that text rendered, and the people it mentions.
    Edit {
        body: MessageBody,
        html: String,
        mentioned: Vec<i64>,
    },
    /// The text goes; the tombstone keeps the message's place, author and time.
    Delete,
    /// The person's reaction with this emoji is added, or taken back if it was there.
    React(Emoji),
    /// The person's reaction with this emoji is there afterwards (`true`) or not
    /// (`false`), whatever it was before: the API's add and remove, which a retry
    /// must not undo.
    SetReaction(Emoji, bool),
}

impl Change {
    /// Whether the hub may coalesce it with the message's next changes.
    pub fn coalesces(&self) -> bool {
        matches!(self, Change::React(_) | Change::SetReaction(..))
    }

    /// Whether only the message's author may make it.
    pub fn authors_only(&self) -> bool {
        !self.coalesces()
    }
}

/// A message as a change finds it: where it is and whose.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    pub id: i64,
    pub conversation_id: i64,
    pub author_id: i64,
    pub deleted: bool,
}

/// The message `id`, if there is one.
pub async fn target(db: &impl ConnectionTrait, id: i64) -> Result<Option<Target>, DbErr> {
    let row = db
        .query_one_raw(db::statement_for(
            db.get_database_backend(),
            "SELECT id, conversation_id, author_id, deleted_at FROM messages WHERE id = ?",
            [id.into()],
        ))
        .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(Target {
        id: row.try_get("", "id")?,
        conversation_id: row.try_get("", "conversation_id")?,
        author_id: row.try_get("", "author_id")?,
        deleted: row.try_get::<Option<i64>>("", "deleted_at")?.is_some(),
    }))
}

/// Whether `user_id` may change `target` (only its author, when `authors_only`); checked
/// when a request comes, and again under the conversation's lock (the message may have
/// changed since).
pub fn check(target: &Target, user_id: i64, authors_only: bool) -> Result<(), AppError> {
    if target.deleted {
        return Err(AppError::Conflict(
            "This message was deleted, so it can no longer be changed.",
        ));
    }
    if authors_only && target.author_id != user_id {
        return Err(AppError::Forbidden(
            "Only the person who wrote a message can edit or delete it.",
        ));
    }
    Ok(())
}

/// Stores `change` to message `id` by `user_id` (only if they wrote it, when
/// `authors_only`) as the conversation's next event;
/// answers the message as it now is, and the replies whose quote of it changed with it
/// (an edit or a deletion changes what they quote), as [`Applied`].
pub async fn apply(
    db: &DatabaseConnection,
    gate: &WriteGate,
    bus: &dyn Bus,
    id: i64,
    user_id: i64,
    change: &Change,
    authors_only: bool,
) -> Result<Applied, AppError> {
    let _turn = gate.enter_after_messages().await;
    let txn = db.begin().await?;
    let backend = txn.get_database_backend();
    let statement =
        |sql: &str, values: Vec<sea_orm::Value>| db::statement_for(backend, sql, values);

    let target = target(&txn, id).await?.ok_or(AppError::NotFound)?;
    let seq: i64 = txn
        .query_one_raw(statement(
            "UPDATE conversations SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq",
            vec![target.conversation_id.into()],
        ))
        .await?
        .ok_or(AppError::NotFound)?
        .try_get("", "last_seq")?;
    // Read again under the lock the UPDATE took.
    let target = self::target(&txn, id).await?.ok_or(AppError::NotFound)?;
    check(&target, user_id, authors_only)?;

    let now = now_ms();
    // The blobs of a deleted message's files, to release once it has committed.
    let mut freed = Vec::new();
    match change {
        Change::Edit {
            body,
            html,
            mentioned,
        } => {
            // The mentions are the new text's: counts and `/mentions` follow the edit.
            txn.execute_raw(statement(
                "DELETE FROM mentions WHERE message_id = ?",
                vec![id.into()],
            ))
            .await?;
            for user in mentioned {
                txn.execute_raw(statement(
                    "INSERT INTO mentions (message_id, user_id, conversation_id) VALUES (?, ?, ?)",
                    vec![id.into(), (*user).into(), target.conversation_id.into()],
                ))
                .await?;
            }
            txn.execute_raw(statement(
                "UPDATE messages SET body = ?, body_html = ?, edited_at = ?, updated_seq = ? \
                 WHERE id = ?",
                vec![
                    body.as_str().into(),
                    html.as_str().into(),
                    now.into(),
                    seq.into(),
                    id.into(),
                ],
            ))
            .await?;
        }
        Change::Delete => {
            freed = crate::files::queries::detach(&txn, id).await?;
            for table in ["reactions", "mentions"] {
                txn.execute_raw(statement(
                    &format!("DELETE FROM {table} WHERE message_id = ?"),
                    vec![id.into()],
                ))
                .await?;
            }
            txn.execute_raw(statement(
                "UPDATE messages SET body = '', body_html = '', deleted_at = ?, updated_seq = ? \
                 WHERE id = ?",
                vec![now.into(), seq.into(), id.into()],
            ))
            .await?;
        }
        Change::React(emoji) => {
            let taken_back = txn
                .execute_raw(statement(
                    "DELETE FROM reactions WHERE message_id = ? AND user_id = ? AND emoji = ?",
                    vec![id.into(), user_id.into(), emoji.as_str().into()],
                ))
                .await?
                .rows_affected()
                > 0;
            if !taken_back {
                txn.execute_raw(statement(
                    "INSERT INTO reactions (message_id, user_id, emoji, created_at) \
                     VALUES (?, ?, ?, ?)",
                    vec![id.into(), user_id.into(), emoji.as_str().into(), now.into()],
                ))
                .await?;
            }
            txn.execute_raw(statement(
                "UPDATE messages SET updated_seq = ? WHERE id = ?",
                vec![seq.into(), id.into()],
            ))
            .await?;
        }
        Change::SetReaction(emoji, wanted) => {
            let (sql, mut values) = if *wanted {
                (
                    "INSERT INTO reactions (message_id, user_id, emoji, created_at) \
                     VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    vec![now.into()],
                )
            } else {
                (
                    "DELETE FROM reactions WHERE message_id = ? AND user_id = ? AND emoji = ?",
                    Vec::new(),
                )
            };
            let mut all = vec![id.into(), user_id.into(), emoji.as_str().into()];
            all.append(&mut values);
            txn.execute_raw(statement(sql, all)).await?;
            txn.execute_raw(statement(
                "UPDATE messages SET updated_seq = ? WHERE id = ?",
                vec![seq.into(), id.into()],
            ))
            .await?;
        }
    }
    let replies = if change.coalesces() {
        Vec::new()
    } else {
        txn.execute_raw(statement(
            "UPDATE messages SET updated_seq = ? WHERE reply_to = ? AND deleted_at IS NULL",
            vec![seq.into(), id.into()],
        ))
        .await?;
        queries::replies_to(&txn, id).await?
    };
    let message = queries::message_by_id(&txn, id)
        .await?
        .ok_or(AppError::NotFound)?;
    bus.publish_all_in(
        &txn,
        &[Event::Changed {
            conversation_id: target.conversation_id,
            seq,
            message_id: id,
            posted: false,
        }],
    )
    .await?;
    txn.commit().await?;
    Ok(Applied {
        message,
        replies,
        freed,
    })
}

/// A change as stored: the message as it now is, the replies whose quote changed with
/// it, and the blobs of files a deletion took off it.
pub struct Applied {
    pub message: MessageView,
    pub replies: Vec<MessageView>,
    pub freed: Vec<String>,
}
