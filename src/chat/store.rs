//! The write path of conversation events, as the [`super::writer`] runs it: a batch of
//! new messages stored in one transaction, each numbered with the next event of its
//! conversation (`conversations.last_seq`), so that a conversation's events commit in
//! the order of their numbers. One function per backend, because the two take their
//! locks differently.
use std::collections::HashMap;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, TransactionTrait, Value};

use super::{MessageBody, MessageView, mentions::Mentioned, queries::Quote};
use crate::files::{Attachment, queries as files};
use crate::{
    db::{self, now_ms},
    live::{Bus, Event},
};

/// A message to store: where, by whom, its checked body (and that body rendered), the
/// message it answers, and whom it mentions.
#[derive(Clone, Debug)]
pub struct NewMessage {
    pub conversation_id: i64,
    pub author_id: i64,
    pub author: String,
    /// The author's avatar, as [`MessageView::author_avatar`].
    pub author_avatar: Option<String>,
    pub body: MessageBody,
    pub body_html: String,
    pub reply: Option<Quote>,
    pub mentioned: Mentioned,
    /// Its files, already in storage; their rows commit with the message.
    pub attachments: Vec<Attachment>,
}

/// A committed message: it is event `message.seq` of its conversation.
#[derive(Clone, Debug)]
pub struct Posted {
    pub message: MessageView,
    pub mentioned: Mentioned,
}

impl Posted {
    /// What other processes hear of it.
    pub fn event(&self) -> Event {
        Event::Changed {
            conversation_id: self.message.conversation_id,
            seq: self.message.seq,
            message_id: self.message.id,
            posted: true,
        }
    }
}

/// Mention rows written per statement at most (an `@everyone` in a big room writes
/// one per member; statements take a bounded number of values).
const MENTION_ROWS: usize = 1000;

/// Each conversation's latest event and message before a batch, moved on as the
/// batch is numbered.
#[derive(Clone, Copy, Debug, Default)]
struct Head {
    seq: i64,
    message_id: Option<i64>,
}

/// The batch's conversations, each once, in id order (the order their rows are locked).
fn conversations_of(batch: &[NewMessage]) -> Vec<i64> {
    let mut conversations: Vec<i64> = batch.iter().map(|m| m.conversation_id).collect();
    conversations.sort_unstable();
    conversations.dedup();
    conversations
}

/// Numbers the batch: each message takes the next event of its conversation, in the
/// order given; `heads` ends at each conversation's last.
fn number(batch: &[NewMessage], heads: &mut HashMap<i64, Head>) -> Vec<i64> {
    batch
        .iter()
        .map(|new| {
            let head = heads.entry(new.conversation_id).or_default();
            head.seq += 1;
            head.seq
        })
        .collect()
}

/// The batch as stored, from its ids (in the order given) and numbers.
fn stored(batch: &[NewMessage], ids: &[i64], seqs: &[i64], now: i64) -> Vec<Posted> {
    batch
        .iter()
        .zip(ids.iter().zip(seqs))
        .map(|(new, (&id, &seq))| Posted {
            message: MessageView {
                id,
                conversation_id: new.conversation_id,
                author_id: new.author_id,
                author: new.author.clone(),
                author_avatar: new.author_avatar.clone(),
                body: new.body.as_str().to_owned(),
                body_html: Some(new.body_html.clone()),
                created_at: now,
                seq,
                updated_seq: seq,
                edited_at: None,
                deleted_at: None,
                reply: new.reply.clone(),
                reactions: Vec::new(),
                attachments: new
                    .attachments
                    .iter()
                    .map(|a| Attachment {
                        message_id: id,
                        ..a.clone()
                    })
                    .collect(),
            },
            mentioned: new.mentioned.clone(),
        })
        .collect()
}

