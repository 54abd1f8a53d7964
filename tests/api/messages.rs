//! Posting to a room through the composer, as a plain form and as htmx, the rules a body
//! follows, how a body is shown, and reading a long history fifty messages at a time.
use reqwest::StatusCode;

use crate::helpers::{Page, TestApp, Visitor, location, message_ids_in};

/// A member, a room they created, and the composer's action for it.
struct Room {
    alice: Visitor,
    url: String,
    action: String,
}

async fn room(app: &TestApp) -> Room {
    let alice = app.member("alice").await;
    let url = alice.create_room("general").await;
    let page = alice.page(&url).await;
    assert_eq!(
        page.attr("form#composer", "method").as_deref(),
        Some("post")
    );
    let action = page
        .attr("form#composer", "action")
        .expect("the composer has an action");
    assert!(page.has("form#composer [name=body]") && page.has("form#composer [name=csrf_token]"));
    Room { alice, url, action }
}

/// Posts `body` as a plain form and expects it refused: 422, the room page again with a
/// message next to the composer. Answers the message.
async fn refused_plain(room: &Room, body: &str) -> String {
    let page = Page::read(room.alice.post_form(&room.action, &[("body", body)]).await).await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a body of {} characters",
        body.chars().count()
    );
    assert!(
        page.has("form#composer"),
        "the refusal does not give the composer back"
    );
    let said = page.text_of("#composer-error").unwrap_or_default();
    assert!(!said.trim().is_empty(), "the refusal gives no reason");
    said
}

/// Posts `body` as htmx does and expects it refused: 422 and a `#composer-error`
/// fragment. Answers the message.
async fn refused_htmx(room: &Room, body: &str) -> String {
    let page = Page::read(room.alice.post_htmx(&room.action, &[("body", body)]).await).await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a body of {} characters",
        body.chars().count()
    );
    assert!(
        !page.has("form#composer"),
        "an htmx refusal answers a whole page"
    );
    let said = page
        .text_of("#composer-error")
        .expect("a #composer-error fragment");
    assert!(!said.trim().is_empty(), "the refusal gives no reason");
    said
}

/// Posts `body` as a plain form, expects it taken, and answers how the room page then
/// shows the newest message: its id and the page.
async fn posted(room: &Room, body: &str) -> (i64, Page) {
    let resp = room.alice.post_form(&room.action, &[("body", body)]).await;
    assert_eq!(
        resp.status(),
        StatusCode::SEE_OTHER,
        "a body of {} characters",
        body.chars().count()
    );
    assert_eq!(location(&resp), room.url);
    let page = room.alice.page(&room.url).await;
    let id = page
        .message_ids()
        .into_iter()
        .max()
        .expect("the message is on the page");
    (id, page)
}

fn body_of(page: &Page, id: i64) -> String {
    page.text_of(&format!("#messages article#message-{id} .message-body"))
        .unwrap_or_else(|| panic!("message {id} is not in #messages"))
}

#[tokio::test]
async fn a_plain_form_post_goes_back_to_the_room_and_everyone_sees_the_message() {
    let app = TestApp::spawn().await;
    let room = room(&app).await;
    let (id, page) = posted(&room, "Hello, hearth!").await;
    assert_eq!(page.message_ids(), [id]);
    assert_eq!(body_of(&page, id), "Hello, hearth!");
    assert_eq!(
        page.text_of(&format!("article#message-{id} .author"))
            .as_deref(),
        Some("alice")
    );

    let bob = app.member("bob").await;
    let seen = bob.page(&room.url).await;
    assert_eq!(seen.message_ids(), [id]);
    assert_eq!(seen.message_bodies(), ["Hello, hearth!"]);
    assert_eq!(app.rows("messages").await, 1, "messages stored");
}

#[tokio::test]
async fn an_htmx_post_answers_a_fragment_that_appends_the_message() {
    let app = TestApp::spawn().await;
    let room = room(&app).await;
    let resp = room
        .alice
        .post_htmx(&room.action, &[("body", "via htmx")])
        .await;
    let fragment = Page::read(resp).await;
    assert_eq!(fragment.status, StatusCode::OK);
    assert!(
        !fragment.has("form#composer"),
        "an htmx post answers a whole page"
    );

    let page = room.alice.page(&room.url).await;
    let ids = page.message_ids();
    assert_eq!(ids.len(), 1);
    let id = ids[0];
    assert!(fragment.text.contains(&format!("id=\"message-{id}\"")));
    assert!(fragment.text.contains("hx-swap-oob"));
    let in_fragment = fragment
        .text_of(&format!("[hx-swap-oob] article#message-{id} .message-body"))
        .expect("the message inside an out-of-band block");
    assert_eq!(in_fragment, "via htmx");
    assert_eq!(body_of(&page, id), "via htmx");
}

