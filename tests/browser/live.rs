//! Live pages: typing, messages and online counts pushed to open pages, and a page that
//! outlives a server restart (issue 3).
use std::time::Duration;

use fantoccini::Locator;
use reqwest::StatusCode;
use serde_json::json;

use crate::{
    harness::{Browser, Driver, Options, create_room, enter, sign_up},
    helpers::TestApp,
};

/// How long a page may take to reconnect after the server comes back. hx-ws backs off
/// exponentially from 0.5 s with ±30 % jitter, so after a few seconds of downtime its
/// next attempt can be 4–8 s away; this leaves room for that, not for a sleep.
const RECONNECT: Duration = Duration::from_secs(20);

/// Waits until `browser`'s page shows `count` in `#online-count`.
async fn until_online_here(browser: &Browser, count: usize) {
    browser
        .until_js(
            &format!("#online-count says {count}"),
            "const c = document.getElementById('online-count');\
             return c && c.textContent.trim() === arguments[0];",
            vec![json!(count.to_string())],
        )
        .await;
}

async fn until_message_shown(browser: &Browser, body: &str) {
    browser
        .until_js(
            &format!("the message {body:?} shown"),
            "return [...document.querySelectorAll('#messages article.message .message-body')]\
               .some(b => b.innerText === arguments[0]);",
            vec![json!(body)],
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn two_people_see_each_other_type_and_talk_live() {
    let app = TestApp::spawn().await;
    let driver = Driver::start().await;
    let alice = driver
        .browser("alice", &app.url(""), Options::default())
        .await;
    let bob = driver
        .browser("bob", &app.url(""), Options::default())
        .await;
    tokio::join!(sign_up(&alice), sign_up(&bob));

    let room = create_room(&alice, "Porch").await;
    alice.until_connected().await;
    bob.goto(&room).await;
    bob.until_connected().await;
    alice.mark_page().await;
    bob.mark_page().await;
    until_online_here(&alice, 2).await;
    until_online_here(&bob, 2).await;

    // Alice types; Bob is told, Alice is not (she gets the same fragment, hidden by CSS).
    alice.type_into("#composer-body", "Evening, Bob").await;
    bob.until("Bob sees \"alice is typing…\"", async || {
        (bob.visible_text("#typing").await.trim() == "alice is typing…").then_some(())
    })
    .await;
    bob.screenshot("issue3-bob-sees-alice-typing").await;
    alice
        .until_js(
            "the typing fragment reached Alice's page too",
            "return document.querySelector('#typing span') !== null;",
            vec![],
        )
        .await;
    let spans = alice
        .client
        .find_all(Locator::Css("#typing span"))
        .await
        .expect("typing spans");
    for span in spans {
        let text = span.html(true).await.unwrap_or_default();
        assert!(
            !span.is_displayed().await.expect("is_displayed"),
            "Alice sees a typing line: {text:?}"
        );
    }
    assert_eq!(
        alice.visible_text("#typing").await,
        "",
        "Alice sees herself typing"
    );

    // Enter: Bob gets the message without reloading, and the typing line goes.
    alice.type_into("#composer-body", &enter()).await;
    until_message_shown(&bob, "Evening, Bob").await;
    until_message_shown(&alice, "Evening, Bob").await;
    bob.until("Bob's typing line cleared by Alice's message", async || {
        bob.visible_text("#typing")
            .await
            .trim()
            .is_empty()
            .then_some(())
    })
    .await;
    assert_eq!(
        bob.messages().await.len(),
        1,
        "the message shows more than once for Bob"
    );
    assert_eq!(
        alice.messages().await.len(),
        1,
        "the message shows more than once for Alice"
    );
    assert!(bob.page_is_marked().await, "Bob's page reloaded");
    assert!(alice.page_is_marked().await, "Alice's page reloaded");
    bob.screenshot("issue3-bob-receives-live").await;

    // Bob quits his browser: Alice's counts drop, live.
    bob.close().await;
    until_online_here(&alice, 1).await;
    alice
        .until_js(
            "#site-online-count says 1",
            "return document.getElementById('site-online-count').textContent.trim() === '1';",
            vec![],
        )
        .await;
    alice.screenshot("issue3-alice-after-bob-left").await;
    alice.close().await;
}

/// A page's own posts come back over its socket, in order with everyone else's: none
/// shows twice and none out of place, and the page neither sorts nor drops anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn messages_posted_from_the_page_appear_once_and_in_order_among_live_ones() {
    let app = TestApp::spawn().await;
    let carol = app.member("carol").await;
    let driver = Driver::start().await;
    let alice = driver
        .browser("alice", &app.url(""), Options::default())
        .await;
    sign_up(&alice).await;
    let room = create_room(&alice, "Busy").await;
    alice.until_connected().await;
    let conversation = carol.conversation_id(&room).await;

    // Carol posts a stream over HTTP while Alice sends from her page.
    let stream = tokio::spawn({
        let carol = carol.clone();
        async move {
            for i in 0..40 {
                assert_eq!(
                    carol
                        .say(conversation, &format!("carol {i}"))
                        .await
                        .status(),
                    StatusCode::SEE_OTHER
                );
            }
        }
    });
    for i in 0..8 {
        alice
            .type_into("#composer-body", &format!("alice {i}{}", enter()))
            .await;
        until_message_shown(&alice, &format!("alice {i}")).await;
    }
    stream.await.expect("carol's posts");
    until_message_shown(&alice, "carol 39").await;

    let shown = alice.messages().await;
    let stored = carol.page(&room).await;
    let stored: Vec<(String, String)> = stored
        .message_ids()
        .into_iter()
        .map(|id| format!("message-{id}"))
        .zip(stored.message_bodies())
        .collect();
    assert_eq!(shown.len(), 48, "every message once: {shown:?}");
    assert_eq!(shown, stored, "the page's order is the server's");
    alice.close().await;
}

/// Posts `body` to conversation `id` on the server at `base`, as the person whose cookies
/// `http` holds (the session lives in the database, so it works on any server of it).
async fn say_on(http: &reqwest::Client, base: &str, page: &str, id: i64, body: &str) {
    let html = http
        .get(format!("{base}{page}"))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("page");
    let token = scraper::Html::parse_document(&html)
        .select(&scraper::Selector::parse("input[name=csrf_token]").expect("selector"))
        .next()
        .and_then(|e| e.value().attr("value").map(str::to_owned))
        .expect("a CSRF token on the page");
    let resp = http
        .post(format!("{base}/conversations/{id}/messages"))
        .form(&[("body", body), ("csrf_token", &token)])
        .send()
        .await
        .expect("POST");
    assert_eq!(
        resp.status(),
        StatusCode::SEE_OTHER,
        "posting {body:?} failed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn the_page_recovers_after_the_server_restarts() {
    let mut app = TestApp::spawn().await;
    let _database = app.keep_database();
    let (addr, database_url) = (app.addr.to_string(), app.database_url.clone());
    let carol = app.member("carol").await;
    let driver = Driver::start().await;
    let alice = driver
        .browser("alice", &app.url(""), Options::default())
        .await;

    sign_up(&alice).await;
    let room = create_room(&alice, "Hearthside").await;
    alice.until_connected().await;
    alice.mark_page().await;
    let conversation = carol.conversation_id(&room).await;
    assert_eq!(
        carol.say(conversation, "before the restart").await.status(),
        StatusCode::SEE_OTHER
    );
    until_message_shown(&alice, "before the restart").await;

    app.stop().await;
    alice
        .until_js(
            "the page shows it lost the server",
            "return document.getElementById('connection-status').dataset.state !== 'connected';",
            vec![],
        )
        .await;
    alice.screenshot("issue3-restart-reconnecting").await;

    // While the page cannot connect, the same database takes three messages through
    // another server, elsewhere: only the catch-up on reconnect (after=) can bring them.
    let mut elsewhere = TestApp::builder().database(&database_url).spawn().await;
    for n in 1..=3 {
        say_on(
            &carol.http,
            &elsewhere.url(""),
            &room,
            conversation,
            &format!("while away {n}"),
        )
        .await;
    }
    elsewhere.stop().await;

    // Back on the page's own address: two more, through the restarted server.
    let app = TestApp::builder()
        .database(&database_url)
        .addr(&addr)
        .spawn()
        .await;
    for n in 1..=2 {
        let resp = carol
            .say(conversation, &format!("after the restart {n}"))
            .await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    }

    let expected = [
        "before the restart",
        "while away 1",
        "while away 2",
        "while away 3",
        "after the restart 1",
        "after the restart 2",
    ];
    alice
        .until_within(RECONNECT, "the page reconnected", async || {
            let state = alice
                .js(
                    "return document.getElementById('connection-status').dataset.state;",
                    vec![],
                )
                .await;
            (state == json!("connected")).then_some(())
        })
        .await;
    until_message_shown(&alice, "after the restart 2").await;
    let messages = alice.messages().await;
    let bodies: Vec<&str> = messages.iter().map(|(_, body)| body.as_str()).collect();
    assert_eq!(bodies, expected, "not every message exactly once, in order");
    let ids: Vec<i64> = messages
        .iter()
        .map(|(id, _)| {
            id.strip_prefix("message-")
                .and_then(|n| n.parse().ok())
                .expect("message-{id}")
        })
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "message ids out of order: {ids:?}"
    );
    assert!(
        alice.page_is_marked().await,
        "the page reloaded instead of recovering"
    );
    // Connected is a quiet green dot; its words stay for screen readers.
    let status = alice
        .js(
            "return document.getElementById('connection-status').textContent;",
            vec![],
        )
        .await;
    assert_eq!(status, json!("Connected"), "what #connection-status says");
    alice.screenshot("issue3-restart-recovered").await;

    alice.close().await;
    drop(app);
}
