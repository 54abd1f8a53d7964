//! Private chats, the directory, unread counts and read receipts.
use reqwest::StatusCode;

use crate::helpers::{TestApp, Visitor, frame_where, message_ids_in};

async fn dm(visitor: &Visitor, other: &str) -> i64 {
    visitor.conversation_id(&format!("/dm/{other}")).await
}

async fn post(visitor: &Visitor, conversation: i64, body: &str) -> i64 {
    let resp = visitor
        .post_htmx(
            &format!("/conversations/{conversation}/messages"),
            &[("body", body)],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK, "post refused");
    message_ids_in(&resp.text().await.expect("body"))[0]
}

#[tokio::test]
async fn a_private_chat_is_one_conversation_from_either_side() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let from_alice = dm(&alice, "bob").await;
    let from_bob = dm(&bob, "ALICE").await;
    assert_eq!(from_alice, from_bob);
    post(&alice, from_alice, "hi bob").await;
    let page = bob.page("/dm/alice").await;
    assert_eq!(page.message_bodies(), vec!["hi bob".to_owned()]);
    assert_eq!(page.text_of("h1").as_deref(), Some("alice"));
}

#[tokio::test]
async fn a_third_person_finds_nothing_of_someone_elses_private_chat() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let _bob = app.member("bob").await;
    let carol = app.member("carol").await;
    let chat = dm(&alice, "bob").await;
    post(&alice, chat, "secret").await;

    let posted = carol
        .post_form(
            &format!("/conversations/{chat}/messages"),
            &[("body", "hi")],
        )
        .await;
    assert_eq!(posted.status(), StatusCode::NOT_FOUND);
    let htmx = carol
        .post_htmx(
            &format!("/conversations/{chat}/messages"),
            &[("body", "hi")],
        )
        .await;
    assert_eq!(htmx.status(), StatusCode::NOT_FOUND);
    let read = carol
        .post_form(&format!("/conversations/{chat}/read"), &[("up_to", "99")])
        .await;
    assert_eq!(read.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        carol
            .try_socket(&format!("/ws?conversation={chat}"), None)
            .await
            .err(),
        Some(404)
    );
    assert_eq!(
        carol
            .try_socket(&format!("/ws?conversation={chat}&after=0"), None)
            .await
            .err(),
        Some(404)
    );
    // Nobody at all: no session, no socket, no page.
    assert_eq!(
        app.visitor()
            .try_socket(&format!("/ws?conversation={chat}"), None)
            .await
            .err(),
        Some(401)
    );
    assert_eq!(
        app.visitor().get("/dm/bob").await.status(),
        StatusCode::SEE_OTHER
    );
    // And the secret is still the only message.
    let page = alice.page("/dm/bob").await;
    assert_eq!(page.message_bodies(), vec!["secret".to_owned()]);
    // The other chat carol can open with alice is a different one.
    assert_ne!(dm(&carol, "alice").await, chat);
}

#[tokio::test]
async fn messaging_yourself_or_nobody_is_refused_clearly() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let own = alice.page("/dm/alice").await;
    assert_eq!(own.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(own.text.contains("two people"));
    assert_eq!(
        alice.page("/dm/nobody-here").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        alice.page("/dm/%3Cscript%3E").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn unread_counts_rise_with_messages_and_fall_to_zero_on_reading() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let chat = dm(&alice, "bob").await;
    assert_eq!(alice.unread_on_lobby(chat).await, Some(0));
    // A chat someone else opened is listed from its first message on.
    assert_eq!(bob.unread_on_lobby(chat).await, None);
    let mut last = 0;
    for i in 0..3 {
        last = post(&alice, chat, &format!("m{i}")).await;
    }
    assert_eq!(bob.unread_on_lobby(chat).await, Some(3));
    // The author has nothing unread in their own chat.
    assert_eq!(alice.unread_on_lobby(chat).await, Some(0));

    let read = bob
        .post_htmx(
            &format!("/conversations/{chat}/read"),
            &[("up_to", &(last - 1).to_string())],
        )
        .await;
    assert_eq!(read.status(), StatusCode::NO_CONTENT);
    assert_eq!(bob.unread_on_lobby(chat).await, Some(1));
    bob.post_htmx(
        &format!("/conversations/{chat}/read"),
        &[("up_to", &(last + 1000).to_string())],
    )
    .await;
    assert_eq!(bob.unread_on_lobby(chat).await, Some(0));
    // Reading never goes backwards.
    bob.post_htmx(&format!("/conversations/{chat}/read"), &[("up_to", "0")])
        .await;
    assert_eq!(bob.unread_on_lobby(chat).await, Some(0));
}

#[tokio::test]
async fn the_other_persons_pages_hear_of_a_message_and_of_their_own_reading() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let chat = dm(&alice, "bob").await;
    let mut bob_lobby = bob.socket("/ws").await;
    frame_where(&mut bob_lobby, |f| f.contains("id=\"sidebar\"")).await;

    let id = post(&alice, chat, "are you there?").await;
    let event = frame_where(&mut bob_lobby, |f| f.contains("live-event")).await;
    assert!(
        event.contains(&format!("data-conversation-id=\"{chat}\"")),
        "{event}"
    );
    assert!(event.contains("data-kind=\"direct\""), "{event}");
    assert!(
        event.contains(&format!("data-message-id=\"{id}\"")),
        "{event}"
    );
    assert!(event.contains("data-url=\"/dm/alice\""), "{event}");
    assert!(event.contains("data-body=\"are you there?\""), "{event}");

    bob.post_htmx(
        &format!("/conversations/{chat}/read"),
        &[("up_to", &id.to_string())],
    )
    .await;
    let badge = frame_where(&mut bob_lobby, |f| {
        f.contains(&format!("id=\"unread-{chat}\""))
    })
    .await;
    assert!(badge.contains("data-count=\"0\""), "{badge}");
}

