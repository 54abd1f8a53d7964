//! Building and running the server: the shared [`AppState`], the routes, the
//! middleware, and graceful shutdown. Handlers live with their capability; this module
//! only wires them up.
use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use poem::{
    Endpoint, EndpointExt, Response, Route, get, handler, http::StatusCode, post, web::Data,
};
use sea_orm::DatabaseConnection;

use crate::{
    accounts, assets,
    chat::{self, writer::Writer},
    config::Config,
    db, direct,
    error::AppError,
    limits::Limits,
    live::{self, Hub, LocalBus, PgBus},
    rooms,
    web::{layout, request_log, security, serve, session, session_store::DbSessionStore},
};

/// What every handler shares.
pub struct AppState {
    pub db: DatabaseConnection,
    pub config: Config,
    pub sessions: Arc<DbSessionStore>,
    pub hub: Hub,
    pub limits: Limits,
    /// Stores new messages, batching them under load. It and the session store take
    /// turns at SQLite's write lock through one [`db::WriteGate`].
    pub writer: Writer,
    /// Each conversation's latest messages, rendered for its page.
    pub histories: Arc<chat::page::HistoryCache>,
    /// Public rooms by slug.
    pub rooms: rooms::Directory,
}

/// A server bound to its address, ready to run.
pub struct Server {
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    local_addr: SocketAddr,
}

impl Server {
    /// Connects to and migrates the database, starts the hub and binds the address.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let db = db::connect(&config.database_url)
            .await
            .with_context(|| format!("cannot open the database at {}", config.database_url))?;
        db::migrate(&db)
            .await
            .context("cannot migrate the database")?;
        // One process on SQLite delivers in memory; processes sharing PostgreSQL
        // deliver through it, and count presence across all of them.
        let hub = if db::is_sqlite(&db) {
            let (bus, events) = LocalBus::new();
            Hub::start(db.clone(), Box::new(bus), events, false)
        } else {
            let (bus, events) = PgBus::start(db.clone())
                .await
                .context("cannot start the event bus")?;
            Hub::start(db.clone(), Box::new(bus), events, true)
        };
        let write_gate = db::WriteGate::for_database(&db);
        let sessions = Arc::new(DbSessionStore::new(db.clone(), write_gate.clone()));
        tokio::spawn(delete_expired_sessions(sessions.clone()));
        accounts::password::warm_up();

