//! The bus over PostgreSQL LISTEN/NOTIFY, for several server processes on one
//! database. Every process listens on one channel; an event is a NOTIFY whose payload
//! is the event as JSON with the sending process's id, ids only (NOTIFY payloads are
//! capped at 8000 bytes, and each process renders what it delivers itself). A process
//! hears its own notifications too, and drops them: its hub heard of those events from
//! the thread that committed them.
//!
//! A conversation event's notification is written in the transaction that stores it
//! ([`Bus::publish_all_in`]), so it goes out if and only if the event commits. When
//! the listening connection drops, the listener reconnects and hands the hub a
//! [`Event::Resync`]: what committed meanwhile is read back from the database.
use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, sqlx::postgres::PgListener,
};
use tokio::sync::mpsc;

use serde::{Deserialize, Serialize};

use super::{Bus, Event};
use crate::db;

const CHANNEL: &str = "hearth_events";
/// Events sent in one round trip at most.
const BATCH: usize = 64;

pub struct PgBus {
    outbox: mpsc::UnboundedSender<Event>,
    db: DatabaseConnection,
    /// This process, as its notifications name it.
    origin: u64,
    /// Whether the listener holds a connection that listens (for readiness).
    listening: Arc<AtomicBool>,
}

/// A notification: the event and the process that sent it.
#[derive(Serialize, Deserialize)]
struct Envelope<E> {
    #[serde(rename = "o")]
    origin: u64,
    #[serde(rename = "e")]
    event: E,
}

impl PgBus {
    /// Starts listening; answers the bus and the stream of events for the hub.
    pub async fn start(
        db: DatabaseConnection,
    ) -> Result<(Self, mpsc::UnboundedReceiver<Event>), DbErr> {
        let listener = start_listening(&db)
            .await
            .map_err(|e| DbErr::Custom(format!("cannot listen for events: {e}")))?;
        let origin = rand::random::<u64>();
        let (events, inbox) = mpsc::unbounded_channel();
        let listening = Arc::new(AtomicBool::new(true));
        tokio::spawn(listen(
            listener,
            db.clone(),
            origin,
            events,
            listening.clone(),
        ));
        let (outbox, pending) = mpsc::unbounded_channel();
        tokio::spawn(send(db.clone(), origin, pending));
        Ok((
            Self {
                outbox,
                db,
                origin,
                listening,
            },
            inbox,
        ))
    }
}

/// A listener on a connection of its own from the pool, subscribed to the channel.
async fn start_listening(db: &DatabaseConnection) -> Result<PgListener, sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect_with(db.get_postgres_connection_pool()).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

fn payload(origin: u64, event: &Event) -> Option<String> {
    serde_json::to_string(&Envelope { origin, event })
        .map_err(|e| tracing::error!(error = %e, "cannot encode an event"))
        .ok()
}

#[async_trait]
impl Bus for PgBus {
    fn publish(&self, event: Event) {
        let _ = self.outbox.send(event);
    }

    /// One statement for the whole batch: a round trip, not one per event.
    async fn publish_all_in(
        &self,
        txn: &DatabaseTransaction,
        events: &[Event],
    ) -> Result<(), DbErr> {
        let payloads = events
            .iter()
            .map(|e| payload(self.origin, e))
            .collect::<Option<Vec<String>>>()
            .ok_or_else(|| DbErr::Custom("cannot encode an event".into()))?;
        if payloads.is_empty() {
            return Ok(());
        }
        txn.execute_raw(notify_statement(&self.db, payloads))
            .await?;
        Ok(())
    }

    fn is_listening(&self) -> bool {
        self.listening.load(Ordering::Relaxed)
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
async fn send(db: DatabaseConnection, origin: u64, mut pending: mpsc::UnboundedReceiver<Event>) {
    let mut batch = Vec::with_capacity(BATCH);
    while pending.recv_many(&mut batch, BATCH).await > 0 {
        let payloads: Vec<String> = batch
            .drain(..)
            .filter_map(|e| payload(origin, &e))
            .collect();
        if payloads.is_empty() {
            continue;
        }
        if let Err(e) = db.execute_raw(notify_statement(&db, payloads)).await {
            // Typing, presence and read events are best effort; conversation events
            // never pass here.
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
    origin: u64,
    events: mpsc::UnboundedSender<Event>,
    listening: Arc<AtomicBool>,
) {
    // Whatever ends this task, nobody is listening after it.
    struct Deaf(Arc<AtomicBool>);
    impl Drop for Deaf {
        fn drop(&mut self) {
            self.0.store(false, Ordering::Relaxed);
        }
    }
    let _deaf = Deaf(listening.clone());
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => {
                match serde_json::from_str::<Envelope<Event>>(notification.payload()) {
                    Ok(envelope) if envelope.origin == origin => {}
                    Ok(envelope) => {
                        if events.send(envelope.event).is_err() {
                            return; // the hub is gone
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "ignoring a malformed event"),
                }
            }
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
                listening.store(false, Ordering::Relaxed);
                let Some(fresh) = listen_again(&db, &events).await else {
                    return;
                };
                listener = fresh;
                listening.store(true, Ordering::Relaxed);
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
