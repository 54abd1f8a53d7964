//! Installed as an app: the service worker takes the site, and when the server cannot
//! be reached a page that is opened shows the offline page, not the browser's error.
use crate::{
    harness::{Driver, Options, sign_up},
    helpers::TestApp,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn with_the_server_gone_a_page_opens_the_offline_page() {
    let mut app = TestApp::spawn().await;
    let driver = Driver::start().await;
    let alice = driver
        .browser("alice", &app.url(""), Options::default())
        .await;
    sign_up(&alice).await;
    alice
        .until_js(
            "the service worker controls the page",
            "if (navigator.serviceWorker.controller) return true;\
             navigator.serviceWorker.ready.then(() => location.reload()); return false;",
            vec![],
        )
        .await;
    app.stop().await;
    alice.goto("/rooms/anything").await;
    let heading = alice.visible_text("#offline h1").await;
    assert_eq!(heading, "You are offline");
}
