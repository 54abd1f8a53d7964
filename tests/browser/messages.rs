//! Acting on messages in a page, as two people would: editing in place, reacting from
//! the picker, replying, deleting after a confirmation, each seen live by the other;
//! and a page whose socket was cut catching up on all four.
use serde_json::json;

use crate::{
    harness::{Browser, Driver, Options, create_room, enter, sign_up},
    helpers::TestApp,
};

/// The message of `browser`'s page whose text is `body`: its id.
async fn message_with(browser: &Browser, body: &str) -> i64 {
    let id = browser
        .until_js(
            &format!("the message {body:?} shown"),
            "const a = [...document.querySelectorAll('#messages article.message')]\
               .find(a => (a.querySelector('.message-body') || {}).innerText === arguments[0]);\
             return a ? a.id.slice('message-'.length) : null;",
            vec![json!(body)],
        )
        .await;
    id.as_str()
        .and_then(|s| s.parse().ok())
        .expect("a message id")
}

async fn until_shown(browser: &Browser, what: &str, script: &str, id: i64) {
    browser.until_js(what, script, vec![json!(id)]).await;
}

/// Opens message `id`'s menu and clicks its item `label` (after the script returns, so
/// that a confirmation the click opens does not hold the script up).
async fn menu(browser: &Browser, id: i64, label: &str) {
    browser
        .js(
            "const m = document.querySelector('#message-' + arguments[0] + ' details.message-menu');\
             m.open = true; return true;",
            vec![json!(id)],
        )
        .await;
    browser
        .until_js(
            &format!("the {label} item"),
            "const a = [...document.querySelectorAll('#message-' + arguments[0] + ' .menu-items a')]\
               .find(a => a.textContent === arguments[1] && a.offsetParent !== null);\
             if (!a) return false; setTimeout(() => a.click(), 0); return true;",
            vec![json!(id), json!(label)],
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn two_people_edit_react_reply_and_delete_and_each_sees_it_live() {
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

    alice
        .type_into("#composer-body", &format!("Helo, **Bob**{}", enter()))
        .await;
    let id = message_with(&bob, "Helo, Bob").await;

    // Alice fixes her typo in place: Up in the empty composer opens her last message.
    alice.type_into("#composer-body", "\u{e013}").await; // the Up arrow
    alice
        .find(&format!("#message-{id} form.edit-form textarea"))
        .await;
    alice
        .js(
            "const t = document.querySelector('#message-' + arguments[0] + ' form.edit-form textarea');\
             t.value = 'Hello, **Bob**'; return true;",
            vec![json!(id)],
        )
        .await;
    alice
        .type_into(&format!("#message-{id} form.edit-form textarea"), &enter())
        .await;
    until_shown(
        &bob,
        "Bob sees the edit, bold and marked",
        "const a = document.getElementById('message-' + arguments[0]);\
         return a && a.classList.contains('edited') && a.querySelector('.message-body strong')\
           && a.querySelector('.message-body').innerText === 'Hello, Bob';",
        id,
    )
    .await;
    bob.screenshot("issue20-bob-sees-the-edit").await;

    // Bob reacts from the picker; Alice sees the count, and Bob's own reaction is his.
    menu(&bob, id, "React").await;
    bob.click(".emoji-picker .emoji-choice").await;
    until_shown(
        &alice,
        "Alice sees Bob's 👍",
        "const r = document.querySelector('#reactions-' + arguments[0] + ' .reaction');\
         return r && r.innerText.includes('👍') && r.title === 'bob';",
        id,
    )
    .await;
    until_shown(
        &bob,
        "Bob's reaction shows as his",
        "const r = document.querySelector('#reactions-' + arguments[0] + ' .reaction');\
         return r && getComputedStyle(r).borderColor !== getComputedStyle(document.body).color;",
        id,
    )
    .await;

    // Bob answers it.
    menu(&bob, id, "Reply").await;
    bob.find("#composer-reply strong").await;
    bob.type_into("#composer-body", &format!("Evening!{}", enter()))
        .await;
    let reply = message_with(&alice, "Evening!").await;
    until_shown(
        &alice,
        "Alice sees the reply's quote",
        "const q = document.querySelector('#message-' + arguments[0] + ' .reply-quote');\
         return q && q.innerText.includes('alice') && q.innerText.includes('Hello');",
        reply,
    )
    .await;
    alice
        .screenshot("issue20-alice-sees-reaction-and-reply")
        .await;

    // Alice deletes her message, after saying yes.
    menu(&alice, id, "Delete").await;
    alice
        .client
        .accept_alert()
        .await
        .expect("the confirmation is answered");
    until_shown(
        &bob,
        "Bob sees a tombstone",
        "const a = document.getElementById('message-' + arguments[0]);\
         return a && a.classList.contains('deleted') && !a.innerText.includes('Hello');",
        id,
    )
    .await;
    until_shown(
        &bob,
        "the reply says it answered a deleted message",
        "const q = document.querySelector('#message-' + arguments[0] + ' .reply-quote');\
         return q && q.innerText.includes('deleted');",
        reply,
    )
    .await;
    assert!(alice.page_is_marked().await, "Alice's page reloaded");
    assert!(bob.page_is_marked().await, "Bob's page reloaded");
    assert_eq!(bob.messages().await.len(), 2, "each message once");
    alice.close().await;
    bob.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn a_page_whose_socket_was_cut_catches_up_on_edits_deletions_reactions_and_replies() {
    let mut app = TestApp::spawn().await;
    let _database = app.keep_database();
    let (addr, database_url) = (app.addr.to_string(), app.database_url.clone());
    let carol = app.member("carol").await;
    let driver = Driver::start().await;
    let alice = driver
        .browser("alice", &app.url(""), Options::default())
        .await;
    sign_up(&alice).await;
    let room = create_room(&alice, "Away").await;
    alice.until_connected().await;
    let conversation = carol.conversation_id(&room).await;
    for body in ["to edit", "to delete"] {
        assert_eq!(carol.say(conversation, body).await.status(), 303);
    }
    let edited = message_with(&alice, "to edit").await;
    let deleted = message_with(&alice, "to delete").await;
    alice.mark_page().await;

    // The server goes away, so the page cannot reconnect; carol acts through another
    // server on the same database meanwhile.
    app.stop().await;
    alice
        .until_js(
            "the page knows it is cut off",
            "return document.getElementById('connection-status').dataset.state !== 'connected';",
            vec![],
        )
        .await;
    let mut elsewhere = TestApp::builder().database(&database_url).spawn().await;
    let there = carol.at(elsewhere.addr);
    there
        .post_form(
            &format!("/messages/{edited}/edit"),
            &[("body", "edited while away")],
        )
        .await;
    there
        .post_form(&format!("/messages/{deleted}/delete"), &[])
        .await;
    there
        .post_form(&format!("/messages/{edited}/reactions"), &[("emoji", "🎉")])
        .await;
    let resp = there
        .post_form(
            &format!("/conversations/{conversation}/messages"),
            &[
                ("body", "a reply while away"),
                ("reply_to", &edited.to_string()),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303);
    elsewhere.stop().await;

    // Back on the page's own address: it reconnects with its cursor and catches up.
    let _app = TestApp::builder()
        .database(&database_url)
        .addr(&addr)
        .spawn()
        .await;
    alice
        .until_within(
            RECONNECT,
            "all four caught up",
            async || {
                let done = alice
                    .js(
                        "const e = document.getElementById('message-' + arguments[0]);\
                         const d = document.getElementById('message-' + arguments[1]);\
                         const r = [...document.querySelectorAll('#messages article.message .message-body')]\
                           .filter(b => b.innerText === 'a reply while away');\
                         return !!(e && e.innerText.includes('edited while away') && e.innerText.includes('🎉')\
                           && d && d.classList.contains('deleted') && r.length === 1);",
                        vec![json!(edited), json!(deleted)],
                    )
                    .await;
                (done == json!(true)).then_some(())
            },
        )
        .await;
    assert!(alice.page_is_marked().await, "the page reloaded");
    assert_eq!(alice.messages().await.len(), 3, "each message once");
    alice.close().await;
}

/// How long a page may take to reconnect after the server comes back (hx-ws backs off).
const RECONNECT: std::time::Duration = std::time::Duration::from_secs(20);
