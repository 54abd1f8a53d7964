//! The reads of mentions: the people names name, and a person's recent mentions.
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};

use super::Mentioned;
use crate::{
    chat::{
        MessageView, Posted,
        queries::{MESSAGE_COLUMNS, MESSAGE_JOINS},
        reactions,
    },
    db,
};

/// The people whose usernames are `names` (in lower case): id and username.
pub async fn people_named(
    db: &DatabaseConnection,
    names: &[String],
) -> Result<Vec<(i64, String)>, DbErr> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let marks = vec!["?"; names.len()].join(", ");
    let rows = db
        .query_all_raw(db::statement(
            db,
            &format!("SELECT id, username FROM users WHERE username_key IN ({marks})"),
            names.iter().map(|n| n.as_str().into()),
        ))
        .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("", "id")?, row.try_get("", "username")?)))
        .collect()
}

/// Message `id` as it was posted, with whom it mentions (for news of a message
/// another process stored).
pub async fn posted(db: &DatabaseConnection, id: i64) -> Result<Option<Posted>, DbErr> {
    let Some(message) = crate::chat::queries::message_by_id(db, id).await? else {
        return Ok(None);
    };
    let rows = db
        .query_all_raw(db::statement(
            db,
            "SELECT user_id FROM mentions WHERE message_id = ? ORDER BY user_id",
            [id.into()],
        ))
        .await?;
    let people = rows
        .iter()
        .map(|row| row.try_get("", "user_id"))
        .collect::<Result<Vec<i64>, DbErr>>()?;
    let html = message.body_html.as_deref().unwrap_or_default();
    let everyone = html.contains(r#"data-mention="everyone""#);
    let group = everyone || html.contains(r#"data-mention="here""#);
    Ok(Some(Posted {
        message,
        mentioned: Mentioned {
            people,
            everyone,
            group,
        },
    }))
}

/// A message that mentions someone, with where it was said.
#[derive(Clone, Debug)]
pub struct MentionOf {
    pub message: MessageView,
    pub kind: String,
    pub room_name: String,
    pub room_slug: Option<String>,
}

/// The latest messages that mention `user_id` (before message `before`, when given),
/// newest first; deleted ones are gone.
pub async fn recent(
    db: &DatabaseConnection,
    user_id: i64,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<MentionOf>, DbErr> {
    let rows = db
        .query_all_raw(db::statement(
            db,
            &format!(
                "SELECT {MESSAGE_COLUMNS}, c.kind AS conversation_kind, c.name AS room_name, \
                   c.slug AS room_slug \
                 FROM mentions mn JOIN messages m ON m.id = mn.message_id \
                 JOIN users u ON u.id = m.author_id JOIN conversations c ON c.id = m.conversation_id \
                 {MESSAGE_JOINS} \
                 WHERE mn.user_id = ? AND mn.message_id < ? AND m.deleted_at IS NULL \
                 ORDER BY mn.message_id DESC LIMIT ?"
            ),
            [
                user_id.into(),
                before.unwrap_or(i64::MAX).into(),
                (limit as i64).into(),
            ],
        ))
        .await?;
    let mut found = Vec::with_capacity(rows.len());
    for row in &rows {
        let Some(message) = MessageView::from_joined_row(row)? else {
            continue;
        };
        found.push(MentionOf {
            message,
            kind: row.try_get("", "conversation_kind")?,
            room_name: row.try_get("", "room_name")?,
            room_slug: row.try_get("", "room_slug")?,
        });
    }
    let mut messages: Vec<&mut MessageView> = found.iter_mut().map(|f| &mut f.message).collect();
    reactions::load_each(db, &mut messages).await?;
    crate::files::queries::load_each(db, &mut messages).await?;
    Ok(found)
}

/// The people whose names start with `prefix` (in lower case), members of
/// `conversation_id` first, then everyone, `limit` at most.
pub async fn suggestions(
    db: &DatabaseConnection,
    conversation_id: i64,
    prefix: &str,
    limit: u64,
) -> Result<Vec<(i64, String, bool)>, DbErr> {
    let pattern = format!(
        "{}%",
        prefix
            .to_ascii_lowercase()
            .replace('\\', "\\\\")
            .replace('_', "\\_")
            .replace('%', "\\%")
    );
    let rows = db
        .query_all_raw(db::statement(
            db,
            "SELECT u.id, u.username, \
               CASE WHEN EXISTS (SELECT 1 FROM memberships ms WHERE ms.conversation_id = ? \
                 AND ms.user_id = u.id) THEN 1 ELSE 0 END AS member \
             FROM users u WHERE u.username_key LIKE ? ESCAPE '\\' AND NOT u.is_guest \
             ORDER BY member DESC, u.username_key LIMIT ?",
            [
                conversation_id.into(),
                pattern.into(),
                (limit as i64).into(),
            ],
        ))
        .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get("", "id")?,
                row.try_get("", "username")?,
                row.try_get::<i32>("", "member")? == 1,
            ))
        })
        .collect()
}
