//! The write path of new messages: one writer per process stores them, as many per
//! transaction as are waiting (group commit). A lone message is written at once, in a
//! transaction of its own; under load the batches grow by themselves, and a commit
//! (SQLite's write lock and WAL append, PostgreSQL's fsync and its lock on the
//! notification queue) is paid once per batch instead of once per message.
//!
//! It owns the order of writes within this process: each conversation's events are
//! numbered and committed here in order, and each is handed to the hub right after its
//! commit (persist, then broadcast), rendered once, on the writer's own thread
//! ([`Hub::committed`]). It does not check bodies or rate limits: [`super::post`]
//! does, before a message gets here.
//!
//! On SQLite the writer is a thread of its own that drives its own connection
//! directly ([`crate::db::open_sqlite_writer`]): a commit takes tens of microseconds
//! there, and doing it on the thread that waits for it saves two hand-offs between
//! threads per batch. On PostgreSQL it is a task, and its statements go through the
//! pool.
use std::{sync::Arc, time::Instant};

use sea_orm::{DatabaseConnection, DbErr};
use tokio::sync::{mpsc, oneshot};

use super::{
    page::HistoryCache,
    store::{self, NewMessage, Posted},
    unread::Announcer,
    views,
};
use crate::{
    db::{self, WriteGate},
    live::{Committed, Hub},
    telemetry::metrics::CommitMetrics,
};

/// Messages stored in one transaction at most.
const BATCH: usize = 64;
/// Messages waiting for the writer at most; posters wait beyond this.
const QUEUE: usize = 4096;

struct Job {
    message: NewMessage,
    reply: oneshot::Sender<Result<Posted, DbErr>>,
}

/// The handle posters use; the writer stops when the last handle is dropped.
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer for `db`, handing what it stores to `hub`, to the cache of
    /// rendered histories and to the members' news. Fails only if the SQLite writer's
    /// thread cannot start.
    pub fn start(
        db: DatabaseConnection,
        gate: WriteGate,
        hub: Hub,
        histories: Arc<HistoryCache>,
        announcer: Announcer,
        metrics: CommitMetrics,
    ) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel(QUEUE);
        let told = Told {
            hub,
            histories,
            announcer,
            metrics,
        };
        if db::is_sqlite(&db) {
            std::thread::Builder::new()
                .name("hearth-writer".into())
                .spawn(move || run_sqlite(&db, &gate, &told, queue))?;
        } else {
            // PostgreSQL locks rows, not the database: its gate is always open.
            tokio::spawn(run_postgres(db, told, queue));
        }
        Ok(Self { jobs })
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
    announcer: Announcer,
    /// Each transaction's size and time, the gate's wait left out.
    metrics: CommitMetrics,
}

/// The SQLite writer's thread. Its connection is opened at the first batch and
/// dropped, so closed, after any failure: the next batch opens a fresh one.
fn run_sqlite(
    db: &DatabaseConnection,
    gate: &WriteGate,
    told: &Told,
    mut queue: mpsc::Receiver<Job>,
) {
    let mut own: Option<rusqlite::Connection> = None;
    // The write gate is held for a store only: the fan-out that follows each commit
    // (`answer`) must not keep the session store waiting.
    let mut store = |batch: &[NewMessage]| {
        let _turn = gate.enter_blocking();
        let conn = match &mut own {
            Some(conn) => conn,
            None => own.insert(db::open_sqlite_writer(db).map_err(db::from_sqlite)?),
        };
        let started = Instant::now();
        let stored = store::insert_messages_sqlite(conn, batch);
        told.metrics.committed(batch.len(), started.elapsed());
        if stored.is_err() {
            own = None;
        }
        stored
    };
    let mut jobs = Vec::with_capacity(BATCH);
    while queue.blocking_recv_many(&mut jobs, BATCH) > 0 {
        let (messages, replies) = split(&mut jobs);
        let stored = store(&messages);
        for (message, reply) in settle(told, &messages, replies, stored) {
            let one = store(std::slice::from_ref(message)).and_then(only);
            answer(told, reply, one);
        }
    }
}

/// The PostgreSQL writer's task: batches go through the pool, and the bus is told
/// inside each transaction ([`store::insert_messages_postgres`]).
async fn run_postgres(db: DatabaseConnection, told: Told, mut queue: mpsc::Receiver<Job>) {
    let bus = told.hub.bus();
    let mut jobs = Vec::with_capacity(BATCH);
    while queue.recv_many(&mut jobs, BATCH).await > 0 {
        let (messages, replies) = split(&mut jobs);
        let stored = timed(&told, &messages, |batch| {
            store::insert_messages_postgres(&db, bus, batch)
        })
        .await;
        for (message, reply) in settle(&told, &messages, replies, stored) {
            let one = timed(&told, std::slice::from_ref(message), |batch| {
                store::insert_messages_postgres(&db, bus, batch)
            })
            .await
            .and_then(only);
            answer(&told, reply, one);
        }
    }
}

/// Runs one PostgreSQL transaction of `batch`, counting its size and time.
async fn timed<'a, F, Fut>(
    told: &Told,
    batch: &'a [NewMessage],
    store: F,
) -> Result<Vec<Posted>, DbErr>
where
    F: FnOnce(&'a [NewMessage]) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<Posted>, DbErr>>,
{
    let started = Instant::now();
    let stored = store(batch).await;
    told.metrics.committed(batch.len(), started.elapsed());
    stored
}

type Reply = oneshot::Sender<Result<Posted, DbErr>>;

fn split(jobs: &mut Vec<Job>) -> (Vec<NewMessage>, Vec<Reply>) {
    jobs.drain(..).map(|job| (job.message, job.reply)).unzip()
}

/// Answers the posters of a stored batch. When a batch of several failed, nothing of
/// it was stored, and it answers the messages to write again one by one, so that
/// whatever failed the batch fails only its own message.
fn settle<'a>(
    told: &Told,
    messages: &'a [NewMessage],
    replies: Vec<Reply>,
    stored: Result<Vec<Posted>, DbErr>,
) -> Vec<(&'a NewMessage, Reply)> {
    match stored {
        Ok(posted) => {
            for (posted, reply) in posted.into_iter().zip(replies) {
                answer(told, reply, Ok(posted));
            }
            Vec::new()
        }
        Err(e) if messages.len() > 1 => {
            tracing::debug!(error = %e, "a batch of messages failed; writing one by one");
            messages.iter().zip(replies).collect()
        }
        Err(e) => {
            if let Some(reply) = replies.into_iter().next() {
                answer(told, reply, Err(e));
            }
            Vec::new()
        }
    }
}

/// The one message a batch of one stored.
fn only(mut posted: Vec<Posted>) -> Result<Posted, DbErr> {
    posted
        .pop()
        .ok_or_else(|| DbErr::Custom("no message was stored".into()))
}

/// Hands a stored message to the history cache, the hub and the members' news
/// (persist, then broadcast), then tells its poster.
fn answer(
    told: &Told,
    reply: oneshot::Sender<Result<Posted, DbErr>>,
    stored: Result<Posted, DbErr>,
) {
    if let Ok(posted) = &stored {
        let message = &posted.message;
        told.histories
            .committed(message.conversation_id, message.seq);
        told.hub.committed(Committed {
            conversation_id: message.conversation_id,
            seq: message.seq,
            html: views::appended(std::slice::from_ref(message)).into_string(),
            author_id: Some(message.author_id),
            coalesce: None,
        });
        told.announcer.posted(posted.clone());
    }
    let _ = reply.send(stored);
}
