//! The browsers subscribed to a person's pushes: stored, listed, dropped. An endpoint is
//! one browser's, so storing it again (another account logged in there) moves it.
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};

use crate::db;

/// The most browsers one person keeps subscribed; a new one past it replaces the oldest.
pub const MOST_PER_PERSON: i64 = 20;

/// A browser's subscription, as its push service and keys were given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscription {
    pub id: i64,
    pub user_id: i64,
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
}

/// Stores (or moves to `user_id`) the subscription of one browser.
pub async fn store(
    database: &DatabaseConnection,
    user_id: i64,
    endpoint: &str,
    p256dh: &str,
    auth: &str,
) -> Result<(), DbErr> {
    let now = db::now_ms();
    database
        .execute_raw(db::statement(
            database,
            "INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth, created_at) \
             VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (endpoint) DO UPDATE SET user_id = excluded.user_id, \
             p256dh = excluded.p256dh, auth = excluded.auth, created_at = excluded.created_at",
            [
                user_id.into(),
                endpoint.into(),
                p256dh.into(),
                auth.into(),
                now.into(),
            ],
        ))
        .await?;
    database
        .execute_raw(db::statement(
            database,
            "DELETE FROM push_subscriptions WHERE user_id = ? AND id NOT IN \
             (SELECT id FROM push_subscriptions WHERE user_id = ? ORDER BY id DESC LIMIT ?)",
            [user_id.into(), user_id.into(), MOST_PER_PERSON.into()],
        ))
        .await?;
    Ok(())
}

/// Drops `user_id`'s subscription at `endpoint` (the browser unsubscribed).
pub async fn forget(
    database: &DatabaseConnection,
    user_id: i64,
    endpoint: &str,
) -> Result<bool, DbErr> {
    let done = database
        .execute_raw(db::statement(
            database,
            "DELETE FROM push_subscriptions WHERE user_id = ? AND endpoint = ?",
            [user_id.into(), endpoint.into()],
        ))
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Drops a subscription its push service said is gone (404 or 410).
pub async fn expired(database: &DatabaseConnection, id: i64) -> Result<(), DbErr> {
    database
        .execute_raw(db::statement(
            database,
            "DELETE FROM push_subscriptions WHERE id = ?",
            [id.into()],
        ))
        .await?;
    Ok(())
}

/// The subscriptions of these people.
pub async fn of_people(
    database: &DatabaseConnection,
    user_ids: &[i64],
) -> Result<Vec<Subscription>, DbErr> {
    if user_ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks = vec!["?"; user_ids.len()].join(", ");
    let rows = database
        .query_all_raw(db::statement(
            database,
            &format!(
                "SELECT id, user_id, endpoint, p256dh, auth FROM push_subscriptions \
                 WHERE user_id IN ({marks}) ORDER BY id"
            ),
            user_ids.iter().map(|&id| id.into()),
        ))
        .await?;
    rows.into_iter()
        .map(|row| {
            Ok(Subscription {
                id: row.try_get("", "id")?,
                user_id: row.try_get("", "user_id")?,
                endpoint: row.try_get("", "endpoint")?,
                p256dh: row.try_get("", "p256dh")?,
                auth: row.try_get("", "auth")?,
            })
        })
        .collect()
}

/// How many browsers `user_id` has subscribed.
pub async fn count(database: &DatabaseConnection, user_id: i64) -> Result<i64, DbErr> {
    let row = database
        .query_one_raw(db::statement(
            database,
            "SELECT COUNT(*) AS n FROM push_subscriptions WHERE user_id = ?",
            [user_id.into()],
        ))
        .await?;
    match row {
        Some(row) => row.try_get("", "n"),
        None => Ok(0),
    }
}

/// Everyone with at least one subscription.
pub async fn subscribers(
    database: &DatabaseConnection,
) -> Result<std::collections::HashSet<i64>, DbErr> {
    let rows = database
        .query_all_raw(db::statement(
            database,
            "SELECT DISTINCT user_id FROM push_subscriptions",
            [],
        ))
        .await?;
    rows.into_iter()
        .map(|row| row.try_get("", "user_id"))
        .collect()
}
