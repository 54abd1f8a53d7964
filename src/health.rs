//! `GET /healthz` and `GET /readyz`: whether the process is alive (its database
//! answers), and whether it can serve: the schema it was built for is there, the
//! database takes a write, and, with other processes, the bus is listening. A load
//! balancer keeps a live process that is not ready out of rotation and an orchestrator
//! restarts one that is not alive, so the two answer different questions.
//!
//! Anyone may ask, so the readiness checks (a dozen statements and a write) run at
//! most once per [`FRESH`] however often `/readyz` is asked, and give up after
//! [`PATIENCE`]: the answer in between is the last one.
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use migration::MigratorTrait;
use poem::{Response, handler, http::StatusCode, web::Data};
use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait};

use crate::{
    db::{self, WriteGate},
    live::Hub,
};

/// The tables serving needs: one missing (dropped by hand, a restore gone wrong) fails
/// every request that touches it.
const TABLES: [&str; 8] = [
    "users",
    "sessions",
    "conversations",
    "memberships",
    "messages",
    "reactions",
    "presence",
    "secrets",
];

/// `GET /healthz`: 200 `ok` while the database answers (liveness).
#[handler]
pub async fn healthz(Data(db): Data<&DatabaseConnection>) -> Response {
    if db::ping(db).await {
        text(StatusCode::OK, "ok".to_owned())
    } else {
        text(
            StatusCode::SERVICE_UNAVAILABLE,
            "the database does not answer".to_owned(),
        )
    }
}

/// How long a readiness answer is given again without checking.
const FRESH: Duration = Duration::from_secs(1);
/// How long the checks may take before the process counts as not ready.
const PATIENCE: Duration = Duration::from_secs(3);

/// The last readiness answer, shared by the requests that ask for it.
#[derive(Default)]
pub struct Readiness {
    last: tokio::sync::Mutex<Option<(Instant, Arc<Vec<String>>)>>,
}

impl Readiness {
    /// Why the process cannot serve (empty when it can), checked at most once per
    /// [`FRESH`]: those who ask meanwhile wait for the check in progress.
    async fn reasons(
        &self,
        db: &DatabaseConnection,
        gate: &WriteGate,
        hub: &Hub,
    ) -> Arc<Vec<String>> {
        let mut last = self.last.lock().await;
        if let Some((at, reasons)) = last.as_ref() {
            if at.elapsed() < FRESH {
                return reasons.clone();
            }
        }
        let reasons = match tokio::time::timeout(PATIENCE, not_ready(db, gate, hub)).await {
            Ok(reasons) => reasons,
            Err(_) => vec![format!(
                "the database did not answer the checks within {} seconds",
                PATIENCE.as_secs()
            )],
        };
        let reasons = Arc::new(reasons);
        *last = Some((Instant::now(), reasons.clone()));
        reasons
    }
}

/// `GET /readyz`: 200 `ready`, or 503 with every reason it is not (readiness).
#[handler]
pub async fn readyz(
    Data(db): Data<&DatabaseConnection>,
    Data(gate): Data<&WriteGate>,
    Data(hub): Data<&Hub>,
    Data(readiness): Data<&Arc<Readiness>>,
) -> Response {
    let reasons = readiness.reasons(db, gate, hub).await;
    if reasons.is_empty() {
        text(StatusCode::OK, "ready".to_owned())
    } else {
        let mut resp = text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {}", reasons.join("; ")),
        );
        resp.headers_mut().insert(
            poem::http::header::RETRY_AFTER,
            poem::http::HeaderValue::from_static("5"),
        );
        resp
    }
}

fn text(status: StatusCode, body: String) -> Response {
    Response::builder()
        .status(status)
        .content_type("text/plain; charset=utf-8")
        .body(body)
}

/// Why this process cannot serve, in words; empty when it can.
pub async fn not_ready(db: &DatabaseConnection, gate: &WriteGate, hub: &Hub) -> Vec<String> {
    let mut reasons = Vec::new();
    if !db::ping(db).await {
        reasons.push("the database does not answer".to_owned());
        return reasons;
    }
    if let Some(latest) = migration::Migrator::migrations()
        .last()
        .map(|m| m.name().to_owned())
    {
        let found = db
            .query_one_raw(db::statement(
                db,
                "SELECT version FROM seaql_migrations WHERE version = ?",
                [latest.clone().into()],
            ))
            .await;
        if !matches!(found, Ok(Some(_))) {
            reasons.push(format!(
                "the database schema is not at version {latest} (run `hearth migrate`)"
            ));
        }
    }
    for table in TABLES {
        let probe = db
            .execute_unprepared(&format!("SELECT 1 FROM {table} LIMIT 0"))
            .await;
        if probe.is_err() {
            reasons.push(format!("the table {table} is missing"));
        }
    }
    if let Err(e) = write_probe(db, gate).await {
        reasons.push(format!("the database refuses writes ({e})"));
    }
    if !hub.bus().is_listening() {
        reasons.push("not listening for the other processes' events".to_owned());
    }
    reasons
}

/// Writes a session row and rolls it back: the write every log-in makes.
async fn write_probe(db: &DatabaseConnection, gate: &WriteGate) -> Result<(), sea_orm::DbErr> {
    let _turn = gate.enter_after_messages().await;
    let txn = db.begin().await?;
    txn.execute_raw(db::statement(
        db,
        "INSERT INTO sessions (id, data, expires_at) VALUES (?, ?, ?)",
        ["readiness-probe".into(), "{}".into(), 0i64.into()],
    ))
    .await?;
    txn.rollback().await
}
