//! The quick switcher: `/switcher?q=` offers the rooms and people whose names hold what
//! was typed, as a list box for its dialog (or a page on a plain load), and any text
//! typed gets a list, never a server error.
use reqwest::StatusCode;

use crate::helpers::{Page, TestApp, Visitor};

/// The switcher's list for `q`, as its dialog asks for it.
async fn offered(visitor: &Visitor, q: &str) -> Page {
    let q: String = form_urlencoded::byte_serialize(q.as_bytes()).collect();
    let resp = visitor
        .http
        .get(visitor.url(&format!("/switcher?q={q}")))
        .header("HX-Request", "true")
        .send()
        .await
        .expect("GET");
    Page::read(resp).await
}

fn links(page: &Page) -> Vec<String> {
    page.select("#switcher-options [role=option] a")
        .iter()
        .filter_map(|a| a.value().attr("href").map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn the_switcher_offers_rooms_and_people_whose_names_hold_what_was_typed() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    alice.create_room("general").await;
    alice.create_room("Gen Z").await;
    alice.create_room("random").await;
    app.member("genevieve").await;
    app.member("bob").await;

    let list = offered(&alice, "gen").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(!list.text.contains("<html"), "a fragment, not a page");
    assert_eq!(
        links(&list),
        ["/rooms/gen-z", "/rooms/general", "/dm/genevieve"]
    );
    assert_eq!(
        list.attr("[role=option][aria-selected=true] a", "href")
            .as_deref(),
        Some("/rooms/gen-z")
    );
    assert_eq!(links(&offered(&alice, "@bo").await), ["/dm/bob"]);
    assert_eq!(links(&offered(&alice, "#RAN").await), ["/rooms/random"]);
    // Not oneself; and nothing is said plainly.
    assert!(links(&offered(&alice, "ali").await).is_empty());
    assert!(offered(&alice, "zzz").await.has("#switcher-none"));

    // A plain load is a page with the same list; no session, no list.
    let page = alice.page("/switcher?q=gen").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.has("main #switcher-options a[href=\"/rooms/general\"]"));
    let anonymous = app.visitor().get("/switcher?q=gen").await;
    assert!(anonymous.status().is_redirection());
}

#[tokio::test]
async fn every_signed_in_page_has_the_switcher_and_the_shortcuts() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    for path in ["/", "/users", "/search?q=x"] {
        let page = alice.page(path).await;
        assert!(page.has("dialog#switcher input#switcher-q"), "{path}");
        assert!(page.has("dialog#shortcuts-help kbd"), "{path}");
    }
    let login = app.visitor().page("/login").await;
    assert!(!login.has("#switcher"));
}

#[tokio::test]
async fn anything_typed_into_the_switcher_gets_a_list_never_a_server_error() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    alice.create_room("general").await;
    let long = "x".repeat(500);
    for q in [
        "%",
        "_",
        "\\",
        "'",
        "\"",
        "\0",
        "#",
        "@",
        "ü",
        "名前",
        long.as_str(),
    ] {
        let list = offered(&alice, q).await;
        assert_eq!(list.status, StatusCode::OK, "{q:?}");
    }
    assert!(links(&offered(&alice, "%").await).is_empty());
    assert!(links(&offered(&alice, "_").await).is_empty());
}