/// PostgreSQL's write path: stores a batch of messages in one transaction; answers
/// them stored, in the order given. The transaction first locks the rows of the
/// batch's conversations, in id order: concurrent writers to one conversation (other
/// processes) then number and commit its events one after the other (and never wait
/// on each other in a circle). Each message's event is written into the transaction
/// for the bus ([`Bus::publish_all_in`]), so it goes out if and only if the messages
/// commit. SQLite's path is [`insert_messages_sqlite`].
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
        .query_all_raw(db::statement(
            db,
            &format!(
                "SELECT id, last_seq FROM conversations WHERE id IN ({marks}) \
                 ORDER BY id FOR UPDATE"
            ),
            conversations.iter().map(|c| (*c).into()),
        ))
        .await?;
    let mut heads: HashMap<i64, Head> = HashMap::with_capacity(rows.len());
    for row in rows {
        heads.insert(
            row.try_get::<i64>("", "id")?,
            Head {
                seq: row.try_get::<i64>("", "last_seq")?,
                message_id: None,
            },
        );
    }
    if heads.len() != conversations.len() {
        return Err(DbErr::RecordNotFound("conversation".into()));
    }
    let seqs = number(batch, &mut heads);

    // One statement for every message. Ids are handed out in the order of the rows
    // (PostgreSQL's sequence counts up as rows go in), though RETURNING may list them
    // in any order: sorted, they are the rows' ids in order.
    let rows = vec!["(?, ?, ?, ?, ?, ?, ?, ?)"; batch.len()].join(", ");
    let values = batch.iter().zip(&seqs).flat_map(|(new, &seq)| {
        [
            new.conversation_id.into(),
            new.author_id.into(),
            new.body.as_str().into(),
            new.body_html.as_str().into(),
            now.into(),
            seq.into(),
            seq.into(),
            new.reply.as_ref().map(|q| q.id).into(),
        ]
    });
    let returned = txn
        .query_all_raw(db::statement(
            db,
            &format!(
                "INSERT INTO messages (conversation_id, author_id, body, body_html, created_at, \
                 seq, updated_seq, reply_to) VALUES {rows} RETURNING id"
            ),
            values,
        ))
        .await?;
    let mut ids = returned
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
    ids.sort_unstable();
    for (new, id) in batch.iter().zip(&ids) {
        if let Some(head) = heads.get_mut(&new.conversation_id) {
            head.message_id = Some(*id);
        }
    }

    // Each conversation's latest event, message and activity, in one statement.
    let mut values: Vec<Value> = Vec::with_capacity(conversations.len() * 4 + 1);
    let (mut seq_cases, mut id_cases) = (String::new(), String::new());
    for conversation in &conversations {
        let head = heads.get(conversation).copied().unwrap_or_default();
        seq_cases.push_str(" WHEN ? THEN ?");
        values.push((*conversation).into());
        values.push(head.seq.into());
    }
    for conversation in &conversations {
        let head = heads.get(conversation).copied().unwrap_or_default();
        id_cases.push_str(" WHEN ? THEN ?");
        values.push((*conversation).into());
        values.push(head.message_id.into());
    }
    values.push(now.into());
    values.extend(conversations.iter().map(|c| Value::from(*c)));
    txn.execute_raw(db::statement(
        db,
        &format!(
            "UPDATE conversations SET last_seq = CASE id{seq_cases} END, \
             last_message_id = CASE id{id_cases} END, last_activity_at = ? WHERE id IN ({marks})"
        ),
        values,
    ))
    .await?;

    // Writing makes the conversation yours, and you have read what you wrote: one row
    // per (conversation, author), at their latest message of the batch.
    let mut read_up_to: HashMap<(i64, i64), i64> = HashMap::new();
    for (new, id) in batch.iter().zip(&ids) {
        read_up_to.insert((new.conversation_id, new.author_id), *id);
    }
    let rows = vec!["(?, ?, ?, ?)"; read_up_to.len()].join(", ");
    let values = read_up_to
        .into_iter()
        .flat_map(|((conversation, author), id)| {
            [conversation.into(), author.into(), id.into(), now.into()]
        });
    txn.execute_raw(db::statement(
        db,
        &format!(
            "INSERT INTO memberships (conversation_id, user_id, last_read_message_id, joined_at) \
             VALUES {rows} ON CONFLICT (conversation_id, user_id) \
             DO UPDATE SET last_read_message_id = EXCLUDED.last_read_message_id"
        ),
        values,
    ))
    .await?;

    // Whom each message mentions, for their counts and `/mentions`.
    let mentions: Vec<(i64, i64, i64)> = batch
        .iter()
        .zip(&ids)
        .flat_map(|(new, id)| {
            new.mentioned
                .people
                .iter()
                .map(move |user| (*id, *user, new.conversation_id))
        })
        .collect();
    for chunk in mentions.chunks(MENTION_ROWS) {
        let rows = vec!["(?, ?, ?)"; chunk.len()].join(", ");
        txn.execute_raw(db::statement(
            db,
            &format!("INSERT INTO mentions (message_id, user_id, conversation_id) VALUES {rows}"),
            chunk
                .iter()
                .flat_map(|(m, u, c)| [(*m).into(), (*u).into(), (*c).into()]),
        ))
        .await?;
    }

    // The messages' files, each row naming its blob (already in storage).
    for (new, id) in batch.iter().zip(&ids) {
        for attachment in &new.attachments {
            txn.execute_raw(db::statement(
                db,
                files::INSERT,
                attachment.values(*id, now),
            ))
            .await?;
        }
    }

    let posted = stored(batch, &ids, &seqs, now);
    let events: Vec<Event> = posted.iter().map(Posted::event).collect();
    bus.publish_all_in(&txn, &events).await?;
    txn.commit().await?;
    Ok(posted)
}

