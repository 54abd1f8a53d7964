//! What every browser test needs: a chromedriver of its own on a free port, one headless
//! Chromium per person (its own WebDriver session and profile directory, so two people are
//! two browsers that share no cookies), and waits that poll the page until a condition
//! holds or a deadline passes.
//!
//! When a wait fails, the page as it stood is saved under `target/screenshots/` (a PNG,
//! the DOM as HTML and the browser's console log), and the panic names the files.
//!
//! A missing Chromium or chromedriver is a failure, not a skip: these tests are
//! `#[ignore]`d in a plain `cargo test`, so whoever runs them asked for a browser.
use std::{
    io::{Read, Write},
    net::{Ipv4Addr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use fantoccini::{Client, ClientBuilder, Locator, elements::Element, key::Key};
use serde_json::{Value, json};
use tempfile::TempDir;

/// How long a wait lasts before the test fails. Waits end as soon as the condition holds.
pub const WAIT: Duration = Duration::from_secs(10);

/// How often a wait looks at the page again.
const POLL: Duration = Duration::from_millis(50);

const CHROMEDRIVER: (&str, &str) = ("HEARTH_CHROMEDRIVER", "/usr/bin/chromedriver");
const CHROMIUM: (&str, &str) = ("HEARTH_CHROMIUM", "/usr/bin/chromium");

/// Enter, as a key press sent to an element.
pub fn enter() -> String {
    Key::Enter.to_string()
}

/// Shift+Enter: chromedriver holds a modifier down for the rest of the keys sent.
pub fn shift_enter() -> String {
    format!("{}{}", Key::Shift, Key::Enter)
}

/// Where screenshots and failure evidence go: `target/screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .join("screenshots");
    std::fs::create_dir_all(&dir).expect("create target/screenshots");
    dir
}

/// A program the tests cannot run without; panics with how to install it.
fn program((env, default): (&str, &str)) -> PathBuf {
    let path = std::env::var_os(env).map_or_else(|| PathBuf::from(default), PathBuf::from);
    assert!(
        path.is_file(),
        "browser tests need {} (or set {env}): apt-get install -y chromium chromium-driver",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// What a person's browser is set up with.
#[derive(Clone, Default)]
pub struct Options {
    /// Desktop notifications allowed for every site, as if the person had clicked "Allow".
    pub allow_notifications: bool,
    /// Desktop notifications refused for every site, as if the person had clicked "Block".
    pub deny_notifications: bool,
    /// JavaScript switched off, as some people browse.
    pub no_javascript: bool,
}

/// axe-core's script (from npm, installed by `.ci/run` under `target/npm`), read once.
fn axe_source() -> &'static str {
    static SOURCE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SOURCE.get_or_init(|| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target/npm/node_modules/axe-core/axe.min.js");
        std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "axe-core is needed at {} ({e}): install it with \
                 `mkdir -p target/npm && cp tests/browser/package*.json target/npm && \
                 (cd target/npm && npm ci)`, as .ci/run does",
                path.display()
            )
        })
    })
}

/// A chromedriver process for one test; it ends the browsers it started, then itself.
pub struct Driver {
    child: Child,
    port: u16,
    /// Sessions not closed yet, with their profile directories (removed after the
    /// browser has quit).
    open: Arc<Mutex<Vec<(String, TempDir)>>>,
}

