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
