//! Sites, their operators and their visitors' conversations in the database. Nothing
//! here decides who may see what: [`super::widget`] and [`super::inbox`] do, before
//! they call in.
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, QueryResult, TransactionTrait};

use crate::db::{self, now_ms, statement, statement_for};

/// A website that embeds the widget.
#[derive(Clone, Debug)]
pub struct Site {
    pub id: i64,
    /// What the snippet names the site by; public, in every page that embeds it.
    pub key: String,
    pub name: String,
    /// The origins (`https://shop.example`) that may frame the widget, one a line.
    pub origins: Vec<String>,
    /// The widget's heading.
    pub title: String,
    /// The launcher's and the visitor's messages' colour, `#rrggbb`.
    pub color: String,
    /// `left` or `right`.
    pub position: String,
    /// `auto`, `light` or `dark`.
    pub theme: String,
    pub guests_allowed: bool,
    pub greeting: String,
    /// What the widget says while no operator is online.
    pub away_message: String,
    /// `auto` (from the visitor's browser), `en` or `fa`.
    pub language: String,
    /// What the site signs its customers' ids with (identity verification).
    pub identity_secret: String,
    pub created_at: i64,
}

const SITE_COLUMNS: &str = "id, site_key, name, origins, title, color, position, theme, \
     guests_allowed, greeting, away_message, language, identity_secret, created_at";

fn site_of(row: &QueryResult) -> Result<Site, DbErr> {
    let origins: String = row.try_get("", "origins")?;
    Ok(Site {
        id: row.try_get("", "id")?,
        key: row.try_get("", "site_key")?,
        name: row.try_get("", "name")?,
        origins: origins.lines().map(str::to_owned).collect(),
        title: row.try_get("", "title")?,
        color: row.try_get("", "color")?,
        position: row.try_get("", "position")?,
        theme: row.try_get("", "theme")?,
        guests_allowed: row.try_get("", "guests_allowed")?,
        greeting: row.try_get("", "greeting")?,
        away_message: row.try_get("", "away_message")?,
        language: row.try_get("", "language")?,
        identity_secret: row.try_get("", "identity_secret")?,
        created_at: row.try_get("", "created_at")?,
    })
}

/// Stores `site` (its `id` and `created_at` are the database's); answers it stored.
pub async fn create_site(db: &DatabaseConnection, site: &Site) -> Result<Site, DbErr> {
    let row = db
        .query_one_raw(statement(
            db,
            &format!(
                "INSERT INTO sites (site_key, name, origins, title, color, position, theme, \
                 guests_allowed, greeting, away_message, language, identity_secret, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {SITE_COLUMNS}"
            ),
            [
                site.key.clone().into(),
                site.name.clone().into(),
                site.origins.join("\n").into(),
                site.title.clone().into(),
                site.color.clone().into(),
                site.position.clone().into(),
                site.theme.clone().into(),
                site.guests_allowed.into(),
                site.greeting.clone().into(),
                site.away_message.clone().into(),
                site.language.clone().into(),
                site.identity_secret.clone().into(),
                now_ms().into(),
            ],
        ))
        .await?
        .ok_or(DbErr::RecordNotInserted)?;
    site_of(&row)
}

/// The site whose key is `key`.
pub async fn site_by_key(db: &DatabaseConnection, key: &str) -> Result<Option<Site>, DbErr> {
    db.query_one_raw(statement(
        db,
        &format!("SELECT {SITE_COLUMNS} FROM sites WHERE site_key = ?"),
        [key.into()],
    ))
    .await?
    .map(|row| site_of(&row))
    .transpose()
}

/// Every site, newest first.
pub async fn sites(db: &DatabaseConnection) -> Result<Vec<Site>, DbErr> {
    let rows = db
        .query_all_raw(statement(
            db,
            &format!("SELECT {SITE_COLUMNS} FROM sites ORDER BY id DESC LIMIT 200"),
            [],
        ))
        .await?;
    rows.iter().map(site_of).collect()
}