#[tokio::test]
async fn the_sender_sees_the_receipt_turn_when_the_other_person_reads() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let chat = dm(&alice, "bob").await;
    let id = post(&alice, chat, "read me").await;
    let page = alice.page("/dm/bob").await;
    assert_eq!(
        page.attr(&format!("#peer-read-{chat}"), "data-up-to")
            .as_deref(),
        Some("0")
    );

    let mut alice_socket = alice.socket(&format!("/ws?conversation={chat}")).await;
    frame_where(&mut alice_socket, |f| f.contains("id=\"sidebar\"")).await;
    bob.post_htmx(
        &format!("/conversations/{chat}/read"),
        &[("up_to", &id.to_string())],
    )
    .await;
    let receipt = frame_where(&mut alice_socket, |f| {
        f.contains(&format!("id=\"peer-read-{chat}\""))
    })
    .await;
    assert!(
        receipt.contains(&format!("data-up-to=\"{id}\"")),
        "{receipt}"
    );
    let page = alice.page("/dm/bob").await;
    assert_eq!(
        page.attr(&format!("#peer-read-{chat}"), "data-up-to"),
        Some(id.to_string())
    );
}

#[tokio::test]
async fn the_directory_finds_people_by_the_start_of_their_name() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    for name in ["bob", "Bobby", "bo_x", "boax", "carol"] {
        app.member(name).await;
    }
    let names = |page: &crate::helpers::Page| -> Vec<String> {
        page.select("#people li a")
            .iter()
            .map(|a| a.text().collect())
            .collect()
    };
    let found = alice.page("/users?q=BO").await;
    assert_eq!(names(&found), vec!["bo_x", "boax", "bob", "Bobby"]);
    assert_eq!(
        found.attr("#people li a", "href").as_deref(),
        Some("/dm/bo_x")
    );
    // `_` is a character of names, not a wildcard.
    assert_eq!(names(&alice.page("/users?q=bo_").await), vec!["bo_x"]);
    // Nobody lists themself, and odd input finds nobody without an error.
    assert!(names(&alice.page("/users?q=ali").await).is_empty());
    for odd in ["%25", "%27%20OR%201%3D1", &"x".repeat(40)] {
        let page = alice.page(&format!("/users?q={odd}")).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(names(&page).is_empty());
    }
    assert_eq!(names(&alice.page("/users").await).len(), 5);
}

#[tokio::test]
async fn the_directory_shows_who_is_online_and_lists_at_most_fifty() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let _bob_socket = bob.socket("/ws").await;
    // Presence reaches the directory within a tick (on PostgreSQL, through the leases).
    crate::helpers::eventually("the directory shows bob online", || async {
        let page = alice.page("/users?q=bob").await;
        page.has("#people li[data-user-id='2'] .presence-dot.online")
    })
    .await;

    // Seed many accounts straight into the database: signing up each costs a hash.
    for i in 0..60 {
        sea_orm::ConnectionTrait::execute_raw(
            &app.state.db,
            hearth::db::statement(
                &app.state.db,
                "INSERT INTO users (username, username_key, password_hash, created_at) VALUES (?, ?, 'x', 0)",
                [format!("user{i:02}").into(), format!("user{i:02}").into()],
            ),
        )
        .await
        .expect("seed");
    }
    let page = alice.page("/users?q=user").await;
    assert_eq!(page.select("#people li").len(), 50);
}

#[tokio::test]
async fn opening_a_room_adds_it_to_the_sidebar_and_leaving_removes_it() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let url = alice.create_room("general").await;
    let room = alice.conversation_id(&url).await;
    assert!(
        !bob.page("/")
            .await
            .has(&format!("#sidebar li[data-conversation-id='{room}']"))
    );
    bob.page(&url).await;
    assert!(
        bob.page("/")
            .await
            .has(&format!("#sidebar-rooms li[data-conversation-id='{room}']"))
    );
    let left = bob.post_form("/rooms/general/leave", &[]).await;
    assert_eq!(left.status(), StatusCode::SEE_OTHER);
    assert!(
        !bob.page("/")
            .await
            .has(&format!("#sidebar li[data-conversation-id='{room}']"))
    );
}
