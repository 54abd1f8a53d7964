//! Bots and incoming webhooks in the database: making a bot account, listing bots with
//! their rooms, and a webhook's secret, made, found by its digest and deleted.
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};

use crate::{
    accounts::Username,
    db::{self, now_ms},
    secret_token::digest,
};

/// A bot as the administrators' page lists it.
#[derive(Clone, Debug)]
pub struct Bot {
    pub id: i64,
    pub username: String,
    pub created_at: i64,
    pub deactivated: bool,
    /// The rooms it belongs to: name and slug.
    pub rooms: Vec<(String, String)>,
}

/// An incoming webhook as the page lists it (never its secret).
#[derive(Clone, Debug)]
pub struct Webhook {
    pub id: i64,
    pub bot: String,
    pub room: String,
    pub slug: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// Where a presented webhook secret posts: as `bot_id` to `conversation_id`.
#[derive(Clone, Debug)]
pub struct Target {
    pub id: i64,
    pub bot_id: i64,
    pub bot: String,
    pub conversation_id: i64,
}

/// A bot account's password hash: not a hash at all, so no password ever matches.
const NO_PASSWORD: &str = "!bot";

/// Makes a bot account named `username`; answers its id.
pub async fn make(db: &DatabaseConnection, username: &Username) -> Result<i64, DbErr> {
    let row = db
        .query_one_raw(db::statement(
            db,
            "INSERT INTO users (username, username_key, password_hash, created_at, role, is_bot) \
             VALUES (?, ?, ?, ?, 'member', ?) RETURNING id",
            [
                username.as_str().into(),
                username.key().into(),
                NO_PASSWORD.into(),
                now_ms().into(),
                true.into(),
            ],
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotInserted)?;
    row.try_get("", "id")
}

/// Every bot, newest first, with the rooms each belongs to.
pub async fn list(db: &DatabaseConnection) -> Result<Vec<Bot>, DbErr> {
    let rows = db
        .query_all_raw(db::statement(
            db,
            "SELECT u.id, u.username, u.created_at, u.deactivated_at, c.name, c.slug \
             FROM users u \
             LEFT JOIN memberships m ON m.user_id = u.id \
             LEFT JOIN conversations c ON c.id = m.conversation_id AND c.kind = 'room' \
             WHERE u.is_bot = ? AND u.deleted_at IS NULL ORDER BY u.id DESC, c.name LIMIT 2000",
            [true.into()],
        ))
        .await?;
    let mut bots: Vec<Bot> = Vec::new();
    for row in &rows {
        let id: i64 = row.try_get("", "id")?;
        if bots.last().is_none_or(|b| b.id != id) {
            bots.push(Bot {
                id,
                username: row.try_get("", "username")?,
                created_at: row.try_get("", "created_at")?,
                deactivated: row.try_get::<Option<i64>>("", "deactivated_at")?.is_some(),
                rooms: Vec::new(),
            });
        }
        let name: Option<String> = row.try_get("", "name")?;
        let slug: Option<String> = row.try_get("", "slug")?;
        if let (Some(name), Some(slug), Some(bot)) = (name, slug, bots.last_mut()) {
            bot.rooms.push((name, slug));
        }
    }
    Ok(bots)
}

/// The bot called `name` (by its key), if there is one.
pub async fn named(db: &DatabaseConnection, name: &Username) -> Result<Option<i64>, DbErr> {
    db.query_one_raw(db::statement(
        db,
        "SELECT id FROM users WHERE username_key = ? AND is_bot = ? AND deleted_at IS NULL",
        [name.key().into(), true.into()],
    ))
    .await?
    .map(|row| row.try_get("", "id"))
    .transpose()
}

/// Whether `user_id` is a bot.
pub async fn is_bot(db: &DatabaseConnection, user_id: i64) -> Result<bool, DbErr> {
    Ok(db
        .query_one_raw(db::statement(
            db,
            "SELECT 1 AS one FROM users WHERE id = ? AND is_bot = ?",
            [user_id.into(), true.into()],
        ))
        .await?
        .is_some())
}

/// Makes a webhook posting as `bot_id` to `conversation_id`; answers its secret, the
/// only time it exists outside the caller's hands.
pub async fn make_webhook(
    db: &DatabaseConnection,
    bot_id: i64,
    conversation_id: i64,
) -> Result<String, DbErr> {
    let secret = crate::secret_token::random(32);
    db.execute_raw(db::statement(
        db,
        "INSERT INTO incoming_webhooks (bot_id, conversation_id, secret_hash, created_at) \
         VALUES (?, ?, ?, ?)",
        [
            bot_id.into(),
            conversation_id.into(),
            digest(&secret).into(),
            now_ms().into(),
        ],
    ))
    .await?;
    Ok(secret)
}

/// Every webhook, newest first.
pub async fn webhooks(db: &DatabaseConnection) -> Result<Vec<Webhook>, DbErr> {
    let rows = db
        .query_all_raw(db::statement(
            db,
            "SELECT w.id, u.username, c.name, c.slug, w.created_at, w.last_used_at \
             FROM incoming_webhooks w JOIN users u ON u.id = w.bot_id \
             JOIN conversations c ON c.id = w.conversation_id ORDER BY w.id DESC LIMIT 500",
            [],
        ))
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Webhook {
                id: row.try_get("", "id")?,
                bot: row.try_get("", "username")?,
                room: row.try_get("", "name")?,
                slug: row
                    .try_get::<Option<String>>("", "slug")?
                    .unwrap_or_default(),
                created_at: row.try_get("", "created_at")?,
                last_used_at: row.try_get("", "last_used_at")?,
            })
        })
        .collect()
}

/// Deletes webhook `id`; answers whether there was one.
pub async fn delete_webhook(db: &DatabaseConnection, id: i64) -> Result<bool, DbErr> {
    let done = db
        .execute_raw(db::statement(
            db,
            "DELETE FROM incoming_webhooks WHERE id = ?",
            [id.into()],
        ))
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Where `secret` posts, when it is a webhook's, its bot is active and still in the
/// room (a bot taken out of a room is not put back by its webhook).
pub async fn target(db: &DatabaseConnection, secret: &str) -> Result<Option<Target>, DbErr> {
    let row = db
        .query_one_raw(db::statement(
            db,
            "SELECT w.id, w.bot_id, w.conversation_id, u.username FROM incoming_webhooks w \
             JOIN users u ON u.id = w.bot_id \
             JOIN memberships m ON m.conversation_id = w.conversation_id AND m.user_id = w.bot_id \
             WHERE w.secret_hash = ? AND u.deactivated_at IS NULL AND u.deleted_at IS NULL",
            [digest(secret).into()],
        ))
        .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(Target {
        id: row.try_get("", "id")?,
        bot_id: row.try_get("", "bot_id")?,
        bot: row.try_get("", "username")?,
        conversation_id: row.try_get("", "conversation_id")?,
    }))
}

/// Notes that webhook `id` was used (for the administrators' list).
pub async fn used(db: &DatabaseConnection, id: i64) -> Result<(), DbErr> {
    db.execute_raw(db::statement(
        db,
        "UPDATE incoming_webhooks SET last_used_at = ? WHERE id = ?",
        [now_ms().into(), id.into()],
    ))
    .await?;
    Ok(())
}
