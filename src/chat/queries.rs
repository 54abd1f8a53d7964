//! The reads of a conversation (its history pages, its members) and membership: joining,
//! leaving, and how far someone has read. What changed since an event is
//! [`super::catchup`]'s; storing messages is [`super::store`]'s.
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryResult, sea_query::OnConflict,
};

use super::Conversation;
use crate::{
    db::{self, now_ms},
    entities::{conversation, membership},
};

/// A message as pages and fragments show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageView {
    pub id: i64,
    pub conversation_id: i64,
    pub author_id: i64,
    pub author: String,
    /// The SHA-256 of the author's avatar ([`crate::accounts::avatar`]), if they have one.
    pub author_avatar: Option<String>,
    /// The text as written (Markdown); empty once deleted.
    pub body: String,
    /// The text rendered once (`super::format`); `None` for messages stored before it
    /// was, which are rendered when shown.
    pub body_html: Option<String>,
    pub created_at: i64,
    /// The event that created the message, and the one that last changed it.
    pub seq: i64,
    pub updated_seq: i64,
    pub edited_at: Option<i64>,
    pub deleted_at: Option<i64>,
    /// The message this one answers, as its quote shows it.
    pub reply: Option<Quote>,
    /// Its reactions, in the order they were first given.
    pub reactions: Vec<super::reactions::Reaction>,
    /// Its files, in the order they were attached.
    pub attachments: Vec<crate::files::Attachment>,
}

/// The one-line quote of the message a reply answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quote {
    pub id: i64,
    pub author: String,
    /// The start of its text (empty once deleted).
    pub excerpt: String,
    pub deleted: bool,
}

/// How long a reply's quote is, at most.
pub const QUOTE_CHARS: usize = 100;

/// The columns of a [`MessageView`], for statements that join `messages m` with the
/// author `users u` and then [`MESSAGE_JOINS`].
pub(super) const MESSAGE_COLUMNS: &str = "m.id, m.conversation_id, m.author_id, u.username AS author, u.avatar AS author_avatar, \
     m.body, m.body_html, m.created_at, m.seq, m.updated_seq, m.edited_at, m.deleted_at, \
     m.reply_to, ru.username AS reply_author, SUBSTR(rm.body, 1, 400) AS reply_body, \
     rm.deleted_at AS reply_deleted_at";

/// The joins [`MESSAGE_COLUMNS`] reads the quoted message through.
pub(super) const MESSAGE_JOINS: &str =
    "LEFT JOIN messages rm ON rm.id = m.reply_to LEFT JOIN users ru ON ru.id = rm.author_id";

impl MessageView {
    /// The message in `row`, or `None` where an outer join found none. Its reactions
    /// are read apart ([`super::reactions::load`]).
    pub(super) fn from_joined_row(row: &QueryResult) -> Result<Option<Self>, DbErr> {
        let Some(id) = row.try_get::<Option<i64>>("", "id")? else {
            return Ok(None);
        };
        let reply = match row.try_get::<Option<i64>>("", "reply_to")? {
            Some(quoted) => Some(Quote {
                id: quoted,
                author: row
                    .try_get::<Option<String>>("", "reply_author")?
                    .unwrap_or_default(),
                excerpt: super::format::excerpt(
                    &row.try_get::<Option<String>>("", "reply_body")?
                        .unwrap_or_default(),
                    QUOTE_CHARS,
                ),
                deleted: row
                    .try_get::<Option<i64>>("", "reply_deleted_at")?
                    .is_some(),
            }),
            None => None,
        };
        Ok(Some(Self {
            id,
            conversation_id: row.try_get("", "conversation_id")?,
            author_id: row.try_get("", "author_id")?,
            author: row.try_get("", "author")?,
            author_avatar: row.try_get("", "author_avatar")?,
            body: row.try_get("", "body")?,
            body_html: row.try_get("", "body_html")?,
            created_at: row.try_get("", "created_at")?,
            seq: row.try_get("", "seq")?,
            updated_seq: row.try_get("", "updated_seq")?,
            edited_at: row.try_get("", "edited_at")?,
            deleted_at: row.try_get("", "deleted_at")?,
            reply,
            reactions: Vec::new(),
            attachments: Vec::new(),
        }))
    }

    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }
}

/// The ids of `messages` that still have something to load beside them (a deleted one
/// has neither reactions nor files), and the `?, ?, …` of an `IN` list of them.
pub fn shown_ids(messages: &[&mut MessageView]) -> (Vec<i64>, String) {
    let ids: Vec<i64> = messages
        .iter()
        .filter(|m| !m.is_deleted())
        .map(|m| m.id)
        .collect();
    let marks = vec!["?"; ids.len()].join(", ");
    (ids, marks)
}

/// Which messages of a conversation a page shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// The latest ones: the live page.
    Latest,
    /// Those before a message (older history).
    Before(i64),
    /// Those after a message (newer history, towards the latest).
    After(i64),
    /// Those around a message (its permalink).
    Around(i64),
}

