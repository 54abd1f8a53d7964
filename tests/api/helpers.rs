//! What every integration test needs: a real hearth server on a free port with a
//! database of its own, and a client that behaves like one person's browser (its own
//! cookie jar, the CSRF token read off the page, WebSockets that carry the cookie).
#![allow(dead_code)]

use std::{net::SocketAddr, sync::Arc, time::Duration};

use futures_util::{SinkExt, StreamExt};
use reqwest::{StatusCode, cookie::CookieStore, redirect::Policy};
use scraper::{Html, Selector};
use tokio::{net::TcpStream, sync::oneshot, task::JoinHandle};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a test waits for something that should happen at once (a frame, a count)
/// before it fails. Not a sleep: waits end as soon as the thing happens.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// A running server with its own database.
pub struct TestApp {
    pub addr: SocketAddr,
    /// Where `/metrics` is served, when the config asked for a metrics address.
    pub metrics_addr: Option<SocketAddr>,
    pub database_url: String,
    pub state: hearth::startup::Parts,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    _dir: Option<tempfile::TempDir>,
    _files_dir: Option<tempfile::TempDir>,
    pg: Option<TestDatabase>,
}

/// How a test wants its server: the backend comes from `HEARTH_TEST_BACKEND`
/// (`postgres` runs every test on PostgreSQL), everything else from the test.
pub struct AppBuilder {
    database_url: Option<String>,
    addr: String,
    production_limits: bool,
    adjust: Vec<Adjustment>,
}

/// A change a test makes to its server's config.
type Adjustment = Box<dyn FnOnce(&mut hearth::Config) + Send>;

impl AppBuilder {
    /// The abuse limits as in production (tests otherwise raise them far out of the
    /// way, since one test may post hundreds of messages).
    pub fn production_limits(mut self) -> Self {
        self.production_limits = true;
        self
    }

    /// Changes the config before the server starts.
    pub fn configure(mut self, adjust: impl FnOnce(&mut hearth::Config) + Send + 'static) -> Self {
        self.adjust.push(Box::new(adjust));
        self
    }

    /// Serves this database (kept by the caller) instead of a fresh one.
    pub fn database(mut self, url: &str) -> Self {
        self.database_url = Some(url.to_owned());
        self
    }

    /// Listens on `addr` instead of a free port.
    pub fn addr(mut self, addr: &str) -> Self {
        self.addr = addr.to_owned();
        self
    }

    pub async fn spawn(self) -> TestApp {
        let (mut dir, mut pg) = (None, None);
        let url = match self.database_url {
            Some(url) => url,
            None if std::env::var("HEARTH_TEST_BACKEND").as_deref() == Ok("postgres") => {
                let database = TestDatabase::create().await;
                let url = database.url().to_owned();
                pg = Some(database);
                url
            }
            None => {
                let temp = tempfile::tempdir().expect("temp dir");
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    temp.path().join("hearth.db").display()
                );
                dir = Some(temp);
                url
            }
        };
        let mut config = hearth::Config::for_database(&url);
        config.addr = self.addr;
        config.shutdown_grace = Duration::from_secs(2);
        if !self.production_limits {
            config.limits.message_burst = 1_000_000;
            config.limits.signup_burst = 10_000;
            config.limits.login_failures_per_account = 10_000;
            config.limits.login_failures_per_address = 10_000;
            config.limits.room_burst = 10_000;
            config.limits.hashes_in_flight_per_address = 10_000;
            config.limits.hashes_in_flight = 10_000;
        }
        // Files go beside a SQLite database; on PostgreSQL, to a folder of the test's own.
        let mut files_dir = None;
        if pg.is_some() {
            let temp = tempfile::tempdir().expect("temp dir");
            config.files.url = Some(temp.path().join("files").display().to_string());
            files_dir = Some(temp);
        }
        for adjust in self.adjust {
            adjust(&mut config);
        }
        let mut app = TestApp::serve(config).await;
        app._dir = dir;
        app._files_dir = files_dir;
        app.pg = pg;
        app
    }
}

