//! Private rooms as people use them (issue 24): a member invites someone by name, and
//! the room appears on that person's open page at once.
use serde_json::json;

use crate::{
    harness::{Driver, Options, enter, sign_up},
    helpers::TestApp,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn someone_invited_to_a_private_room_sees_it_arrive_and_talks_there_live() {
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
    bob.until_connected().await;

    alice.goto("/").await;
    alice.type_into("#room-name", "Back Room").await;
    alice.click("input[name=visibility][value=private]").await;
    alice
        .click("form[action='/rooms'] button[type=submit]")
        .await;
    alice.until_at("/rooms/back-room").await;
    alice.until_connected().await;
    alice.type_into("#composer-body", "only for us").await;
    alice.type_into("#composer-body", &enter()).await;

    alice.click("#room-members summary").await;
    alice.type_into("#add-member-name", "bob").await;
    alice.click("#add-member button[type=submit]").await;
    alice
        .until_js(
            "bob listed among the members",
            "return [...document.querySelectorAll('#room-member-list li')]\
               .some(li => li.textContent.trim() === '@bob');",
            vec![],
        )
        .await;

    // Bob's lobby, open all along, gets the room in its sidebar without a reload.
    bob.mark_page().await;
    bob.until_js(
        "the private room in bob's sidebar",
        "return [...document.querySelectorAll('#sidebar-rooms a')]\
           .some(a => a.innerText.includes('Back Room'));",
        vec![],
    )
    .await;
    assert!(
        bob.page_is_marked().await,
        "the sidebar changed by a reload"
    );
    bob.click("#sidebar-rooms a[href='/rooms/back-room']").await;
    bob.until_at("/rooms/back-room").await;
    bob.until_connected().await;
    let said = bob.messages().await;
    assert!(
        said.iter().any(|(_, body)| body == "only for us"),
        "{said:?}"
    );
    alice.type_into("#composer-body", "welcome, bob").await;
    alice.type_into("#composer-body", &enter()).await;
    bob.until_js(
        "alice's message arriving live",
        "return [...document.querySelectorAll('#messages article.message .message-body')]\
           .some(b => b.innerText === arguments[0]);",
        vec![json!("welcome, bob")],
    )
    .await;
    alice.click("#room-members summary").await;
    alice.screenshot("private-room-members").await;
    alice.goto("/admin").await;
    alice.screenshot("admin-page").await;
    alice.close().await;
    bob.close().await;
}
