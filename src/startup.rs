//! Building and running the server: the parts every handler shares, the routes, the
//! middleware, and graceful shutdown. Handlers live with their capability and take the
//! parts they use as poem data ([`Parts`]); this module only builds and wires them.
use std::{
    future::Future,
    net::SocketAddr,
    sync::{Arc, Weak},
    time::Duration,
};

use anyhow::Context;
use poem::{Endpoint, EndpointExt, Route, get, post};
use sea_orm::DatabaseConnection;

use crate::{
    accounts, admin, api, assets, bots,
    chat::{
        self, Chat, actions::routes as actions, members::Members, mentions::routes as mentions,
        source::ChatSource, unread, writer::Writer,
    },
    config::Config,
    db, direct, files, health,
    limits::Limits,
    live::{Hub, LocalBus, PgBus, leases::Leases},
    push::{self, Pusher},
    rooms, search, support,
    telemetry::metrics::{self, Metrics},
    web::{
        errors, request_log, security, serve,
        session::{self, Sessions},
        session_store::DbSessionStore,
        signing::Signer,
    },
};

/// The parts of a running server, each handed to the handlers that use it.
#[derive(Clone)]
pub struct Parts {
    pub db: DatabaseConnection,
    /// SQLite's queue of writers (open on PostgreSQL).
    pub gate: db::WriteGate,
    pub config: Arc<Config>,
    pub hub: Hub,
    pub chat: Arc<Chat>,
    pub limits: Arc<Limits>,
    pub sessions: Arc<Sessions>,
    /// Public rooms by slug.
    pub rooms: Arc<rooms::Directory>,
    pub pusher: Pusher,
    /// The last answer of `/readyz`.
    pub readiness: Arc<health::Readiness>,
    /// The key cookies are signed with (log-in device cookies, anonymous CSRF tokens).
    pub signer: Arc<Signer>,
    /// Where messages' files are kept.
    pub files: Arc<crate::files::Files>,
    /// The figures `/metrics` shows (no-ops without a metrics address).
    pub metrics: Arc<Metrics>,
    /// Password reset by email, where an SMTP server is configured.
    pub resets: Arc<accounts::reset::Resets>,
}

/// A server bound to its address (and its metrics address, if any), ready to run.
pub struct Server {
    listener: tokio::net::TcpListener,
    metrics_listener: Option<tokio::net::TcpListener>,
    parts: Parts,
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
        if let Some(policy) = config.signup {
            accounts::policy::choose(&db, policy)
                .await
                .context("cannot store the sign-up policy")?;
        }
        let signer = Arc::new(
            Signer::load(&db, "cookies")
                .await
                .context("cannot read the signing key")?,
        );
        let (metrics, metrics_listener) = match &config.metrics_addr {
            Some(addr) => {
                let listener = tokio::net::TcpListener::bind(addr.as_str())
                    .await
                    .with_context(|| format!("cannot listen for metrics on {addr}"))?;
                (Metrics::recording(), Some(listener))
            }
            None => (Metrics::disabled(), None),
        };
        let members = Arc::new(Members::new(db.clone()));
        let events = crate::app_events::Latest::load(&db)
            .await
            .context("cannot read the published events")?;
        let support = crate::support::live::Inbox::new();
        let source = Arc::new(ChatSource::new(
            db.clone(),
            members.clone(),
            events.clone(),
            support.clone(),
        ));
        // One process on SQLite has nobody to tell; processes sharing PostgreSQL tell
        // each other through it, and count presence across all of them.
        let hub = if db::is_sqlite(&db) {
            Hub::start(
                Box::new(LocalBus),
                None,
                None,
                source,
                config.live.clone(),
                metrics.live.clone(),
            )
        } else {
            let (bus, events) = PgBus::start(db.clone())
                .await
                .context("cannot start the event bus")?;
            let leases = Leases::new(db.clone());
            Hub::start(
                Box::new(bus),
                Some(events),
                Some(leases),
                source,
                config.live.clone(),
                metrics.live.clone(),
            )
        };
        let write_gate = db::WriteGate::for_database(&db);
        let store = Arc::new(DbSessionStore::new(db.clone(), write_gate.clone()));
        tokio::spawn(delete_expired_sessions(store.clone()));
        accounts::password::warm_up();
        chat::format::highlight::warm_up();

