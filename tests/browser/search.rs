//! Search and the quick switcher by keyboard alone: `/` reaches the header's search
//! box from anywhere on a page, Ctrl+K finds a room as one types and opens it with
//! Enter, Alt+↑/↓ walk the sidebar's conversations, and Escape marks one read.
use crate::{
    harness::{Driver, Options, create_room, enter, sign_up},
    helpers::TestApp,
};

const ARROW_DOWN: &str = "\u{e015}";
const ARROW_UP: &str = "\u{e013}";
const ALT: &str = "\u{e00a}";
const BACKSPACE: &str = "\u{e003}";
const CONTROL: &str = "\u{e009}";
const ESCAPE: &str = "\u{e00c}";
/// Lets go of the modifier keys held.
const RELEASE: &str = "\u{e000}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn slash_searches_ctrl_k_switches_rooms_and_alt_arrows_walk_them_by_keyboard() {
    let app = TestApp::spawn().await;
    let driver = Driver::start().await;
    let alice = driver
        .browser("alice", &app.url(""), Options::default())
        .await;
    sign_up(&alice).await;
    create_room(&alice, "Garden").await;
    let porch = create_room(&alice, "Porch").await;
    alice.until_connected().await;
    alice
        .type_into("#composer-body", "the tomatoes are ripe")
        .await;
    alice.type_into("#composer-body", enter().as_str()).await;
    alice
        .until_js(
            "the message posted",
            "return document.querySelectorAll('#messages article.message').length === 1;",
            vec![],
        )
        .await;

    // `/` typed in the composer is text; typed elsewhere it goes to the search box.
    alice.type_into("#composer-body", "/").await;
    alice
        .until_js(
            "a slash in the composer",
            "const c = document.getElementById('composer-body');\
             return c.value === '/' && document.activeElement === c;",
            vec![],
        )
        .await;
    alice.type_into("#composer-body", BACKSPACE).await;
    alice.type_into("a.brand", "/").await;
    alice
        .until_js(
            "the search box focused",
            "return document.activeElement && document.activeElement.id === 'search-box';",
            vec![],
        )
        .await;
    alice.type_into("#search-box", "TOMATOES").await;
    alice.type_into("#search-box", enter().as_str()).await;
    alice.until_at("/search").await;
    let marked = alice
        .until_js(
            "a hit with the word marked",
            "const m = document.querySelector('#search-results li[id^=result-] mark');\
             return m && m.textContent;",
            vec![],
        )
        .await;
    assert_eq!(marked, "tomatoes");

    // Ctrl+K, a few letters, Down to the second room offered, Enter.
    alice.goto(&porch).await;
    alice
        .type_into("a.brand", &format!("{CONTROL}k{RELEASE}"))
        .await;
    alice
        .until_js(
            "the switcher open and focused",
            "const d = document.getElementById('switcher');\
             return d.open && document.activeElement.id === 'switcher-q';",
            vec![],
        )
        .await;
    alice.type_into("#switcher-q", "r").await;
    alice
        .until_js(
            "both rooms offered, the newest first",
            "const o = [...document.querySelectorAll('#switcher-options [role=option] a')]\
               .map(a => a.getAttribute('href'));\
             return o.join(',') === '/rooms/porch,/rooms/garden' ? o : null;",
            vec![],
        )
        .await;
    alice.type_into("#switcher-q", ARROW_DOWN).await;
    alice.type_into("#switcher-q", enter().as_str()).await;
    alice.until_at("/rooms/garden").await;
    // The new page's keys work once its scripts run, as its connected socket shows.
    alice.until_connected().await;

    // Alt+↓ opens the sidebar's next conversation, Alt+↑ comes back.
    let next = alice
        .js(
            "const l = [...document.querySelectorAll('#sidebar a.conv-link')];\
             const at = l.findIndex(a => a.getAttribute('aria-current') === 'page');\
             return new URL(l[(at + 1) % l.length].href).pathname;",
            vec![],
        )
        .await;
    let next = next.as_str().expect("a path").to_owned();
    assert_ne!(next, "/rooms/garden");
    alice
        .type_into("a.brand", &format!("{ALT}{ARROW_DOWN}{RELEASE}"))
        .await;
    alice.until_at(&next).await;
    alice.until_connected().await;
    alice
        .type_into("a.brand", &format!("{ALT}{ARROW_UP}{RELEASE}"))
        .await;
    alice.until_at("/rooms/garden").await;
    alice.close().await;
}

/// Whether bob's unread count of conversation `arguments[0]`, as a fresh lobby tells it
/// (0 without a badge), is `arguments[1]`; WebDriver waits for the promise.
const UNREAD_IN_LOBBY_IS: &str = r#"
const [id, expected] = arguments;
return fetch("/", { credentials: "same-origin" })
  .then((r) => r.text())
  .then((html) => {
    const badge = new DOMParser().parseFromString(html, "text/html").getElementById(`unread-${id}`);
    return (badge ? parseInt(badge.dataset.count, 10) || 0 : 0) === expected;
  });
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn escape_marks_the_conversation_read() {
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
    alice.goto("/dm/bob").await;
    alice.until_connected().await;
    bob.goto("/dm/alice").await;
    bob.until_connected().await;
    // A headless window always has focus, and a page that has it reports what it shows
    // by itself: this one believes it has none, so only Escape reports.
    bob.js("document.hasFocus = () => false; return true;", vec![])
        .await;
    let conversation = bob
        .js("return window.hearth.conversation().id;", vec![])
        .await;

    alice.type_into("#composer-body", "are you there?").await;
    alice.type_into("#composer-body", enter().as_str()).await;
    bob.until_js(
        "alice's message on bob's page",
        "return document.querySelectorAll('#messages article.message').length === 1;",
        vec![],
    )
    .await;
    bob.until_js(
        "one unread message for bob",
        UNREAD_IN_LOBBY_IS,
        vec![conversation.clone(), 1.into()],
    )
    .await;
    bob.type_into("a.brand", ESCAPE).await;
    bob.until_js(
        "nothing unread once bob pressed Escape",
        UNREAD_IN_LOBBY_IS,
        vec![conversation, 0.into()],
    )
    .await;
}