#[tokio::test]
async fn an_empty_or_whitespace_only_message_is_refused_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let room = room(&app).await;
    for body in ["", "   ", " \n\t \r\n ", "\u{7}\u{0}"] {
        let said = refused_plain(&room, body).await.to_lowercase();
        assert!(
            said.contains("write something"),
            "the refusal of {body:?} says {said:?}"
        );
        let said = refused_htmx(&room, body).await.to_lowercase();
        assert!(
            said.contains("write something"),
            "the htmx refusal of {body:?} says {said:?}"
        );
    }
    let page = Page::read(room.alice.post_form(&room.action, &[]).await).await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a form without a body"
    );

    assert_eq!(app.rows("messages").await, 0, "messages stored");
    assert_eq!(
        room.alice.page(&room.url).await.message_ids(),
        Vec::<i64>::new()
    );
}

#[tokio::test]
async fn a_message_of_4001_characters_is_refused_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let room = room(&app).await;
    for body in ["a".repeat(4001), "é".repeat(4001)] {
        let said = refused_plain(&room, &body).await;
        assert!(said.contains("4000"), "the refusal says {said:?}");
        let said = refused_htmx(&room, &body).await;
        assert!(said.contains("4000"), "the htmx refusal says {said:?}");
    }
    assert_eq!(app.rows("messages").await, 0, "messages stored");
}

#[tokio::test]
async fn a_refused_plain_post_keeps_the_draft_in_the_composer() {
    let app = TestApp::spawn().await;
    let room = room(&app).await;
    let draft = format!("my long story {}", "x".repeat(4000));
    let page = Page::read(
        room.alice
            .post_form(&room.action, &[("body", &draft)])
            .await,
    )
    .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    let kept = page
        .text_of("form#composer textarea[name=body]")
        .unwrap_or_default();
    assert!(
        kept == draft,
        "the composer holds {} characters, not the draft",
        kept.chars().count()
    );
}

#[tokio::test]
async fn a_message_of_exactly_4000_characters_is_accepted_whole() {
    let app = TestApp::spawn().await;
    let room = room(&app).await;

    let body = "a".repeat(4000);
    let (id, page) = posted(&room, &body).await;
    let shown = body_of(&page, id);
    assert!(
        shown == body,
        "4000 × 'a' is shown as {} characters",
        shown.chars().count()
    );

    // Length counts characters, not bytes, and not the whitespace around them.
    let wide = "é".repeat(4000);
    let (id, page) = posted(&room, &format!("  \n{wide}\n  ")).await;
    let shown = body_of(&page, id);
    assert!(
        shown == wide,
        "4000 × 'é' is shown as {} characters",
        shown.chars().count()
    );
    assert_eq!(app.rows("messages").await, 2, "messages stored");
}

#[tokio::test]
async fn control_characters_are_stripped_but_newlines_and_tabs_are_kept() {
    let app = TestApp::spawn().await;
    let room = room(&app).await;
    let (id, page) = posted(
        &room,
        "be\u{7}ll\u{0} and\u{1b}[31m red\r\nnext line\n\tindented\u{202e}",
    )
    .await;
    // Stored as typed, less the controls; shown with its line breaks.
    let edit = room.alice.page(&format!("/messages/{id}/edit")).await;
    assert_eq!(
        edit.text_of("textarea[name=body]").as_deref(),
        Some("bell and[31m red\nnext line\n\tindented")
    );
    assert_eq!(body_of(&page, id), "bell and[31m rednext lineindented");
    assert_eq!(
        page.select(&format!("#message-{id} .message-body br"))
            .len(),
        2
    );
}

#[tokio::test]
async fn html_in_a_message_is_shown_as_text() {
    let app = TestApp::spawn().await;
    let room = room(&app).await;
    let body = r#"<script>alert("x")</script> <b>bold</b> <img src=x onerror=alert(1)>"#;
    let (id, page) = posted(&room, body).await;
    assert!(
        page.text.contains("&lt;script&gt;"),
        "the script tag is not escaped"
    );
    for element in ["script", "b", "img"] {
        assert!(
            !page.has(&format!("#message-{id} .message-body {element}")),
            "a <{element}> element made it into the message"
        );
    }
    assert_eq!(body_of(&page, id), body);

    let fragment = Page::read(room.alice.post_htmx(&room.action, &[("body", body)]).await).await;
    assert_eq!(fragment.status, StatusCode::OK);
    assert!(fragment.text.contains("&lt;script&gt;"));
    assert!(
        !fragment.has(".message-body script"),
        "the htmx fragment carries a <script>"
    );
}

#[tokio::test]
async fn web_links_become_safe_anchors_and_javascript_urls_do_not() {
    let app = TestApp::spawn().await;
    let room = room(&app).await;
    let body = "read https://example.com/docs?page=1 or javascript:alert(1) now";
    let (id, page) = posted(&room, body).await;

    let anchors = page.select(&format!("#message-{id} .message-body a"));
    assert_eq!(anchors.len(), 1, "exactly one link in {body:?}");
    let anchor = anchors[0].value();
    assert_eq!(anchor.attr("href"), Some("https://example.com/docs?page=1"));
    assert_eq!(anchor.attr("rel"), Some("noopener noreferrer nofollow"));
    assert!(
        !page.has("a[href^='javascript' i]"),
        "a javascript: link is on the page"
    );
    assert_eq!(body_of(&page, id), body, "the text around the link is kept");
}