        let listener = tokio::net::TcpListener::bind(config.addr.as_str())
            .await
            .with_context(|| format!("cannot listen on {}", config.addr))?;
        let local_addr = listener
            .local_addr()
            .context("the listener has no socket address")?;
        let limits = Limits::new(config.limits.clone());
        let histories = Arc::new(chat::page::HistoryCache::new(db::only_writer(&db)));
        let writer = Writer::start(
            db.clone(),
            write_gate.clone(),
            hub.clone(),
            histories.clone(),
        )
        .context("cannot start the message writer")?;
        let state = Arc::new(AppState {
            db,
            config,
            sessions,
            hub,
            limits,
            writer,
            histories,
            rooms: rooms::Directory::default(),
        });
        tokio::spawn(housekeeping(Arc::downgrade(&state)));
        if db::is_sqlite(&state.db) {
            tokio::spawn(checkpoint_wal(Arc::downgrade(&state), write_gate));
        }
        Ok(Self {
            listener,
            state,
            local_addr,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    /// Serves until SIGTERM or Ctrl-C.
    pub async fn run(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `shutdown` completes, then closes sockets with "going away" (so
    /// pages reconnect), stops accepting and gives requests in flight the grace period.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let hub = self.state.hub.clone();
        let hub_after = hub.clone();
        let grace = self.state.config.shutdown_grace;
        tracing::info!(addr = %self.local_addr, "hearth is listening on http://{}", self.local_addr);
        let signal = async move {
            shutdown.await;
            tracing::info!("shutting down");
            hub.shutdown();
        };
        let served = serve::serve(self.listener, app(self.state), signal, grace).await;
        // Leave the shared presence now rather than when the leases run out.
        tokio::time::timeout(Duration::from_secs(2), hub_after.withdraw())
            .await
            .ok();
        served
    }
}

/// The whole app as one endpoint.
pub fn app(state: Arc<AppState>) -> impl Endpoint {
    Route::new()
        .at("/", get(rooms::routes::lobby))
        .at(
            "/signup",
            get(accounts::routes::signup_form).post(accounts::routes::signup),
        )
        .at(
            "/login",
            get(accounts::routes::login_form).post(accounts::routes::login),
        )
        .at("/logout", post(accounts::routes::logout))
        .at("/rooms", post(rooms::routes::create))
        .at("/rooms/:slug", get(rooms::routes::show))
        .at("/rooms/:slug/leave", post(rooms::routes::leave))
        .at("/users", get(direct::routes::directory))
        .at("/dm/:username", get(direct::routes::open_chat))
        .at(
            "/conversations/:id/messages",
            post(chat::routes::post_message),
        )
        .at("/conversations/:id/read", post(chat::routes::mark_read))
        .at("/ws", get(live::socket::connect))
        .at("/healthz", get(healthz))
        .at("/assets/*path", get(assets::serve))
        .catch_error(|_: poem::error::NotFoundError| async { not_found() })
        .around(session::middleware)
        .around(security::middleware)
        .around(request_log::middleware)
        .data(state)
}

fn not_found() -> Response {
    layout::error_page(
        StatusCode::NOT_FOUND,
        "There is nothing here. It may have been removed, or you may not be allowed to see it.",
    )
}

/// `GET /healthz`: 200 `ok` while the database answers.
#[handler]
async fn healthz(Data(state): Data<&Arc<AppState>>) -> Result<&'static str, AppError> {
    if db::ping(&state.db).await {
        Ok("ok")
    } else {
        Err(AppError::Db(sea_orm::DbErr::Conn(
            sea_orm::RuntimeErr::Internal("database unreachable".into()),
        )))
    }
}

/// Every few seconds: watches the database (telling open pages when it goes away and
/// comes back) and forgets idle rate-limit entries.
async fn housekeeping(state: std::sync::Weak<AppState>) {
    let mut every = tokio::time::interval(Duration::from_secs(2));
    let mut reachable = true;
    let mut ticks: u64 = 0;
    loop {
        every.tick().await;
        let Some(state) = state.upgrade() else { return };
        let now_reachable = db::ping(&state.db).await;
        if now_reachable != reachable {
            reachable = now_reachable;
            if reachable {
                tracing::info!("the database is reachable again");
            } else {
                tracing::error!("the database is unreachable");
            }
            state.hub.database_reachable(reachable);
        }
        ticks += 1;
        if ticks % 30 == 0 {
            state.limits.tidy();
        }
    }
}

/// Checkpoints SQLite's WAL soon after writes, at most every [`db::CHECKPOINT_GAP`],
/// off the commit path (see [`db::checkpoint`]). An idle server does not wake for it
/// but once a second, for writers that do not take the write gate.
async fn checkpoint_wal(state: std::sync::Weak<AppState>, gate: db::WriteGate) {
    loop {
        tokio::select! {
            () = gate.turn_ended() => {}
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        let Some(state) = state.upgrade() else { return };
        if let Err(e) = db::checkpoint(&state.db).await {
            tracing::warn!(error = %e, "could not checkpoint the database's WAL");
        }
        drop(state);
        tokio::time::sleep(db::CHECKPOINT_GAP).await;
    }
}

async fn delete_expired_sessions(store: Arc<DbSessionStore>) {
    let mut every = tokio::time::interval(Duration::from_secs(3600));
    loop {
        every.tick().await;
        if let Err(e) = store.delete_expired().await {
            tracing::warn!(error = %e, "could not delete expired sessions");
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