impl TestApp {
    /// A server on a fresh database of its own: SQLite, or PostgreSQL when
    /// `HEARTH_TEST_BACKEND=postgres` (the suite's PostgreSQL run sets it).
    pub async fn spawn() -> TestApp {
        Self::builder().spawn().await
    }

    /// A server to be set up before it starts.
    pub fn builder() -> AppBuilder {
        AppBuilder {
            database_url: None,
            addr: "127.0.0.1:0".to_owned(),
            production_limits: false,
            adjust: Vec::new(),
        }
    }

    async fn serve(config: hearth::Config) -> TestApp {
        let database_url = config.database_url.clone();
        let server = hearth::Server::build(config).await.expect("server builds");
        let addr = server.local_addr();
        let metrics_addr = server.metrics_addr();
        let state = server.parts();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = server
                .run_until(async {
                    let _ = stopped.await;
                })
                .await;
        });
        TestApp {
            addr,
            metrics_addr,
            database_url,
            state,
            stop: Some(stop),
            task: Some(task),
            _dir: None,
            _files_dir: None,
            pg: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A new visitor with an empty cookie jar.
    pub fn visitor(&self) -> Visitor {
        Visitor::new(self.addr)
    }

    /// A new visitor whose connections come from the loopback address `local`.
    pub fn visitor_from(&self, local: [u8; 4]) -> Visitor {
        Visitor::from_address(self.addr, local)
    }

    /// A visitor who has signed up as `username` (password `tulip-harbor-42`).
    pub async fn member(&self, username: &str) -> Visitor {
        let visitor = self.visitor();
        let resp = visitor.signup(username, "tulip-harbor-42").await;
        assert_eq!(
            resp.status(),
            StatusCode::SEE_OTHER,
            "sign-up of {username} failed"
        );
        visitor
    }

    /// Stops the server gracefully and waits until it has stopped; the database stays.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Takes the database, so it outlives this server (for restarts): it lasts as long
    /// as what this answers.
    pub fn keep_database(&mut self) -> KeptDatabase {
        KeptDatabase {
            _dir: self._dir.take(),
            _pg: self.pg.take(),
        }
    }
}

/// A test's database, kept beyond its first server.
pub struct KeptDatabase {
    _dir: Option<tempfile::TempDir>,
    _pg: Option<TestDatabase>,
}

pub use hearth_testkit::postgres_server;

/// A PostgreSQL database of one test's own, dropped when the test ends.
pub struct TestDatabase(hearth_testkit::ScratchDatabase);

impl TestDatabase {
    pub async fn create() -> TestDatabase {
        match hearth_testkit::ScratchDatabase::create(&postgres_server(), "test").await {
            Ok(database) => TestDatabase(database),
            Err(e) => panic!("PostgreSQL is needed for this test: {e}"),
        }
    }

    pub fn url(&self) -> &str {
        &self.0.url
    }
}

/// One person's browser.
#[derive(Clone)]
pub struct Visitor {
    pub http: reqwest::Client,
    jar: Arc<reqwest::cookie::Jar>,
    base: String,
    addr: SocketAddr,
}

pub struct Page {
    pub status: StatusCode,
    pub html: Html,
    pub text: String,
}

impl Page {
    pub fn select(&self, css: &str) -> Vec<scraper::ElementRef<'_>> {
        let selector = Selector::parse(css).expect("valid selector");
        self.html.select(&selector).collect()
    }

    pub fn has(&self, css: &str) -> bool {
        !self.select(css).is_empty()
    }

    /// The text of the first element matching `css`.
    pub fn text_of(&self, css: &str) -> Option<String> {
        self.select(css)
            .first()
            .map(|e| e.text().collect::<String>())
    }

    pub fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.select(css)
            .first()
            .and_then(|e| e.value().attr(name))
            .map(str::to_owned)
    }

    pub fn csrf_token(&self) -> String {
        self.attr("input[name=csrf_token]", "value")
            .expect("page has a CSRF token")
    }

    /// Ids of the messages on the page, in page order.
    pub fn message_ids(&self) -> Vec<i64> {
        self.select("#messages article.message")
            .iter()
            .filter_map(|e| e.value().id()?.strip_prefix("message-")?.parse().ok())
            .collect()
    }

    /// Bodies of the messages on the page, in page order.
    pub fn message_bodies(&self) -> Vec<String> {
        self.select("#messages article.message .message-body")
            .iter()
            .map(|e| e.text().collect::<String>())
            .collect()
    }
}

