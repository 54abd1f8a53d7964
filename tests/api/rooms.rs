//! Rooms through the real server: creating one, finding it in the lobby, refusing
//! duplicates and bad names, CSRF on the form, the not-found page; and what every page
//! stands on: the health check and the content-hashed assets.
use reqwest::{StatusCode, header};

use crate::helpers::{Page, TestApp, Visitor, location};

/// The rooms the lobby lists, as (link, text).
async fn listed_rooms(visitor: &Visitor) -> Vec<(String, String)> {
    let lobby = visitor.page("/").await;
    assert_eq!(lobby.status, StatusCode::OK);
    lobby
        .select("#rooms a")
        .iter()
        .map(|a| {
            let href = a.value().attr("href").unwrap_or_default().to_owned();
            (href, a.text().collect::<String>().trim().to_owned())
        })
        .collect()
}

/// Creates a room with exactly `name` and checks the refusal a person sees: 422, the
/// lobby with the form again, the name as typed and a message. Answers the message.
async fn refused_room(visitor: &Visitor, name: &str) -> String {
    let page = Page::read(visitor.post_form("/rooms", &[("name", name)]).await).await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "room {name:?} was not refused"
    );
    assert!(
        page.has("form[action='/rooms'] input[name=name]"),
        "the refusal of {name:?} does not give the form back"
    );
    assert_eq!(
        page.attr("form[action='/rooms'] input[name=name]", "value")
            .as_deref(),
        Some(name),
        "the typed name is not kept"
    );
    let said = page.texts("form[action='/rooms'] .form-error").join(" ");
    assert!(!said.is_empty(), "the refusal of {name:?} gives no reason");
    said
}

#[tokio::test]
async fn a_member_creates_a_room_and_it_is_listed_in_the_lobby_for_everyone() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;

    let resp = alice.post_form("/rooms", &[("name", "Rust Talk")]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/rooms/rust-talk");

    let room = alice.page("/rooms/rust-talk").await;
    assert_eq!(room.status, StatusCode::OK);
    assert_eq!(room.text_of("h1").as_deref(), Some("#Rust Talk"));
    assert!(room.has("#messages") && room.has("form#composer"));

    let expected = vec![("/rooms/rust-talk".to_owned(), "#Rust Talk".to_owned())];
    assert_eq!(listed_rooms(&alice).await, expected);
    assert_eq!(listed_rooms(&bob).await, expected);
    assert_eq!(app.rows("conversations").await, 1, "rooms stored");
}

#[tokio::test]
async fn a_duplicate_room_name_is_refused_and_nothing_is_created() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    assert_eq!(alice.create_room("Rust Talk").await, "/rooms/rust-talk");

    for name in [
        "Rust Talk",
        "rust talk",
        "  RUST   TALK ",
        "rust-talk",
        "Rust_Talk",
    ] {
        let said = refused_room(&bob, name).await.to_lowercase();
        assert!(
            said.contains("already"),
            "the refusal of {name:?} says {said:?}"
        );
    }
    assert_eq!(app.rows("conversations").await, 1, "rooms stored");
    assert_eq!(
        listed_rooms(&bob).await,
        vec![("/rooms/rust-talk".to_owned(), "#Rust Talk".to_owned())]
    );
}

#[tokio::test]
async fn a_room_name_that_breaks_the_rules_is_refused_and_nothing_is_created() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;

    for name in [
        "",
        "   ",
        "x",
        &"x".repeat(41),
        "<b>hi</b>",
        "--",
        "a/b",
        "\u{202e}evil",
        "bell\u{7}",
    ] {
        refused_room(&alice, name).await;
    }
    let page = Page::read(alice.post_form("/rooms", &[]).await).await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a form without a name"
    );

    assert_eq!(app.rows("conversations").await, 0, "rooms stored");
    assert_eq!(listed_rooms(&alice).await, vec![]);
}

