//! What changed in a conversation after one of its events: the messages posted since,
//! and the current form of every older message changed since, read in one statement
//! together with the conversation's latest event, so that the answer is exact: it
//! takes a page from event `after` to event `upto` and no further, whatever commits
//! while it is read. A socket catches up with it, and the hub fills a gap with it.
//!
//! It reads state, not a log: a message changed five times since `after` comes once,
//! as it is now.
use maud::{Markup, PreEscaped};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};

use super::{
    MessageView,
    queries::{MESSAGE_COLUMNS, MESSAGE_JOINS},
    reactions, views,
};
use crate::db;

/// The messages that changed in a conversation from event `after` (exclusive) to
/// event `upto` (inclusive), in the order of the events.
#[derive(Debug)]
pub struct Changes {
    pub conversation_id: i64,
    pub after: i64,
    pub upto: i64,
    pub messages: Vec<MessageView>,
}

impl Changes {
    /// Whether `message` is new since `after` (appended), rather than changed (replaced).
    fn is_new(&self, message: &MessageView) -> bool {
        message.seq > self.after
    }

    /// The changes as one fragment: new messages appended to `#messages` in order,
    /// changed ones replacing themselves. Empty when nothing changed.
    pub fn fragment(&self) -> Markup {
        let mut html = String::new();
        let mut rest = self.messages.as_slice();
        while let Some(first) = rest.first() {
            let run = if self.is_new(first) {
                let run = rest.iter().take_while(|m| self.is_new(m)).count();
                html.push_str(&views::appended(&rest[..run]).0);
                run
            } else {
                html.push_str(&views::replaced(first).0);
                1
            };
            rest = &rest[run..];
        }
        PreEscaped(html)
    }
}

/// What changed in the conversation after event `after`, at most `limit` messages. When
/// more changed, the answer ends at the last event it covers whole, and the caller
/// reads on from there.
pub async fn since(
    db: &DatabaseConnection,
    conversation_id: i64,
    after: i64,
    limit: u64,
) -> Result<Changes, DbErr> {
    // A message's place in the order: when it was posted if that was after `after`,
    // else when it last changed.
    let rows = db
        .query_all_raw(db::statement(
            db,
            &format!(
                "SELECT c.last_seq AS head, {MESSAGE_COLUMNS}, \
                   CASE WHEN m.seq > ? THEN m.seq ELSE m.updated_seq END AS place \
                 FROM conversations c \
                 LEFT JOIN messages m ON m.conversation_id = c.id AND m.updated_seq > ? \
                 LEFT JOIN users u ON u.id = m.author_id {MESSAGE_JOINS} \
                 WHERE c.id = ? ORDER BY place LIMIT ?"
            ),
            [
                after.into(),
                after.into(),
                conversation_id.into(),
                (limit.max(1) as i64).into(),
            ],
        ))
        .await?;
    let mut head = after;
    let mut messages = Vec::with_capacity(rows.len());
    let mut last_place = after;
    for row in &rows {
        head = row.try_get::<i64>("", "head")?;
        if let Some(message) = MessageView::from_joined_row(row)? {
            last_place = row.try_get::<i64>("", "place")?;
            messages.push(message);
        }
    }
    let upto = if messages.len() as u64 >= limit.max(1) {
        last_place
    } else {
        head.max(after)
    };
    reactions::load(db, &mut messages).await?;
    crate::files::queries::load(db, &mut messages).await?;
    Ok(Changes {
        conversation_id,
        after,
        upto,
        messages,
    })
}

/// What changed after each `(conversation, after)` of `wanted`, at most `limit` messages
/// in all; `after` of `None` asks only for the latest event. Answers `None` when more
/// than `limit` changed: the caller then reads conversation by conversation.
pub async fn since_many(
    db: &DatabaseConnection,
    wanted: &[(i64, Option<i64>)],
    limit: u64,
) -> Result<Option<Vec<Changes>>, DbErr> {
    if wanted.is_empty() {
        return Ok(Some(Vec::new()));
    }
    // "Only the latest event" is a range that no message is in.
    let after_of = |a: Option<i64>| a.unwrap_or(i64::MAX);
    let mut cases = String::new();
    let mut values: Vec<sea_orm::Value> = Vec::with_capacity(wanted.len() * 3 + 1);
    for (conversation, after) in wanted {
        cases.push_str(" WHEN ? THEN ?");
        values.push((*conversation).into());
        values.push(after_of(*after).into());
    }
    let marks = vec!["?"; wanted.len()].join(", ");
    values.extend(wanted.iter().map(|(c, _)| sea_orm::Value::from(*c)));
    values.push((limit as i64 + 1).into());
    let rows = db
        .query_all_raw(db::statement(
            db,
            &format!(
                "SELECT c.id AS wanted_id, c.last_seq AS head, {MESSAGE_COLUMNS} \
                 FROM conversations c \
                 LEFT JOIN messages m ON m.conversation_id = c.id \
                   AND m.updated_seq > (CASE c.id{cases} END) \
                 LEFT JOIN users u ON u.id = m.author_id {MESSAGE_JOINS} \
                 WHERE c.id IN ({marks}) LIMIT ?"
            ),
            values,
        ))
        .await?;
    if rows.len() as u64 > limit {
        return Ok(None);
    }
    let mut found: std::collections::HashMap<i64, Changes> =
        std::collections::HashMap::with_capacity(wanted.len());
    for (conversation, after) in wanted {
        found.insert(
            *conversation,
            Changes {
                conversation_id: *conversation,
                after: after.unwrap_or(0),
                upto: after.unwrap_or(0),
                messages: Vec::new(),
            },
        );
    }
    for row in &rows {
        let conversation: i64 = row.try_get("", "wanted_id")?;
        let Some(changes) = found.get_mut(&conversation) else {
            continue;
        };
        changes.upto = row.try_get::<i64>("", "head")?;
        if let Some(message) = MessageView::from_joined_row(row)? {
            changes.messages.push(message);
        }
    }
    let mut all: Vec<Changes> = found.into_values().collect();
    for changes in &mut all {
        // A conversation read only for its latest event starts there.
        if wanted
            .iter()
            .any(|(c, a)| *c == changes.conversation_id && a.is_none())
        {
            changes.after = changes.upto;
        }
        let after = changes.after;
        changes
            .messages
            .sort_by_key(|m| if m.seq > after { m.seq } else { m.updated_seq });
        changes.upto = changes.upto.max(after);
    }
    let mut messages: Vec<&mut MessageView> =
        all.iter_mut().flat_map(|c| c.messages.iter_mut()).collect();
    reactions::load_each(db, &mut messages).await?;
    crate::files::queries::load_each(db, &mut messages).await?;
    Ok(Some(all))
}

/// The event up to which a page that shows every message up to `message_id` is
/// complete: how the contract's `after={message_id}` becomes a cursor.
pub async fn event_of_message(
    db: &impl ConnectionTrait,
    conversation_id: i64,
    message_id: i64,
) -> Result<i64, DbErr> {
    use crate::entities::message;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
    let seq: Option<Option<i64>> = message::Entity::find()
        .select_only()
        .column_as(message::Column::Seq.max(), "seq")
        .filter(message::Column::ConversationId.eq(conversation_id))
        .filter(message::Column::Id.lte(message_id))
        .into_tuple()
        .one(db)
        .await?;
    Ok(seq.flatten().unwrap_or(0))
}
