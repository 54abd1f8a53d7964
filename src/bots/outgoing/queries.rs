//! Outgoing webhooks and their deliveries in the database: setting a bot's target,
//! finding the messages owed to it, taking due deliveries (claimed, so two processes
//! never make one call twice) and recording how each call went.
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, TransactionTrait};

use super::WebhookSettings;
use crate::db::{self, now_ms};

/// How long a message's commit may lag its id's order (PostgreSQL gives ids before
/// commit): a bot's cursor stays this far behind, and a message found twice is
/// stored once.
const COMMIT_LAG_MS: i64 = 3_000;
/// Messages one bot's look takes at most.
const SCAN_PAGE: i64 = 100;
/// How long made and failed deliveries are kept.
const KEPT_FOR_MS: i64 = 7 * 24 * 3600 * 1000;
/// The longest error kept.
const ERROR_CHARS: usize = 500;

/// A bot's target, as the bots page shows it.
#[derive(Clone, Debug)]
pub struct Target {
    pub bot_id: i64,
    pub url: String,
    pub every_message: bool,
    pub failing_since: Option<i64>,
    pub last_error: Option<String>,
}

/// A call owed.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub id: i64,
    pub bot_id: i64,
    pub bot: String,
    pub message_id: i64,
    pub reason: String,
    pub attempts: i32,
    pub url: String,
    pub secret: String,
}

/// Sets `bot_id`'s target to `url` (replacing any), owed only messages from now on;
/// answers the new signing secret.
pub async fn set(
    db: &DatabaseConnection,
    bot_id: i64,
    url: &str,
    every_message: bool,
) -> Result<String, DbErr> {
    let secret = crate::secret_token::random(32);
    let txn = db.begin().await?;
    txn.execute_raw(db::statement(
        db,
        "DELETE FROM outgoing_webhooks WHERE bot_id = ?",
        [bot_id.into()],
    ))
    .await?;
    txn.execute_raw(db::statement(
        db,
        "INSERT INTO outgoing_webhooks (bot_id, url, secret, every_message, scanned_to, created_at) \
         VALUES (?, ?, ?, ?, (SELECT COALESCE(MAX(id), 0) FROM messages), ?)",
        [
            bot_id.into(),
            url.into(),
            secret.clone().into(),
            every_message.into(),
            now_ms().into(),
        ],
    ))
    .await?;
    txn.commit().await?;
    Ok(secret)
}

/// Stops calling `bot_id`'s target; answers whether it had one.
pub async fn remove(db: &DatabaseConnection, bot_id: i64) -> Result<bool, DbErr> {
    let done = db
        .execute_raw(db::statement(
            db,
            "DELETE FROM outgoing_webhooks WHERE bot_id = ?",
            [bot_id.into()],
        ))
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Every bot's target.
pub async fn targets(db: &DatabaseConnection) -> Result<Vec<Target>, DbErr> {
    let rows = db
        .query_all_raw(db::statement(
            db,
            "SELECT bot_id, url, every_message, failing_since, last_error FROM outgoing_webhooks",
            [],
        ))
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Target {
                bot_id: row.try_get("", "bot_id")?,
                url: row.try_get("", "url")?,
                every_message: row.try_get("", "every_message")?,
                failing_since: row.try_get("", "failing_since")?,
                last_error: row.try_get("", "last_error")?,
            })
        })
        .collect()
}

