//! What people do with messages after posting them: edit, delete, react, reply, link,
//! and how every open page and every catch-up hears of it. Each refusal changes
//! nothing.
use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::{
    Page, Socket, TestApp, Visitor, frame_where, frames_within, location, message_ids_in,
};

/// alice's room, bob in it, and one message of alice's.
struct Scene {
    app: TestApp,
    alice: Visitor,
    bob: Visitor,
    room: i64,
    url: String,
    message: i64,
}

async fn scene() -> Scene {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let url = alice.create_room("general").await;
    let room = alice.conversation_id(&url).await;
    let bob = app.member("bob").await;
    bob.page(&url).await;
    let message = post(&alice, room, "Hello, hearth").await;
    Scene {
        app,
        alice,
        bob,
        room,
        url,
        message,
    }
}

async fn post(visitor: &Visitor, room: i64, body: &str) -> i64 {
    post_replying(visitor, room, body, None).await
}

async fn post_replying(visitor: &Visitor, room: i64, body: &str, reply_to: Option<i64>) -> i64 {
    let reply = reply_to.map(|id| id.to_string()).unwrap_or_default();
    let resp = visitor
        .post_htmx(
            &format!("/conversations/{room}/messages"),
            &[("body", body), ("reply_to", &reply)],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK, "post of {body:?}");
    message_ids_in(&resp.text().await.expect("fragment"))[0]
}

/// The message as `visitor`'s page of the room shows it.
async fn shown(visitor: &Visitor, url: &str, id: i64) -> Page {
    let page = visitor.page(url).await;
    assert!(
        page.has(&format!("#message-{id}")),
        "message {id} is not on the page"
    );
    page
}

fn body_of(page: &Page, id: i64) -> String {
    page.text_of(&format!("#message-{id} .message-body"))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

async fn stored_body(app: &TestApp, id: i64) -> String {
    use sea_orm::ConnectionTrait;
    let db = &app.state.db;
    let row = db
        .query_one_raw(hearth::db::statement(
            db,
            "SELECT body FROM messages WHERE id = ?",
            [id.into()],
        ))
        .await
        .expect("query")
        .expect("the row");
    row.try_get::<String>("", "body").expect("body")
}

/// A page's socket of the room, holding everything up to message `after` (as the page
/// does): what happens from then on reaches it whether it lands before or after the
/// socket has joined.
async fn room_socket(visitor: &Visitor, room: i64, after: i64) -> Socket {
    visitor
        .socket(&format!("/ws?conversation={room}&after={after}"))
        .await
}

/// The next frame on `socket` that replaces message `id`.
async fn replacement(socket: &mut Socket, id: i64) -> String {
    let tag = format!("id=\"message-{id}\"");
    frame_where(socket, move |f| {
        f.contains(&tag) && f.contains("hx-swap-oob=\"true\"")
    })
    .await
}

#[tokio::test]
async fn an_author_edits_a_message_and_every_open_page_sees_it_marked_edited() {
    let s = scene().await;
    let mut bob_socket = room_socket(&s.bob, s.room, s.message).await;
    let resp = s
        .alice
        .post_form(
            &format!("/messages/{}/edit", s.message),
            &[("body", "Hello, **hearth**!")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), format!("/messages/{}", s.message));

    let frame = replacement(&mut bob_socket, s.message).await;
    assert!(frame.contains("<strong>hearth</strong>"), "{frame}");
    assert!(frame.contains("class=\"message edited\""), "{frame}");
    let page = shown(&s.bob, &s.url, s.message).await;
    assert_eq!(body_of(&page, s.message), "Hello, hearth!");
    assert!(page.has(&format!("#message-{}.edited", s.message)));
    let title = page
        .attr(&format!("#message-{} .edited-mark", s.message), "title")
        .expect("the (edited) mark says when");
    assert!(title.starts_with("Edited 20"), "{title}");
    assert_eq!(stored_body(&s.app, s.message).await, "Hello, **hearth**!");
}

#[tokio::test]
async fn an_edit_follows_the_rules_of_posting_and_a_refused_one_changes_nothing() {
    let s = scene().await;
    let path = format!("/messages/{}/edit", s.message);
    for body in ["   ", &"x".repeat(4001)] {
        let resp = s.alice.post_form(&path, &[("body", body)]).await;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = Page::read(resp).await;
        assert!(page.has(".form-error"), "a refused edit says why");
    }
    let resp = s.alice.post_htmx(&path, &[("body", "")]).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(resp.text().await.expect("body").contains("edit-form"));
    assert_eq!(stored_body(&s.app, s.message).await, "Hello, hearth");
}

#[tokio::test]
async fn nobody_edits_or_deletes_someone_elses_message() {
    let s = scene().await;
    for action in ["edit", "delete"] {
        let resp = s
            .bob
            .post_form(
                &format!("/messages/{}/{action}", s.message),
                &[("body", "mine now")],
            )
            .await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{action}");
        let resp = s
            .bob
            .get(&format!("/messages/{}/{action}", s.message))
            .await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "the {action} page");
    }
    let page = shown(&s.alice, &s.url, s.message).await;
    assert_eq!(body_of(&page, s.message), "Hello, hearth");
    assert!(!page.has(&format!("#message-{}.edited", s.message)));
}

