//! Abuse limits and input limits, hit once each and answered as designed.
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{TestApp, frame_where, message_ids_in, send_json};

#[tokio::test]
async fn a_burst_of_twenty_messages_goes_through_and_the_next_is_refused_with_a_wait() {
    let app = TestApp::builder().production_limits().spawn().await;
    let alice = app.member("alice").await;
    let url = alice.create_room("general").await;
    let room = alice.conversation_id(&url).await;
    let path = format!("/conversations/{room}/messages");
    let token = alice.csrf_token().await;
    for i in 0..20 {
        let resp = alice
            .http
            .post(alice.url(&path))
            .header("HX-Request", "true")
            .header("X-CSRF-Token", &token)
            .form(&[("body", format!("m{i}"))])
            .send()
            .await
            .expect("post");
        assert_eq!(resp.status(), StatusCode::OK, "message {i}");
    }
    let refused = alice.post_htmx(&path, &[("body", "one too many")]).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    let fragment = refused.text().await.expect("body");
    assert!(
        fragment.contains("id=\"composer-error\"") && fragment.contains("too fast"),
        "{fragment}"
    );
    // Nothing of it was stored, and the socket path is held to the same limit.
    assert_eq!(alice.page(&url).await.message_ids().len(), 20);
    let mut socket = alice.socket(&format!("/ws?conversation={room}")).await;
    send_json(
        &mut socket,
        json!({"type": "message", "body": "via socket"}),
    )
    .await;
    let answer = frame_where(&mut socket, |f| f.contains("id=\"composer-error\"")).await;
    assert!(answer.contains("too fast"), "{answer}");
    // Someone else can still talk.
    let bob = app.member("bob").await;
    let resp = bob.post_htmx(&path, &[("body", "hi")]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(message_ids_in(&resp.text().await.expect("body")).len(), 1);
}

#[tokio::test]
async fn guessing_a_password_is_slowed_down_for_that_account() {
    let app = TestApp::builder().production_limits().spawn().await;
    let _alice = app.member("alice").await;
    let mallory = app.visitor();
    for _ in 0..5 {
        assert_eq!(
            mallory.login("alice", "wrong-guess").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let slowed = mallory.login("alice", "wrong-guess").await;
    assert_eq!(slowed.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        slowed
            .text()
            .await
            .expect("body")
            .contains("Too many failed attempts")
    );
    // Even the right password waits its turn (a guesser must not learn it was right).
    assert_eq!(
        mallory.login("alice", "tulip-harbor-42").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn sign_ups_from_one_address_are_limited() {
    let app = TestApp::builder().production_limits().spawn().await;
    for i in 0..10 {
        app.member(&format!("user{i}")).await;
    }
    let resp = app.visitor().signup("one-more", "tulip-harbor-42").await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let rows = sea_orm::ConnectionTrait::query_one_raw(
        &app.state.db,
        hearth::db::statement(&app.state.db, "SELECT COUNT(*) AS n FROM users", []),
    )
    .await
    .expect("count")
    .expect("row");
    assert_eq!(
        rows.try_get::<i64>("", "n").expect("n"),
        10,
        "nothing created"
    );
}

#[tokio::test]
async fn one_person_may_hold_twenty_sockets_and_no_more() {
    let app = TestApp::builder().production_limits().spawn().await;
    let alice = app.member("alice").await;
    let mut sockets = Vec::new();
    for _ in 0..20 {
        sockets.push(alice.socket("/ws").await);
    }
    assert_eq!(alice.try_socket("/ws", None).await.err(), Some(429));
    // Closing one makes room again.
    let mut closed = sockets.pop().expect("a socket");
    closed.close(None).await.expect("close");
    while closed.next().await.is_some() {}
    crate::helpers::eventually("the closed socket is gone", || async {
        app.state.hub.sockets_of(1) == 19
    })
    .await;
    assert!(alice.try_socket("/ws", None).await.is_ok());
}

#[tokio::test]
async fn a_full_server_answers_503_to_new_sockets() {
    let app = TestApp::builder()
        .configure(|c| c.limits.max_sockets = 2)
        .spawn()
        .await;
    let alice = app.member("alice").await;
    let _one = alice.socket("/ws").await;
    let _two = alice.socket("/ws").await;
    assert_eq!(alice.try_socket("/ws", None).await.err(), Some(503));
}

#[tokio::test]
async fn oversized_request_bodies_are_refused_before_any_handler() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let token = alice.csrf_token().await;
    let huge = "x".repeat(200 * 1024);
    let resp = alice
        .http
        .post(alice.url("/rooms"))
        .header("X-CSRF-Token", token)
        .form(&[("name", huge.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    for path in ["/", "/login", "/nope", "/healthz"] {
        let resp = alice.get(path).await;
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        let csp = header("content-security-policy");
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert!(!header("referrer-policy").is_empty(), "{path}");
    }
    // The one inline style carries this response's nonce.
    let resp = alice.get("/").await;
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_owned();
    let page = resp.text().await.expect("page");
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .expect("a nonce");
    assert!(page.contains(&format!("<style nonce=\"{nonce}\">")));
    assert!(!page.contains("<script>"), "no inline script");
}

#[tokio::test]
async fn binary_frames_are_ignored_and_text_frames_are_capped_at_16_kib() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let mut socket = alice.socket("/ws").await;
    use futures_util::SinkExt;
    socket
        .send(Message::binary(vec![1u8; 1024]))
        .await
        .expect("send");
    socket
        .send(Message::text("x".repeat(15 * 1024)))
        .await
        .expect("send");
    // Still open: a frame under the cap passes.
    send_json(&mut socket, json!({"type": "typing"})).await;
    socket
        .send(Message::text("y".repeat(17 * 1024)))
        .await
        .expect("send");
    let closed = tokio::time::timeout(crate::helpers::PATIENCE, async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    })
    .await
    .expect("closes in time");
    // 1009 "too big", or a reset when the rest of the frame was still on its way as
    // the server hung up: either way the socket is gone.
    assert!(
        matches!(closed, Some(1009) | None),
        "closed with {closed:?}"
    );
}
