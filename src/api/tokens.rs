//! Personal API tokens: making one, finding whose a presented token is, listing and
//! revoking a person's own. A token is 32 random bytes, base64url, after the prefix
//! [`PREFIX`] (so that a leaked one is recognisable in logs and secret scanners); only
//! its SHA-256 is stored, so the database cannot give a token away, and it is shown
//! once, when it is made. The pages that do this are [`crate::accounts::settings`]'.
//!
//! A token acts as its owner and can do exactly what they can: nothing here grants
//! more. A deactivated owner's tokens stop working with their sessions.
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};

use crate::{
    db::{self, now_ms},
    secret_token::digest,
};

/// What every token starts with.
pub const PREFIX: &str = "hearth_";
/// How many tokens one person may hold at once.
pub const MAX_PER_PERSON: i64 = 50;
/// How often `last_used_at` is written at most per token: every request would be a
/// write, and SQLite has one writer.
const LAST_USED_GRAIN_MS: i64 = 60_000;

/// A token as its owner's settings list it (never the token itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// Who a presented token acts for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    pub token_id: i64,
    pub user_id: i64,
    pub username: String,
    /// Whether the owner is a bot ([`crate::bots`]), which reads only its rooms.
    pub is_bot: bool,
}

fn new_token() -> String {
    format!("{PREFIX}{}", crate::secret_token::random(32))
}

/// Why a token was not made.
#[derive(Debug, thiserror::Error)]
pub enum MakeError {
    #[error("You have as many API tokens as one person may hold; revoke one first.")]
    TooMany,
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Makes a token named `name` for `user_id`; answers it, the only time it exists
/// outside the caller's hands.
pub async fn make(db: &DatabaseConnection, user_id: i64, name: &str) -> Result<String, MakeError> {
    let held = db
        .query_one_raw(db::statement(
            db,
            "SELECT COUNT(*) AS n FROM api_tokens WHERE user_id = ?",
            [user_id.into()],
        ))
        .await?
        .map(|row| row.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0);
    if held >= MAX_PER_PERSON {
        return Err(MakeError::TooMany);
    }
    let token = new_token();
    db.execute_raw(db::statement(
        db,
        "INSERT INTO api_tokens (user_id, name, token_hash, created_at) VALUES (?, ?, ?, ?)",
        [
            user_id.into(),
            name.into(),
            digest(&token).into(),
            now_ms().into(),
        ],
    ))
    .await?;
    Ok(token)
}

/// `user_id`'s tokens, newest first.
pub async fn of(db: &DatabaseConnection, user_id: i64) -> Result<Vec<Listed>, DbErr> {
    let rows = db
        .query_all_raw(db::statement(
            db,
            "SELECT id, name, created_at, last_used_at FROM api_tokens WHERE user_id = ? \
             ORDER BY id DESC",
            [user_id.into()],
        ))
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Listed {
                id: row.try_get("", "id")?,
                name: row.try_get("", "name")?,
                created_at: row.try_get("", "created_at")?,
                last_used_at: row.try_get("", "last_used_at")?,
            })
        })
        .collect()
}

/// Revokes `user_id`'s token `id` (its idempotency keys go with it); answers whether
/// there was one (someone else's token is not theirs to revoke, and is not found).
pub async fn revoke(db: &DatabaseConnection, user_id: i64, id: i64) -> Result<bool, DbErr> {
    db.execute_raw(db::statement(
        db,
        "DELETE FROM api_idempotency_keys WHERE token_id IN \
         (SELECT id FROM api_tokens WHERE id = ? AND user_id = ?)",
        [id.into(), user_id.into()],
    ))
    .await?;
    let done = db
        .execute_raw(db::statement(
            db,
            "DELETE FROM api_tokens WHERE id = ? AND user_id = ?",
            [id.into(), user_id.into()],
        ))
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Whose `presented` is: a token that exists, of an owner who is not deactivated.
/// Anything else (unknown, revoked, malformed) is `None`. The look-up is by hash, so
/// its time says nothing of how much of a guess was right.
pub async fn holder(db: &DatabaseConnection, presented: &str) -> Result<Option<Holder>, DbErr> {
    if !presented.starts_with(PREFIX) || presented.len() > 128 {
        return Ok(None);
    }
    let row = db
        .query_one_raw(db::statement(
            db,
            "SELECT t.id, t.user_id, t.last_used_at, u.username, u.is_bot FROM api_tokens t \
             JOIN users u ON u.id = t.user_id \
             WHERE t.token_hash = ? AND u.deactivated_at IS NULL",
            [digest(presented).into()],
        ))
        .await?;
    let Some(row) = row else { return Ok(None) };
    let holder = Holder {
        token_id: row.try_get("", "id")?,
        user_id: row.try_get("", "user_id")?,
        username: row.try_get("", "username")?,
        is_bot: row.try_get("", "is_bot")?,
    };
    let last_used: Option<i64> = row.try_get("", "last_used_at")?;
    let now = now_ms();
    if last_used.is_none_or(|at| now - at >= LAST_USED_GRAIN_MS) {
        // When it was last used is for its owner's eyes; failing to note it must not
        // fail the request.
        if let Err(e) = db
            .execute_raw(db::statement(
                db,
                "UPDATE api_tokens SET last_used_at = ? WHERE id = ?",
                [now.into(), holder.token_id.into()],
            ))
            .await
        {
            tracing::warn!(error = %e, "could not note when an API token was used");
        }
    }
    Ok(Some(holder))
}

/// Whether API token `token_id` still works: not revoked, its owner not deactivated.
pub async fn still_works(db: &DatabaseConnection, token_id: i64) -> Result<bool, DbErr> {
    Ok(db
        .query_one_raw(db::statement(
            db,
            "SELECT 1 AS one FROM api_tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.id = ? AND u.deactivated_at IS NULL",
            [token_id.into()],
        ))
        .await?
        .is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_prefixed_random_and_stored_only_as_its_digest() {
        let a = new_token();
        let b = new_token();
        assert!(a.starts_with(PREFIX));
        assert_ne!(a, b);
        assert_eq!(a.len(), PREFIX.len() + 43, "32 bytes of base64url");
        assert_eq!(digest(&a).len(), 64);
        assert_ne!(digest(&a), a);
    }
}
