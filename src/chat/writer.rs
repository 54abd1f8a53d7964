//! The write path of new messages: one task per process stores them, as many per
//! transaction as are waiting (group commit). A lone message is written at once, in a
//! transaction of its own; under load the batches grow by themselves, and a commit
//! (SQLite's write lock and WAL append, PostgreSQL's fsync and its lock on the
//! notification queue) is paid once per batch instead of once per message.
//!
//! It owns the order of writes within this process and hands each stored message to
//! the hub right after its commit (persist, then broadcast). It does not check bodies
//! or rate limits: [`super::post`] does, before a message gets here.
use std::sync::Arc;

use sea_orm::{DatabaseConnection, DbErr, RuntimeErr, sqlx::SqliteConnection};
use tokio::sync::{mpsc, oneshot};

use super::{
    page::HistoryCache,
    queries::{self, NewMessage, Posted},
};
use crate::{db::WriteGate, live::Hub};

/// Messages stored in one transaction at most.
const BATCH: usize = 64;
/// Messages waiting for the writer at most; posters wait beyond this.
const QUEUE: usize = 4096;

struct Job {
    message: NewMessage,
    reply: oneshot::Sender<Result<Posted, DbErr>>,
}

/// The handle posters use; the task stops when the last handle is dropped.
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer task for `db`, announcing what it stores to `hub` and to the
    /// cache of rendered histories.
    pub fn start(
        db: DatabaseConnection,
        gate: WriteGate,
        hub: Hub,
        histories: Arc<HistoryCache>,
    ) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        let told = Told { hub, histories };
        tokio::spawn(run(db, gate, told, queue));
        Self { jobs }
    }

    /// Stores `message`; answers it once it is committed and handed to the hub.
    pub async fn post(&self, message: NewMessage) -> Result<Posted, DbErr> {
        let stopped = || DbErr::Custom("the message writer has stopped".into());
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { message, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// Who hears of each commit.
struct Told {
    hub: Hub,
    histories: Arc<HistoryCache>,
}

async fn run(db: DatabaseConnection, gate: WriteGate, told: Told, mut queue: mpsc::Receiver<Job>) {
    let hub = &told.hub;
    let mut jobs = Vec::with_capacity(BATCH);
    let mut storage = if crate::db::is_sqlite(&db) {
        Storage::Sqlite(None)
    } else {
        Storage::Postgres
    };
    while queue.recv_many(&mut jobs, BATCH).await > 0 {
        let _turn = gate.enter().await;
        let (messages, replies): (Vec<NewMessage>, Vec<_>) =
            jobs.drain(..).map(|job| (job.message, job.reply)).unzip();
        match storage.store(&db, hub, &messages).await {
            Ok(posted) => {
                for (posted, reply) in posted.into_iter().zip(replies) {
                    answer(&told, reply, Ok(posted));
                }
            }
            Err(e) if messages.len() > 1 => {
                // Nothing of the batch was stored. Write each alone, so that whatever
                // failed it fails only its own message.
                tracing::debug!(error = %e, "a batch of messages failed; writing one by one");
                for (message, reply) in messages.iter().zip(replies) {
                    let one = storage
                        .store(&db, hub, std::slice::from_ref(message))
                        .await
                        .and_then(|mut posted| {
                            posted
                                .pop()
                                .ok_or_else(|| DbErr::Custom("no message was stored".into()))
                        });
                    answer(&told, reply, one);
                }
            }
            Err(e) => {
                if let Some(reply) = replies.into_iter().next() {
                    answer(&told, reply, Err(e));
                }
            }
        }
    }
}

/// Where batches go, chosen once when the writer starts.
enum Storage {
    /// One round trip per batch ([`queries::insert_messages_sqlite`]) on the writer's
    /// own connection, taken out of the pool for good (a raw transaction must never go
    /// back to it) and dropped, so closed, after any failure: the next batch opens a
    /// fresh one. `None` until the first batch, and after a failure.
    Sqlite(Option<SqliteConnection>),
    /// Through the pool, telling the bus inside the transaction
    /// ([`queries::insert_messages_postgres`]).
    Postgres,
}

impl Storage {
    async fn store(
        &mut self,
        db: &DatabaseConnection,
        hub: &Hub,
        batch: &[NewMessage],
    ) -> Result<Vec<Posted>, DbErr> {
        let Storage::Sqlite(own) = self else {
            return queries::insert_messages_postgres(db, hub.bus(), batch).await;
        };
        let conn = match own {
            Some(conn) => conn,
            None => own.insert(
                db.get_sqlite_connection_pool()
                    .acquire()
                    .await
                    .map_err(|e| DbErr::Conn(RuntimeErr::SqlxError(Arc::new(e))))?
                    .detach(),
            ),
        };
        let stored = queries::insert_messages_sqlite(conn, batch).await;
        if stored.is_err() {
            *own = None;
        }
        stored
    }
}

/// Hands a stored message to the history cache and the hub (persist, then
/// broadcast), then tells its poster.
fn answer(
    told: &Told,
    reply: oneshot::Sender<Result<Posted, DbErr>>,
    stored: Result<Posted, DbErr>,
) {
    if let Ok(posted) = &stored {
        let message = &posted.message;
        told.histories
            .committed(message.conversation_id, message.id);
        told.hub.message_committed(posted);
    }
    let _ = reply.send(stored);
}