impl Visitor {
    /// A new visitor of the server at `addr`, with an empty cookie jar.
    pub fn new(addr: SocketAddr) -> Visitor {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        Visitor {
            http: client_with(&jar),
            jar,
            base: format!("http://{addr}"),
            addr,
        }
    }

    /// A new visitor of the server at `addr` whose connections come from `local`, a
    /// loopback address of its own (`127.0.0.2`, …): another network, as the server
    /// sees it.
    pub fn from_address(addr: SocketAddr, local: [u8; 4]) -> Visitor {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let http = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(Policy::none())
            .local_address(std::net::IpAddr::from(local))
            .build()
            .expect("http client");
        Visitor {
            http,
            jar,
            base: format!("http://{addr}"),
            addr,
        }
    }

    /// The same person (same cookies) talking to the server at `addr` instead, as
    /// when a load balancer sends them to another process.
    pub fn at(&self, addr: SocketAddr) -> Visitor {
        // The jar keys cookies by host; every process here is 127.0.0.1.
        Visitor {
            http: client_with(&self.jar),
            jar: self.jar.clone(),
            base: format!("http://{addr}"),
            addr,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.expect("GET")
    }

    /// The unread count the lobby's sidebar shows for `conversation`.
    pub async fn unread_on_lobby(&self, conversation: i64) -> Option<i64> {
        self.page("/")
            .await
            .attr(&format!("#unread-{conversation}"), "data-count")
            .and_then(|v| v.parse().ok())
    }

    pub async fn page(&self, path: &str) -> Page {
        let resp = self.get(path).await;
        let status = resp.status();
        let text = resp.text().await.expect("body");
        Page {
            status,
            html: Html::parse_document(&text),
            text,
        }
    }

    /// The CSRF token of this visitor's session (read off a page, as a browser would).
    pub async fn csrf_token(&self) -> String {
        // Signed-in visitors are sent from /login to the lobby; both pages carry it.
        let resp = self.get("/login").await;
        let path = if resp.status().is_redirection() {
            "/"
        } else {
            "/login"
        };
        self.page(path).await.csrf_token()
    }

    /// POSTs a form with this session's CSRF token added.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let token = self.csrf_token().await;
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf_token", &token));
        self.post_raw(path, &form).await
    }