        let listener = tokio::net::TcpListener::bind(config.addr.as_str())
            .await
            .with_context(|| format!("cannot listen on {}", config.addr))?;
        let local_addr = listener
            .local_addr()
            .context("the listener has no socket address")?;
        let limits = Arc::new(Limits::new(config.limits.clone()).counted(metrics.refusals.clone()));
        let histories = Arc::new(chat::page::HistoryCache::new(db::only_writer(&db)));
        let vapid = push::keys::load_or_create(&db)
            .await
            .context("cannot read or make the Web Push key")?;
        let pusher = Pusher::start(
            db.clone(),
            hub.clone(),
            members.clone(),
            vapid,
            config.push.clone(),
        )
        .context("cannot start Web Push")?;
        let announcer = unread::Announcer::start(
            db.clone(),
            hub.clone(),
            members.clone(),
            pusher.clone(),
            support.clone(),
        );
        let writer = Writer::start(
            db.clone(),
            write_gate.clone(),
            hub.clone(),
            histories.clone(),
            announcer,
            metrics.commits.clone(),
        )
        .context("cannot start the message writer")?;
        let files_url = config.files.storage_url(&config.database_url);
        let files = Arc::new(crate::files::Files {
            storage: crate::files::Storage::open(&files_url)
                .with_context(|| format!("cannot open file storage at {files_url}"))?,
            settings: config.files.clone(),
        });
        let chat = Arc::new(Chat {
            files: files.clone(),
            gate: write_gate.clone(),
            db: db.clone(),
            hub: hub.clone(),
            writer,
            histories,
            members,
            limits: limits.clone(),
            events,
            support: support.clone(),
        });
        support.run(db.clone(), hub.downgrade());
        let mailer = accounts::mail::Mailer::from_settings(&config.mail)
            .context("cannot use the SMTP server of --smtp-url")?;
        if mailer.is_some() && config.mail.public_url.is_none() {
            tracing::warn!(
                "--smtp-url is set without --public-url: reset links name the host each request came to"
            );
        }
        let resets = Arc::new(accounts::reset::Resets::new(mailer, &config.mail));
        let sessions = Arc::new(Sessions {
            store,
            secure_cookies: config.secure_cookies,
            body_timeout: config.http.body_timeout,
            signer: signer.clone(),
        });
        let parts = Parts {
            gate: write_gate.clone(),
            db,
            config: Arc::new(config),
            hub,
            chat,
            limits,
            sessions,
            rooms: Arc::new(rooms::Directory::default()),
            pusher,
            readiness: Arc::default(),
            signer,
            files,
            metrics: Arc::new(metrics),
            resets,
        };
        bots::outgoing::start(Arc::downgrade(&parts.chat), parts.config.webhooks.clone())
            .context("cannot start outgoing webhooks")?;
        tokio::spawn(housekeeping(Arc::downgrade(&parts.chat)));
        tokio::spawn(sweep_files(parts.files.clone(), parts.db.clone()));
        if db::is_sqlite(&parts.db) {
            tokio::spawn(checkpoint_wal(Arc::downgrade(&parts.chat), write_gate));
        }
        Ok(Self {
            listener,
            metrics_listener,
            parts,
            local_addr,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Where `/metrics` is served, when a metrics address was given.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|listener| listener.local_addr().ok())
    }