#[tokio::test]
async fn a_room_cannot_be_created_without_the_session_csrf_token() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;

    alice
        .assert_forgeries_forbidden("/rooms", &[("name", "general")], &bob.csrf_token().await)
        .await;
    assert_eq!(app.rows("conversations").await, 0, "rooms stored");
    assert_eq!(listed_rooms(&alice).await, vec![]);
    assert_eq!(
        alice.get("/rooms/general").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_x_csrf_token_header_can_replace_the_form_field_when_creating_a_room() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let token = alice.csrf_token().await;
    let resp = alice
        .http
        .post(alice.url("/rooms"))
        .header("X-CSRF-Token", token)
        .form(&[("name", "general")])
        .send()
        .await
        .expect("POST /rooms");
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/rooms/general");
    assert_eq!(app.rows("conversations").await, 1, "rooms stored");
}

#[tokio::test]
async fn an_unknown_room_is_a_not_found_page_in_the_site_design() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;

    let page = alice.page("/rooms/nope").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(
        page.has("main.error-page"),
        "the 404 is not the site's error page"
    );
    assert!(
        page.has("link[rel=stylesheet]"),
        "the 404 page has no stylesheet"
    );
    assert!(page.has("a[href='/']"), "the 404 page has no way back");

    let page = app.visitor().page("/no/such/page").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.has("main.error-page"));
}

#[tokio::test]
async fn the_health_check_answers_ok() {
    let app = TestApp::spawn().await;
    let resp = app.visitor().get("/healthz").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.text().await.expect("body").trim(), "ok");
}

/// The content hash in an asset URL such as `/assets/app.3f2a9c1e04.css`.
fn content_hash(url: &str) -> Option<&str> {
    let name = url.strip_prefix("/assets/")?;
    let mut parts = name.rsplitn(3, '.');
    let (_ext, hash) = (parts.next()?, parts.next()?);
    parts.next()?;
    (hash.len() >= 8 && hash.chars().all(|c| c.is_ascii_hexdigit())).then_some(hash)
}

#[tokio::test]
async fn every_asset_of_a_page_is_served_under_a_content_hash_url_and_cached_for_good() {
    let app = TestApp::spawn().await;
    let visitor = app.visitor();
    let page = visitor.page("/login").await;

    let stylesheets: Vec<String> = page
        .select("link[rel=stylesheet]")
        .iter()
        .filter_map(|e| e.value().attr("href").map(str::to_owned))
        .collect();
    assert_eq!(stylesheets.len(), 1, "one stylesheet: {stylesheets:?}");
    let scripts: Vec<String> = page
        .select("script[src]")
        .iter()
        .filter_map(|e| e.value().attr("src").map(str::to_owned))
        .collect();
    assert!(!scripts.is_empty(), "the page loads no scripts");

    let expected_types = stylesheets
        .iter()
        .map(|url| (url, "text/css"))
        .chain(scripts.iter().map(|url| (url, "javascript")));
    for (url, content_type) in expected_types {
        assert!(content_hash(url).is_some(), "{url} has no content hash");
        let resp = visitor.get(url).await;
        assert_eq!(resp.status(), StatusCode::OK, "GET {url}");
        let header_of = |name| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let served_as = header_of(header::CONTENT_TYPE);
        assert!(
            served_as.contains(content_type),
            "{url} is served as {served_as:?}"
        );
        let cache = header_of(header::CACHE_CONTROL);
        assert!(
            cache.contains("immutable"),
            "{url} is cached with {cache:?}"
        );
        assert!(
            !resp.bytes().await.expect("body").is_empty(),
            "{url} is empty"
        );
    }
}

#[tokio::test]
async fn an_unknown_asset_is_not_found() {
    let app = TestApp::spawn().await;
    let visitor = app.visitor();
    assert_eq!(
        visitor.get("/assets/nope.css").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        visitor.get("/assets/app.0000000000.css").await.status(),
        StatusCode::NOT_FOUND
    );
}