/// The sites `user_id` answers for.
pub async fn sites_of_operator(db: &DatabaseConnection, user_id: i64) -> Result<Vec<Site>, DbErr> {
    let columns = SITE_COLUMNS
        .split(", ")
        .map(|c| format!("s.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let rows = db
        .query_all_raw(statement(
            db,
            &format!(
                "SELECT {columns} FROM sites s JOIN site_operators o ON o.site_id = s.id \
                 WHERE o.user_id = ? ORDER BY s.name"
            ),
            [user_id.into()],
        ))
        .await?;
    rows.iter().map(site_of).collect()
}

/// Makes `user_id` an operator of `site_id` (again is nothing).
pub async fn add_operator(
    db: &DatabaseConnection,
    site_id: i64,
    user_id: i64,
) -> Result<(), DbErr> {
    db.execute_raw(statement(
        db,
        "INSERT INTO site_operators (site_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
        [site_id.into(), user_id.into()],
    ))
    .await?;
    Ok(())
}

/// The operators of `site_id`: id and username, by name.
pub async fn operators(db: &DatabaseConnection, site_id: i64) -> Result<Vec<(i64, String)>, DbErr> {
    let rows = db
        .query_all_raw(statement(
            db,
            "SELECT u.id, u.username FROM site_operators o JOIN users u ON u.id = o.user_id \
             WHERE o.site_id = ? AND u.deactivated_at IS NULL AND u.deleted_at IS NULL \
             ORDER BY u.username_key",
            [site_id.into()],
        ))
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("", "id")?, r.try_get("", "username")?)))
        .collect()
}

/// Whether `user_id` is an operator of the site support conversation
/// `conversation_id` belongs to.
pub async fn operates_conversation(
    db: &DatabaseConnection,
    conversation_id: i64,
    user_id: i64,
) -> Result<bool, DbErr> {
    Ok(db
        .query_one_raw(statement(
            db,
            "SELECT 1 AS one FROM support_chats c JOIN site_operators o ON o.site_id = c.site_id \
             WHERE c.conversation_id = ? AND o.user_id = ?",
            [conversation_id.into(), user_id.into()],
        ))
        .await?
        .is_some())
}

/// One visitor's conversation with a site.
#[derive(Clone, Debug)]
pub struct SupportChat {
    pub conversation_id: i64,
    pub site_id: i64,
    pub guest_id: i64,
    pub guest_name: String,
    /// `open` or `closed`.
    pub status: String,
    pub assigned_to: Option<i64>,
    pub assignee: Option<String>,
    /// The page of the site the visitor was last on.
    pub page_url: String,
    pub email: Option<String>,
    /// The id the site gave its signed-in customer (identity verification).
    pub external_id: Option<String>,
    pub first_seen_at: i64,
    pub last_seen_at: i64,
    pub first_reply_at: Option<i64>,
    pub closed_at: Option<i64>,
    /// The visitor's messages since the team last wrote.
    pub waiting: i64,
    /// The latest message's text, shortened.
    pub last_message: Option<String>,
    /// The language the site's widget speaks (`auto`, `en`, `fa`): its inbox rows,
    /// rendered once for every operator, speak it too.
    pub site_language: String,
}

const CHAT_SELECT: &str = "SELECT s.conversation_id, s.site_id, s.guest_id, g.username AS guest_name, \
       s.status, s.assigned_to, a.username AS assignee, s.page_url, s.email, s.external_id, s.first_seen_at, \
       s.last_seen_at, s.first_reply_at, s.closed_at, \
       (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = s.conversation_id \
          AND m.author_id = s.guest_id AND m.deleted_at IS NULL AND m.id > COALESCE( \
            (SELECT MAX(o.id) FROM messages o WHERE o.conversation_id = s.conversation_id \
               AND o.author_id <> s.guest_id), 0)) AS waiting, \
       (SELECT l.body FROM messages l WHERE l.conversation_id = s.conversation_id \
          AND l.deleted_at IS NULL ORDER BY l.id DESC LIMIT 1) AS last_message, \
       st.language AS site_language \
     FROM support_chats s JOIN users g ON g.id = s.guest_id JOIN sites st ON st.id = s.site_id \
     LEFT JOIN users a ON a.id = s.assigned_to";