    /// The server's parts, for tests and tools that look inside.
    pub fn parts(&self) -> Parts {
        self.parts.clone()
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
        let hub = self.parts.hub.clone();
        let hub_after = hub.clone();
        let grace = self.parts.config.shutdown_grace;
        tracing::info!(addr = %self.local_addr, "hearth is listening on http://{}", self.local_addr);
        let (stopping, stopped) = tokio::sync::watch::channel(false);
        let signal = async move {
            shutdown.await;
            tracing::info!("shutting down");
            hub.shutdown();
            let _ = stopping.send(true);
        };
        let http = self.parts.config.http.clone();
        let figures = self.metrics_listener.map(|listener| {
            let metrics = self.parts.metrics.clone();
            let http = http.clone();
            tokio::spawn(serve_metrics(listener, metrics, stopped, http))
        });
        let served = serve::serve(self.listener, app(self.parts), signal, grace, &http).await;
        if let Some(figures) = figures {
            // It stops with the same signal; its scrapes are quick.
            let _ = tokio::time::timeout(grace, figures).await;
        }
        // Leave the shared presence now rather than when the leases run out.
        tokio::time::timeout(Duration::from_secs(2), hub_after.withdraw())
            .await
            .ok();
        served
    }
}

/// The support widget's visitor-facing paths.
fn widget() -> Route {
    use support::widget;
    Route::new()
        .at("/:key", get(widget::frame))
        .at("/:key/start", post(widget::start))
        .at("/:key/resume", post(widget::resume))
        .at("/:key/messages", post(widget::post_message))
        .at("/:key/read", post(widget::mark_read))
        .at("/:key/email", post(widget::save_email))
        .at("/:key/ws", get(widget::connect))
}

/// The whole app as one endpoint: the pages, behind sessions and the CSRF check, and
/// beside them the API, which is authenticated by bearer tokens alone (no cookie is
/// read there, so there is nothing for a forged cross-site request to ride on).
pub fn app(parts: Parts) -> impl Endpoint {
    Route::new()
        .nest(api::PREFIX, api::endpoint())
        .nest(
            bots::hooks::PREFIX,
            Route::new().at("/:secret", post(bots::hooks::receive)),
        )
        // The support widget's frame and its visitors, who have no session: they
        // prove who they are with their own token (see `support::widget`).
        .at("/widget.js", get(support::widget::script))
        .nest("/widget", widget())
        .nest("/", pages())
        .around(security::middleware)
        .around(request_log::middleware)
        .around(move |next, mut req| {
            parts.lend(&mut req);
            async move { next.call(req).await }
        })
}

