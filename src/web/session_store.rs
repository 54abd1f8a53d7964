//! A tower-sessions [`SessionStore`] on sea-orm, so sessions live in the app's own
//! database (SQLite or PostgreSQL, the `sessions` table) and survive restarts and
//! cross processes. It stores records and nothing else: what goes in a session is
//! [`super::session`]'s business.
use std::{collections::HashMap, sync::Arc};

use async_trait::async_trait;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter,
    sea_query::OnConflict,
};
use tower_sessions::{
    SessionStore,
    session::{Id, Record},
    session_store,
};

use crate::{
    db::{WriteGate, now_ms},
    entities::session,
};

#[derive(Clone, Debug)]
pub struct DbSessionStore {
    db: DatabaseConnection,
    /// Shared with the message writer, so that log-ins do not hold messages back.
    gate: WriteGate,
    /// Records as last written or read, when this process is the only writer (SQLite):
    /// most requests then need no session query. With several processes sharing a
    /// database another one may end a session, so there is no cache.
    cache: Option<moka::sync::Cache<Id, Kept>>,
}

/// A cached record, as its row holds it: its data in JSON is a fraction of the size of
/// the decoded map, and every signed-in person has one.
#[derive(Clone, Debug)]
struct Kept {
    data: Arc<str>,
    expiry_date: time::OffsetDateTime,
}

impl DbSessionStore {
    pub fn new(db: DatabaseConnection, gate: WriteGate) -> Self {
        let cache = crate::db::only_writer(&db).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(std::time::Duration::from_secs(600))
                .build()
        });
        Self { db, gate, cache }
    }

    /// Keeps `record`, whose data is `data` in JSON.
    fn remember(&self, record: &Record, data: &str) {
        if let Some(cache) = &self.cache {
            let kept = Kept {
                data: Arc::from(data),
                expiry_date: record.expiry_date,
            };
            cache.insert(record.id, kept);
        }
    }

    /// The sessions `user_id` is signed in on, the most recently used first.
    pub async fn sessions_of(&self, user_id: i64) -> Result<Vec<session::Model>, sea_orm::DbErr> {
        use sea_orm::QueryOrder;
        session::Entity::find()
            .filter(session::Column::UserId.eq(user_id))
            .filter(session::Column::ExpiresAt.gt(now_ms()))
            .order_by_desc(session::Column::ExpiresAt)
            .all(&self.db)
            .await
    }

    /// Ends every session of `user_id` but `keep`; answers the ids it ended, whose
    /// sockets the caller closes.
    pub async fn end_sessions_of(
        &self,
        user_id: i64,
        keep: Option<&str>,
    ) -> Result<Vec<String>, sea_orm::DbErr> {
        let ended: Vec<String> = session::Entity::find()
            .filter(session::Column::UserId.eq(user_id))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|s| s.id)
            .filter(|id| Some(id.as_str()) != keep)
            .collect();
        if ended.is_empty() {
            return Ok(ended);
        }
        if let Some(cache) = &self.cache {
            for id in &ended {
                if let Ok(id) = id.parse::<Id>() {
                    cache.invalidate(&id);
                }
            }
        }
        let _turn = self.gate.enter_after_messages().await;
        session::Entity::delete_many()
            .filter(session::Column::Id.is_in(ended.clone()))
            .exec(&self.db)
            .await?;
        Ok(ended)
    }

    /// Removes expired sessions; run periodically.
    pub async fn delete_expired(&self) -> Result<u64, sea_orm::DbErr> {
        let _turn = self.gate.enter_after_messages().await;
        let done = session::Entity::delete_many()
            .filter(session::Column::ExpiresAt.lt(now_ms()))
            .exec(&self.db)
            .await?;
        Ok(done.rows_affected)
    }
}

fn backend(e: sea_orm::DbErr) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

/// The row of `record`, and its data in JSON.
fn row(record: &Record) -> session_store::Result<(session::ActiveModel, String)> {
    let data = serde_json::to_string(&record.data)
        .map_err(|e| session_store::Error::Encode(e.to_string()))?;
    let expires_at = (record.expiry_date.unix_timestamp_nanos() / 1_000_000) as i64;
    let user_id = record
        .data
        .get(super::session::KEY_USER)
        .and_then(|user| user.get("id"))
        .and_then(serde_json::Value::as_i64);
    let row = session::ActiveModel {
        id: Set(record.id.to_string()),
        data: Set(data.clone()),
        expires_at: Set(expires_at),
        user_id: Set(user_id),
    };
    Ok((row, data))
}

fn decode(data: &str) -> session_store::Result<HashMap<String, serde_json::Value>> {
    serde_json::from_str(data).map_err(|e| session_store::Error::Decode(e.to_string()))
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // Ids are 128 random bits, so a collision is next to impossible; if one happens
        // anyway, draw again rather than take over someone else's session.
        let _turn = self.gate.enter_after_messages().await;
        loop {
            let (row, data) = row(record)?;
            let inserted = session::Entity::insert(row)
                .on_conflict(
                    OnConflict::column(session::Column::Id)
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(&self.db)
                .await
                .map_err(backend)?;
            if inserted == 1 {
                self.remember(record, &data);
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        // An update, never an insert: a session that was ended while a request of it
        // was in flight (its person deactivated, "log out everywhere else") stays
        // ended when that request saves it afterwards.
        let turn = self.gate.enter_after_messages().await;
        let (row, data) = row(record)?;
        let updated = session::Entity::update_many()
            .set(row)
            .filter(session::Column::Id.eq(record.id.to_string()))
            .exec(&self.db)
            .await
            .map_err(backend)?;
        drop(turn);
        if updated.rows_affected > 0 {
            self.remember(record, &data);
        }
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        if let Some(kept) = self.cache.as_ref().and_then(|c| c.get(id)) {
            if kept.expiry_date > time::OffsetDateTime::now_utc() {
                return Ok(Some(Record {
                    id: *id,
                    data: decode(&kept.data)?,
                    expiry_date: kept.expiry_date,
                }));
            }
        }
        let Some(found) = session::Entity::find_by_id(id.to_string())
            .filter(session::Column::ExpiresAt.gt(now_ms()))
            .one(&self.db)
            .await
            .map_err(backend)?
        else {
            return Ok(None);
        };
        let data = decode(&found.data)?;
        let expiry_date = time::OffsetDateTime::from_unix_timestamp_nanos(
            i128::from(found.expires_at) * 1_000_000,
        )
        .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        let record = Record {
            id: *id,
            data,
            expiry_date,
        };
        self.remember(&record, &found.data);
        Ok(Some(record))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        if let Some(cache) = &self.cache {
            cache.invalidate(id);
        }
        let _turn = self.gate.enter_after_messages().await;
        session::Entity::delete_by_id(id.to_string())
            .exec(&self.db)
            .await
            .map_err(backend)?;
        Ok(())
    }
}
