//! The `app_events` table: storing an event with its bus notice in one transaction,
//! and reading events back by id, the newest, and those a person missed.
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, QueryResult, TransactionTrait};

use super::{AppEvent, KEPT_FOR_MS, NewAppEvent, Scope};
use crate::{
    db::{self, now_ms},
    live::{Bus, Event},
};

/// Events a page that reconnects gets at most; older ones it missed are gone.
const MISSED_AT_MOST: i64 = 100;

const COLUMNS: &str = "id, scope, target_id, kind, detail, author_id, created_at";

fn event_of(row: &QueryResult) -> Result<Option<AppEvent>, DbErr> {
    let scope: String = row.try_get("", "scope")?;
    let target: Option<i64> = row.try_get("", "target_id")?;
    let Some(scope) = Scope::from_parts(&scope, target) else {
        return Ok(None);
    };
    Ok(Some(AppEvent {
        id: row.try_get("", "id")?,
        scope,
        kind: row.try_get("", "kind")?,
        detail: row.try_get("", "detail")?,
        author_id: row.try_get("", "author_id")?,
        created_at: row.try_get("", "created_at")?,
    }))
}

fn events_of(rows: Vec<QueryResult>) -> Result<Vec<AppEvent>, DbErr> {
    let mut events = Vec::with_capacity(rows.len());
    for row in &rows {
        events.extend(event_of(row)?);
    }
    Ok(events)
}

/// Stores `new`, forgetting events older than [`KEPT_FOR_MS`], with the bus's notice
/// in the same transaction (so other processes hear of it once it has committed).
pub(super) async fn insert(
    db: &DatabaseConnection,
    bus: &dyn Bus,
    new: NewAppEvent,
) -> Result<AppEvent, DbErr> {
    let now = now_ms();
    let (scope, target) = new.scope.parts();
    let txn = db.begin().await?;
    let backend = txn.get_database_backend();
    txn.execute_raw(db::statement_for(
        backend,
        "DELETE FROM app_events WHERE created_at < ?",
        [(now - KEPT_FOR_MS).into()],
    ))
    .await?;
    let row = txn
        .query_one_raw(db::statement_for(
            backend,
            "INSERT INTO app_events (scope, target_id, kind, detail, author_id, created_at) \
             VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            [
                scope.into(),
                target.into(),
                new.kind.clone().into(),
                new.detail.clone().into(),
                new.author_id.into(),
                now.into(),
            ],
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotInserted)?;
    let id: i64 = row.try_get("", "id")?;
    bus.publish_all_in(&txn, &[Event::Published { id }]).await?;
    txn.commit().await?;
    Ok(AppEvent {
        id,
        scope: new.scope,
        kind: new.kind,
        detail: new.detail,
        author_id: new.author_id,
        created_at: now,
    })
}

pub async fn by_id(db: &DatabaseConnection, id: i64) -> Result<Option<AppEvent>, DbErr> {
    let row = db
        .query_one_raw(db::statement(
            db,
            &format!("SELECT {COLUMNS} FROM app_events WHERE id = ?"),
            [id.into()],
        ))
        .await?;
    match row {
        Some(row) => event_of(&row),
        None => Ok(None),
    }
}

/// The newest events still kept, newest first.
pub async fn recent(db: &DatabaseConnection, limit: u64) -> Result<Vec<AppEvent>, DbErr> {
    let rows = db
        .query_all_raw(db::statement(
            db,
            &format!(
                "SELECT {COLUMNS} FROM app_events WHERE created_at >= ? ORDER BY id DESC LIMIT ?"
            ),
            [(now_ms() - KEPT_FOR_MS).into(), (limit as i64).into()],
        ))
        .await?;
    events_of(rows)
}

/// The events for `user_id` after `since`, oldest first: for everyone, for them, and
/// for the conversations they are a member of.
pub async fn missed(
    db: &DatabaseConnection,
    user_id: i64,
    since: i64,
) -> Result<Vec<AppEvent>, DbErr> {
    let rows = db
        .query_all_raw(db::statement(
            db,
            &format!(
                "SELECT {COLUMNS} FROM app_events WHERE id > ? AND created_at >= ? AND \
                 (scope = 'all' OR (scope = 'user' AND target_id = ?) OR (scope = 'room' AND \
                 target_id IN (SELECT conversation_id FROM memberships WHERE user_id = ?))) \
                 ORDER BY id LIMIT ?"
            ),
            [
                since.into(),
                (now_ms() - KEPT_FOR_MS).into(),
                user_id.into(),
                user_id.into(),
                MISSED_AT_MOST.into(),
            ],
        ))
        .await?;
    events_of(rows)
}

/// The newest event's id (0 with none).
pub(super) async fn latest_id(db: &DatabaseConnection) -> Result<i64, DbErr> {
    let row = db
        .query_one_raw(db::statement(
            db,
            "SELECT COALESCE(MAX(id), 0) AS id FROM app_events",
            [],
        ))
        .await?;
    match row {
        Some(row) => row.try_get("", "id"),
        None => Ok(0),
    }
}