/// The pages: everything a browser visits.
fn pages() -> impl Endpoint {
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
        .at(
            "/login/:token",
            get(accounts::login_links::show).post(accounts::login_links::use_link),
        )
        .at("/rooms", post(rooms::routes::create))
        .at("/rooms/:slug", get(rooms::routes::show))
        .at("/rooms/:slug/leave", post(rooms::routes::leave))
        .at("/rooms/:slug/members", post(rooms::members::add))
        .at("/rooms/:slug/topic", post(rooms::manage::topic))
        .at("/rooms/:slug/rename", post(rooms::manage::rename))
        .at("/rooms/:slug/archive", post(rooms::manage::archive))
        .at("/rooms/:slug/unarchive", post(rooms::manage::unarchive))
        .at("/rooms/:slug/members/remove", post(rooms::members::remove))
        .at("/rooms/:slug/members/policy", post(rooms::members::policy))
        .at(
            "/join/:code",
            get(accounts::routes::join_form).post(accounts::routes::join),
        )
        .at("/settings", get(accounts::settings::show))
        .at("/settings/profile", post(accounts::settings::save_profile))
        .at(
            "/settings/password",
            post(accounts::settings::change_password),
        )
        .at(
            "/settings/sessions/others",
            post(accounts::settings::log_out_others),
        )
        .at("/settings/avatar", post(accounts::avatar::upload))
        .at("/settings/avatar/remove", post(accounts::avatar::remove))
        .at("/settings/email", post(accounts::email::save))
        .at("/settings/delete", post(accounts::deletion::delete))
        .at("/avatars/:hash", get(accounts::avatar::serve))
        .at(
            "/password/forgot",
            get(accounts::reset::forgot).post(accounts::reset::request_link),
        )
        .at(
            "/password/reset/:token",
            get(accounts::reset::show).post(accounts::reset::reset),
        )
        .at("/settings/tokens", post(accounts::settings::make_token))
        .at(
            "/settings/tokens/:id/revoke",
            post(accounts::settings::revoke_token),
        )
        .at("/admin", get(admin::routes::show))
        .at("/admin/figures", get(admin::routes::live_figures))
        .at(
            "/admin/users/:username/deactivate",
            post(admin::routes::deactivate),
        )
        .at(
            "/admin/users/:username/reactivate",
            post(admin::routes::reactivate),
        )
        .at("/admin/users/:username/role", post(admin::routes::role))
        .at(
            "/admin/users/:username/login-link",
            post(admin::routes::login_link),
        )
        .at("/admin/invite", post(admin::routes::reset_invite))
        .at("/admin/signup", post(admin::routes::signup_policy))
        .at("/admin/rooms", post(admin::routes::room_creators))
        .at(
            "/admin/bots",
            get(bots::routes::show).post(bots::routes::create),
        )
        .at(
            "/admin/bots/:username/tokens",
            post(bots::routes::new_token),
        )
        .at(
            "/admin/bots/:username/outgoing",
            post(bots::routes::set_outgoing),
        )
        .at(
            "/admin/bots/:username/webhooks",
            post(bots::routes::make_webhook),
        )
        .at(
            "/admin/webhooks/:id/delete",
            post(bots::routes::delete_webhook),
        )
        .at(
            "/admin/sites",
            get(support::admin::show).post(support::admin::create),
        )
        .at(
            "/admin/sites/:key/operators",
            post(support::admin::add_operator),
        )
        .at("/inbox", get(support::inbox::show))
        .at(
            "/inbox/replies",
            get(support::canned::show).post(support::canned::create),
        )
        .at("/inbox/replies/:id/delete", post(support::canned::delete))
        .at("/inbox/analytics", get(support::analytics::show))
        .at("/inbox/analytics.csv", get(support::analytics::csv))
        .at("/inbox/:id", get(support::inbox::conversation))
        .at("/inbox/:id/assign", post(support::inbox::assign))
        .at("/inbox/:id/close", post(support::inbox::close))
        .at("/inbox/:id/reopen", post(support::inbox::reopen))
        .at("/inbox/:id/transcript", get(support::inbox::transcript))
        .at(
            "/inbox/:id/transcript/email",
            post(support::inbox::email_transcript),
        )
        .at("/users", get(direct::routes::directory))
        .at("/users/:username", get(direct::routes::profile))
        .at("/dm", post(direct::groups::start))
        .at("/dm/:username", get(direct::routes::open_chat))
        .at("/dm/g/:id", get(direct::groups::show))
        .at(
            "/conversations/:id/messages",
            post(chat::routes::post_message),
        )
        .at("/conversations/:id/read", post(unread::routes::mark_read))
        .at(
            "/conversations/:id/notifications",
            post(chat::levels::choose),
        )
        .at("/conversations/:id/people", get(mentions::people))
        .at("/mentions", get(mentions::mentions))
        .at("/search", get(search::routes::search))
        .at("/switcher", get(search::routes::switch))
        .at("/messages/:id", get(actions::permalink))
        .at("/messages/:id/reply", get(actions::reply))
        .at(
            "/messages/:id/edit",
            get(actions::edit_form).post(actions::edit),
        )
        .at(
            "/messages/:id/delete",
            get(actions::delete_form).post(actions::delete),
        )
        .at("/messages/:id/react", get(actions::react_form))
        .at("/messages/:id/reactions", post(actions::react))
        .at(
            "/messages/:id/files/:position",
            get(files::routes::original),
        )
        .at(
            "/messages/:id/files/:position/thumbnail",
            get(files::routes::thumbnail),
        )
        .at("/push/key", get(push::routes::key))
        .at("/push/subscriptions", post(push::routes::subscribe))
        .at(
            "/push/subscriptions/delete",
            post(push::routes::unsubscribe),
        )
        .at("/sw.js", get(push::routes::service_worker))
        .at("/manifest.webmanifest", get(push::routes::manifest))
        .at("/offline", get(push::routes::offline))
        .at("/ws", get(chat::socket::connect))
        .at("/healthz", get(health::healthz))
        .at("/readyz", get(health::readyz))
        .at("/assets/*path", get(assets::serve))
        .around(errors::middleware)
        .around(session::middleware)
}