fn chat_of(row: &QueryResult) -> Result<SupportChat, DbErr> {
    let last: Option<String> = row.try_get("", "last_message")?;
    Ok(SupportChat {
        conversation_id: row.try_get("", "conversation_id")?,
        site_id: row.try_get("", "site_id")?,
        guest_id: row.try_get("", "guest_id")?,
        guest_name: row.try_get("", "guest_name")?,
        status: row.try_get("", "status")?,
        assigned_to: row.try_get("", "assigned_to")?,
        assignee: row.try_get("", "assignee")?,
        page_url: row.try_get("", "page_url")?,
        email: row.try_get("", "email")?,
        external_id: row.try_get("", "external_id")?,
        first_seen_at: row.try_get("", "first_seen_at")?,
        last_seen_at: row.try_get("", "last_seen_at")?,
        first_reply_at: row.try_get("", "first_reply_at")?,
        closed_at: row.try_get("", "closed_at")?,
        waiting: row.try_get("", "waiting")?,
        last_message: last.map(|body| crate::chat::format::excerpt(&body, 120)),
        site_language: row.try_get("", "site_language")?,
    })
}

/// The support conversation `conversation_id`.
pub async fn chat(
    db: &DatabaseConnection,
    conversation_id: i64,
) -> Result<Option<SupportChat>, DbErr> {
    db.query_one_raw(statement(
        db,
        &format!("{CHAT_SELECT} WHERE s.conversation_id = ?"),
        [conversation_id.into()],
    ))
    .await?
    .map(|row| chat_of(&row))
    .transpose()
}

/// The conversation of visitor `guest_id` with `site_id`.
pub async fn chat_of_guest(
    db: &DatabaseConnection,
    site_id: i64,
    guest_id: i64,
) -> Result<Option<SupportChat>, DbErr> {
    db.query_one_raw(statement(
        db,
        &format!("{CHAT_SELECT} WHERE s.site_id = ? AND s.guest_id = ?"),
        [site_id.into(), guest_id.into()],
    ))
    .await?
    .map(|row| chat_of(&row))
    .transpose()
}

/// The conversation of the site's customer the site calls `external_id`.
pub async fn chat_of_customer(
    db: &DatabaseConnection,
    site_id: i64,
    external_id: &str,
) -> Result<Option<SupportChat>, DbErr> {
    db.query_one_raw(statement(
        db,
        &format!("{CHAT_SELECT} WHERE s.site_id = ? AND s.external_id = ? ORDER BY s.conversation_id LIMIT 1"),
        [site_id.into(), external_id.into()],
    ))
    .await?
    .map(|row| chat_of(&row))
    .transpose()
}

/// Which of a site's conversations the inbox shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InboxView {
    Open,
    Mine,
    Unassigned,
    Closed,
}

impl InboxView {
    pub const ALL: [InboxView; 4] = [
        InboxView::Open,
        InboxView::Mine,
        InboxView::Unassigned,
        InboxView::Closed,
    ];

    pub fn parse(raw: &str) -> Self {
        match raw {
            "mine" => InboxView::Mine,
            "unassigned" => InboxView::Unassigned,
            "closed" => InboxView::Closed,
            _ => InboxView::Open,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            InboxView::Open => "open",
            InboxView::Mine => "mine",
            InboxView::Unassigned => "unassigned",
            InboxView::Closed => "closed",
        }
    }

    /// Whether `chat` belongs in this view for operator `me`.
    pub fn shows(self, chat: &SupportChat, me: i64) -> bool {
        match self {
            InboxView::Open => chat.status == "open",
            InboxView::Mine => chat.status == "open" && chat.assigned_to == Some(me),
            InboxView::Unassigned => chat.status == "open" && chat.assigned_to.is_none(),
            InboxView::Closed => chat.status == "closed",
        }
    }
}

/// Conversations the inbox lists at most; older ones are reached from the visitor's
/// link or by search.
pub const INBOX_LIMIT: u64 = 200;

/// The conversations of the sites `operator_id` answers for, most recently active
/// first, as `view` selects them.
pub async fn inbox(
    db: &DatabaseConnection,
    operator_id: i64,
    view: InboxView,
) -> Result<Vec<SupportChat>, DbErr> {
    let (filter, extra): (&str, Option<i64>) = match view {
        InboxView::Open => ("s.status = 'open'", None),
        InboxView::Mine => ("s.status = 'open' AND s.assigned_to = ?", Some(operator_id)),
        InboxView::Unassigned => ("s.status = 'open' AND s.assigned_to IS NULL", None),
        InboxView::Closed => ("s.status = 'closed'", None),
    };
    let mut values: Vec<sea_orm::Value> = vec![operator_id.into()];
    values.extend(extra.map(Into::into));
    values.push((INBOX_LIMIT as i64).into());
    let rows = db
        .query_all_raw(statement(
            db,
            &format!(
                "{CHAT_SELECT} WHERE s.site_id IN (SELECT site_id FROM site_operators WHERE user_id = ?) \
                 AND {filter} ORDER BY s.last_seen_at DESC, s.conversation_id DESC LIMIT ?"
            ),
            values,
        ))
        .await?;
    rows.iter().map(chat_of).collect()
}

