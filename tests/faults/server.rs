//! One real `hearth serve` process ([`hearth_testkit::Child`]), with what the fault
//! tests ask of it: people who sign up there, and a failure that shows its log.
use std::{
    ops::{Deref, DerefMut},
    path::Path,
    time::Duration,
};

use crate::helpers::Visitor;

/// How long a server may take to come up (migrations included, on a busy machine).
const STARTUP: Duration = Duration::from_secs(60);

pub struct Hearth(hearth_testkit::Child);

impl Deref for Hearth {
    type Target = hearth_testkit::Child;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for Hearth {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_hearth"))
}

impl Hearth {
    /// Starts `hearth serve` on `database_url` with `extra` flags, and waits until
    /// `/healthz` answers 200.
    pub async fn start(database_url: &str, extra: &[&str]) -> Hearth {
        match hearth_testkit::Child::hearth(binary(), Some(database_url), extra, &[], STARTUP).await
        {
            Ok(child) => Hearth(child),
            Err(e) => panic!("{e}"),
        }
    }

    /// Starts `hearth serve` without waiting for anything.
    pub fn spawn(database_url: &str, extra: &[&str]) -> Hearth {
        let child = hearth_testkit::Child::spawn_hearth(binary(), Some(database_url), extra, &[])
            .expect("hearth starts");
        Hearth(child)
    }

    /// The last lines of the log, for failure messages.
    pub fn log_tail(&self) -> String {
        self.0.log_tail(40)
    }

    /// Fails the test with `what` and the server's log.
    pub fn fail(&self, what: &str) -> ! {
        panic!("{what}\nhearth's log:\n{}", self.log_tail())
    }

    /// A visitor who has signed up as `username` here.
    pub async fn member(&self, username: &str) -> Visitor {
        let visitor = Visitor::new(self.0.addr);
        let resp = visitor.signup(username, "tulip-harbor-42").await;
        assert_eq!(resp.status(), 303, "sign-up of {username}");
        visitor
    }
}

/// POSTs `body` to the conversation as htmx does, with a CSRF token read earlier (the
/// page that carries it may not load while the database is away).
pub async fn post_htmx(
    visitor: &Visitor,
    token: &str,
    conversation: i64,
    body: &str,
) -> reqwest::Result<reqwest::Response> {
    visitor
        .http
        .post(visitor.url(&format!("/conversations/{conversation}/messages")))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", token)
        .form(&[("body", body)])
        .send()
        .await
}

/// Every message of the room at `room_url`, oldest first, read as a person would: the
/// page, then "older messages" (`?before=`) until there are none.
pub async fn all_messages(visitor: &Visitor, room_url: &str) -> Vec<(i64, String)> {
    let mut messages: Vec<(i64, String)> = Vec::new();
    let mut path = room_url.to_owned();
    loop {
        let page = visitor.page(&path).await;
        assert_eq!(page.status, 200, "GET {path}");
        let ids = page.message_ids();
        let bodies = page.message_bodies();
        assert_eq!(ids.len(), bodies.len(), "every message has a body");
        let Some(&oldest) = ids.first() else { break };
        let mut older: Vec<(i64, String)> = ids.into_iter().zip(bodies).collect();
        older.append(&mut messages);
        messages = older;
        path = format!("{room_url}?before={oldest}");
    }
    messages
}
