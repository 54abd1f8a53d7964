//! `GET /api/v1/stream`, Server-Sent Events: new and changed messages of the
//! conversations followed and the holder's app events, each with an `id` that a client
//! sends back as `Last-Event-ID` to get exactly what it missed; a page's session cookie
//! opens it as a token does; what is not the holder's never reaches it.
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    bots::{api_post, group_of, json as json_in, make_token, problem, room},
    helpers::{PATIENCE, TestApp},
    people::private_room,
};

/// One event as the stream sent it.
#[derive(Debug)]
struct Sse {
    id: String,
    event: String,
    data: Value,
}

/// An open stream, read event by event.
struct Stream {
    resp: reqwest::Response,
    buffer: String,
}

impl Stream {
    async fn open(app: &TestApp, token: &str, query: &str, last: Option<&str>) -> Stream {
        let resp = Stream::request(app, query, last, |r| r.bearer_auth(token)).await;
        Stream::of(resp)
    }

    async fn request(
        app: &TestApp,
        query: &str,
        last: Option<&str>,
        auth: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> reqwest::Response {
        let mut request = reqwest::Client::new().get(app.url(&format!("/api/v1/stream{query}")));
        if let Some(last) = last {
            request = request.header("last-event-id", last);
        }
        auth(request).send().await.expect("GET /api/v1/stream")
    }

    fn of(resp: reqwest::Response) -> Stream {
        assert_eq!(resp.status(), StatusCode::OK);
        let media = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(media.starts_with("text/event-stream"), "{media}");
        Stream {
            resp,
            buffer: String::new(),
        }
    }

    /// The next event (comments, which keep the stream open, are skipped); fails after
    /// [`PATIENCE`].
    async fn next(&mut self) -> Sse {
        tokio::time::timeout(PATIENCE, async {
            loop {
                if let Some(end) = self.buffer.find("\n\n") {
                    let block: String = self.buffer.drain(..end + 2).collect();
                    if let Some(event) = parse(&block) {
                        return event;
                    }
                    continue;
                }
                let chunk = self.resp.chunk().await.expect("the stream reads");
                let chunk = chunk.expect("the stream stayed open");
                self.buffer
                    .push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
            }
        })
        .await
        .expect("an event within the patience")
    }

    /// Has `who` post `body` to `conversation`, and answers the `id` of the stream's
    /// event for it.
    async fn next_of_after(
        &mut self,
        who: &crate::helpers::Visitor,
        conversation: i64,
        body: &str,
    ) -> String {
        let id = who.post_message(conversation, body).await;
        let event = self.next_of("message").await;
        assert_eq!(event.data["id"], id);
        event.id
    }

    /// The next event, after checking it is a `kind` one.
    async fn next_of(&mut self, kind: &str) -> Sse {
        let event = self.next().await;
        assert_eq!(event.event, kind, "{event:?}");
        event
    }
}

fn parse(block: &str) -> Option<Sse> {
    let (mut id, mut event, mut data) = (String::new(), "message".to_owned(), String::new());
    for line in block.lines() {
        if let Some(v) = line.strip_prefix("id:") {
            id = v.trim_start().to_owned();
        } else if let Some(v) = line.strip_prefix("event:") {
            event = v.trim_start().to_owned();
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push_str(v.trim_start());
        }
    }
    (!data.is_empty()).then(|| Sse {
        id,
        event,
        data: serde_json::from_str(&data).unwrap_or_else(|e| panic!("not JSON ({e}): {data}")),
    })
}

async fn post(app: &TestApp, token: &str, conversation: i64, body: &str) -> i64 {
    let message = json_in(
        api_post(
            app,
            token,
            &format!("/conversations/{conversation}/messages"),
            json!({ "body": body }),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    message["id"].as_i64().expect("an id")
}

#[tokio::test]
async fn a_stream_carries_messages_as_they_change_and_resumes_where_it_stopped() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let ops = room(&alice, "ops").await;
    bob.page("/rooms/ops").await;
    let token = make_token(&alice, "listener").await;
    let before = bob.post_message(ops, "said before the stream opened").await;

    let mut stream = Stream::open(&app, &token, &format!("?conversations={ops}"), None).await;
    let first = bob.post_message(ops, "first").await;
    let got = stream.next_of("message").await;
    assert_eq!(
        got.data["id"], first,
        "only what comes after, not message {before}"
    );
    assert_eq!(got.data["body"], "first");
    assert_eq!(got.data["author"], "bob");
    assert_eq!(got.data["conversation_id"], ops);

    let edit = bob
        .post_form(
            &format!("/messages/{first}/edit"),
            &[("body", "first, edited")],
        )
        .await;
    assert_eq!(edit.status(), StatusCode::SEE_OTHER);
    let changed = stream.next_of("message.changed").await;
    assert_eq!(changed.data["id"], first);
    assert_eq!(changed.data["body"], "first, edited");
    let last_seen = changed.id.clone();
    drop(stream);

    // Missed while away: two posts and a reaction to the first.
    let second = bob.post_message(ops, "second").await;
    let third = post(&app, &token, ops, "third").await;
    let react = api_post(
        &app,
        &token,
        &format!("/messages/{first}/reactions"),
        json!({"emoji": "👍"}),
    )
    .await;
    assert!(react.status().is_success(), "{}", react.status());

    let mut stream = Stream::open(
        &app,
        &token,
        &format!("?conversations={ops}"),
        Some(&last_seen),
    )
    .await;
    let mut missed = Vec::new();
    for _ in 0..3 {
        let event = stream.next().await;
        missed.push((event.event, event.data["id"].as_i64().unwrap_or(0)));
    }
    assert_eq!(
        missed,
        [
            ("message".to_owned(), second),
            ("message".to_owned(), third),
            ("message.changed".to_owned(), first),
        ],
        "what was missed, once each, in the order it happened"
    );
    let fourth = bob.post_message(ops, "fourth").await;
    let next = stream.next_of("message").await;
    assert_eq!(next.data["id"], fourth, "and nothing twice");
}

#[tokio::test]
async fn app_events_reach_the_stream_of_the_person_they_are_for_only() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let carol = app.member("carol").await;
    let admin = make_token(&alice, "notifier").await;
    let bobs = make_token(&bob, "bob's script").await;
    let carols = make_token(&carol, "carol's script").await;
    let mut bob_stream = Stream::open(&app, &bobs, "", None).await;
    let mut carol_stream = Stream::open(&app, &carols, "", None).await;

    for (whom, kind) in [("bob", "export.ready"), ("carol", "carol.only")] {
        let resp = api_post(
            &app,
            &admin,
            "/events",
            json!({"scope": "user", "target": whom, "type": kind, "detail": {"n": 1}}),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::CREATED);
    }
    let got = bob_stream.next_of("event").await;
    assert_eq!(got.data["type"], "export.ready");
    assert_eq!(got.data["detail"]["n"], 1);
    let got = carol_stream.next_of("event").await;
    assert_eq!(got.data["type"], "carol.only", "not bob's event");
}

#[tokio::test]
async fn a_page_opens_the_stream_with_its_cookie_and_follows_what_it_belongs_to() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let ops = room(&alice, "ops").await;
    let chat = bob.conversation_id("/dm/alice").await;
    bob.post_message(chat, "hello").await;