/// What a new visitor's conversation starts with.
pub struct NewChat<'a> {
    pub site: &'a Site,
    pub page_url: &'a str,
    pub email: Option<&'a str>,
    pub external_id: Option<&'a str>,
    /// What the visitor is called (`Visitor 3f2a1b`, or the name a verified customer
    /// was given): never a valid username, so nobody can sign up as a visitor.
    pub guest_name: String,
}

/// Stores a visitor's account, their conversation and their membership of it, in one
/// transaction; answers the visitor's id and the conversation's.
pub async fn start_chat(db: &DatabaseConnection, new: NewChat<'_>) -> Result<(i64, i64), DbErr> {
    let now = now_ms();
    let txn = db.begin().await?;
    let backend = txn.get_database_backend();
    let guest = txn
        .query_one_raw(statement_for(
            backend,
            "INSERT INTO users (username, username_key, password_hash, created_at, role, is_guest) \
             VALUES (?, ?, '!guest', ?, 'member', ?) RETURNING id",
            [
                new.guest_name.clone().into(),
                new.guest_name.to_lowercase().into(),
                now.into(),
                true.into(),
            ],
        ))
        .await?
        .ok_or(DbErr::RecordNotInserted)?;
    let guest_id: i64 = guest.try_get("", "id")?;
    let conversation = txn
        .query_one_raw(statement_for(
            backend,
            "INSERT INTO conversations (kind, name, direct_key, visibility, created_by, created_at, \
               last_activity_at, last_seq, members_added_by) \
             VALUES ('support', ?, ?, 'private', ?, ?, ?, 0, 'admins') RETURNING id",
            [
                new.guest_name.clone().into(),
                format!("support:{guest_id}").into(),
                guest_id.into(),
                now.into(),
                now.into(),
            ],
        ))
        .await?
        .ok_or(DbErr::RecordNotInserted)?;
    let conversation_id: i64 = conversation.try_get("", "id")?;
    crate::chat::queries::join(&txn, conversation_id, guest_id).await?;
    txn.execute_raw(statement_for(
        backend,
        "INSERT INTO support_chats (conversation_id, site_id, guest_id, status, page_url, email, \
           external_id, first_seen_at, last_seen_at) VALUES (?, ?, ?, 'open', ?, ?, ?, ?, ?)",
        [
            conversation_id.into(),
            new.site.id.into(),
            guest_id.into(),
            new.page_url.into(),
            new.email.map(str::to_owned).into(),
            new.external_id.map(str::to_owned).into(),
            now.into(),
            now.into(),
        ],
    ))
    .await?;
    txn.commit().await?;
    Ok((guest_id, conversation_id))
}

/// The visitor is here again, on `page_url` when they say where.
pub async fn seen(
    db: &DatabaseConnection,
    conversation_id: i64,
    page_url: Option<&str>,
) -> Result<(), DbErr> {
    match page_url {
        Some(url) => db.execute_raw(statement(
            db,
            "UPDATE support_chats SET last_seen_at = ?, page_url = ? WHERE conversation_id = ?",
            [now_ms().into(), url.into(), conversation_id.into()],
        )),
        None => db.execute_raw(statement(
            db,
            "UPDATE support_chats SET last_seen_at = ? WHERE conversation_id = ?",
            [now_ms().into(), conversation_id.into()],
        )),
    }
    .await?;
    Ok(())
}

/// Where a reply may be sent while nobody is online.
pub async fn set_email(
    db: &DatabaseConnection,
    conversation_id: i64,
    email: &str,
) -> Result<(), DbErr> {
    db.execute_raw(statement(
        db,
        "UPDATE support_chats SET email = ? WHERE conversation_id = ?",
        [email.into(), conversation_id.into()],
    ))
    .await?;
    Ok(())
}

