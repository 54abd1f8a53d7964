//! The picture at the top of the README: a lively room, as a person sees it. The test
//! also checks what the picture must show; with `HEARTH_UPDATE_SCREENSHOT=1` it
//! replaces `docs/screenshot.png`.
use fantoccini::key::Key;
use serde_json::json;

use crate::{
    harness::{Driver, Options, create_room, enter, sign_up},
    helpers::TestApp,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn the_readme_picture_shows_a_room_with_people_talking_and_typing() {
    let app = TestApp::spawn().await;
    let driver = Driver::start().await;
    let alice = driver
        .browser("alice", &app.url(""), Options::default())
        .await;
    let bob = driver
        .browser("bob", &app.url(""), Options::default())
        .await;
    sign_up(&alice).await;
    sign_up(&bob).await;
    let room = create_room(&alice, "Fireside").await;
    create_room(&alice, "Rust").await;
    // A private chat in the sidebar, and some history.
    let friend = app.member("carol").await;
    let chat = friend.conversation_id("/dm/alice").await;
    friend.say(chat, "Coming to the meetup on Thursday?").await;

    bob.goto(&room).await;
    bob.until_connected().await;
    alice.goto(&room).await;
    alice.until_connected().await;
    let lines = [
        (&bob, "Evening! Who's around?"),
        (&alice, "Here! Just finished the deploy."),
        (&bob, "Nice. Did the new presence leases behave?"),
        (
            &alice,
            "Killed a process on purpose: counts dropped in under 30 s.",
        ),
    ];
    for (who, line) in lines {
        who.type_into("#composer-body", line).await;
        who.type_into("#composer-body", &enter()).await;
        alice
            .until_js(
                "the line shown",
                "return [...document.querySelectorAll('#messages .message-body')].some(b => b.innerText === arguments[0]);",
                vec![json!(line)],
            )
            .await;
    }
    // The page sends "typing" at most every two seconds: keep typing until it shows
    // (after the draft, a space and a backspace keep the keys coming).
    let draft: Vec<char> = "Let me check the graphs…".chars().collect();
    let mut typed = 0;
    alice
        .until("bob shown typing", async || {
            let keys: String = if typed < draft.len() {
                let next: String = draft[typed..(typed + 3).min(draft.len())].iter().collect();
                typed += next.chars().count();
                next
            } else {
                format!(" {}", Key::Backspace)
            };
            bob.type_into("#composer-body", &keys).await;
            let shown = alice
                .js(
                    "return document.querySelector('#typing').innerText;",
                    vec![],
                )
                .await;
            shown
                .as_str()
                .is_some_and(|t| t.contains("bob is typing"))
                .then_some(())
        })
        .await;
    let picture = alice.screenshot("readme").await;
    if std::env::var("HEARTH_UPDATE_SCREENSHOT").as_deref() == Ok("1") {
        let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshot.png");
        std::fs::copy(&picture, target).expect("docs/screenshot.png updated");
    }
}
