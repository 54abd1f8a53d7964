//! The bus over PostgreSQL LISTEN/NOTIFY, for several server processes on one
//! database. Every process listens on one channel; an event is a NOTIFY whose payload
//! is the event as JSON, ids only (NOTIFY payloads are capped at 8000 bytes, and each
//! process renders what it delivers itself).
//!
//! A message's notification is written in the transaction that stores the message
//! ([`Bus::publish_in`]), so it goes out if and only if the message commits. When the
//! listening connection drops, the listener reconnects and hands the hub a
//! [`Event::Resync`]: what committed meanwhile is read back from the database.
use std::time::Duration;

use async_trait::async_trait;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, sqlx::postgres::PgListener,
};
use tokio::sync::mpsc;

use super::{Bus, Event};
use crate::db;

const CHANNEL: &str = "hearth_events";
/// Events sent in one round trip at most.
const BATCH: usize = 64;

pub struct PgBus {
    outbox: mpsc::UnboundedSender<Event>,
    db: DatabaseConnection,
}

impl PgBus {
    /// Starts listening; answers the bus and the stream of events for the hub.
    pub async fn start(
        db: DatabaseConnection,
    ) -> Result<(Self, mpsc::UnboundedReceiver<Event>), DbErr> {
        let listener = start_listening(&db)
            .await
            .map_err(|e| DbErr::Custom(format!("cannot listen for events: {e}")))?;
        let (events, inbox) = mpsc::unbounded_channel();
        tokio::spawn(listen(listener, db.clone(), events));
        let (outbox, pending) = mpsc::unbounded_channel();
        tokio::spawn(send(db.clone(), pending));
        Ok((Self { outbox, db }, inbox))
    }
}

/// A listener on a connection of its own from the pool, subscribed to the channel.
async fn start_listening(db: &DatabaseConnection) -> Result<PgListener, sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect_with(db.get_postgres_connection_pool()).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

fn payload(event: &Event) -> Option<String> {
    serde_json::to_string(event)
        .map_err(|e| tracing::error!(error = %e, "cannot encode an event"))
        .ok()
}

#[async_trait]
impl Bus for PgBus {
    fn publish(&self, event: Event) {
        let _ = self.outbox.send(event);
    }

    async fn publish_in(&self, txn: &DatabaseTransaction, event: &Event) -> Result<bool, DbErr> {
        self.publish_all_in(txn, std::slice::from_ref(event)).await
    }

    /// One statement for the whole batch: a round trip, not one per event.
    async fn publish_all_in(
        &self,
        txn: &DatabaseTransaction,
        events: &[Event],
    ) -> Result<bool, DbErr> {
        let payloads = events.iter().map(payload).collect::<Option<Vec<String>>>();
        let Some(payloads) = payloads else {
            return Ok(false);
        };
        if payloads.is_empty() {
            return Ok(true);
        }
        txn.execute_raw(notify_statement(&self.db, payloads))
            .await?;
        Ok(true)
    }
}

/// `SELECT pg_notify(…), pg_notify(…), …`: several notifications in one round trip,
/// delivered in this order.
fn notify_statement(db: &DatabaseConnection, payloads: Vec<String>) -> sea_orm::Statement {
    let calls = vec!["pg_notify(?, ?)"; payloads.len()].join(", ");
    let values = payloads
        .into_iter()
        .flat_map(|p| [CHANNEL.into(), p.into()]);
    db::statement(db, &format!("SELECT {calls}"), values)
}

/// Sends queued events, several per round trip, in the order they were published.
async fn send(db: DatabaseConnection, mut pending: mpsc::UnboundedReceiver<Event>) {
    let mut batch = Vec::with_capacity(BATCH);
    while pending.recv_many(&mut batch, BATCH).await > 0 {
        let payloads: Vec<String> = batch.drain(..).filter_map(|e| payload(&e)).collect();
        if payloads.is_empty() {
            continue;
        }
        if let Err(e) = db.execute_raw(notify_statement(&db, payloads)).await {
            // Typing, presence and read events are best effort; messages never pass here.
            tracing::warn!(error = %e, "could not publish events");
        }
    }
}

/// Hands every notification to the hub. When the listening connection drops, listens
/// again, and only then asks the hub to resync: whatever committed while nobody was
/// listening is read back from the database, and everything after is heard.
async fn listen(
    mut listener: PgListener,
    db: DatabaseConnection,
    events: mpsc::UnboundedSender<Event>,
) {
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => match serde_json::from_str::<Event>(notification.payload()) {
                Ok(event) => {
                    if events.send(event).is_err() {
                        return; // the hub is gone
                    }
                }
                Err(e) => tracing::warn!(error = %e, "ignoring a malformed event"),
            },
            // The connection dropped and the listener has already listened again on a
            // new one.
            Ok(None) => {
                tracing::warn!("the event connection dropped; listening again and resyncing");
                if events.send(Event::Resync).is_err() {
                    return;
                }
            }
            Err(sea_orm::sqlx::Error::PoolClosed) => return, // shutting down
            Err(e) => {
                // The listener may still hold a broken connection (a reset is not always
                // taken for a lost connection), or none: start over with a new one.
                tracing::warn!(error = %e, "cannot receive events; listening again");
                let Some(fresh) = listen_again(&db, &events).await else {
                    return;
                };
                listener = fresh;
                if events.send(Event::Resync).is_err() {
                    return;
                }
            }
        }
    }
}

/// Tries to listen on a new connection until it works (waiting longer between tries,
/// up to a few seconds); `None` once there is nobody left to tell or no pool.
async fn listen_again(
    db: &DatabaseConnection,
    events: &mpsc::UnboundedSender<Event>,
) -> Option<PgListener> {
    let mut wait = Duration::from_millis(100);
    loop {
        if events.is_closed() {
            return None;
        }
        match start_listening(db).await {
            Ok(listener) => {
                tracing::info!("listening for events again");
                return Some(listener);
            }
            Err(sea_orm::sqlx::Error::PoolClosed) => return None,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for events yet; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(2));
            }
        }
    }
}