impl Driver {
    /// Starts chromedriver on a free port and waits until it answers.
    pub async fn start() -> Driver {
        let chromedriver = program(CHROMEDRIVER);
        program(CHROMIUM);
        // A port found free can be taken before chromedriver binds it: try another.
        for _ in 0..3 {
            let port = free_port();
            let child = Command::new(&chromedriver)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromedriver.display()));
            let mut driver = Driver {
                child,
                port,
                open: Arc::default(),
            };
            if driver.ready().await {
                return driver;
            }
        }
        panic!("chromedriver did not start (three ports tried)");
    }

    /// Polls `/status` until chromedriver says it is ready; false if it exited.
    async fn ready(&mut self) -> bool {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            let status = http.get(format!("{}/status", self.url())).send().await;
            if let Ok(resp) = status
                && let Ok(body) = resp.text().await
                && body.contains("\"ready\":true")
            {
                return true;
            }
            tokio::time::sleep(POLL).await;
        }
        panic!(
            "chromedriver on port {} did not answer within {WAIT:?}",
            self.port
        );
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A new browser for `person`, opened on nothing yet; `base` is the site's URL.
    pub async fn browser(&self, person: &str, base: &str, options: Options) -> Browser {
        let profile = tempfile::Builder::new()
            .prefix(&format!("hearth-chromium-{person}-"))
            .tempdir()
            .expect("a profile directory");
        let mut prefs = json!({
            "credentials_enable_service": false,
            "profile.password_manager_enabled": false,
        });
        if options.allow_notifications {
            prefs["profile.default_content_setting_values.notifications"] = json!(1);
        }
        if options.deny_notifications {
            prefs["profile.default_content_setting_values.notifications"] = json!(2);
        }
        if options.no_javascript {
            prefs["profile.managed_default_content_settings.javascript"] = json!(2);
        }
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": program(CHROMIUM),
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-extensions",
                    "--no-first-run",
                    "--no-default-browser-check",
                    "--password-store=basic",
                    "--window-size=1280,860",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
                "prefs": prefs,
            },
            "goog:loggingPrefs": { "browser": "ALL" },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let client = ClientBuilder::native()
            .capabilities(capabilities)
            .connect(&self.url())
            .await
            .unwrap_or_else(|e| panic!("chromium did not start for {person}: {e}"));
        let session = client
            .session_id()
            .await
            .ok()
            .flatten()
            .expect("a WebDriver session id");
        self.open.lock().unwrap().push((session.clone(), profile));
        Browser {
            client,
            person: person.to_owned(),
            base: base.trim_end_matches('/').to_owned(),
            session,
            driver: self.url(),
            open: self.open.clone(),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // A test that panicked left its sessions open: end them here, synchronously (no
        // async in drop), so that chromedriver stops its Chromium processes before it
        // is killed itself. Then the profile directories can go.
        let open = std::mem::take(&mut *self.open.lock().unwrap_or_else(|e| e.into_inner()));
        for (session, _profile) in &open {
            delete_session(self.port, session);
        }
        drop(open);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `DELETE /session/{id}` over a plain blocking socket; answers once the reply is in
/// (chromedriver keeps the connection open, so reading to the end would hang).
fn delete_session(port: u16, session: &str) {
    let Ok(mut stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(WAIT));
    let request = format!(
        "DELETE /session/{session} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return;
    }
    let mut reply = Vec::new();
    let mut chunk = [0; 4096];
    while let Ok(n @ 1..) = stream.read(&mut chunk) {
        reply.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&reply);
        if let Some(head_end) = text.find("\r\n\r\n") {
            let length = text[..head_end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().to_owned())
                })
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if reply.len() >= head_end + 4 + length {
                return;
            }
        }
    }
}

/// One person's browser.
pub struct Browser {
    pub client: Client,
    pub person: String,
    base: String,
    session: String,
    driver: String,
    open: Arc<Mutex<Vec<(String, TempDir)>>>,
}

impl Browser {
    /// Opens `path` of the site and waits for the page to load.
    pub async fn goto(&self, path: &str) {
        let url = format!("{}{path}", self.base);
        self.client
            .goto(&url)
            .await
            .unwrap_or_else(|e| panic!("{}: cannot open {url}: {e}", self.person));
    }

    /// The path of the page shown (`/rooms/general`).
    pub async fn path(&self) -> String {
        self.client
            .current_url()
            .await
            .map(|u| u.path().to_owned())
            .unwrap_or_default()
    }