/// Looks through each active bot's new messages for those it is owed (it is mentioned,
/// it is in the private chat, or it wants every message of its rooms; never a bot's,
/// so two bots cannot answer each other for ever), and stores a delivery for each, once.
/// Answers whether any active bot has a webhook (with none, nothing can be due).
pub async fn scan(db: &DatabaseConnection) -> Result<bool, DbErr> {
    let hooks = db
        .query_all_raw(db::statement(
            db,
            "SELECT w.bot_id, w.every_message, w.scanned_to FROM outgoing_webhooks w \
             JOIN users u ON u.id = w.bot_id WHERE u.deactivated_at IS NULL",
            [],
        ))
        .await?;
    let now = now_ms();
    if hooks.is_empty() {
        return Ok(false);
    }
    // Every message older than the lag has committed, if it ever will: a bot with no
    // match up to there need not look there again. (Read down the id index from the
    // newest, past only the last few seconds' messages.)
    let horizon: i64 = db
        .query_one_raw(db::statement(
            db,
            "SELECT id FROM messages WHERE created_at <= ? ORDER BY id DESC LIMIT 1",
            [(now - COMMIT_LAG_MS).into()],
        ))
        .await?
        .map(|row| row.try_get("", "id"))
        .transpose()?
        .unwrap_or(0);
    for hook in &hooks {
        let bot_id: i64 = hook.try_get("", "bot_id")?;
        let every: bool = hook.try_get("", "every_message")?;
        let after: i64 = hook.try_get("", "scanned_to")?;
        let rows = db
            .query_all_raw(db::statement(
                db,
                "SELECT m.id, m.created_at, \
                   CASE WHEN EXISTS (SELECT 1 FROM mentions x WHERE x.message_id = m.id AND x.user_id = ?) \
                     THEN 'mention' WHEN c.kind = 'direct' THEN 'direct' ELSE 'message' END AS reason \
                 FROM messages m JOIN conversations c ON c.id = m.conversation_id \
                 JOIN users a ON a.id = m.author_id \
                 WHERE m.id > ? AND m.author_id <> ? AND a.is_bot = ? AND m.deleted_at IS NULL AND ( \
                   EXISTS (SELECT 1 FROM mentions x WHERE x.message_id = m.id AND x.user_id = ?) \
                   OR (c.kind = 'direct' AND (c.direct_key LIKE ? OR c.direct_key LIKE ?)) \
                   OR (? AND EXISTS (SELECT 1 FROM memberships s \
                         WHERE s.conversation_id = m.conversation_id AND s.user_id = ?))) \
                 ORDER BY m.id LIMIT ?",
                [
                    bot_id.into(),
                    after.into(),
                    bot_id.into(),
                    false.into(),
                    bot_id.into(),
                    format!("{bot_id}:%").into(),
                    format!("%:{bot_id}").into(),
                    every.into(),
                    bot_id.into(),
                    SCAN_PAGE.into(),
                ],
            ))
            .await?;
        let full = rows.len() as i64 >= SCAN_PAGE;
        if rows.is_empty() {
            if horizon > after {
                db.execute_raw(db::statement(
                    db,
                    "UPDATE outgoing_webhooks SET scanned_to = ? WHERE bot_id = ? AND scanned_to < ?",
                    [horizon.into(), bot_id.into(), horizon.into()],
                ))
                .await?;
            }
            continue;
        }
        // A full page moves on past its settled matches only; otherwise every match is
        // stored, and the cursor goes to the horizon.
        let mut settled = if full { after } else { horizon.max(after) };
        let txn = db.begin().await?;
        for row in &rows {
            let id: i64 = row.try_get("", "id")?;
            let created_at: i64 = row.try_get("", "created_at")?;
            let reason: String = row.try_get("", "reason")?;
            txn.execute_raw(db::statement(
                db,
                "INSERT INTO webhook_deliveries (bot_id, message_id, reason, attempts, next_at, created_at) \
                 VALUES (?, ?, ?, 0, ?, ?) ON CONFLICT (bot_id, message_id) DO NOTHING",
                [
                    bot_id.into(),
                    id.into(),
                    reason.into(),
                    now.into(),
                    now.into(),
                ],
            ))
            .await?;
            if created_at <= now - COMMIT_LAG_MS {
                settled = settled.max(id);
            }
        }
        txn.execute_raw(db::statement(
            db,
            "UPDATE outgoing_webhooks SET scanned_to = ? WHERE bot_id = ? AND scanned_to < ?",
            [settled.into(), bot_id.into(), settled.into()],
        ))
        .await?;
        txn.commit().await?;
    }
    Ok(true)
}

/// Forgets deliveries made or failed long ago.
pub async fn forget_old(db: &DatabaseConnection) -> Result<(), DbErr> {
    let now = now_ms();
    db.execute_raw(db::statement(
        db,
        "DELETE FROM webhook_deliveries WHERE (done_at IS NOT NULL OR failed_at IS NOT NULL) \
         AND created_at < ?",
        [(now - KEPT_FOR_MS).into()],
    ))
    .await?;
    Ok(())
}