impl Parts {
    /// Puts each part in the request's data, where handlers take what they use.
    fn lend(&self, req: &mut poem::Request) {
        req.set_data(self.db.clone());
        req.set_data(self.gate.clone());
        req.set_data(self.config.clone());
        req.set_data(self.hub.clone());
        req.set_data(self.chat.clone());
        req.set_data(self.limits.clone());
        req.set_data(self.sessions.clone());
        req.set_data(self.rooms.clone());
        req.set_data(self.pusher.clone());
        req.set_data(self.signer.clone());
        req.set_data(self.readiness.clone());
        req.set_data(self.files.clone());
        req.set_data(self.metrics.clone());
        req.set_data(self.resets.clone());
    }
}

/// Every few seconds: watches the database (telling open pages when it goes away and
/// comes back) and forgets idle rate-limit entries. It ends with the server.
async fn housekeeping(chat: Weak<Chat>) {
    let mut every = tokio::time::interval(Duration::from_secs(2));
    let mut reachable = true;
    let mut ticks: u64 = 0;
    loop {
        every.tick().await;
        let Some(chat) = chat.upgrade() else { return };
        let now_reachable = db::ping(&chat.db).await;
        if now_reachable != reachable {
            reachable = now_reachable;
            if reachable {
                tracing::info!("the database is reachable again");
            } else {
                tracing::error!("the database is unreachable");
            }
            chat.hub.database_reachable(reachable);
        }
        ticks += 1;
        if ticks % 30 == 0 {
            chat.limits.tidy();
        }
    }
}

/// Checkpoints SQLite's WAL soon after writes, at most every [`db::CHECKPOINT_GAP`],
/// off the commit path (see [`db::checkpoint`]). An idle server does not wake for it
/// but once a second, for writers that do not take the write gate.
async fn checkpoint_wal(chat: Weak<Chat>, gate: db::WriteGate) {
    loop {
        tokio::select! {
            () = gate.turn_ended() => {}
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        let Some(chat) = chat.upgrade() else { return };
        if let Err(e) = db::checkpoint(&chat.db).await {
            tracing::warn!(error = %e, "could not checkpoint the database's WAL");
        }
        drop(chat);
        tokio::time::sleep(db::CHECKPOINT_GAP).await;
    }
}

/// Serves `/metrics` on its own listener until `stopped` turns true, and keeps the
/// recorder's histograms folded meanwhile (see [`metrics::UPKEEP_EVERY`]).
async fn serve_metrics(
    listener: tokio::net::TcpListener,
    figures: Arc<Metrics>,
    mut stopped: tokio::sync::watch::Receiver<bool>,
    http: serve::HttpSettings,
) {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "metrics are served on http://{addr}/metrics");
    }
    let upkeep = figures.handle().map(|handle| {
        tokio::spawn(async move {
            let mut every = tokio::time::interval(metrics::UPKEEP_EVERY);
            loop {
                every.tick().await;
                handle.run_upkeep();
            }
        })
    });
    let signal = async move {
        let _ = stopped.wait_for(|stopped| *stopped).await;
    };
    let endpoint = metrics::endpoint(figures);
    if let Err(e) = serve::serve(listener, endpoint, signal, Duration::from_secs(1), &http).await {
        tracing::warn!(error = %e, "the metrics listener failed");
    }
    if let Some(upkeep) = upkeep {
        upkeep.abort();
    }
}

/// Once, at start: the files a stopped process left behind ([`crate::files::Files::sweep`]).
async fn sweep_files(files: Arc<crate::files::Files>, db: DatabaseConnection) {
    match files.sweep(&db).await {
        Ok(0) => {}
        Ok(swept) => tracing::info!(swept, "removed files no message uses"),
        Err(e) => tracing::warn!(error = %e, "could not sweep unused files"),
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