#[tokio::test]
async fn a_message_cannot_be_posted_without_the_session_csrf_token() {
    let app = TestApp::spawn().await;
    let room = room(&app).await;
    let bob = app.member("bob").await;
    room.alice
        .assert_forgeries_forbidden(&room.action, &[("body", "forged")], &bob.csrf_token().await)
        .await;
    assert_eq!(app.rows("messages").await, 0, "messages stored");
    assert_eq!(
        room.alice.page(&room.url).await.message_ids(),
        Vec::<i64>::new()
    );
}

/// Posts `count` messages ("message 1", "message 2", …) through the composer as htmx
/// does, one after the other; answers their ids in order.
async fn fill(room: &Room, count: usize) -> Vec<i64> {
    let token = room.alice.csrf_token().await;
    let mut ids = Vec::with_capacity(count);
    for n in 1..=count {
        let resp = room
            .alice
            .http
            .post(room.alice.url(&room.action))
            .header("HX-Request", "true")
            .header("X-CSRF-Token", &token)
            .form(&[("body", format!("message {n}"))])
            .send()
            .await
            .expect("POST a message");
        assert_eq!(resp.status(), StatusCode::OK, "message {n} was refused");
        let fragment = resp.text().await.expect("the fragment");
        let posted = message_ids_in(&fragment);
        assert_eq!(posted.len(), 1, "message {n}'s fragment: {fragment}");
        ids.push(posted[0]);
    }
    ids
}

fn bodies(range: std::ops::RangeInclusive<usize>) -> Vec<String> {
    range.map(|n| format!("message {n}")).collect()
}

fn older_href(page: &Page) -> Option<String> {
    page.attr("#older a", "href")
}

#[tokio::test]
async fn a_long_history_shows_the_latest_fifty_oldest_first_and_pages_back_fifty_at_a_time() {
    let app = TestApp::spawn().await;
    let room = room(&app).await;
    let ids = fill(&room, 120).await;

    let latest = room.alice.page(&room.url).await;
    assert_eq!(latest.message_ids(), ids[70..]);
    assert_eq!(latest.message_bodies(), bodies(71..=120));
    let older = older_href(&latest).expect("a link to older messages");
    assert_eq!(older, format!("{}?before={}", room.url, ids[70]));

    let middle = room.alice.page(&older).await;
    assert_eq!(middle.status, StatusCode::OK);
    assert_eq!(middle.message_ids(), ids[20..70]);
    assert_eq!(middle.message_bodies(), bodies(21..=70));
    let oldest = older_href(&middle).expect("a link to still older messages");
    assert_eq!(oldest, format!("{}?before={}", room.url, ids[20]));

    let first = room.alice.page(&oldest).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.message_ids(), ids[..20]);
    assert_eq!(first.message_bodies(), bodies(1..=20));
    assert_eq!(
        older_href(&first),
        None,
        "a link to older messages before the first one"
    );
}

#[tokio::test]
async fn loading_older_messages_with_htmx_answers_a_fragment_that_prepends_them() {
    let app = TestApp::spawn().await;
    let room = room(&app).await;
    let ids = fill(&room, 120).await;

    let latest = room.alice.page(&room.url).await;
    let older = older_href(&latest).expect("a link to older messages");
    let fragment = room.alice.htmx_page(&older).await;
    assert_eq!(fragment.status, StatusCode::OK);
    assert!(
        !fragment.has("form#composer"),
        "the htmx answer is a whole page"
    );
    let prepend = "[hx-swap-oob='afterbegin:#messages']";
    let prepended: Vec<String> = fragment
        .select(&format!("{prepend} article.message"))
        .iter()
        .filter_map(|e| e.value().id().map(str::to_owned))
        .collect();
    let expected: Vec<String> = ids[20..70]
        .iter()
        .map(|id| format!("message-{id}"))
        .collect();
    assert_eq!(prepended, expected, "the 50 messages before, oldest first");
    assert_eq!(
        fragment.attr("#older a", "href"),
        Some(format!("{}?before={}", room.url, ids[20])),
        "the fragment's new #older points further back"
    );

    let last = room
        .alice
        .htmx_page(&format!("{}?before={}", room.url, ids[20]))
        .await;
    assert_eq!(last.status, StatusCode::OK);
    assert_eq!(last.select(&format!("{prepend} article.message")).len(), 20);
    assert!(
        last.has("#older"),
        "the last fragment still replaces #older"
    );
    assert!(
        !last.has("#older a"),
        "a link to older messages before the first one"
    );
}

#[tokio::test]
async fn every_view_of_a_room_shows_the_messages_posted_since_the_last_one() {
    let app = TestApp::spawn().await;
    let room = room(&app).await;
    let bob = app.member("bob").await;
    let mut seen = Vec::new();
    for i in 0..3 {
        // Two people viewing between posts: whatever the server keeps of the last view,
        // each view holds every message so far, once, in order.
        for viewer in [&room.alice, &bob] {
            assert_eq!(viewer.page(&room.url).await.message_ids(), seen);
        }
        let (id, _) = posted(&room, &format!("number {i}")).await;
        seen.push(id);
    }
    assert_eq!(bob.page(&room.url).await.message_ids(), seen);
}
