//! `Idempotency-Key`s of the API's posts: a program that retries a post (its
//! connection dropped before the answer came) sends the same key, and the message is
//! stored once. A key is its token's, kept a day in `api_idempotency_keys` with the
//! message its post stored. The key is claimed before the message is posted, so two
//! requests racing with one key cannot both post: the second is told the first is
//! still running (409) or answered the first's message.
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};

use crate::db::{self, now_ms};

/// How long a key is remembered.
const KEPT_MS: i64 = 24 * 3_600_000;
/// The longest key taken.
pub const MAX_KEY_CHARS: usize = 255;

/// What a key's claim found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The key is new: this request posts, then [`settle`]s or [`release`]s it.
    Fresh,
    /// A post with this key stored this message.
    Done(i64),
    /// A post with this key is running now.
    Running,
    /// This key was used for a post to another conversation.
    Elsewhere,
}

/// Whether `key` is one a client may send: 1 to [`MAX_KEY_CHARS`] visible ASCII
/// characters.
pub fn is_valid(key: &str) -> bool {
    !key.is_empty() && key.len() <= MAX_KEY_CHARS && key.bytes().all(|b| b.is_ascii_graphic())
}

/// Claims `key` of token `token_id` for a post to `conversation_id`.
pub async fn claim(
    db: &DatabaseConnection,
    token_id: i64,
    key: &str,
    conversation_id: i64,
) -> Result<Claim, DbErr> {
    let now = now_ms();
    db.execute_raw(db::statement(
        db,
        "DELETE FROM api_idempotency_keys WHERE token_id = ? AND created_at < ?",
        [token_id.into(), (now - KEPT_MS).into()],
    ))
    .await?;
    // A key released between the insert and the read (its request failed) is
    // claimed again: only a claimant posts. Past a few rounds, it counts as running.
    for _ in 0..3 {
        let claimed = db
            .execute_raw(db::statement(
                db,
                "INSERT INTO api_idempotency_keys (token_id, key, conversation_id, created_at) \
                 VALUES (?, ?, ?, ?) ON CONFLICT (token_id, key) DO NOTHING",
                [
                    token_id.into(),
                    key.into(),
                    conversation_id.into(),
                    now.into(),
                ],
            ))
            .await?
            .rows_affected()
            > 0;
        if claimed {
            return Ok(Claim::Fresh);
        }
        let row = db
            .query_one_raw(db::statement(
                db,
                "SELECT conversation_id, message_id FROM api_idempotency_keys \
                 WHERE token_id = ? AND key = ?",
                [token_id.into(), key.into()],
            ))
            .await?;
        let Some(row) = row else { continue };
        if row.try_get::<i64>("", "conversation_id")? != conversation_id {
            return Ok(Claim::Elsewhere);
        }
        return Ok(match row.try_get::<Option<i64>>("", "message_id")? {
            Some(id) => Claim::Done(id),
            None => Claim::Running,
        });
    }
    Ok(Claim::Running)
}

/// The claimed key's post stored `message_id`.
pub async fn settle(
    db: &DatabaseConnection,
    token_id: i64,
    key: &str,
    message_id: i64,
) -> Result<(), DbErr> {
    db.execute_raw(db::statement(
        db,
        "UPDATE api_idempotency_keys SET message_id = ? WHERE token_id = ? AND key = ?",
        [message_id.into(), token_id.into(), key.into()],
    ))
    .await?;
    Ok(())
}

/// The claimed key's post failed: a retry with it may post.
pub async fn release(db: &DatabaseConnection, token_id: i64, key: &str) {
    let released = db
        .execute_raw(db::statement(
            db,
            "DELETE FROM api_idempotency_keys WHERE token_id = ? AND key = ? \
             AND message_id IS NULL",
            [token_id.into(), key.into()],
        ))
        .await;
    if let Err(e) = released {
        tracing::warn!(error = %e, "could not release an idempotency key");
    }
}