    /// POSTs exactly `fields`, with no token added.
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .form(fields)
            .send()
            .await
            .expect("POST")
    }

    /// POSTs as htmx does: the token in `X-CSRF-Token`, `HX-Request: true`.
    pub async fn post_htmx(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let token = self.csrf_token().await;
        self.http
            .post(self.url(path))
            .header("HX-Request", "true")
            .header("X-CSRF-Token", token)
            .form(fields)
            .send()
            .await
            .expect("POST")
    }

    /// Posts `body` to a conversation as the page's composer does with htmx; answers
    /// the new message's id (the post must succeed).
    pub async fn post_message(&self, conversation: i64, body: &str) -> i64 {
        let resp = self
            .post_htmx(
                &format!("/conversations/{conversation}/messages"),
                &[("body", body)],
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK, "post of {body:?}");
        message_ids_in(&resp.text().await.expect("fragment"))[0]
    }

    /// POSTs `value` as JSON, as a page's script does (the token in `X-CSRF-Token`).
    pub async fn post_json(&self, path: &str, value: &serde_json::Value) -> reqwest::Response {
        let token = self.csrf_token().await;
        self.http
            .post(self.url(path))
            .header("X-CSRF-Token", token)
            .header("Content-Type", "application/json")
            .body(value.to_string())
            .send()
            .await
            .expect("POST")
    }

    pub async fn signup(&self, username: &str, password: &str) -> reqwest::Response {
        self.post_form("/signup", &[("username", username), ("password", password)])
            .await
    }

    pub async fn login(&self, username: &str, password: &str) -> reqwest::Response {
        self.post_form("/login", &[("username", username), ("password", password)])
            .await
    }

    /// Creates a room; answers its URL.
    pub async fn create_room(&self, name: &str) -> String {
        let resp = self.post_form("/rooms", &[("name", name)]).await;
        assert_eq!(
            resp.status(),
            StatusCode::SEE_OTHER,
            "room {name} was not created"
        );
        location(&resp)
    }

    /// The conversation id of a page (`main[data-conversation-id]`).
    pub async fn conversation_id(&self, path: &str) -> i64 {
        self.page(path)
            .await
            .attr("main", "data-conversation-id")
            .and_then(|v| v.parse().ok())
            .expect("a conversation page")
    }

    /// Posts a message through the composer (as a plain form); answers the response.
    pub async fn say(&self, conversation_id: i64, body: &str) -> reqwest::Response {
        self.post_form(
            &format!("/conversations/{conversation_id}/messages"),
            &[("body", body)],
        )
        .await
    }

    pub fn cookie_header(&self) -> String {
        let url = self.base.parse().expect("base url");
        self.jar
            .cookies(&url)
            .and_then(|v| v.to_str().ok().map(str::to_owned))
            .unwrap_or_default()
    }

    /// Opens the page's WebSocket at `path` (e.g. `/ws?conversation=1`), with this
    /// visitor's cookie and this site's Origin.
    pub async fn socket(&self, path: &str) -> Socket {
        self.try_socket(path, Some(&format!("http://{}", self.addr)))
            .await
            .expect("socket opens")
    }

    /// Tries to open a socket; answers the HTTP status on refusal.
    pub async fn try_socket(&self, path: &str, origin: Option<&str>) -> Result<Socket, u16> {
        let mut request = format!("ws://{}{}", self.addr, path)
            .into_client_request()
            .expect("ws request");
        let cookie = self.cookie_header();
        if !cookie.is_empty() {
            request
                .headers_mut()
                .insert("Cookie", HeaderValue::from_str(&cookie).expect("cookie"));
        }
        if let Some(origin) = origin {
            request
                .headers_mut()
                .insert("Origin", HeaderValue::from_str(origin).expect("origin"));
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((socket, _)) => Ok(socket),
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
            Err(e) => panic!("socket failed: {e}"),
        }
    }
}

impl Visitor {
    /// Asks for a socket that is expected to be refused; answers the refusal (status
    /// and headers).
    pub async fn raw_socket_refusal(
        &self,
        path: &str,
    ) -> tokio_tungstenite::tungstenite::http::Response<Option<Vec<u8>>> {
        let mut request = format!("ws://{}{}", self.addr, path)
            .into_client_request()
            .expect("ws request");
        let cookie = self.cookie_header();
        if !cookie.is_empty() {
            request
                .headers_mut()
                .insert("Cookie", HeaderValue::from_str(&cookie).expect("cookie"));
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok(_) => panic!("the socket was not refused"),
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => *resp,
            Err(e) => panic!("socket failed: {e}"),
        }
    }
}

/// An HTTP client that keeps cookies in `jar` and does not follow redirects (tests
/// look at them).
fn client_with(jar: &Arc<reqwest::cookie::Jar>) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(Policy::none())
        .build()
        .expect("http client")
}

pub fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Reads text frames until one satisfies `wanted`; fails after [`PATIENCE`].
pub async fn frame_where(socket: &mut Socket, wanted: impl Fn(&str) -> bool) -> String {
    let found = tokio::time::timeout(PATIENCE, async {
        while let Some(frame) = socket.next().await {
            if let Ok(Message::Text(text)) = frame {
                if wanted(text.as_str()) {
                    return Some(text.as_str().to_owned());
                }
            }
        }
        None
    })
    .await;
    match found {
        Ok(Some(text)) => text,
        Ok(None) => panic!("the socket closed before the expected frame"),
        Err(_) => panic!("no expected frame within {PATIENCE:?}"),
    }
}

/// The text frames that arrive within `window` (for asserting that nothing more came).
pub async fn frames_within(socket: &mut Socket, window: Duration) -> Vec<String> {
    let mut frames = Vec::new();
    let _ = tokio::time::timeout(window, async {
        while let Some(Ok(frame)) = socket.next().await {
            if let Message::Text(text) = frame {
                frames.push(text.as_str().to_owned());
            }
        }
    })
    .await;
    frames
}

