//! What an event stream reads besides messages and events: the conversations its
//! holder belongs to and where each conversation stands.
use std::collections::BTreeMap;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Value};

use crate::db;

/// The conversations `user_id` belongs to (rooms they joined, private rooms, their
/// private chats), the most recently active first, at most `limit`.
pub async fn belonging(
    db: &DatabaseConnection,
    user_id: i64,
    limit: u64,
) -> Result<Vec<i64>, DbErr> {
    let rows = db
        .query_all_raw(db::statement(
            db,
            "SELECT c.id FROM conversations c \
             WHERE EXISTS (SELECT 1 FROM memberships m \
                 WHERE m.conversation_id = c.id AND m.user_id = ?) \
               OR (c.kind = 'direct' AND (c.direct_key LIKE ? OR c.direct_key LIKE ?)) \
             ORDER BY c.last_seq DESC, c.id DESC LIMIT ?",
            [
                user_id.into(),
                format!("{user_id}:%").into(),
                format!("%:{user_id}").into(),
                (limit as i64).into(),
            ],
        ))
        .await?;
    rows.iter().map(|row| row.try_get("", "id")).collect()
}

/// Each of `ids`' latest event.
pub async fn heads(db: &DatabaseConnection, ids: &[i64]) -> Result<BTreeMap<i64, i64>, DbErr> {
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let marks = vec!["?"; ids.len()].join(", ");
    let rows = db
        .query_all_raw(db::statement(
            db,
            &format!("SELECT id, last_seq FROM conversations WHERE id IN ({marks})"),
            ids.iter().map(|id| Value::from(*id)),
        ))
        .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("", "id")?, row.try_get("", "last_seq")?)))
        .collect()
}

/// Since when `user_id` belongs to conversation `id` (a member since they joined, or
/// one of its private chat's two since it began), in milliseconds; `None` when they
/// do not.
pub async fn belongs_since(
    db: &DatabaseConnection,
    user_id: i64,
    id: i64,
) -> Result<Option<i64>, DbErr> {
    let row = db
        .query_one_raw(db::statement(
            db,
            "SELECT COALESCE((SELECT m.joined_at FROM memberships m \
                 WHERE m.conversation_id = c.id AND m.user_id = ?), c.created_at) AS since \
             FROM conversations c WHERE c.id = ? AND (EXISTS (SELECT 1 FROM memberships m \
                 WHERE m.conversation_id = c.id AND m.user_id = ?) \
               OR (c.kind = 'direct' AND (c.direct_key LIKE ? OR c.direct_key LIKE ?)))",
            [
                user_id.into(),
                id.into(),
                user_id.into(),
                format!("{user_id}:%").into(),
                format!("%:{user_id}").into(),
            ],
        ))
        .await?;
    row.map(|row| row.try_get("", "since")).transpose()
}

/// The place in conversation `id` just before its first message posted at or after
/// `at` (milliseconds): a stream that starts there gets everything posted since.
pub async fn place_before(db: &DatabaseConnection, id: i64, at: i64) -> Result<i64, DbErr> {
    let row = db
        .query_one_raw(db::statement(
            db,
            // Down the (conversation, id) index from the newest: `at` is recent.
            "SELECT seq FROM messages WHERE conversation_id = ? AND created_at < ? \
             ORDER BY id DESC LIMIT 1",
            [id.into(), at.into()],
        ))
        .await?;
    Ok(row
        .map(|row| row.try_get::<i64>("", "seq"))
        .transpose()?
        .unwrap_or(0))
}