    /// Runs `script` in the page (a function body: `return …`; arguments in `arguments`).
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("{}: script failed: {e}\n{script}", self.person))
    }

    /// Waits until `probe` answers `Some`, and answers that. On timeout the page is saved
    /// as evidence and the test fails.
    pub async fn until<T>(&self, what: &str, probe: impl AsyncFnMut() -> Option<T>) -> T {
        self.until_within(WAIT, what, probe).await
    }

    pub async fn until_within<T>(
        &self,
        patience: Duration,
        what: &str,
        mut probe: impl AsyncFnMut() -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + patience;
        loop {
            if let Some(found) = probe().await {
                return found;
            }
            if Instant::now() >= deadline {
                let url = self
                    .client
                    .current_url()
                    .await
                    .map(|u| u.to_string())
                    .unwrap_or_default();
                let evidence = self.evidence(&format!("failed-{}", slug(what))).await;
                panic!(
                    "{person}: {what}: not within {patience:?}\n  page: {url}\n  evidence: {evidence}",
                    person = self.person
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until `script` (a function body) returns something other than
    /// null/false/0/""/undefined, and answers it. Script errors (say, a node swapped
    /// out mid-look) count as "not yet".
    pub async fn until_js(&self, what: &str, script: &str, args: Vec<Value>) -> Value {
        self.until(what, async || {
            let value = self.client.execute(script, args.clone()).await.ok()?;
            truthy(&value).then_some(value)
        })
        .await
    }

    /// The first element matching `css`, waited for.
    pub async fn find(&self, css: &str) -> Element {
        self.until(&format!("an element {css}"), async || {
            self.client.find(Locator::Css(css)).await.ok()
        })
        .await
    }

    /// The text of `css` as a person sees it ("" when it is hidden or missing).
    pub async fn visible_text(&self, css: &str) -> String {
        match self.client.find(Locator::Css(css)).await {
            Ok(el) => el.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Types `text` into the field `css` (keys, as a person types them).
    pub async fn type_into(&self, css: &str, text: &str) {
        self.find(css)
            .await
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("{}: cannot type into {css}: {e}", self.person));
    }

    pub async fn click(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("{}: cannot click {css}: {e}", self.person));
    }

    /// Waits until the page shows `path`.
    pub async fn until_at(&self, path: &str) {
        self.until(&format!("the page {path}"), async || {
            (self.path().await == path).then_some(())
        })
        .await;
    }

    /// Waits until the page's WebSocket is up (`#connection-status` says so).
    pub async fn until_connected(&self) {
        self.until_js(
            "the page's socket connected",
            "const s = document.getElementById('connection-status');\
             return s && s.dataset.state === 'connected';",
            vec![],
        )
        .await;
    }

    /// Marks the current document, to tell later whether the page was reloaded.
    pub async fn mark_page(&self) {
        self.js(
            "window.__hearthTestMark = 'not reloaded'; return true;",
            vec![],
        )
        .await;
    }

    /// True if the document marked by [`Browser::mark_page`] is still the one shown.
    pub async fn page_is_marked(&self) -> bool {
        self.js("return window.__hearthTestMark === 'not reloaded';", vec![])
            .await
            == json!(true)
    }

    /// The messages in `#messages`, in page order, as (element id, visible body text).
    pub async fn messages(&self) -> Vec<(String, String)> {
        let value = self
            .js(
                "return [...document.querySelectorAll('#messages article.message')]\
                   .map(a => [a.id, (a.querySelector('.message-body') || a).innerText]);",
                vec![],
            )
            .await;
        serde_json::from_value(value).expect("a list of messages")
    }

    /// Saves a screenshot as `target/screenshots/{name}.png`; answers its path. Waits
    /// (briefly, best effort) for finite animations to end, so that a message that just
    /// arrived is not caught half faded in.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            let settled = self
                .client
                .execute(
                    "return document.getAnimations()\
                       .every(a => a.effect.getComputedTiming().iterations === Infinity);",
                    vec![],
                )
                .await;
            if !matches!(settled, Ok(Value::Bool(false))) {
                break;
            }
            tokio::time::sleep(POLL).await;
        }
        let png = self
            .client
            .screenshot()
            .await
            .unwrap_or_else(|e| panic!("{}: screenshot failed: {e}", self.person));
        let path = screenshot_dir().join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write the screenshot");
        path
    }

    /// Saves the page as it stands: screenshot, DOM and console log, as
    /// `target/screenshots/{name}-{person}.*`. Best effort; answers what was written.
    pub async fn evidence(&self, name: &str) -> String {
        let stem = screenshot_dir().join(format!("{name}-{}", self.person));
        let mut written = Vec::new();
        if let Ok(png) = self.client.screenshot().await
            && std::fs::write(stem.with_extension("png"), png).is_ok()
        {
            written.push(stem.with_extension("png"));
        }
        if let Ok(html) = self.client.source().await
            && std::fs::write(stem.with_extension("html"), html).is_ok()
        {
            written.push(stem.with_extension("html"));
        }
        let log = self.console_log().await;
        if std::fs::write(stem.with_extension("log"), log).is_ok() {
            written.push(stem.with_extension("log"));
        }
        written
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The browser's console since the last call (chromedriver's `se/log`).
    pub async fn console_log(&self) -> String {
        let resp = reqwest::Client::new()
            .post(format!("{}/session/{}/se/log", self.driver, self.session))
            .header("Content-Type", "application/json")
            .body(r#"{"type":"browser"}"#)
            .send()
            .await;
        let Ok(resp) = resp else { return String::new() };
        let body: Value =
            serde_json::from_str(&resp.text().await.unwrap_or_default()).unwrap_or_default();
        body["value"]
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .map(|e| {
                        format!(
                            "{} {}\n",
                            e["level"].as_str().unwrap_or("?"),
                            e["message"].as_str().unwrap_or("")
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Quits this browser (its window, its sockets, its process).
    /// Sets the window's size (a phone is 320-430 px wide).
    pub async fn resize(&self, width: u32, height: u32) {
        self.client
            .set_window_size(width, height)
            .await
            .unwrap_or_else(|e| panic!("{}: cannot resize to {width}×{height}: {e}", self.person));
    }

    /// How much wider than the window the page is, or than a box that scrolls or clips
    /// it sideways (code blocks and dot-sized indicators excepted; 0 when it fits), and what sticks out.
    pub async fn overflow(&self) -> (i64, String) {
        let value = self
            .js(
                "const w = document.documentElement.clientWidth;\
                 const scrolls = e => { for (let p = e.parentElement; p; p = p.parentElement) {\
                   if (getComputedStyle(p).overflowX !== 'visible') return true; } return false; };\
                 const wide = [...document.querySelectorAll('body *')]\
                   .filter(e => e.getBoundingClientRect().right > w + 1 && e.getClientRects().length && !scrolls(e))\
                   .slice(0, 5).map(e => e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className);\
                 const clipped = [...document.querySelectorAll('body *')].filter(e => {\
                   const s = getComputedStyle(e);\
                   return e.tagName !== 'PRE' && e.clientWidth > 16 && s.overflowX !== 'visible' && s.textOverflow !== 'ellipsis'\
                     && e.scrollWidth > e.clientWidth + 1; });\
                 const over = Math.max(document.documentElement.scrollWidth - w,\
                   ...clipped.map(e => e.scrollWidth - e.clientWidth));\
                 const named = clipped.slice(0, 3).map(e => 'inside ' + e.tagName + (e.id ? '#' + e.id : ''));\
                 return [over, wide.concat(named).join(', ')];",
                vec![],
            )
            .await;
        (
            value[0].as_i64().unwrap_or(0),
            value[1].as_str().unwrap_or_default().to_owned(),
        )
    }

    /// The serious and critical violations axe-core finds on the page, one line each.
    pub async fn accessibility_violations(&self) -> Vec<String> {
        self.js(&format!("{};return true;", axe_source()), vec![])
            .await;
        let found = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];\
                 axe.run(document, { resultTypes: ['violations'] }).then(r => done(\
                   r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')\
                     .map(v => v.id + ': ' + v.help + ' at ' +\
                       v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '))));",
                vec![],
            )
            .await
            .unwrap_or_else(|e| panic!("{}: axe did not run: {e}", self.person));
        serde_json::from_value(found).unwrap_or_default()
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
        let mut open = self.open.lock().unwrap();
        open.retain(|(session, _)| session != &self.session);
    }
}

fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

fn slug(what: &str) -> String {
    let mut slug: String = what
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    slug.truncate(60);
    slug.trim_matches('-').to_owned()
}

/// Signs `browser`'s person up through the form (password `tulip-harbor-42`); ends on the lobby.
pub async fn sign_up(browser: &Browser) {
    browser.goto("/signup").await;
    browser.type_into("#username", &browser.person).await;
    browser.type_into("#password", "tulip-harbor-42").await;
    browser
        .click("form[action='/signup'] button[type=submit]")
        .await;
    browser.until_at("/").await;
}

/// Creates a room through the lobby's form; answers the room's path.
pub async fn create_room(browser: &Browser, name: &str) -> String {
    browser.goto("/").await;
    browser.type_into("#room-name", name).await;
    browser
        .click("form[action='/rooms'] button[type=submit]")
        .await;
    browser
        .until(&format!("the room {name} opened"), async || {
            let path = browser.path().await;
            path.starts_with("/rooms/").then_some(path)
        })
        .await
}