/// A page of history: messages oldest first, whether there are older and newer ones,
/// and the conversation's latest event when the page was read (the live page's cursor:
/// a socket that starts from it misses nothing and repeats nothing).
#[derive(Debug)]
pub struct HistoryPage {
    pub messages: Vec<MessageView>,
    pub has_older: bool,
    pub has_newer: bool,
    pub upto: i64,
}

/// Up to `limit` messages of a window of the conversation, read in one statement with
/// the conversation's latest event, so that the two agree (a permalink's window is
/// read in two).
pub async fn page(
    db: &DatabaseConnection,
    conversation_id: i64,
    window: Window,
    limit: u64,
) -> Result<HistoryPage, DbErr> {
    let (mut page, newest_first) = match window {
        Window::Latest => (
            run(db, conversation_id, "m.id < ?", i64::MAX, false, limit).await?,
            true,
        ),
        Window::Before(before) => {
            let mut page = run(db, conversation_id, "m.id < ?", before, false, limit).await?;
            page.has_newer = true;
            (page, true)
        }
        Window::After(after) => {
            let mut page = run(db, conversation_id, "m.id > ?", after, true, limit).await?;
            page.has_newer = page.has_older;
            page.has_older = true;
            (page, false)
        }
        Window::Around(around) => {
            let half = (limit / 2).max(1);
            let mut older = run(db, conversation_id, "m.id <= ?", around, false, half).await?;
            let newer = run(db, conversation_id, "m.id > ?", around, true, half).await?;
            older.messages.reverse();
            older.messages.extend(newer.messages);
            older.has_newer = newer.has_older;
            (older, false)
        }
    };
    if newest_first {
        page.messages.reverse();
    }
    super::reactions::load(db, &mut page.messages).await?;
    crate::files::queries::load(db, &mut page.messages).await?;
    Ok(page)
}

/// One statement of [`page`]: up to `limit` messages whose id meets `condition` on
/// `bound`, from the bound outwards; `has_older` says whether there were more.
async fn run(
    db: &DatabaseConnection,
    conversation_id: i64,
    condition: &str,
    bound: i64,
    ascending: bool,
    limit: u64,
) -> Result<HistoryPage, DbErr> {
    let order = if ascending { "ASC" } else { "DESC" };
    let rows = db
        .query_all_raw(db::statement(
            db,
            &format!(
                "SELECT c.last_seq AS head, m.* FROM conversations c LEFT JOIN ( \
                   SELECT {MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.author_id \
                   {MESSAGE_JOINS} \
                   WHERE m.conversation_id = ? AND {condition} ORDER BY m.id {order} LIMIT ?) m \
                 ON 1 = 1 WHERE c.id = ? ORDER BY m.id {order}"
            ),
            [
                conversation_id.into(),
                bound.into(),
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
    let has_more = messages.len() as u64 > limit;
    messages.truncate(limit as usize);
    Ok(HistoryPage {
        messages,
        has_older: has_more,
        has_newer: false,
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
        notify: Set(None),
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

/// The usernames of a conversation's members, in alphabetical order.
pub async fn member_names(
    db: &DatabaseConnection,
    conversation_id: i64,
) -> Result<Vec<String>, DbErr> {
    let rows = db
        .query_all_raw(crate::db::statement(
            db,
            "SELECT u.username FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.conversation_id = ? ORDER BY u.username_key",
            [conversation_id.into()],
        ))
        .await?;
    rows.iter()
        .map(|row| row.try_get::<String>("", "username"))
        .collect()
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
    db: &impl ConnectionTrait,
    message_id: i64,
) -> Result<Option<MessageView>, DbErr> {
    let row = db
        .query_one_raw(db::statement_for(
            db.get_database_backend(),
            &format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.author_id \
                 {MESSAGE_JOINS} WHERE m.id = ?"
            ),
            [message_id.into()],
        ))
        .await?;
    let Some(mut message) = row
        .as_ref()
        .map(MessageView::from_joined_row)
        .transpose()?
        .flatten()
    else {
        return Ok(None);
    };
    super::reactions::load(db, std::slice::from_mut(&mut message)).await?;
    crate::files::queries::load(db, std::slice::from_mut(&mut message)).await?;
    Ok(Some(message))
}

/// The replies to message `id` that are not deleted, in order.
pub async fn replies_to(db: &impl ConnectionTrait, id: i64) -> Result<Vec<MessageView>, DbErr> {
    let rows = db
        .query_all_raw(db::statement_for(
            db.get_database_backend(),
            &format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.author_id \
                 {MESSAGE_JOINS} WHERE m.reply_to = ? AND m.deleted_at IS NULL ORDER BY m.id"
            ),
            [id.into()],
        ))
        .await?;
    let mut replies = Vec::with_capacity(rows.len());
    for row in &rows {
        replies.extend(MessageView::from_joined_row(row)?);
    }
    super::reactions::load(db, &mut replies).await?;
    crate::files::queries::load(db, &mut replies).await?;
    Ok(replies)
}