/// SQLite's write path, on the message writer's own connection
/// ([`crate::db::open_sqlite_writer`]), called from the writer's thread: each
/// statement is a function call into SQLite, not a hand-off to another thread, so
/// the statements run one by one, prepared once and cached by the connection.
///
/// SQLite's process is the database's only writer and IMMEDIATE takes its write lock
/// at BEGIN (so the transaction never fails with SQLITE_BUSY halfway): no row locks
/// are needed, and events commit in the order of their numbers. On any error the
/// transaction is rolled back as it is dropped; the caller drops a connection that
/// failed, in case that rollback failed too.
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
    let mut heads: HashMap<i64, Head> = HashMap::new();
    let mut ids = Vec::with_capacity(batch.len());
    let seqs;
    {
        let mut latest = txn
            .prepare_cached("SELECT last_seq FROM conversations WHERE id = ?1")
            .map_err(from_sqlite)?;
        for conversation in conversations_of(batch) {
            let seq: i64 = latest
                .query_row([conversation], |row| row.get(0))
                .optional()
                .map_err(from_sqlite)?
                .ok_or_else(|| DbErr::RecordNotFound("conversation".into()))?;
            heads.insert(
                conversation,
                Head {
                    seq,
                    message_id: None,
                },
            );
        }
        seqs = number(batch, &mut heads);
        let mut insert = txn
            .prepare_cached(
                "INSERT INTO messages (conversation_id, author_id, body, body_html, created_at, \
                 seq, updated_seq, reply_to) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)",
            )
            .map_err(from_sqlite)?;
        // The author's newest message of the batch, per conversation.
        let mut read_up_to: HashMap<(i64, i64), i64> = HashMap::new();
        for (new, seq) in batch.iter().zip(&seqs) {
            insert
                .execute(params![
                    new.conversation_id,
                    new.author_id,
                    new.body.as_str(),
                    new.body_html,
                    now,
                    seq,
                    new.reply.as_ref().map(|q| q.id),
                ])
                .map_err(from_sqlite)?;
            let id = txn.last_insert_rowid();
            ids.push(id);
            if let Some(head) = heads.get_mut(&new.conversation_id) {
                head.message_id = Some(id);
            }
            read_up_to.insert((new.conversation_id, new.author_id), id);
            if !new.attachments.is_empty() {
                let mut attach = txn.prepare_cached(files::INSERT).map_err(from_sqlite)?;
                for attachment in &new.attachments {
                    let values = attachment.values(id, now).map(sqlite_value);
                    attach
                        .execute(rusqlite::params_from_iter(values))
                        .map_err(from_sqlite)?;
                }
            }
            if !new.mentioned.is_empty() {
                let mut mention = txn
                    .prepare_cached(
                        "INSERT INTO mentions (message_id, user_id, conversation_id) \
                         VALUES (?1, ?2, ?3)",
                    )
                    .map_err(from_sqlite)?;
                for user in &new.mentioned.people {
                    mention
                        .execute(params![id, user, new.conversation_id])
                        .map_err(from_sqlite)?;
                }
            }
        }
        let mut touch = txn
            .prepare_cached(
                "UPDATE conversations SET last_activity_at = ?1, last_message_id = ?2, \
                 last_seq = ?3 WHERE id = ?4",
            )
            .map_err(from_sqlite)?;
        for (conversation, head) in &heads {
            touch
                .execute(params![now, head.message_id, head.seq, conversation])
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
    Ok(stored(batch, &ids, &seqs, now))
}

/// A sea-orm value as rusqlite binds it (the kinds an attachment row holds).
fn sqlite_value(value: Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as Sql;
    match value {
        Value::BigInt(Some(v)) => Sql::Integer(v),
        Value::Int(Some(v)) => Sql::Integer(i64::from(v)),
        Value::String(Some(v)) => Sql::Text(v),
        _ => Sql::Null,
    }
}