    let cookie = bob.cookie_header();
    let resp = Stream::request(&app, "", None, |r| r.header("cookie", cookie)).await;
    let mut stream = Stream::of(resp);
    let in_ops = alice.post_message(ops, "bob is not in ops").await;
    let reply = alice.post_message(chat, "hi bob").await;
    let got = stream.next_of("message").await;
    assert_eq!(
        got.data["id"], reply,
        "his private chat, not ops ({in_ops})"
    );

    let anonymous = Stream::request(&app, "", None, |r| r).await;
    problem(anonymous, StatusCode::UNAUTHORIZED).await;
    let forged = Stream::request(&app, "", None, |r| {
        r.header("cookie", "hearth_session=not-a-session")
    })
    .await;
    problem(forged, StatusCode::UNAUTHORIZED).await;
}

/// Opened without `?conversations=`, a stream also follows what its holder comes to
/// belong to: a room they are added to (from then on), a private chat or a group
/// someone starts with them; not a room they did not join.
#[tokio::test]
async fn a_stream_follows_the_conversations_its_holder_joins_while_it_is_open() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let carol = app.member("carol").await;
    let (path, secret) = private_room(&alice, "secret").await;
    let ops = room(&alice, "ops").await;
    let bobs = make_token(&bob, "bob's script").await;
    let mut stream = Stream::open(&app, &bobs, "", None).await;

    let before = alice.post_message(secret, "before bob was added").await;
    let added = alice
        .post_form(&format!("{path}/members"), &[("username", "bob")])
        .await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    alice.post_message(ops, "ops, which bob never joined").await;
    let welcome = alice.post_message(secret, "welcome bob").await;
    let got = stream.next_of("message").await;
    assert_eq!(
        got.data["id"], welcome,
        "the room from when he was added ({before} came before)"
    );

    let chat = carol.conversation_id("/dm/bob").await;
    let hello = carol.post_message(chat, "hello bob").await;
    assert_eq!(stream.next_of("message").await.data["id"], hello);
    let group = group_of(&carol, &["alice", "bob"]).await;
    let all = carol.post_message(group, "hello both").await;
    assert_eq!(stream.next_of("message").await.data["id"], all);

    // The stream's id now holds them: a reconnect resumes each where it was.
    let last = stream.next_of_after(&alice, secret, "and again").await;
    let missed = carol.post_message(chat, "while you were away").await;
    let mut again = Stream::open(&app, &bobs, "", Some(&last)).await;
    assert_eq!(again.next_of("message").await.data["id"], missed);
}