/// Up to `limit` due deliveries, each claimed for the length of a call (so another
/// process, or the next look, does not make it too).
pub async fn take_due(
    db: &DatabaseConnection,
    limit: u64,
    settings: &WebhookSettings,
) -> Result<Vec<Delivery>, DbErr> {
    let now = now_ms();
    let rows = db
        .query_all_raw(db::statement(
            db,
            "SELECT d.id, d.bot_id, d.message_id, d.reason, d.attempts, d.next_at, w.url, w.secret, \
               u.username FROM webhook_deliveries d \
             JOIN outgoing_webhooks w ON w.bot_id = d.bot_id JOIN users u ON u.id = d.bot_id \
             WHERE d.done_at IS NULL AND d.failed_at IS NULL AND d.next_at <= ? \
               AND u.deactivated_at IS NULL ORDER BY d.next_at, d.id LIMIT ?",
            [now.into(), (limit as i64).into()],
        ))
        .await?;
    let claim_until = now + settings.timeout.as_millis() as i64 + 5_000;
    let mut due = Vec::with_capacity(rows.len());
    for row in &rows {
        let id: i64 = row.try_get("", "id")?;
        let next_at: i64 = row.try_get("", "next_at")?;
        let claimed = db
            .execute_raw(db::statement(
                db,
                "UPDATE webhook_deliveries SET next_at = ? WHERE id = ? AND next_at = ?",
                [claim_until.into(), id.into(), next_at.into()],
            ))
            .await?;
        if claimed.rows_affected() == 0 {
            continue;
        }
        due.push(Delivery {
            id,
            bot_id: row.try_get("", "bot_id")?,
            bot: row.try_get("", "username")?,
            message_id: row.try_get("", "message_id")?,
            reason: row.try_get("", "reason")?,
            attempts: row.try_get("", "attempts")?,
            url: row.try_get("", "url")?,
            secret: row.try_get("", "secret")?,
        });
    }
    Ok(due)
}

/// The call went through: the delivery is done, and its target no longer failing.
pub async fn succeeded(db: &DatabaseConnection, delivery: &Delivery) -> Result<(), DbErr> {
    let now = now_ms();
    db.execute_raw(db::statement(
        db,
        "UPDATE webhook_deliveries SET done_at = ?, attempts = attempts + 1 WHERE id = ?",
        [now.into(), delivery.id.into()],
    ))
    .await?;
    db.execute_raw(db::statement(
        db,
        "UPDATE outgoing_webhooks SET failing_since = NULL, last_error = NULL WHERE bot_id = ?",
        [delivery.bot_id.into()],
    ))
    .await?;
    Ok(())
}

/// The call failed with `error`: it is tried again after `retry_after`, or, with none
/// left, the delivery fails for good and its target is marked failing.
pub async fn failed(
    db: &DatabaseConnection,
    delivery: &Delivery,
    error: &str,
    retry_after: Option<std::time::Duration>,
) -> Result<(), DbErr> {
    let now = now_ms();
    let error: String = error.chars().take(ERROR_CHARS).collect();
    match retry_after {
        Some(wait) => {
            db.execute_raw(db::statement(
                db,
                "UPDATE webhook_deliveries SET attempts = attempts + 1, next_at = ?, last_error = ? \
                 WHERE id = ?",
                [
                    (now + wait.as_millis() as i64).into(),
                    error.clone().into(),
                    delivery.id.into(),
                ],
            ))
            .await?;
        }
        None => {
            db.execute_raw(db::statement(
                db,
                "UPDATE webhook_deliveries SET attempts = attempts + 1, failed_at = ?, last_error = ? \
                 WHERE id = ?",
                [now.into(), error.clone().into(), delivery.id.into()],
            ))
            .await?;
            db.execute_raw(db::statement(
                db,
                "UPDATE outgoing_webhooks SET failing_since = COALESCE(failing_since, ?), \
                 last_error = ? WHERE bot_id = ?",
                [now.into(), error.into(), delivery.bot_id.into()],
            ))
            .await?;
        }
    }
    Ok(())
}
