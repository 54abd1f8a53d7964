//! Events programs publish to people's open pages: to one person, to a conversation's
//! members, to everyone; who may publish to whom and what is refused; what a page that
//! reconnects gets; the administrators' list and replay.
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    bots::{api_get, api_post, json as json_in, make_token, problem, room},
    helpers::{Socket, TestApp, frame_where},
};

fn is_event(frame: &str, kind: &str) -> bool {
    frame.contains("data-event=\"app\"") && frame.contains(&format!("data-type=\"{kind}\""))
}

/// The type of the first published event in the next frames of `socket`.
async fn next_event_type(socket: &mut Socket) -> String {
    let frame = frame_where(socket, |f| f.contains("data-event=\"app\"")).await;
    let at = frame.find("data-type=\"").expect("a type") + "data-type=\"".len();
    frame[at..at + frame[at..].find('"').expect("closing quote")].to_owned()
}

/// The events cursor a socket is told when it connects without one.
async fn cursor_of(socket: &mut Socket) -> i64 {
    let frame = frame_where(socket, |f| f.contains("data-event=\"events-cursor\"")).await;
    let at = frame
        .find("data-event=\"events-cursor\" data-id=\"")
        .expect("cursor")
        + "data-event=\"events-cursor\" data-id=\"".len();
    frame[at..at + frame[at..].find('"').expect("closing quote")]
        .parse()
        .expect("a number")
}

async fn publish(app: &TestApp, token: &str, event: Value) -> Value {
    json_in(
        api_post(app, token, "/events", event).await,
        StatusCode::CREATED,
    )
    .await
}

#[tokio::test]
async fn an_event_for_one_person_reaches_their_pages_and_nobody_elses() {
    let app = TestApp::spawn().await;
    // The first account is an administrator.
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let carol = app.member("carol").await;
    let token = make_token(&alice, "notifier").await;
    let mut bob_lobby = bob.socket("/ws").await;
    let mut bob_elsewhere = bob.socket("/ws").await;
    let mut carol_lobby = carol.socket("/ws").await;
    for socket in [&mut bob_lobby, &mut bob_elsewhere, &mut carol_lobby] {
        assert_eq!(cursor_of(socket).await, 0, "nothing was published yet");
    }

    let event = publish(
        &app,
        &token,
        json!({"scope": "user", "target": "bob", "type": "export.ready",
               "detail": {"url": "/exports/7", "note": "<b>done</b>"}}),
    )
    .await;
    assert_eq!(event["scope"], "user");
    assert_eq!(event["type"], "export.ready");
    assert_eq!(event["detail"]["url"], "/exports/7");
    for socket in [&mut bob_lobby, &mut bob_elsewhere] {
        let frame = frame_where(socket, |f| is_event(f, "export.ready")).await;
        assert!(
            frame.contains(&format!("data-id=\"{}\"", event["id"])),
            "{frame}"
        );
        // The detail is data in an attribute, never markup.
        assert!(
            frame.contains("&lt;b&gt;done&lt;/b&gt;") && !frame.contains("<b>"),
            "{frame}"
        );
    }

    // Carol's first event is the one for everyone: bob's never reached her.
    publish(
        &app,
        &token,
        json!({"scope": "all", "type": "maintenance", "detail": "at noon"}),
    )
    .await;
    assert_eq!(next_event_type(&mut carol_lobby).await, "maintenance");
    assert_eq!(next_event_type(&mut bob_lobby).await, "maintenance");
}

#[tokio::test]
async fn an_event_for_a_room_reaches_its_members_only() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let carol = app.member("carol").await;
    let url = alice.create_room("deploys").await;
    let deploys = alice.conversation_id(&url).await;
    // Opening a public room makes bob a member.
    bob.page(&url).await;
    // Bob is no administrator: a room he can read is his to signal.
    let bobs = make_token(&bob, "ci").await;
    let admins = make_token(&alice, "ops").await;
    let mut bob_socket = bob.socket(&format!("/ws?conversation={deploys}")).await;
    let mut carol_lobby = carol.socket("/ws").await;
    cursor_of(&mut bob_socket).await;
    cursor_of(&mut carol_lobby).await;

    let event = publish(
        &app,
        &bobs,
        json!({"scope": "room", "target": deploys, "type": "deploy.started", "detail": {"v": "1.2"}}),
    )
    .await;
    assert_eq!(event["target_id"], deploys);
    assert_eq!(next_event_type(&mut bob_socket).await, "deploy.started");
    publish(&app, &admins, json!({"scope": "all", "type": "all-hands"})).await;
    assert_eq!(next_event_type(&mut carol_lobby).await, "all-hands");
}

#[tokio::test]
async fn a_program_that_posts_to_a_room_is_one_of_its_members() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let deploys = room(&alice, "deploys").await;
    let bobs = make_token(&bob, "ci").await;
    let mut bob_lobby = bob.socket("/ws").await;
    cursor_of(&mut bob_lobby).await;
    // Bob never opens the room: his program posts to it.
    let posted = api_post(
        &app,
        &bobs,
        &format!("/conversations/{deploys}/messages"),
        json!({"body": "build 12 is green"}),
    )
    .await;
    assert_eq!(posted.status(), StatusCode::CREATED);

    publish(
        &app,
        &bobs,
        json!({"scope": "room", "target": deploys, "type": "build.done"}),
    )
    .await;
    assert_eq!(next_event_type(&mut bob_lobby).await, "build.done");
}

