//! The `attachments` rows: reading a page's files in one query, finding one file for
//! its route, whether a blob is still used, and taking a deleted message's files off
//! it. Rows are written with their message, in [`crate::chat::store`]'s transaction.
use std::collections::HashMap;

use sea_orm::{ConnectionTrait, DbErr, QueryResult, Value};

use crate::{chat::MessageView, db};

/// One file of a message, as its message shows it and its route serves it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    pub message_id: i64,
    /// Its place among the message's files, from 0; its URL's last part.
    pub position: i32,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    /// SHA-256 of its bytes: its blob in storage.
    pub hash: String,
    /// A picture's size as shown.
    pub width: Option<i32>,
    pub height: Option<i32>,
    /// Its thumbnail's size, when it has one.
    pub thumbnail: Option<(i32, i32)>,
}

impl Attachment {
    /// Where the file is served: `/messages/{id}/files/{position}`.
    pub fn url(&self) -> String {
        format!("/messages/{}/files/{}", self.message_id, self.position)
    }

    pub fn thumbnail_url(&self) -> String {
        format!("{}/thumbnail", self.url())
    }

    fn from_row(row: &QueryResult) -> Result<Self, DbErr> {
        let thumbnail = match (
            row.try_get::<Option<i32>>("", "thumb_width")?,
            row.try_get::<Option<i32>>("", "thumb_height")?,
        ) {
            (Some(w), Some(h)) => Some((w, h)),
            _ => None,
        };
        Ok(Self {
            message_id: row.try_get("", "message_id")?,
            position: row.try_get("", "position")?,
            name: row.try_get("", "name")?,
            content_type: row.try_get("", "content_type")?,
            size: row.try_get("", "size")?,
            hash: row.try_get("", "hash")?,
            width: row.try_get("", "width")?,
            height: row.try_get("", "height")?,
            thumbnail,
        })
    }
}

const COLUMNS: &str = "message_id, position, name, content_type, size, hash, width, height, \
     thumb_width, thumb_height";

/// The statement that stores one attachment, with its values, for the message
/// writer's transaction (`?` placeholders, in this order).
pub const INSERT: &str = "INSERT INTO attachments (message_id, position, name, content_type, \
     size, hash, width, height, thumb_width, thumb_height, created_at) \
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

impl Attachment {
    /// The values of [`INSERT`] for this file of message `message_id`.
    pub fn values(&self, message_id: i64, now: i64) -> [Value; 11] {
        [
            message_id.into(),
            self.position.into(),
            self.name.as_str().into(),
            self.content_type.as_str().into(),
            self.size.into(),
            self.hash.as_str().into(),
            self.width.into(),
            self.height.into(),
            self.thumbnail.map(|t| t.0).into(),
            self.thumbnail.map(|t| t.1).into(),
            now.into(),
        ]
    }
}

/// Reads the files of `messages` in one query.
pub async fn load(db: &impl ConnectionTrait, messages: &mut [MessageView]) -> Result<(), DbErr> {
    let mut refs: Vec<&mut MessageView> = messages.iter_mut().collect();
    load_each(db, &mut refs).await
}

/// [`load`] for messages that are not side by side.
pub async fn load_each(
    db: &impl ConnectionTrait,
    messages: &mut [&mut MessageView],
) -> Result<(), DbErr> {
    let (ids, marks) = crate::chat::queries::shown_ids(messages);
    if ids.is_empty() {
        return Ok(());
    }
    let rows = db
        .query_all_raw(db::statement_for(
            db.get_database_backend(),
            &format!(
                "SELECT {COLUMNS} FROM attachments WHERE message_id IN ({marks}) \
                 ORDER BY message_id, position"
            ),
            ids.iter().map(|id| Value::from(*id)),
        ))
        .await?;
    let mut by_message: HashMap<i64, Vec<Attachment>> = HashMap::new();
    for row in rows {
        let attachment = Attachment::from_row(&row)?;
        by_message
            .entry(attachment.message_id)
            .or_default()
            .push(attachment);
    }
    for message in messages.iter_mut() {
        message.attachments = by_message.remove(&message.id).unwrap_or_default();
    }
    Ok(())
}

/// File `position` of message `message_id`, with the message's conversation.
pub async fn find(
    db: &impl ConnectionTrait,
    message_id: i64,
    position: i32,
) -> Result<Option<(Attachment, i64)>, DbErr> {
    let row = db
        .query_one_raw(db::statement_for(
            db.get_database_backend(),
            &format!(
                "SELECT a.{}, m.conversation_id FROM attachments a \
                 JOIN messages m ON m.id = a.message_id \
                 WHERE a.message_id = ? AND a.position = ? AND m.deleted_at IS NULL",
                COLUMNS.replace(", ", ", a.")
            ),
            [Value::from(message_id), Value::from(position)],
        ))
        .await?;
    match row {
        Some(row) => Ok(Some((
            Attachment::from_row(&row)?,
            row.try_get("", "conversation_id")?,
        ))),
        None => Ok(None),
    }
}

/// Whether any message still has the blob `hash`.
pub async fn is_used(db: &impl ConnectionTrait, hash: &str) -> Result<bool, DbErr> {
    let row = db
        .query_one_raw(db::statement_for(
            db.get_database_backend(),
            "SELECT 1 AS used FROM attachments WHERE hash = ? LIMIT 1",
            [Value::from(hash)],
        ))
        .await?;
    Ok(row.is_some())
}

/// Takes the files off message `id` (being deleted); answers their blobs, for
/// [`super::Files::release`] once the deletion has committed.
pub async fn detach(db: &impl ConnectionTrait, id: i64) -> Result<Vec<String>, DbErr> {
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(db::statement_for(
            backend,
            "SELECT hash FROM attachments WHERE message_id = ?",
            [Value::from(id)],
        ))
        .await?;
    let hashes = rows
        .iter()
        .map(|row| row.try_get::<String>("", "hash"))
        .collect::<Result<Vec<_>, _>>()?;
    if !hashes.is_empty() {
        db.execute_raw(db::statement_for(
            backend,
            "DELETE FROM attachments WHERE message_id = ?",
            [Value::from(id)],
        ))
        .await?;
    }
    Ok(hashes)
}