#[tokio::test]
async fn a_message_of_someone_elses_private_chat_is_not_found_for_any_action() {
    let s = scene().await;
    let carol = s.app.member("carol").await;
    let chat = s.alice.conversation_id("/dm/bob").await;
    let secret = post(&s.alice, chat, "just between us").await;
    for (path, fields) in [
        (format!("/messages/{secret}/edit"), vec![("body", "x")]),
        (format!("/messages/{secret}/delete"), vec![]),
        (
            format!("/messages/{secret}/reactions"),
            vec![("emoji", "👍")],
        ),
    ] {
        let resp = carol.post_form(&path, &fields).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
    }
    for path in ["", "/edit", "/delete", "/react", "/reply"] {
        let resp = carol.get(&format!("/messages/{secret}{path}")).await;
        assert_eq!(
            resp.status(),
            StatusCode::NOT_FOUND,
            "GET /messages/{secret}{path}"
        );
    }
    assert_eq!(s.app.rows("reactions").await, 0);
    assert_eq!(stored_body(&s.app, secret).await, "just between us");
}

#[tokio::test]
async fn a_deleted_message_is_a_tombstone_everywhere_and_its_text_is_gone_from_the_row() {
    let s = scene().await;
    let mut bob_socket = room_socket(&s.bob, s.room, s.message).await;
    let resp = s
        .alice
        .post_htmx(&format!("/messages/{}/delete", s.message), &[])
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let frame = replacement(&mut bob_socket, s.message).await;
    assert!(frame.contains("class=\"message deleted\""), "{frame}");
    assert!(!frame.contains("Hello, hearth"), "{frame}");

    let page = shown(&s.bob, &s.url, s.message).await;
    assert!(page.has(&format!("#message-{}.deleted", s.message)));
    assert!(!page.text.contains("Hello, hearth"));
    assert_eq!(stored_body(&s.app, s.message).await, "");
    let mut catch_up = s
        .bob
        .socket(&format!("/ws?conversation={}&after=0", s.room))
        .await;
    let frame = frame_where(&mut catch_up, |f| f.contains("id=\"message-")).await;
    assert!(
        frame.contains("deleted") && !frame.contains("Hello, hearth"),
        "{frame}"
    );

    // A deleted message stays deleted: nothing more may change it.
    let resp = s
        .alice
        .post_form(
            &format!("/messages/{}/edit", s.message),
            &[("body", "back")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let resp = s
        .bob
        .post_form(
            &format!("/messages/{}/reactions", s.message),
            &[("emoji", "👍")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert_eq!(stored_body(&s.app, s.message).await, "");
}

async fn react(visitor: &Visitor, id: i64, emoji: &str) -> StatusCode {
    visitor
        .post_form(&format!("/messages/{id}/reactions"), &[("emoji", emoji)])
        .await
        .status()
}

#[tokio::test]
async fn a_reaction_toggles_and_the_message_lists_each_emoji_with_its_count_and_people() {
    let s = scene().await;
    let carol = s.app.member("carol").await;
    assert_eq!(react(&s.bob, s.message, "👍").await, StatusCode::SEE_OTHER);
    assert_eq!(react(&carol, s.message, "👍").await, StatusCode::SEE_OTHER);
    assert_eq!(react(&carol, s.message, "🎉").await, StatusCode::SEE_OTHER);

    let page = shown(&s.alice, &s.url, s.message).await;
    let list = format!("#reactions-{}", s.message);
    assert_eq!(page.texts(&format!("{list} .reaction")), ["👍 2", "🎉 1"]);
    assert_eq!(
        page.attr(&format!("{list} .reaction"), "title").as_deref(),
        Some("bob, carol")
    );
    // Toggled off: the same emoji again takes it back.
    assert_eq!(react(&carol, s.message, "👍").await, StatusCode::SEE_OTHER);
    let page = shown(&s.alice, &s.url, s.message).await;
    assert_eq!(page.texts(&format!("{list} .reaction")), ["👍 1", "🎉 1"]);
    assert_eq!(s.app.rows("reactions").await, 2);
}

#[tokio::test]
async fn a_reaction_is_one_emoji_or_it_is_refused() {
    let s = scene().await;
    for emoji in ["", "a", "👍👍", ":)", "<b>", "😀😀😀😀😀"] {
        assert_eq!(
            react(&s.bob, s.message, emoji).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{emoji:?}"
        );
    }
    assert_eq!(s.app.rows("reactions").await, 0);
}

#[tokio::test]
async fn a_storm_of_reactions_reaches_pages_in_a_few_frames_ending_in_the_final_state() {
    let s = scene().await;
    let mut alice_socket = room_socket(&s.alice, s.room, s.message).await;
    let people = [
        s.bob.clone(),
        s.app.member("carol").await,
        s.app.member("dave").await,
    ];
    let mut storm = Vec::new();
    for person in &people {
        let person = person.clone();
        let id = s.message;
        storm.push(tokio::spawn(async move {
            // Twenty-one toggles each, over four emoji.
            for round in 0..21 {
                let e = ["👍", "🎉", "😂", "👀"][round % 4];
                let resp = person
                    .post_htmx(&format!("/messages/{id}/reactions"), &[("emoji", e)])
                    .await;
                assert!(resp.status().is_success(), "{}", resp.status());
            }
        }));
    }
    for task in storm {
        task.await.expect("a reacting person");
    }
    let tag = format!("id=\"reactions-{}\"", s.message);
    let frames = frames_within(&mut alice_socket, Duration::from_millis(1500)).await;
    let with_reactions: Vec<&String> = frames.iter().filter(|f| f.contains(&tag)).collect();
    assert!(
        !with_reactions.is_empty() && with_reactions.len() <= 30,
        "{} frames for 63 reactions",
        with_reactions.len()
    );
    let last = with_reactions.last().expect("a frame");
    let page = shown(&s.alice, &s.url, s.message).await;
    let list = format!("#reactions-{}", s.message);
    let final_state = page.texts(&format!("{list} .reaction"));
    let framed = Page {
        status: StatusCode::OK,
        html: scraper::Html::parse_fragment(last),
        text: last.to_string(),
    };
    assert_eq!(
        framed.texts(&format!("{list} .reaction")),
        final_state,
        "the last frame is the final state"
    );
    let mut counted = final_state.clone();
    counted.sort();
    let mut expected = vec!["🎉 3", "😂 3", "👀 3"];
    expected.sort();
    assert_eq!(counted, expected);
}

#[tokio::test]
async fn a_reply_quotes_what_it_answers_and_says_so_when_that_is_deleted() {
    let s = scene().await;
    let reply = post_replying(&s.bob, s.room, "Welcome!", Some(s.message)).await;
    let page = shown(&s.alice, &s.url, reply).await;
    let quote = format!("#message-{reply} .reply-quote");
    assert_eq!(
        page.attr(&quote, "href"),
        Some(format!("/messages/{}", s.message))
    );
    assert_eq!(
        page.text_of(&format!("{quote} .quote-author")).as_deref(),
        Some("alice")
    );
    assert_eq!(
        page.text_of(&format!("{quote} .quote-text")).as_deref(),
        Some("Hello, hearth")
    );
    s.alice
        .post_form(&format!("/messages/{}/delete", s.message), &[])
        .await;
    let page = shown(&s.alice, &s.url, reply).await;
    assert_eq!(
        page.text_of(&format!("{quote} .quote-text")).as_deref(),
        Some("replied to a deleted message")
    );
    assert!(!page.text.contains("Hello, hearth"));
}

#[tokio::test]
async fn a_reply_to_a_message_of_another_conversation_is_refused() {
    let s = scene().await;
    let chat = s.alice.conversation_id("/dm/bob").await;
    let private = post(&s.alice, chat, "private").await;
    let before = s.app.rows("messages").await;
    let resp = s
        .bob
        .post_htmx(
            &format!("/conversations/{}/messages", s.room),
            &[("body", "leak"), ("reply_to", &private.to_string())],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(s.app.rows("messages").await, before);
}

#[tokio::test]
async fn a_permalink_opens_the_conversation_around_its_message_and_only_for_members() {
    let s = scene().await;
    for i in 0..80 {
        post(&s.alice, s.room, &format!("later {i}")).await;
    }
    let resp = s.bob.get(&format!("/messages/{}", s.message)).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let target = location(&resp);
    assert_eq!(
        target,
        format!("{}?around={}#message-{}", s.url, s.message, s.message)
    );
    let page = s
        .bob
        .page(target.split('#').next().unwrap_or_default())
        .await;
    assert!(page.has(&format!("#message-{}", s.message)));
    assert!(
        page.has("a[href*=\"?after=\"]"),
        "newer messages load from here"
    );
    assert!(
        !page.has("#cursor"),
        "a page of older messages does not grow"
    );

    let chat = s.alice.conversation_id("/dm/bob").await;
    let secret = post(&s.alice, chat, "ours").await;
    let carol = s.app.member("carol").await;
    let resp = carol.get(&format!("/messages/{secret}")).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = carol.get("/messages/999999").await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_socket_cut_off_catches_up_on_edits_deletions_reactions_and_replies_once_each() {
    let s = scene().await;
    let second = post(&s.alice, s.room, "second").await;
    let page = s.bob.page(&s.url).await;
    let cursor = page.attr("#cursor", "data-seq").expect("the page's cursor");

    // While bob's page is away: one of each.
    s.alice
        .post_form(
            &format!("/messages/{}/edit", s.message),
            &[("body", "edited")],
        )
        .await;
    s.alice
        .post_form(&format!("/messages/{second}/delete"), &[])
        .await;
    let carol = s.app.member("carol").await;
    react(&carol, s.message, "👍").await;
    let reply = post_replying(&carol, s.room, "a reply", Some(s.message)).await;

    let mut socket = s
        .bob
        .socket(&format!("/ws?conversation={}&since={cursor}", s.room))
        .await;
    let frame = frame_where(&mut socket, |f| f.contains("id=\"message-")).await;
    let ids = message_ids_in(&frame);
    // The edited and reacted message once (as it is now), the deleted one, the reply.
    assert_eq!(ids.len(), 3, "{frame}");
    assert!(ids.contains(&s.message) && ids.contains(&second) && ids.contains(&reply));
    assert!(frame.contains("edited") && frame.contains("👍") && frame.contains("a reply"));
    assert!(!frame.contains(">second<"), "{frame}");
    let more = frames_within(&mut socket, Duration::from_millis(500)).await;
    assert!(
        more.iter().all(|f| !f.contains("id=\"message-")),
        "repeated: {more:?}"
    );
}

#[tokio::test]
async fn actions_on_messages_need_the_sessions_csrf_token() {
    let s = scene().await;
    let someone_elses = s.bob.csrf_token().await;
    for (path, fields) in [
        (
            format!("/messages/{}/edit", s.message),
            vec![("body", "forged")],
        ),
        (format!("/messages/{}/delete", s.message), vec![]),
        (
            format!("/messages/{}/reactions", s.message),
            vec![("emoji", "👍")],
        ),
    ] {
        s.alice
            .assert_forgeries_forbidden(&path, &fields, &someone_elses)
            .await;
    }
    assert_eq!(stored_body(&s.app, s.message).await, "Hello, hearth");
    assert_eq!(s.app.rows("reactions").await, 0);
}

#[tokio::test]
async fn actions_on_messages_are_held_to_the_posting_rate_limit() {
    let app = TestApp::builder().production_limits().spawn().await;
    let alice = app.member("alice").await;
    let url = alice.create_room("general").await;
    let room = alice.conversation_id(&url).await;
    let id = post(&alice, room, "one").await;
    let mut refused = None;
    for i in 0..40 {
        let resp = alice
            .post_form(&format!("/messages/{id}/reactions"), &[("emoji", "👍")])
            .await;
        if resp.status() == StatusCode::TOO_MANY_REQUESTS {
            refused = Some((i, resp.headers().get("retry-after").is_some()));
            break;
        }
    }
    let (at, retry_after) = refused.expect("the burst runs out");
    assert!(at >= 18, "refused after {at}");
    assert!(retry_after, "a 429 says when to come back");
}

#[tokio::test]
async fn markdown_is_formatted_once_and_raw_html_stays_text() {
    let s = scene().await;
    let id = post(
        &s.alice,
        s.room,
        "**bold** _it_ ~~gone~~ `code` <b>raw</b>\n> quoted\n\n- one\n- two\n\n```rust\nfn main() {}\n```",
    )
    .await;
    let page = shown(&s.bob, &s.url, id).await;
    let body = format!("#message-{id} .message-body");
    assert_eq!(
        page.text_of(&format!("{body} strong")).as_deref(),
        Some("bold")
    );
    assert_eq!(page.text_of(&format!("{body} em")).as_deref(), Some("it"));
    assert_eq!(
        page.text_of(&format!("{body} del")).as_deref(),
        Some("gone")
    );
    assert!(page.has(&format!("{body} blockquote")));
    assert_eq!(page.texts(&format!("{body} li")), ["one", "two"]);
    assert!(page.has(&format!("{body} pre code.language-rust span")));
    assert!(!page.has(&format!("{body} b")), "raw HTML became markup");
    assert!(page.text.contains("&lt;b&gt;raw&lt;/b&gt;"));
    assert_eq!(page.attr(&body, "dir").as_deref(), Some("auto"));
}

#[tokio::test]
async fn a_conversation_opens_with_a_new_line_above_the_first_unread_message() {
    let s = scene().await;
    let second = post(&s.alice, s.room, "second").await;
    let page = s.bob.page(&s.url).await;
    assert_eq!(
        page.attr("#history", "data-first-unread"),
        Some(s.message.to_string())
    );
    let rule = format!("#message-{}::before{{content:\"New\"", s.message);
    assert!(page.text.contains(&rule), "the line is drawn for bob");

    let read = s
        .bob
        .post_form(
            &format!("/conversations/{}/read", s.room),
            &[("up_to", &second.to_string())],
        )
        .await;
    assert_eq!(read.status(), StatusCode::NO_CONTENT);
    let page = s.bob.page(&s.url).await;
    assert_eq!(page.attr("#history", "data-first-unread"), None, "read now");
    let page = s.alice.page(&s.url).await;
    assert_eq!(
        page.attr("#history", "data-first-unread"),
        None,
        "nobody's own messages are new to them"
    );
}

#[tokio::test]
async fn when_a_message_changes_its_replies_quote_it_as_it_is_now_on_every_open_page() {
    let s = scene().await;
    let reply = post_replying(&s.bob, s.room, "Welcome!", Some(s.message)).await;
    let mut carol_socket = room_socket(&s.app.member("carol").await, s.room, reply).await;
    s.alice
        .post_form(
            &format!("/messages/{}/edit", s.message),
            &[("body", "Hello again")],
        )
        .await;
    let frame = replacement(&mut carol_socket, reply).await;
    assert!(frame.contains("Hello again"), "{frame}");
    s.alice
        .post_form(&format!("/messages/{}/delete", s.message), &[])
        .await;
    let frame = replacement(&mut carol_socket, reply).await;
    assert!(frame.contains("replied to a deleted message"), "{frame}");
}
