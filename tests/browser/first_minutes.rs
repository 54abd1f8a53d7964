//! A new person's first minutes, in a real browser: every page passes axe-core and fits a
//! phone, a phone's Menu shows what is unread, a refused message says why in the
//! server's words and keeps its text, the composer counts characters as the server
//! does, and a page without JavaScript still works and says what it cannot do.
use serde_json::json;

use crate::{
    harness::{Browser, Driver, Options, create_room, enter, sign_up},
    helpers::TestApp,
};

/// Phone widths the layout must fit.
const PHONES: [u32; 3] = [320, 390, 430];

/// Opens `path`, checks axe-core at desktop width and that nothing sticks out sideways
/// at each phone width; answers what was wrong.
async fn check_page(browser: &Browser, path: &str) -> Vec<String> {
    let mut wrong = Vec::new();
    browser.resize(1280, 860).await;
    browser.goto(path).await;
    for violation in browser.accessibility_violations().await {
        wrong.push(format!("{path}: {violation}"));
    }
    for width in PHONES {
        browser.resize(width, 800).await;
        let (over, what) = browser.overflow().await;
        if over > 0 {
            wrong.push(format!("{path} at {width} px: {over} px too wide ({what})"));
        }
    }
    browser.resize(1280, 860).await;
    wrong
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn every_page_passes_axe_and_fits_a_phone() {
    let app = TestApp::spawn().await;
    let bob = app.member("bob_with_a_rather_long_name_").await;
    let driver = Driver::start().await;
    let anonymous = driver
        .browser("anonymous", &app.url(""), Options::default())
        .await;
    let mut wrong = Vec::new();
    for path in ["/login", "/signup", "/rooms/nowhere"] {
        wrong.extend(check_page(&anonymous, path).await);
    }
    anonymous.close().await;

    let alice = driver
        .browser("alice", &app.url(""), Options::default())
        .await;
    sign_up(&alice).await;
    let room = create_room(&alice, "A room with a name as long as forty chr").await;
    let conversation = bob.conversation_id(&room).await;
    bob.say(
        conversation,
        "**Hello** with `code`, a link https://example.com/a/very/long/path/that/goes/on/and/on/and/on and\n```rust\nfn main() { println!(\"a line of code longer than any phone is wide, by far\"); }\n```",
    )
    .await;
    let message = bob.page(&room).await.message_ids()[0];
    bob.post_form(
        &format!("/messages/{message}/reactions"),
        &[("emoji", "👍")],
    )
    .await;
    let dm = bob.conversation_id("/dm/alice").await;
    bob.say(dm, "psst").await;
    for path in [
        "/",
        room.as_str(),
        "/users",
        "/dm/bob_with_a_rather_long_name_",
        &format!("/messages/{message}/react"),
        "/rooms/nowhere",
    ] {
        wrong.extend(check_page(&alice, path).await);
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    alice.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn on_a_phone_the_menu_shows_what_is_unread_in_the_shut_drawer() {
    let app = TestApp::spawn().await;
    let bob = app.member("bob").await;
    let driver = Driver::start().await;
    let alice = driver
        .browser("alice", &app.url(""), Options::default())
        .await;
    sign_up(&alice).await;
    alice.resize(390, 800).await;
    alice.until_connected().await;
    let dm = bob.conversation_id("/dm/alice").await;
    bob.say(dm, "are you there?").await;
    alice
        .until_js(
            "the Menu button counts the unread message",
            "const b = document.getElementById('menu-unread');\
             return b && b.textContent.trim() === '1' && b.offsetParent !== null;",
            vec![],
        )
        .await;
    alice.screenshot("issue19-phone-menu-badge").await;
    alice.click(".sidebar-toggle").await;
    alice
        .until_js(
            "the drawer opens with the chat in it",
            "const s = document.getElementById('sidebar');\
             return s.matches(':popover-open') && s.innerText.includes('bob');",
            vec![],
        )
        .await;
    alice.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn a_refused_message_says_why_in_the_servers_words_and_keeps_its_text() {
    let app = TestApp::builder()
        .configure(|c| {
            c.limits.message_burst = 2;
            c.limits.messages_per_second = 1;
        })
        .spawn()
        .await;
    let driver = Driver::start().await;
    let alice = driver
        .browser("alice", &app.url(""), Options::default())
        .await;
    sign_up(&alice).await;
    create_room(&alice, "Fast").await;
    alice.until_connected().await;
    for text in ["one", "two", "three"] {
        alice
            .type_into("#composer-body", &format!("{text}{}", enter()))
            .await;
    }
    // The server's own words, with how long to wait: not a generic "try again".
    alice
        .until_js(
            "the composer says the sender is too fast, and for how long",
            "const e = document.getElementById('composer-error');\
             return e && e.innerText.includes('too fast') && e.innerText.includes('Wait');",
            vec![],
        )
        .await;
    let kept = alice
        .js(
            "return document.getElementById('composer-body').value;",
            vec![],
        )
        .await;
    assert_eq!(kept, json!("three"), "the refused text stays, alone");
    alice.screenshot("issue19-too-fast").await;
    // Once a send goes through, the error goes.
    alice
        .until_within(
            std::time::Duration::from_secs(5),
            "a later send goes through and clears the error",
            async || {
                alice.type_into("#composer-body", &enter()).await;
                let e = alice.visible_text("#composer-error").await;
                e.trim().is_empty().then_some(())
            },
        )
        .await;
    alice.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn the_composer_counts_characters_as_the_server_does() {
    let app = TestApp::spawn().await;
    let driver = Driver::start().await;
    let alice = driver
        .browser("alice", &app.url(""), Options::default())
        .await;
    sign_up(&alice).await;
    create_room(&alice, "Emoji").await;
    alice.until_connected().await;
    // 4000 emoji are 8000 UTF-16 units: as many as the server takes.
    alice
        .js(
            "const t = document.getElementById('composer-body'); t.value = '😀'.repeat(4000);\
             t.dispatchEvent(new Event('input')); return true;",
            vec![],
        )
        .await;
    alice.type_into("#composer-body", &enter()).await;
    alice
        .until_js(
            "the 4000 emoji are sent whole",
            "const b = document.querySelector('#messages .message-body');\
             return b && [...b.innerText].length === 4000;",
            vec![],
        )
        .await;
    alice
        .js(
            "const t = document.getElementById('composer-body'); t.value = '😀'.repeat(4001);\
             t.dispatchEvent(new Event('input')); return true;",
            vec![],
        )
        .await;
    alice
        .until_js(
            "one more is refused before it is sent, by count",
            "return document.getElementById('composer-error').innerText.includes('4001');",
            vec![],
        )
        .await;
    alice.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn refused_notifications_say_how_to_allow_them() {
    let app = TestApp::spawn().await;
    let driver = Driver::start().await;
    let options = Options {
        deny_notifications: true,
        ..Options::default()
    };
    let alice = driver.browser("alice", &app.url(""), options).await;
    sign_up(&alice).await;
    alice
        .until_js(
            "the menu says notifications are blocked, and how to allow them",
            "const d = document.querySelector('.notifications-denied');\
             return d && !d.hidden && d.innerText.includes('allow');",
            vec![],
        )
        .await;
    alice.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn without_javascript_hearth_works_and_says_what_it_cannot_do() {
    let app = TestApp::spawn().await;
    let bob = app.member("bob").await;
    let driver = Driver::start().await;
    let options = Options {
        no_javascript: true,
        ..Options::default()
    };
    let alice = driver.browser("alice", &app.url(""), options).await;
    sign_up(&alice).await;
    let room = create_room(&alice, "Plain").await;
    let conversation = bob.conversation_id(&room).await;
    for i in 0..60 {
        bob.say(conversation, &format!("history {i}")).await;
    }
    alice.goto(&room).await;
    assert_eq!(alice.visible_text("#connection-status").await, "");
    assert!(
        alice
            .visible_text(".topbar")
            .await
            .contains("Live updates need JavaScript")
    );
    assert_eq!(alice.visible_text("#online-count").await, "1");
    // The conversation opens at its latest message, and a post is seen after sending.
    let latest_seen = "const m = [...document.querySelectorAll('#messages article.message')];\
         const last = m[m.length - 1].getBoundingClientRect();\
         const h = document.getElementById('history').getBoundingClientRect();\
         return last.bottom <= h.bottom + 1 && last.top >= h.top - 1;";
    assert_eq!(
        alice.js(latest_seen, vec![]).await,
        json!(true),
        "the latest message is out of sight"
    );
    alice
        .type_into("#composer-body", "sent without script")
        .await;
    // The answer is a new page at the same address: wait for the page to be replaced.
    alice.mark_page().await;
    alice.click("#composer button[type=submit]").await;
    alice
        .until("the page after the post", async || {
            (!alice.page_is_marked().await).then_some(())
        })
        .await;
    alice.until_at(&room).await;
    alice
        .until("the post shown last", async || {
            let last = alice.messages().await.last().cloned().unwrap_or_default();
            (last.1 == "sent without script").then_some(())
        })
        .await;
    assert_eq!(
        alice.js(latest_seen, vec![]).await,
        json!(true),
        "the post is out of sight"
    );
    // The phone's Menu opens the drawer with no script at all.
    alice.resize(390, 800).await;
    alice.click(".sidebar-toggle").await;
    alice
        .until_js(
            "the drawer opens",
            "return document.getElementById('sidebar').matches(':popover-open');",
            vec![],
        )
        .await;
    alice.screenshot("issue19-no-javascript").await;
    alice.close().await;
}
