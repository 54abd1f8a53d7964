//! PostgreSQL goes away under a running hearth and comes back. What a person notices:
//! while it is away, pages answer 503 in the site's own design within a few seconds,
//! `/healthz` and `/readyz` say 503, open pages stay connected and show a banner, and a
//! message they send is refused and not stored; once it is back, all of it heals
//! without restarting hearth (`/readyz` once the bus listens again), and nothing
//! committed before the outage is missing.
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use sea_orm::ConnectionTrait;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::{
    helpers::{Page, Socket, TestDatabase, Visitor, message_ids_in, postgres_server},
    proxy::Proxy,
    server::{Hearth, all_messages, post_htmx},
};

/// The longest a request may take to be answered while the database is away: the pool
/// waits this long for a connection before giving up (5 s), and a little more.
const ANSWER_WITHIN: Duration = Duration::from_secs(9);
/// How long the banner may take to appear or clear: the server checks the database
/// every 2 s, and a check of an unreachable one gives up after 5 s.
const BANNER_WITHIN: Duration = Duration::from_secs(15);
/// How long hearth may take to heal once the database is back.
const HEALS_WITHIN: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs postgres"]
async fn a_database_outage_answers_503_shows_a_banner_and_heals_by_itself() {
    let database = TestDatabase::create().await;
    let upstream = authority(&postgres_server());
    let proxy = Proxy::start(&upstream).await;
    let through_proxy = database
        .url()
        .replacen(&upstream, &proxy.addr().to_string(), 1);
    let hearth = Hearth::start(&through_proxy, &["--message-burst", "10000"]).await;

    let alice = hearth.member("alice").await;
    let bob = hearth.member("bob").await;
    let room_url = alice.create_room("general").await;
    let room = alice.conversation_id(&room_url).await;
    // Read off the page before the outage: no page loads while the database is away.
    let alice_token = alice.csrf_token().await;
    let mut alice_tab = Tab::open(&alice, &format!("/ws?conversation={room}&after=0")).await;
    let mut bob_tab = Tab::open(&bob, &format!("/ws?conversation={room}")).await;

    let mut before = Vec::new();
    for i in 0..5 {
        let resp = post_htmx(
            &alice,
            &alice_token,
            room,
            &format!("before the outage {i}"),
        )
        .await
        .expect("POST");
        assert_eq!(resp.status(), 200, "posting before the outage");
        before.extend(message_ids_in(&resp.text().await.expect("body")));
    }
    for id in &before {
        bob_tab
            .message(*id, Duration::from_secs(5))
            .await
            .unwrap_or_else(|e| hearth.fail(&format!("message {id} before the outage: {e}")));
    }

    // ---- The database goes away.
    proxy.stop().await;

    let health = timed(alice.http.get(hearth.url("/healthz")).send()).await;
    assert_eq!(health.status(), 503, "/healthz while the database is away");
    let ready = timed(alice.http.get(hearth.url("/readyz")).send()).await;
    assert_eq!(ready.status(), 503, "/readyz while the database is away");

    let started = Instant::now();
    let resp = timed(alice.http.get(alice.url(&room_url)).send()).await;
    assert_eq!(
        resp.status(),
        503,
        "the room page while the database is away"
    );
    let page = Page::read(resp).await;
    assert!(
        page.has("link[rel=stylesheet][href^='/assets/']") && page.has("header.topbar a.brand"),
        "the 503 page is not in the site's design:\n{}",
        page.text
    );
    assert!(
        page.text.contains("cannot reach its database"),
        "the 503 page does not say what is wrong:\n{}",
        page.text
    );
    eprintln!("the room page answered 503 after {:?}", started.elapsed());

    for tab in [&mut alice_tab, &mut bob_tab] {
        let banner = tab
            .banner(BANNER_WITHIN)
            .await
            .unwrap_or_else(|e| hearth.fail(&format!("the outage banner: {e}")));
        assert!(
            banner.contains("cannot reach its database"),
            "the banner says: {banner:?}"
        );
    }

    let resp = timed(post_htmx(
        &alice,
        &alice_token,
        room,
        "sent during the outage",
    ))
    .await;
    assert_eq!(resp.status(), 503, "posting while the database is away");
    bob_tab
        .send(json!({"type": "message", "body": "sent over the socket during the outage"}))
        .await;
    let refusal = bob_tab
        .next_where(ANSWER_WITHIN, |f| f.contains("id=\"composer-error\""))
        .await
        .unwrap_or_else(|e| hearth.fail(&format!("the socket's refusal: {e}")));
    assert!(
        refusal.contains("could not store that message"),
        "the socket's refusal: {refusal}"
    );

    // ---- The database comes back.
    proxy.resume().await;

    for tab in [&mut alice_tab, &mut bob_tab] {
        let banner = tab
            .banner(BANNER_WITHIN)
            .await
            .unwrap_or_else(|e| hearth.fail(&format!("the banner clearing: {e}")));
        assert_eq!(banner, "", "the banner does not clear");
    }
    let healed_at = Instant::now();
    let after = loop {
        let resp = post_htmx(&alice, &alice_token, room, "after the outage")
            .await
            .expect("POST");
        if resp.status() == 200 {
            break message_ids_in(&resp.text().await.expect("body"))[0];
        }
        assert!(
            healed_at.elapsed() < HEALS_WITHIN,
            "posting still answers {} {HEALS_WITHIN:?} after the database came back; hearth's log:\n{}",
            resp.status(),
            hearth.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // The same sockets, never closed, get the new message live.
    for tab in [&mut alice_tab, &mut bob_tab] {
        tab.message(after, HEALS_WITHIN)
            .await
            .unwrap_or_else(|e| hearth.fail(&format!("message {after} after the outage: {e}")));
    }
    // Right after the return is when a message is easiest to miss: committed before the
    // server listens for events again, it is heard only if the server then reads back
    // what it missed.
    bob_tab
        .send(json!({"type": "message", "body": "over the socket after the outage"}))
        .await;
    let accepted = bob_tab
        .next_where(ANSWER_WITHIN, |f| f.contains("id=\"composer-error\""))
        .await
        .unwrap_or_else(|e| hearth.fail(&format!("the socket's answer after the outage: {e}")));
    assert!(
        !accepted.contains("could not"),
        "posting over the socket after the outage: {accepted}"
    );
    let via_socket = alice_tab
        .next_where(HEALS_WITHIN, |f| {
            f.contains("over the socket after the outage")
        })
        .await
        .unwrap_or_else(|e| hearth.fail(&format!("the socket's post after the outage: {e}")));
    let via_socket = message_ids_in(&via_socket)[0];

    let health = alice
        .http
        .get(hearth.url("/healthz"))
        .send()
        .await
        .expect("GET");
    assert_eq!(
        health.status(),
        200,
        "/healthz after the database came back"
    );
    // Ready again once the bus listens again too.
    let ready_by = Instant::now() + HEALS_WITHIN;
    loop {
        let ready = alice
            .http
            .get(hearth.url("/readyz"))
            .send()
            .await
            .expect("GET");
        if ready.status() == 200 {
            break;
        }
        if Instant::now() > ready_by {
            let why = ready.text().await.unwrap_or_default();
            hearth.fail(&format!("/readyz after the database came back: {why}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Everything committed before the outage is there; nothing refused during it is.
    let shown: Vec<i64> = all_messages(&alice, &room_url)
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let mut expected = before.clone();
    expected.extend([after, via_socket]);
    assert_eq!(shown, expected, "the room's messages after the outage");
    let direct = sea_orm::Database::connect(database.url())
        .await
        .expect("connect");
    let stored = direct
        .query_one_raw(sea_orm::Statement::from_string(
            direct.get_database_backend(),
            "SELECT COUNT(*) AS n FROM messages WHERE body LIKE '%during the outage%'",
        ))
        .await
        .expect("count")
        .expect("a row")
        .try_get::<i64>("", "n")
        .expect("a number");
    assert_eq!(stored, 0, "messages refused during the outage were stored");
    let _ = direct.close().await;

    assert!(
        !hearth.log().contains("panicked"),
        "hearth panicked:\n{}",
        hearth.log_tail()
    );
}

/// `host:port` of a `postgres://user@host:port` URL.
fn authority(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest).to_owned()
}

/// Awaits a request that must be answered, and within [`ANSWER_WITHIN`].
async fn timed<F>(request: F) -> reqwest::Response
where
    F: std::future::Future<Output = reqwest::Result<reqwest::Response>>,
{
    let started = Instant::now();
    match tokio::time::timeout(ANSWER_WITHIN, request).await {
        Ok(Ok(resp)) => resp,
        Ok(Err(e)) => panic!("the request failed after {:?}: {e}", started.elapsed()),
        Err(_) => panic!("no answer within {ANSWER_WITHIN:?}"),
    }
}

/// An open page's socket, read all the time by a task of its own (so pings are
/// answered while the test waits on something else), its frames queued for the test.
struct Tab {
    frames: mpsc::UnboundedReceiver<Result<String, String>>,
    outgoing: mpsc::UnboundedSender<String>,
}

impl Tab {
    async fn open(visitor: &Visitor, path: &str) -> Tab {
        let socket = visitor.socket(path).await;
        let (frames_tx, frames) = mpsc::unbounded_channel();
        let (outgoing, outgoing_rx) = mpsc::unbounded_channel();
        tokio::spawn(pump(socket, frames_tx, outgoing_rx));
        let mut tab = Tab { frames, outgoing };
        // The server answers presence only once the socket's catch-up is done: before
        // that, an outage would end the socket's set-up, not test a live socket.
        let ready = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            while let Some(Ok(frame)) = tab.frames.recv().await {
                if frame.contains("id=\"online-count\"") {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(ready, Ok(true), "the socket never became live");
        tab
    }

    async fn send(&mut self, value: serde_json::Value) {
        self.outgoing
            .send(value.to_string())
            .expect("the socket is open");
    }

    /// The next text frame that satisfies `wanted`; an error if the socket closes
    /// first or nothing comes `within`.
    async fn next_where(
        &mut self,
        within: Duration,
        wanted: impl Fn(&str) -> bool,
    ) -> Result<String, String> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.frames.recv()).await {
                Ok(Some(Ok(frame))) if wanted(&frame) => return Ok(frame),
                Ok(Some(Ok(_))) => continue,
                Ok(Some(Err(why))) => return Err(format!("the socket closed: {why}")),
                Ok(None) => return Err("the socket's reader stopped".into()),
                Err(_) => return Err(format!("no expected frame within {within:?}")),
            }
        }
    }

    /// Waits for the banner frame; answers its text, trimmed ("" when it clears).
    async fn banner(&mut self, within: Duration) -> Result<String, String> {
        let frame = self
            .next_where(within, |f| f.contains("id=\"site-banner\""))
            .await?;
        let html = scraper::Html::parse_fragment(&frame);
        let selector = scraper::Selector::parse("#site-banner").expect("selector");
        Ok(html
            .select(&selector)
            .next()
            .map(|e| e.text().collect::<String>().trim().to_owned())
            .unwrap_or_default())
    }

    /// Waits for message `id` to arrive.
    async fn message(&mut self, id: i64, within: Duration) -> Result<String, String> {
        let needle = format!("id=\"message-{id}\"");
        self.next_where(within, |f| f.contains(&needle)).await
    }
}

async fn pump(
    mut socket: Socket,
    frames: mpsc::UnboundedSender<Result<String, String>>,
    mut outgoing: mpsc::UnboundedReceiver<String>,
) {
    loop {
        tokio::select! {
            incoming = socket.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    if frames.send(Ok(text.as_str().to_owned())).is_err() {
                        return;
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    let _ = frames.send(Err(format!("closed by the server: {frame:?}")));
                    return;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    let _ = frames.send(Err(format!("read failed: {e}")));
                    return;
                }
                None => {
                    let _ = frames.send(Err("the stream ended".into()));
                    return;
                }
            },
            out = outgoing.recv() => match out {
                Some(text) => {
                    if let Err(e) = socket.send(Message::text(text)).await {
                        let _ = frames.send(Err(format!("send failed: {e}")));
                        return;
                    }
                }
                None => return,
            },
        }
    }
}