/// Closes (`open = false`) or reopens a conversation.
pub async fn set_open(
    db: &DatabaseConnection,
    conversation_id: i64,
    open: bool,
) -> Result<(), DbErr> {
    let (status, closed_at): (&str, Option<i64>) = match open {
        true => ("open", None),
        false => ("closed", Some(now_ms())),
    };
    db.execute_raw(statement(
        db,
        "UPDATE support_chats SET status = ?, closed_at = ? WHERE conversation_id = ?",
        [status.into(), closed_at.into(), conversation_id.into()],
    ))
    .await?;
    Ok(())
}

/// Gives the conversation to `operator_id` (`None`: to nobody).
pub async fn assign(
    db: &DatabaseConnection,
    conversation_id: i64,
    operator_id: Option<i64>,
) -> Result<(), DbErr> {
    db.execute_raw(statement(
        db,
        "UPDATE support_chats SET assigned_to = ? WHERE conversation_id = ?",
        [operator_id.into(), conversation_id.into()],
    ))
    .await?;
    Ok(())
}

/// Notes when the team first answered, once: the first message not the visitor's.
/// Any process may run it for any message; only the first answer's time is kept.
pub async fn note_first_reply(db: &DatabaseConnection, conversation_id: i64) -> Result<(), DbErr> {
    db.execute_raw(statement(
        db,
        "UPDATE support_chats SET first_reply_at = (SELECT MIN(m.created_at) FROM messages m \
           WHERE m.conversation_id = support_chats.conversation_id \
             AND m.author_id <> support_chats.guest_id) \
         WHERE conversation_id = ? AND first_reply_at IS NULL",
        [conversation_id.into()],
    ))
    .await?;
    Ok(())
}

/// Whether `conversation_id` is a visitor's conversation: its site and visitor.
pub async fn site_of_conversation(
    db: &DatabaseConnection,
    conversation_id: i64,
) -> Result<Option<(i64, i64)>, DbErr> {
    db.query_one_raw(statement(
        db,
        "SELECT site_id, guest_id FROM support_chats WHERE conversation_id = ?",
        [conversation_id.into()],
    ))
    .await?
    .map(|row| Ok((row.try_get("", "site_id")?, row.try_get("", "guest_id")?)))
    .transpose()
}

/// One line of a transcript: who, when, what.
pub struct Line {
    pub author: String,
    pub created_at: i64,
    pub body: String,
}

/// Lines a transcript holds at most.
pub const TRANSCRIPT_LINES: i64 = 10_000;

/// The conversation's messages, oldest first (deleted ones left out).
pub async fn transcript(db: &DatabaseConnection, conversation_id: i64) -> Result<Vec<Line>, DbErr> {
    let rows = db
        .query_all_raw(db::statement(
            db,
            "SELECT u.username AS author, m.created_at, m.body FROM messages m \
             JOIN users u ON u.id = m.author_id WHERE m.conversation_id = ? \
             AND m.deleted_at IS NULL ORDER BY m.id LIMIT ?",
            [conversation_id.into(), TRANSCRIPT_LINES.into()],
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Line {
                author: r.try_get("", "author")?,
                created_at: r.try_get("", "created_at")?,
                body: r.try_get("", "body")?,
            })
        })
        .collect()
}

/// Who has read a visitor's conversation how far: the visitor, and the furthest of
/// the team (0 before anyone has).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadMarks {
    pub visitor: i64,
    pub team: i64,
}

/// The [`ReadMarks`] of `conversation_id`.
pub async fn read_marks(db: &DatabaseConnection, conversation_id: i64) -> Result<ReadMarks, DbErr> {
    let row = db
        .query_one_raw(statement(
            db,
            "SELECT \
               COALESCE(MAX(CASE WHEN m.user_id = s.guest_id THEN m.last_read_message_id END), 0) AS visitor, \
               COALESCE(MAX(CASE WHEN m.user_id <> s.guest_id THEN m.last_read_message_id END), 0) AS team \
             FROM memberships m JOIN support_chats s ON s.conversation_id = m.conversation_id \
             WHERE m.conversation_id = ?",
            [conversation_id.into()],
        ))
        .await?;
    let Some(row) = row else {
        return Ok(ReadMarks::default());
    };
    Ok(ReadMarks {
        visitor: row.try_get("", "visitor")?,
        team: row.try_get("", "team")?,
    })
}
