//! Mentions in a page: the composer's `@` suggestions worked by keyboard alone, and a
//! mention that reaches the named person's page highlighted there, and only there.
use serde_json::json;

use crate::{
    harness::{Driver, Options, create_room, enter, sign_up},
    helpers::TestApp,
};

const ARROW_DOWN: &str = "\u{e015}";
const ARROW_UP: &str = "\u{e013}";
const ESCAPE: &str = "\u{e00c}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn a_mention_picked_by_keyboard_reaches_the_person_highlighted() {
    let app = TestApp::spawn().await;
    // Someone who exists but is not in the room: suggested after the members.
    app.member("bella").await;
    let driver = Driver::start().await;
    let alice = driver
        .browser("alice", &app.url(""), Options::default())
        .await;
    let bob = driver
        .browser("bob", &app.url(""), Options::default())
        .await;
    tokio::join!(sign_up(&alice), sign_up(&bob));
    let room = create_room(&alice, "Porch").await;
    bob.goto(&room).await;
    tokio::join!(alice.until_connected(), bob.until_connected());

    let suggested = "return [...document.querySelectorAll('#mention-suggest:not([hidden]) .mention-option')]\
                       .map(o => o.dataset.username + (o.getAttribute('aria-selected') === 'true' ? '*' : ''));";
    alice.type_into("#composer-body", "lunch? @b").await;
    alice
        .until_js(
            "bob (a member) suggested before bella",
            &format!("const s = (() => {{ {suggested} }})(); return s.join(',') === 'bob*,bella' ? s : null;"),
            vec![],
        )
        .await;
    alice.type_into("#composer-body", ARROW_DOWN).await;
    alice
        .until_js(
            "Down selects bella",
            &format!("const s = (() => {{ {suggested} }})(); return s.join(',') === 'bob,bella*' ? s : null;"),
            vec![],
        )
        .await;
    alice.type_into("#composer-body", ARROW_UP).await;
    alice.type_into("#composer-body", enter().as_str()).await;
    // Enter picked the name (and sent nothing): the composer holds it, the box is shut.
    alice
        .until_js(
            "the name picked",
            "const c = document.getElementById('composer-body');\
             return c.value === 'lunch? @bob ' && document.getElementById('mention-suggest').hidden;",
            vec![],
        )
        .await;
    assert_eq!(
        alice
            .js(
                "return document.querySelectorAll('#messages article.message').length;",
                vec![]
            )
            .await,
        json!(0)
    );
    // Escape shuts the box without touching the text.
    alice.type_into("#composer-body", "@be").await;
    alice
        .until_js(
            "bella suggested",
            &format!("return (() => {{ {suggested} }})().length === 1;"),
            vec![],
        )
        .await;
    alice.type_into("#composer-body", ESCAPE).await;
    alice
        .until_js(
            "the box shut",
            "return document.getElementById('mention-suggest').hidden && document.getElementById('composer-body').value.endsWith('@be');",
            vec![],
        )
        .await;
    alice
        .js("const c = document.getElementById('composer-body'); c.value = 'lunch? @bob '; return true;", vec![])
        .await;
    alice
        .type_into("#composer-body", &format!("at noon{}", enter()))
        .await;

    // The mention reaches bob's page live, highlighted for him; alice's is plain.
    let highlight = "const m = document.querySelector('#messages article.message .message-body a.mention');\
                     if (!m) return null;\
                     const s = getComputedStyle(m);\
                     return { weight: s.fontWeight, background: s.backgroundColor, row: getComputedStyle(m.closest('article')).boxShadow };";
    let on_bob = bob
        .until_js("the mention on bob's page", highlight, vec![])
        .await;
    let on_alice = alice
        .until_js("the mention on alice's page", highlight, vec![])
        .await;
    assert_eq!(on_bob["weight"], json!("600"), "{on_bob}");
    assert_ne!(
        on_bob["background"], on_alice["background"],
        "{on_bob} {on_alice}"
    );
    assert_ne!(
        on_bob["row"],
        json!("none"),
        "bob's row is marked: {on_bob}"
    );
    assert_eq!(
        on_alice["row"],
        json!("none"),
        "alice's own message is not: {on_alice}"
    );
    let href = bob
        .js(
            "return document.querySelector('#messages a.mention').getAttribute('href');",
            vec![],
        )
        .await;
    assert_eq!(href, json!("/users/bob"));
    let violations = alice.accessibility_violations().await;
    assert!(violations.is_empty(), "{violations:?}");
}