/// Message ids in a frame (`id="message-N"`), in order.
pub fn message_ids_in(frame: &str) -> Vec<i64> {
    frame
        .match_indices("id=\"message-")
        .filter_map(|(at, m)| {
            let rest = &frame[at + m.len()..];
            rest[..rest.find('"')?].parse().ok()
        })
        .collect()
}

/// Collects message frames until `count` message ids have arrived; answers them.
pub async fn message_ids(socket: &mut Socket, count: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    while ids.len() < count {
        let frame = frame_where(socket, |f| f.contains("id=\"message-")).await;
        ids.extend(message_ids_in(&frame));
    }
    ids
}

pub async fn send_json(socket: &mut Socket, value: serde_json::Value) {
    socket
        .send(Message::text(value.to_string()))
        .await
        .expect("send");
}

/// Waits until `check` holds, polling; fails after [`PATIENCE`].
pub async fn eventually<F, Fut>(what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if check().await {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("{what}: not within {PATIENCE:?}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
// ---------------------------------------------------------------------------------------
// Helpers for the page-level tests (accounts, rooms, messages).

impl TestApp {
    /// How many rows `table` holds, read straight from the server's database: what a
    /// refused request must leave unchanged.
    pub async fn rows(&self, table: &str) -> i64 {
        use sea_orm::ConnectionTrait;
        let backend = self.state.db.get_database_backend();
        let statement =
            sea_orm::Statement::from_string(backend, format!("SELECT COUNT(*) AS n FROM {table}"));
        let row = self
            .state
            .db
            .query_one_raw(statement)
            .await
            .unwrap_or_else(|e| panic!("counting the rows of {table} failed: {e}"))
            .unwrap_or_else(|| panic!("counting the rows of {table} gave no row"));
        row.try_get::<i64>("", "n")
            .unwrap_or_else(|e| panic!("the count of {table} is not a number: {e}"))
    }

    /// A new browser that starts with `cookie` (`name=value`), as if someone had copied
    /// a session cookie into it.
    pub fn visitor_with_cookie(&self, cookie: &str) -> Visitor {
        let visitor = self.visitor();
        let url = visitor.base.parse().expect("base url");
        visitor
            .jar
            .add_cookie_str(&format!("{cookie}; Path=/"), &url);
        visitor
    }
}

impl Visitor {
    /// This browser's session cookie as `hearth_session=…`, if it holds one.
    pub fn session_cookie(&self) -> Option<String> {
        self.cookie_header()
            .split(';')
            .map(str::trim)
            .find(|pair| pair.starts_with("hearth_session="))
            .map(str::to_owned)
    }

    /// POSTs `fields` with `token` in the `csrf_token` field (right or wrong).
    pub async fn post_with_token(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        token: &str,
    ) -> reqwest::Response {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf_token", token));
        self.post_raw(path, &form).await
    }

    /// GETs `path` as htmx does (`HX-Request: true`) and parses the answer.
    pub async fn htmx_page(&self, path: &str) -> Page {
        let resp = self
            .http
            .get(self.url(path))
            .header("HX-Request", "true")
            .send()
            .await
            .expect("GET");
        Page::read(resp).await
    }

    /// Whether this browser is signed in: the lobby opens instead of sending it to
    /// `/login`.
    pub async fn is_signed_in(&self) -> bool {
        let resp = self.get("/").await;
        match resp.status() {
            StatusCode::OK => true,
            StatusCode::SEE_OTHER if location(&resp) == "/login" => false,
            other => panic!("GET / answered {other} with location {:?}", location(&resp)),
        }
    }
}

impl Page {
    /// Parses a response already received (a page or an htmx fragment).
    pub async fn read(resp: reqwest::Response) -> Page {
        let status = resp.status();
        let text = resp.text().await.expect("body");
        Page {
            status,
            html: Html::parse_document(&text),
            text,
        }
    }

    /// The text of every element matching `css`, trimmed, in page order.
    pub fn texts(&self, css: &str) -> Vec<String> {
        self.select(css)
            .iter()
            .map(|e| e.text().collect::<String>().trim().to_owned())
            .collect()
    }
}

impl Visitor {
    /// Sends `fields` to `path` the ways a forged or stale form would: without a token,
    /// with an empty or made-up one, with `someone_elses` (another session's token), and
    /// with made-up or borrowed `X-CSRF-Token` headers; asserts each is refused with 403.
    pub async fn assert_forgeries_forbidden(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        someone_elses: &str,
    ) {
        let with_header = |token: &str| {
            self.http
                .post(self.url(path))
                .header("X-CSRF-Token", token.to_owned())
                .form(fields)
                .send()
        };
        let attempts = [
            ("no token", self.post_raw(path, fields).await),
            (
                "an empty token",
                self.post_with_token(path, fields, "").await,
            ),
            (
                "a made-up token",
                self.post_with_token(path, fields, "made-up-token").await,
            ),
            (
                "another session's token",
                self.post_with_token(path, fields, someone_elses).await,
            ),
            (
                "a made-up X-CSRF-Token header",
                with_header("made-up-token").await.expect("POST"),
            ),
            (
                "another session's token in X-CSRF-Token",
                with_header(someone_elses).await.expect("POST"),
            ),
        ];
        for (how, resp) in attempts {
            assert_eq!(
                resp.status(),
                StatusCode::FORBIDDEN,
                "POST {path} with {how} was not refused"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Files.

/// A file as a form sends it: its name, the type the client claims, its bytes.
pub struct Upload {
    pub name: String,
    pub claimed_type: String,
    pub bytes: Vec<u8>,
}

impl Upload {
    pub fn new(name: &str, claimed_type: &str, bytes: Vec<u8>) -> Upload {
        Upload {
            name: name.to_owned(),
            claimed_type: claimed_type.to_owned(),
            bytes,
        }
    }
}

impl TestApp {
    /// The folder the server keeps files in (disk storage).
    pub fn files_dir(&self) -> std::path::PathBuf {
        self.state
            .config
            .files
            .storage_url(&self.database_url)
            .into()
    }

    /// Every blob and thumbnail in the files folder, as `files/…` / `thumbnails/…`.
    pub fn stored_files(&self) -> Vec<String> {
        let mut found = Vec::new();
        for kind in ["files", "thumbnails"] {
            if let Ok(entries) = std::fs::read_dir(self.files_dir().join(kind)) {
                for entry in entries.flatten() {
                    found.push(format!("{kind}/{}", entry.file_name().to_string_lossy()));
                }
            }
        }
        found.sort();
        found
    }
}

impl Visitor {
    /// Posts `body` and `files` to a conversation's composer as a multipart form, the
    /// CSRF token first as the page's form sends it; as htmx when `htmx`.
    pub async fn post_files(
        &self,
        conversation: i64,
        body: &str,
        files: Vec<Upload>,
        htmx: bool,
    ) -> reqwest::Response {
        let token = self.csrf_token().await;
        let mut form = reqwest::multipart::Form::new()
            .text("csrf_token", token)
            .text("body", body.to_owned());
        for file in files {
            let part = reqwest::multipart::Part::bytes(file.bytes)
                .file_name(file.name)
                .mime_str(&file.claimed_type)
                .expect("a mime type");
            form = form.part("file", part);
        }
        let mut request = self
            .http
            .post(self.url(&format!("/conversations/{conversation}/messages")))
            .multipart(form);
        if htmx {
            request = request.header("HX-Request", "true");
        }
        request.send().await.expect("POST with files")
    }

    /// GETs `path` with a `Range` header, as a video player seeking does.
    pub async fn get_range(&self, path: &str, range: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .header("Range", range)
            .send()
            .await
            .expect("GET with a range")
    }

    /// Sends a prepared multipart form to a conversation's composer as it is.
    pub async fn post_multipart(
        &self,
        conversation: i64,
        form: reqwest::multipart::Form,
    ) -> reqwest::Response {
        self.http
            .post(self.url(&format!("/conversations/{conversation}/messages")))
            .header("HX-Request", "true")
            .multipart(form)
            .send()
            .await
            .expect("POST multipart")
    }
}