#[tokio::test]
async fn a_stream_reads_only_what_its_holder_may_and_stops_when_that_ends() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let carol = app.member("carol").await;
    let (path, secret) = private_room(&alice, "secret").await;
    let added = alice
        .post_form(&format!("{path}/members"), &[("username", "bob")])
        .await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    let bobs = make_token(&bob, "bob's script").await;
    let carols = make_token(&carol, "carol's script").await;

    let refused = Stream::request(&app, &format!("?conversations={secret}"), None, |r| {
        r.bearer_auth(&carols)
    })
    .await;
    problem(refused, StatusCode::NOT_FOUND).await;
    for bad in ["?conversations=x", "?conversations="] {
        let resp = Stream::request(&app, bad, None, |r| r.bearer_auth(&bobs)).await;
        problem(resp, StatusCode::BAD_REQUEST).await;
    }
    let resp = Stream::request(&app, "", Some("not an id"), |r| r.bearer_auth(&bobs)).await;
    assert_eq!(
        problem(resp, StatusCode::BAD_REQUEST).await["code"],
        "bad_last_event_id"
    );
    // A forged cursor naming a room carol cannot read gives her nothing of it.
    let forged = format!("e0.{secret}-0");
    let mut carol_stream = Stream::open(&app, &carols, "", Some(&forged)).await;

    let mut stream = Stream::open(&app, &bobs, &format!("?conversations={secret}"), None).await;
    let said = alice.post_message(secret, "for members").await;
    assert_eq!(stream.next_of("message").await.data["id"], said);
    let removed = alice
        .post_form(&format!("{path}/members/remove"), &[("username", "bob")])
        .await;
    assert_eq!(removed.status(), StatusCode::SEE_OTHER);
    let ended = stream.next_of("access.ended").await;
    assert_eq!(ended.data["conversation_id"], secret);
    alice.post_message(secret, "after bob left").await;
    let resp = api_post(
        &app,
        &make_token(&alice, "notifier").await,
        "/events",
        json!({"scope": "user", "target": "bob", "type": "after.removal"}),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(
        stream.next_of("event").await.data["type"],
        "after.removal",
        "the room's message after his removal never came"
    );
    let resp = api_post(
        &app,
        &make_token(&alice, "notifier 2").await,
        "/events",
        json!({"scope": "user", "target": "carol", "type": "for.carol"}),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(
        carol_stream.next_of("event").await.data["type"],
        "for.carol"
    );
}
