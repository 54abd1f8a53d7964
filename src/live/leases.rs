//! Presence shared between server processes, as leases in the `presence` table (used
//! with PostgreSQL; a single process keeps presence in memory only).
//!
//! Each process writes one row per (conversation, user) that is online through it, and
//! one per user with conversation 0 for "on the site". It renews its rows' leases while
//! it lives and removes them as people leave; a process that dies without a word drops
//! out when its leases run out ([`LEASE`]). Counts are the union of live rows of every
//! process, so several tabs on several processes still count once.
//!
//! This module owns the table's reads and writes; deciding when to sync and whom to
//! tell is the hub's.
use std::collections::{HashMap, HashSet};
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, TransactionTrait, Value};

use super::Presence;
use crate::db::{self, now_ms};

/// How long a row stays valid without renewal: the most a dead process lingers.
pub const LEASE: Duration = Duration::from_secs(25);
/// How often a process renews its leases and sweeps out others' expired ones.
pub const RENEW_EVERY: Duration = Duration::from_secs(5);

/// The site itself, in the `conversation_id` column.
pub const SITE: i64 = 0;

pub struct Leases {
    db: DatabaseConnection,
    process: String,
}

impl Leases {
    pub fn new(db: DatabaseConnection) -> Self {
        let process = format!("{:016x}{:08x}", rand::random::<u64>(), std::process::id());
        Self { db, process }
    }

    fn expiry() -> i64 {
        now_ms() + LEASE.as_millis() as i64
    }

    /// Makes this process's rows for each changed conversation match `wanted` (user id
    /// to name), given what `written` says is in the table; updates `written`.
    pub async fn sync(
        &self,
        wanted: &HashMap<i64, HashMap<i64, String>>,
        written: &mut HashMap<i64, HashSet<i64>>,
    ) -> Result<(), DbErr> {
        let txn = self.db.begin().await?;
        let expires_at = Self::expiry();
        for (&conversation, users) in wanted {
            let before = written.entry(conversation).or_default();
            for gone in before.iter().filter(|u| !users.contains_key(u)) {
                txn.execute_raw(db::statement(
                    &self.db,
                    "DELETE FROM presence WHERE process_id = ? AND conversation_id = ? AND user_id = ?",
                    [self.process.clone().into(), conversation.into(), (*gone).into()],
                ))
                .await?;
            }
            for (user, name) in users.iter().filter(|(u, _)| !before.contains(u)) {
                txn.execute_raw(db::statement(
                    &self.db,
                    "INSERT INTO presence (process_id, user_id, conversation_id, username, expires_at) \
                     VALUES (?, ?, ?, ?, ?) ON CONFLICT (process_id, conversation_id, user_id) \
                     DO UPDATE SET expires_at = EXCLUDED.expires_at",
                    [
                        self.process.clone().into(),
                        (*user).into(),
                        conversation.into(),
                        name.clone().into(),
                        expires_at.into(),
                    ],
                ))
                .await?;
            }
            *before = users.keys().copied().collect();
        }
        txn.commit().await?;
        written.retain(|_, users| !users.is_empty());
        Ok(())
    }

    /// Renews this process's leases.
    pub async fn renew(&self) -> Result<(), DbErr> {
        self.db
            .execute_raw(db::statement(
                &self.db,
                "UPDATE presence SET expires_at = ? WHERE process_id = ?",
                [Self::expiry().into(), self.process.clone().into()],
            ))
            .await?;
        Ok(())
    }

    /// Deletes rows whose lease ran out; answers the conversations they were in.
    pub async fn sweep(&self) -> Result<HashSet<i64>, DbErr> {
        let rows = self
            .db
            .query_all_raw(db::statement(
                &self.db,
                "DELETE FROM presence WHERE expires_at < ? RETURNING conversation_id",
                [now_ms().into()],
            ))
            .await?;
        let mut gone = HashSet::new();
        for row in rows {
            gone.insert(row.try_get::<i64>("", "conversation_id")?);
        }
        Ok(gone)
    }

    /// Removes all of this process's rows (at shutdown).
    pub async fn withdraw(&self) -> Result<(), DbErr> {
        self.db
            .execute_raw(db::statement(
                &self.db,
                "DELETE FROM presence WHERE process_id = ?",
                [self.process.clone().into()],
            ))
            .await?;
        Ok(())
    }

    /// Who is online in a conversation, over all processes.
    pub async fn conversation(&self, conversation_id: i64) -> Result<Presence, DbErr> {
        let rows = self
            .db
            .query_all_raw(db::statement(
                &self.db,
                "SELECT DISTINCT user_id, username FROM presence WHERE conversation_id = ? AND expires_at > ?",
                [conversation_id.into(), now_ms().into()],
            ))
            .await?;
        let mut users = Vec::with_capacity(rows.len());
        for row in rows {
            users.push((
                row.try_get::<i64>("", "user_id")?,
                row.try_get::<String>("", "username")?,
            ));
        }
        users.sort_by(|a, b| {
            a.1.to_lowercase()
                .cmp(&b.1.to_lowercase())
                .then(a.0.cmp(&b.0))
        });
        Ok(Presence { users })
    }

    /// How many are online in each of `conversations` (and on the site, for [`SITE`]).
    pub async fn counts(&self, conversations: &[i64]) -> Result<HashMap<i64, usize>, DbErr> {
        if conversations.is_empty() {
            return Ok(HashMap::new());
        }
        let marks = vec!["?"; conversations.len()].join(", ");
        let mut values: Vec<Value> = conversations.iter().map(|c| (*c).into()).collect();
        values.push(now_ms().into());
        let rows = self
            .db
            .query_all_raw(db::statement(
                &self.db,
                &format!(
                    "SELECT conversation_id, COUNT(DISTINCT user_id) AS n FROM presence \
                     WHERE conversation_id IN ({marks}) AND expires_at > ? GROUP BY conversation_id"
                ),
                values,
            ))
            .await?;
        let mut counts = HashMap::new();
        for row in rows {
            counts.insert(
                row.try_get::<i64>("", "conversation_id")?,
                row.try_get::<i64>("", "n")? as usize,
            );
        }
        Ok(counts)
    }

    /// Which of `users` are online on the site, over all processes.
    pub async fn online_among(&self, users: &[i64]) -> Result<HashSet<i64>, DbErr> {
        if users.is_empty() {
            return Ok(HashSet::new());
        }
        let marks = vec!["?"; users.len()].join(", ");
        let mut values: Vec<Value> = vec![SITE.into(), now_ms().into()];
        values.extend(users.iter().map(|u| Value::from(*u)));
        let rows = self
            .db
            .query_all_raw(db::statement(
                &self.db,
                &format!(
                    "SELECT DISTINCT user_id FROM presence WHERE conversation_id = ? AND expires_at > ? \
                     AND user_id IN ({marks})"
                ),
                values,
            ))
            .await?;
        let mut online = HashSet::new();
        for row in rows {
            online.insert(row.try_get::<i64>("", "user_id")?);
        }
        Ok(online)
    }
}
