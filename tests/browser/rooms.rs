//! Accounts, rooms and the composer, as a person uses them (issue 2).
use fantoccini::Locator;
use serde_json::json;

use crate::{
    harness::{Driver, Options, create_room, enter, shift_enter, sign_up},
    helpers::TestApp,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn a_person_signs_up_creates_a_room_and_posts_with_enter() {
    let app = TestApp::spawn().await;
    let driver = Driver::start().await;
    let alice = driver
        .browser("alice", &app.url(""), Options::default())
        .await;

    sign_up(&alice).await;
    let room = create_room(&alice, "Fireside").await;
    assert_eq!(room, "/rooms/fireside");
    alice.until_connected().await;
    alice.mark_page().await;

    // Enter sends: the message shows up in #messages, the page stays, the field empties.
    alice.type_into("#composer-body", "Hello, hearth!").await;
    alice.type_into("#composer-body", &enter()).await;
    alice
        .until_js(
            "the message shown in #messages",
            "return [...document.querySelectorAll('#messages article.message .message-body')]\
               .some(b => b.innerText === arguments[0]);",
            vec![json!("Hello, hearth!")],
        )
        .await;
    assert!(
        alice.page_is_marked().await,
        "posting with Enter reloaded the page"
    );
    alice
        .until(
            "the \"No messages yet\" note gone once a message is shown",
            async || match alice.client.find(Locator::Css(".empty-history")).await {
                Ok(note) => (!note.is_displayed().await.ok()?).then_some(()),
                Err(_) => Some(()),
            },
        )
        .await;
    alice
        .until_js(
            "the composer emptied after sending",
            "return document.getElementById('composer-body').value === '';",
            vec![],
        )
        .await;

    // Shift+Enter makes a new line in the field and sends nothing; Enter then sends both
    // lines as one message.
    alice.type_into("#composer-body", "first line").await;
    alice.type_into("#composer-body", &shift_enter()).await;
    alice.type_into("#composer-body", "second line").await;
    let draft = alice
        .js(
            "return document.getElementById('composer-body').value;",
            vec![],
        )
        .await;
    assert_eq!(
        draft,
        json!("first line\nsecond line"),
        "Shift+Enter did not make a new line"
    );
    alice.type_into("#composer-body", &enter()).await;
    alice
        .until_js(
            "the two-line message shown",
            "return [...document.querySelectorAll('#messages article.message .message-body')]\
               .some(b => b.innerText === arguments[0]);",
            vec![json!("first line\nsecond line")],
        )
        .await;
    let bodies: Vec<String> = alice
        .messages()
        .await
        .into_iter()
        .map(|(_, body)| body)
        .collect();
    assert_eq!(
        bodies,
        ["Hello, hearth!", "first line\nsecond line"],
        "Shift+Enter sent a message of its own, or a message shows twice"
    );
    assert!(alice.page_is_marked().await, "the page reloaded");

    // What a person sees after a reload is the same conversation.
    alice.screenshot("issue2-room").await;
    alice.goto(&room).await;
    let bodies: Vec<String> = alice
        .messages()
        .await
        .into_iter()
        .map(|(_, body)| body)
        .collect();
    assert_eq!(bodies, ["Hello, hearth!", "first line\nsecond line"]);

    alice.close().await;
}