#[tokio::test]
async fn what_a_token_may_not_publish_is_refused_and_reaches_nobody() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let carol = app.member("carol").await;
    let bobs = make_token(&bob, "script").await;
    let admins = make_token(&alice, "ops").await;
    let mut carol_lobby = carol.socket("/ws").await;
    let mut bob_lobby = bob.socket("/ws").await;
    cursor_of(&mut carol_lobby).await;
    cursor_of(&mut bob_lobby).await;
    let private = carol
        .post_form(
            "/rooms",
            &[("name", "carol only"), ("visibility", "private")],
        )
        .await;
    assert_eq!(private.status(), StatusCode::SEE_OTHER);
    let private_id = carol
        .conversation_id(&crate::helpers::location(&private))
        .await;

    let refused = [
        (
            json!({"scope": "all", "type": "spam"}),
            StatusCode::FORBIDDEN,
        ),
        (
            json!({"scope": "user", "target": "carol", "type": "spam"}),
            StatusCode::FORBIDDEN,
        ),
        (
            json!({"scope": "user", "target": "nobody", "type": "spam"}),
            StatusCode::NOT_FOUND,
        ),
        (
            json!({"scope": "room", "target": private_id, "type": "spam"}),
            StatusCode::NOT_FOUND,
        ),
        (
            json!({"scope": "room", "target": "carols", "type": "spam"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"scope": "user", "target": "bob", "type": "Bad Type"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"scope": "user", "target": "bob", "type": ""}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"scope": "user", "target": "bob", "type": "x", "detail": "y".repeat(9000)}),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            json!({"scope": "everyone", "type": "spam"}),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (body, status) in refused {
        let answer = api_post(&app, &bobs, "/events", body.clone()).await;
        problem(answer, status).await;
    }
    let unknown = api_post(
        &app,
        "hearth_not-a-token",
        "/events",
        json!({"scope": "all", "type": "spam"}),
    )
    .await;
    problem(unknown, StatusCode::UNAUTHORIZED).await;
    assert_eq!(
        app.rows("app_events").await,
        0,
        "nothing refused was stored"
    );

    // What does arrive first is what was allowed: bob to himself, alice to everyone.
    publish(
        &app,
        &bobs,
        json!({"scope": "user", "target": "bob", "type": "mine"}),
    )
    .await;
    publish(&app, &admins, json!({"scope": "all", "type": "allowed"})).await;
    assert_eq!(next_event_type(&mut bob_lobby).await, "mine");
    assert_eq!(next_event_type(&mut carol_lobby).await, "allowed");
}

#[tokio::test]
async fn a_page_that_reconnects_gets_the_events_it_missed_in_order() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let token = make_token(&alice, "notifier").await;
    let before = publish(
        &app,
        &token,
        json!({"scope": "user", "target": "bob", "type": "old"}),
    )
    .await;
    let mut socket = bob.socket("/ws").await;
    let since = cursor_of(&mut socket).await;
    assert_eq!(
        Value::from(since),
        before["id"],
        "a new page starts after what is there"
    );
    drop(socket);

    let first = publish(
        &app,
        &token,
        json!({"scope": "user", "target": "bob", "type": "first", "detail": 1}),
    )
    .await;
    publish(
        &app,
        &token,
        json!({"scope": "all", "type": "second", "detail": 2}),
    )
    .await;
    publish(
        &app,
        &token,
        json!({"scope": "user", "target": "alice", "type": "not-bobs"}),
    )
    .await;

    let mut again = bob.socket(&format!("/ws?events_since={since}")).await;
    let frame = frame_where(&mut again, |f| f.contains("data-event=\"app\"")).await;
    let first_at = frame
        .find("data-type=\"first\"")
        .expect("the first missed event");
    let second_at = frame
        .find("data-type=\"second\"")
        .expect("the second missed event");
    assert!(first_at < second_at, "oldest first: {frame}");
    assert!(
        !frame.contains("data-type=\"old\"") && !frame.contains("not-bobs"),
        "{frame}"
    );
    assert!(frame.contains(&format!("data-id=\"{}\"", first["id"])));
}

#[tokio::test]
async fn administrators_list_recent_events_and_replay_one_as_a_new_event() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let admins = make_token(&alice, "ops").await;
    let bobs = make_token(&bob, "script").await;
    let event = publish(
        &app,
        &admins,
        json!({"scope": "user", "target": "bob", "type": "nudge", "detail": {"n": 1}}),
    )
    .await;

    let listed = json_in(api_get(&app, &admins, "/events").await, StatusCode::OK).await;
    assert_eq!(listed[0]["id"], event["id"]);
    assert_eq!(listed[0]["detail"]["n"], 1);
    problem(api_get(&app, &bobs, "/events").await, StatusCode::FORBIDDEN).await;

    let mut bob_lobby = bob.socket("/ws").await;
    cursor_of(&mut bob_lobby).await;
    let path = format!("/events/{}/replay", event["id"]);
    problem(
        api_post(&app, &bobs, &path, json!({})).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let replayed = json_in(
        api_post(&app, &admins, &path, json!({})).await,
        StatusCode::CREATED,
    )
    .await;
    assert_ne!(replayed["id"], event["id"]);
    assert_eq!(replayed["type"], "nudge");
    let frame = frame_where(&mut bob_lobby, |f| is_event(f, "nudge")).await;
    assert!(
        frame.contains(&format!("data-id=\"{}\"", replayed["id"])),
        "{frame}"
    );
    problem(
        api_post(&app, &admins, "/events/999999/replay", json!({})).await,
        StatusCode::NOT_FOUND,
    )
    .await;
}
