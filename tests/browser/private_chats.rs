//! Private chats, unread counts, read receipts and notifications (issue 4), written
//! against the contract: `/users?q=` links to `/dm/{username}`; unread counts are
//! `.unread-badge` elements (in `#sidebar`) and the tab title starts "(N) ".
//!
//! Read receipts have no markup in the contract. This test takes a receipt to be the
//! element `.receipt` (or `[data-receipt]`, `.ticks`, `.tick`) inside the sender's
//! message, and reads its state from, in order: `data-state` / `data-receipt`
//! ("sent"/"delivered" or "read"), the number of ✓ in its text or its `::before` /
//! `::after` content, then its `aria-label` / `title` ("read", "seen", "sent").
use serde_json::{Value, json};

use crate::{
    harness::{Browser, Driver, Options, enter, sign_up},
    helpers::TestApp,
};

/// Replaces `window.Notification` with a spy that records each notification and then
/// shows the real one; reports the real permission. It also makes the page believe its
/// window is not focused (a headless window always is), which is when notifications
/// are due.
const NOTIFICATION_SPY: &str = r#"
const Real = window.Notification;
window.__notifications = [];
function Spy(title, options) {
  window.__notifications.push({ title: String(title), body: String((options && options.body) || "") });
  try { return new Real(title, options); }
  catch (_) { return { addEventListener() {}, removeEventListener() {}, close() {} }; }
}
Object.defineProperty(Spy, "permission", { get: () => Real.permission });
Spy.requestPermission = (...args) => Real.requestPermission(...args);
Spy.prototype = Real.prototype;
window.Notification = Spy;
document.hasFocus = () => false;
return Real.permission;
"#;

/// "read", "sent", "none" (no receipt on the sender's last message), "hidden" (one the
/// sender cannot see) or "unknown: …". Ticks are counted in `innerText`, which leaves
/// out ticks hidden by CSS.
const RECEIPT_STATE: &str = r#"
const me = document.body.dataset.userId;
const mine = [...document.querySelectorAll('#messages article.message')]
  .filter(a => a.dataset.authorId === me);
const last = mine[mine.length - 1];
if (!last) return null;
const r = last.querySelector('.receipt, [data-receipt], .ticks, .tick');
if (!r) return 'none';
if (!r.getClientRects().length) return 'hidden';
const state = (r.dataset.state || r.dataset.receipt || '').toLowerCase();
if (state === 'read' || state === 'seen') return 'read';
if (state === 'sent' || state === 'delivered') return 'sent';
const marks = s => (String(s || '').match(/[\u2713\u2714]/g) || []).length;
const ticks = Math.max(marks(r.innerText),
  marks(getComputedStyle(r, '::before').content) + marks(getComputedStyle(r, '::after').content));
if (ticks >= 2) return 'read';
if (ticks === 1) return 'sent';
const label = ((r.getAttribute('aria-label') || '') + ' ' + (r.title || '')).toLowerCase();
if (/not (yet )?read|unread|not seen/.test(label)) return 'sent';
if (/\bread\b|\bseen\b/.test(label)) return 'read';
if (/\bsent\b|\bdelivered\b/.test(label)) return 'sent';
return 'unknown: ' + r.outerHTML;
"#;

