//! Events programs publish: a page of the person they are for fires `hearth:{type}` on
//! `window`, with the detail, once.
use serde_json::json;

use crate::{
    harness::{Driver, Options, sign_up},
    helpers::{Page, TestApp},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn a_page_receives_a_published_event_as_a_dom_event() {
    let app = TestApp::spawn().await;
    // The first account is an administrator: its token may publish to anyone.
    let ops = app.member("ops").await;
    let made = ops
        .post_form("/settings/tokens", &[("name", "deploys")])
        .await;
    let token = Page::read(made)
        .await
        .text_of("#new-token")
        .expect("the token");
    let driver = Driver::start().await;
    let bob = driver
        .browser("bob", &app.url(""), Options::default())
        .await;
    sign_up(&bob).await;
    bob.until_connected().await;
    bob.js(
        "window.__events = [];\
         window.addEventListener('hearth:deploy.done', (e) => window.__events.push(e.detail));",
        vec![],
    )
    .await;

    let answer = reqwest::Client::new()
        .post(app.url("/api/v1/events"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(
            json!({"scope": "user", "target": "bob", "type": "deploy.done",
                   "detail": {"version": "1.2", "ok": true}})
            .to_string(),
        )
        .send()
        .await
        .expect("publish");
    assert_eq!(answer.status(), reqwest::StatusCode::CREATED);

    bob.until_js(
        "the page fired hearth:deploy.done with its detail",
        "const e = window.__events;\
         return e.length === 1 && e[0].version === '1.2' && e[0].ok === true;",
        vec![],
    )
    .await;
    bob.close().await;
}