async fn receipt_is(browser: &Browser, state: &str) {
    let mut last = Value::Null;
    browser
        .until(
            &format!("the sender's message shows its receipt as {state}"),
            async || {
                last = browser.js(RECEIPT_STATE, vec![]).await;
                (last == json!(state)).then_some(())
            },
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
async fn a_private_message_reaches_the_other_person_with_badge_title_and_notification() {
    let app = TestApp::spawn().await;
    let driver = Driver::start().await;
    let allowed = Options {
        allow_notifications: true,
        ..Options::default()
    };
    let alice = driver.browser("alice", &app.url(""), allowed.clone()).await;
    let bob = driver.browser("bob", &app.url(""), allowed).await;
    tokio::join!(sign_up(&alice), sign_up(&bob));

    // Bob waits on the lobby, his window elsewhere.
    bob.until_connected().await;
    bob.mark_page().await;
    let title = bob.client.title().await.expect("title");
    assert!(
        !title.starts_with('('),
        "Bob has unread messages before anyone wrote: {title:?}"
    );
    let permission = bob.js(NOTIFICATION_SPY, vec![]).await;
    assert_eq!(
        permission,
        json!("granted"),
        "the browser did not get the notification permission"
    );

    // Alice finds Bob in the directory and writes to him.
    alice.goto("/users?q=bo").await;
    alice.click("a[href='/dm/bob']").await;
    alice.until_at("/dm/bob").await;
    alice.until_connected().await;
    let text = "Psst, Bob: just between us";
    alice.type_into("#composer-body", text).await;
    alice.type_into("#composer-body", &enter()).await;
    until_message_shown(&alice, text).await;
    receipt_is(&alice, "sent").await;
    alice.screenshot("issue4-alice-sent").await;

    // Bob's lobby: the badge, the title and one notification, without a reload.
    let badge = bob
        .until("an unread badge saying 1 on Bob's page", async || {
            for badge in bob
                .client
                .find_all(fantoccini::Locator::Css(".unread-badge"))
                .await
                .ok()?
            {
                if badge.is_displayed().await.ok()? && badge.text().await.ok()?.trim() == "1" {
                    return Some(badge);
                }
            }
            None
        })
        .await;
    let title = bob
        .until("the tab title counting 1 unread", async || {
            let title = bob.client.title().await.ok()?;
            title.starts_with("(1) ").then_some(title)
        })
        .await;
    let shown = bob
        .until_js(
            "a desktop notification on Bob's side",
            "return window.__notifications.length > 0 && window.__notifications;",
            vec![],
        )
        .await;
    let shown = shown.as_array().expect("a list");
    assert_eq!(shown.len(), 1, "one message, one notification: {shown:?}");
    let said = format!("{} {}", shown[0]["title"], shown[0]["body"]);
    assert!(
        said.contains("alice") || said.contains(text),
        "the notification does not say who or what: {said}"
    );
    assert!(bob.page_is_marked().await, "Bob's page reloaded");
    bob.screenshot("issue4-bob-lobby-unread").await;
    println!(
        "badge on Bob's page: {:?}; title: {title:?}; notification: {said}",
        badge.html(false).await
    );

    // Bob opens the chat: he reads it, his counts go, and Alice sees two ticks.
    bob.click("a[href='/dm/alice']").await;
    bob.until_at("/dm/alice").await;
    until_message_shown(&bob, text).await;
    receipt_is(&alice, "read").await;
    bob.until("Bob's tab title without an unread count", async || {
        let title = bob.client.title().await.ok()?;
        (!title.starts_with('(')).then_some(())
    })
    .await;
    alice.screenshot("issue4-alice-read").await;
    bob.screenshot("issue4-bob-chat").await;

    alice.close().await;
    bob.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn three_people_in_a_group_chat_see_a_message_arrive_live() {
    let app = TestApp::spawn().await;
    let driver = Driver::start().await;
    let alice = driver
        .browser("alice", &app.url(""), Options::default())
        .await;
    let bob = driver
        .browser("bob", &app.url(""), Options::default())
        .await;
    let carol = driver
        .browser("carol", &app.url(""), Options::default())
        .await;
    tokio::join!(sign_up(&alice), sign_up(&bob), sign_up(&carol));

    // Alice starts the group from the directory's plain form.
    alice.goto("/users").await;
    alice.type_into("#new-group-names", "carol, bob").await;
    alice.click("form#new-group button[type=submit]").await;
    let group = alice
        .until("the group chat opened", async || {
            let path = alice.path().await;
            path.starts_with("/dm/g/").then_some(path)
        })
        .await;
    // Bob and Carol open it as they would from a link, each titled by the others.
    for (member, title) in [(&bob, "alice, carol"), (&carol, "alice, bob")] {
        member.goto(&group).await;
        member.until_connected().await;
        assert_eq!(member.visible_text("h1").await, title);
    }
    alice.until_connected().await;
    let text = "Dinner at eight, all three of us?";
    alice.type_into("#composer-body", text).await;
    alice.type_into("#composer-body", &enter()).await;
    until_message_shown(&alice, text).await;
    until_message_shown(&bob, text).await;
    until_message_shown(&carol, text).await;
    carol.screenshot("group-chat-carol").await;

    alice.close().await;
    bob.close().await;
    carol.close().await;
}
