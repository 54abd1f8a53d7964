//! The API for programs: personal API tokens made in `/settings`, bearer
//! authentication, the conversations a token can read, posting (stored once per
//! `Idempotency-Key`, delivered live), paging with cursors, changing messages,
//! problem+json errors, and the OpenAPI document.
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Page, TestApp, Visitor, frame_where, location};

/// Makes a token named `name` in `visitor`'s settings; answers it, read off the page
/// that shows it once.
pub(crate) async fn make_token(visitor: &Visitor, name: &str) -> String {
    let resp = visitor
        .post_form("/settings/tokens", &[("name", name)])
        .await;
    assert_eq!(resp.status(), StatusCode::OK, "making the token {name}");
    let page = Page::read(resp).await;
    let token = page.text_of("#new-token").expect("the new token is shown");
    assert!(token.starts_with("hearth_"), "{token}");
    token
}

/// A program's client: no cookies, no redirects followed.
fn program() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

pub(crate) async fn api_get(app: &TestApp, token: &str, path: &str) -> reqwest::Response {
    program()
        .get(app.url(&format!("/api/v1{path}")))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET")
}

async fn api_send(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = program()
        .request(method, app.url(&format!("/api/v1{path}")))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    request.send().await.expect("request")
}

pub(crate) async fn api_post(
    app: &TestApp,
    token: &str,
    path: &str,
    body: Value,
) -> reqwest::Response {
    api_send(app, token, reqwest::Method::POST, path, Some(body)).await
}

/// The problem an error answered, after checking that it is one.
pub(crate) async fn problem(resp: reqwest::Response, status: StatusCode) -> Value {
    assert_eq!(resp.status(), status);
    let media = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        media.starts_with("application/problem+json"),
        "an error is problem+json, not {media}"
    );
    let problem: Value = read_json(resp).await;
    assert_eq!(problem["status"], status.as_u16());
    assert!(problem["code"].is_string() && problem["detail"].is_string());
    problem
}

/// The JSON body of `resp`.
async fn read_json(resp: reqwest::Response) -> Value {
    let text = resp.text().await.expect("a body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

pub(crate) async fn json(resp: reqwest::Response, status: StatusCode) -> Value {
    let got = resp.status();
    let text = resp.text().await.expect("a body");
    assert_eq!(got, status, "{text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

pub(crate) async fn room(visitor: &Visitor, name: &str) -> i64 {
    let url = visitor.create_room(name).await;
    visitor.conversation_id(&url).await
}

#[tokio::test]
async fn a_token_is_shown_once_listed_and_once_revoked_opens_nothing() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let token = make_token(&alice, "deploy bot").await;

    let settings = alice.page("/settings").await;
    assert!(!settings.has("#new-token"), "the token is shown once only");
    assert!(!settings.text.contains(&token));
    assert_eq!(settings.texts("#tokens .token .name"), ["deploy bot"]);
    let stored = app.rows("api_tokens").await;
    assert_eq!(stored, 1);

    let resp = api_get(&app, &token, "/conversations").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let settings = alice.page("/settings").await;
    assert!(
        settings
            .text_of("#tokens .token")
            .unwrap_or_default()
            .contains("last used"),
        "the list says when the token was last used"
    );

    let revoke = settings
        .attr("#tokens .token form", "action")
        .expect("a revoke button");
    let resp = alice.post_form(&revoke, &[]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(!alice.page("/settings").await.has("#tokens"));

    let room_id = room(&alice, "ops").await;
    let before = app.rows("messages").await;
    let refused = api_post(
        &app,
        &token,
        &format!("/conversations/{room_id}/messages"),
        json!({"body": "after revoking"}),
    )
    .await;
    let refusal = problem(refused, StatusCode::UNAUTHORIZED).await;
    assert_eq!(refusal["code"], "unauthorized");
    assert_eq!(app.rows("messages").await, before, "nothing was posted");

    let unknown = api_get(&app, "hearth_not-a-token", "/conversations").await;
    problem(unknown, StatusCode::UNAUTHORIZED).await;
    let missing = program()
        .get(app.url("/api/v1/conversations"))
        .send()
        .await
        .expect("GET");
    assert!(missing.headers().contains_key("www-authenticate"));
    problem(missing, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn a_token_name_is_required_and_another_persons_token_cannot_be_revoked() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let resp = alice.post_form("/settings/tokens", &[("name", "  ")]).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.rows("api_tokens").await, 0);

    let token = make_token(&alice, "bot").await;
    let revoke = alice
        .page("/settings")
        .await
        .attr("#tokens .token form", "action")
        .expect("a revoke button");
    let resp = bob.post_form(&revoke, &[]).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = api_get(&app, &token, "/conversations").await;
    assert_eq!(resp.status(), StatusCode::OK, "alice's token still works");
}

#[tokio::test]
async fn a_deactivated_persons_tokens_stop_working() {
    let app = TestApp::spawn().await;
    let admin = app.member("admin").await;
    let alice = app.member("alice").await;
    let token = make_token(&alice, "bot").await;
    assert_eq!(
        api_get(&app, &token, "/conversations").await.status(),
        StatusCode::OK
    );
    let resp = admin.post_form("/admin/users/alice/deactivate", &[]).await;
    assert!(resp.status().is_redirection() || resp.status().is_success());
    problem(
        api_get(&app, &token, "/conversations").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
}

/// The id of the group chat `who` starts with `others`.
pub(crate) async fn group_of(who: &Visitor, others: &[&str]) -> i64 {
    let fields: Vec<(&str, &str)> = others.iter().map(|name| ("username", *name)).collect();
    let started = who.post_form("/dm", &fields).await;
    assert_eq!(
        started.status(),
        StatusCode::SEE_OTHER,
        "a group with {others:?}"
    );
    who.conversation_id(&location(&started)).await
}

#[tokio::test]
async fn the_conversations_listed_are_those_the_owner_can_read() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let _carol = app.member("carol").await;
    let ops = room(&alice, "ops").await;
    let hidden = bob
        .post_form("/rooms", &[("name", "secret"), ("visibility", "private")])
        .await;
    assert_eq!(hidden.status(), StatusCode::SEE_OTHER);
    let hidden = bob.conversation_id(&location(&hidden)).await;
    let theirs = bob.conversation_id("/dm/carol").await;
    let ours = alice.conversation_id("/dm/bob").await;
    let dave = app.member("dave").await;
    let our_group = group_of(&alice, &["bob", "carol"]).await;
    let their_group = group_of(&dave, &["bob", "carol"]).await;

    let token = make_token(&alice, "bot").await;
    let listed = json(
        api_get(&app, &token, "/conversations").await,
        StatusCode::OK,
    )
    .await;
    let listed = listed.as_array().expect("a list");
    let ids: Vec<i64> = listed.iter().filter_map(|c| c["id"].as_i64()).collect();
    assert!(ids.contains(&ops), "a public room");
    assert!(ids.contains(&ours), "her private chat");
    assert!(!ids.contains(&hidden), "not a private room she is not in");
    assert!(!ids.contains(&theirs), "not a private chat of two others");
    assert!(ids.contains(&our_group), "her group chat");
    assert!(!ids.contains(&their_group), "not a group she is not in");
    let ours_of_three = listed
        .iter()
        .find(|c| c["id"] == our_group)
        .expect("her group chat");
    assert_eq!(ours_of_three["kind"], "group");
    assert_eq!(ours_of_three["name"], "bob, carol");
    assert_eq!(ours_of_three["url"], format!("/dm/g/{our_group}"));
    assert!(ours_of_three["visibility"].is_null());
    let chat = listed
        .iter()
        .find(|c| c["id"] == ours)
        .expect("her private chat");
    assert_eq!(chat["kind"], "direct");
    assert_eq!(chat["name"], "bob");
    let ops = listed.iter().find(|c| c["id"] == ops).expect("ops");
    assert_eq!(ops["kind"], "room");
    assert_eq!(ops["slug"], "ops");
}

/// A post through the API reaches another person's open page, and a retry with its
/// `Idempotency-Key` is answered the same message without storing another.
async fn posts_are_delivered_live_and_stored_once(app: &TestApp) {
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let ops = room(&alice, "ops").await;
    bob.page("/rooms/ops").await;
    let mut socket = bob.socket(&format!("/ws?conversation={ops}&after=0")).await;
    let token = make_token(&alice, "deploy bot").await;
    let path = format!("/conversations/{ops}/messages");
    let before = app.rows("messages").await;

    let post = || async {
        program()
            .post(app.url(&format!("/api/v1{path}")))
            .bearer_auth(&token)
            .header("Idempotency-Key", "deploy-1234")
            .header("content-type", "application/json")
            .body(json!({"body": "Deployed **v1.2**"}).to_string())
            .send()
            .await
            .expect("POST")
    };
    let first = post().await;
    assert!(first.headers().contains_key("location"));
    let first = json(first, StatusCode::CREATED).await;
    let id = first["id"].as_i64().expect("the message's id");
    assert_eq!(first["author"], "alice");
    assert_eq!(first["body"], "Deployed **v1.2**");

    let frame = frame_where(&mut socket, |f| f.contains(&format!("id=\"message-{id}\""))).await;
    assert!(frame.contains("<strong>v1.2</strong>"), "{frame}");

    let again = json(post().await, StatusCode::OK).await;
    assert_eq!(again["id"], id, "the retry is answered the first message");
    assert_eq!(app.rows("messages").await, before + 1, "stored once");

    let other = api_send(
        app,
        &token,
        reqwest::Method::POST,
        &path,
        Some(json!({"body": "another"})),
    )
    .await;
    let other = json(other, StatusCode::CREATED).await;
    assert_ne!(other["id"], id);
    assert_eq!(app.rows("messages").await, before + 2);
    let page = bob.page("/rooms/ops").await;
    assert!(page.message_ids().contains(&id), "persisted");
}

#[tokio::test]
async fn a_post_reaches_another_persons_page_live_and_a_retried_post_is_stored_once() {
    let app = TestApp::spawn().await;
    posts_are_delivered_live_and_stored_once(&app).await;
}

#[tokio::test]
#[ignore = "needs postgres"]
async fn on_postgres_a_post_reaches_another_persons_page_live_and_a_retried_post_is_stored_once() {
    let database = crate::helpers::TestDatabase::create().await;
    let app = TestApp::builder().database(database.url()).spawn().await;
    posts_are_delivered_live_and_stored_once(&app).await;
}

/// The `Link` header's URL for `rel`.
fn link(resp: &reqwest::Response, rel: &str) -> Option<String> {
    let header = resp.headers().get("link")?.to_str().ok()?.to_owned();
    header.split(", ").find_map(|part| {
        let (url, kind) = part.split_once(">; ")?;
        (kind == format!("rel=\"{rel}\"")).then(|| url.trim_start_matches('<').to_owned())
    })
}

fn ids(messages: &Value) -> Vec<i64> {
    messages
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|m| m["id"].as_i64())
        .collect()
}

#[tokio::test]
async fn cursors_page_through_a_conversation_with_link_headers() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let ops = room(&alice, "ops").await;
    let token = make_token(&alice, "bot").await;
    let mut posted = Vec::new();
    for n in 0..5 {
        let resp = api_post(
            &app,
            &token,
            &format!("/conversations/{ops}/messages"),
            json!({"body": format!("message {n}")}),
        )
        .await;
        posted.push(
            json(resp, StatusCode::CREATED).await["id"]
                .as_i64()
                .expect("id"),
        );
    }

    let latest = api_get(
        &app,
        &token,
        &format!("/conversations/{ops}/messages?limit=2"),
    )
    .await;
    let older = link(&latest, "prev").expect("a link to older messages");
    assert!(
        link(&latest, "next").is_none(),
        "nothing newer than the latest"
    );
    assert_eq!(ids(&json(latest, StatusCode::OK).await), posted[3..5]);

    let resp = program()
        .get(app.url(&older))
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET");
    let newer = link(&resp, "next").expect("a link back to newer messages");
    assert_eq!(ids(&json(resp, StatusCode::OK).await), posted[1..3]);
    assert!(newer.contains(&format!("after={}", posted[2])), "{newer}");

    let after = api_get(
        &app,
        &token,
        &format!("/conversations/{ops}/messages?after={}&limit=10", posted[0]),
    )
    .await;
    assert!(link(&after, "next").is_none());
    assert_eq!(ids(&json(after, StatusCode::OK).await), posted[1..5]);

    let both = api_get(
        &app,
        &token,
        &format!("/conversations/{ops}/messages?after=1&before=9"),
    )
    .await;
    problem(both, StatusCode::BAD_REQUEST).await;
    let too_many = api_get(
        &app,
        &token,
        &format!("/conversations/{ops}/messages?limit=1000"),
    )
    .await;
    problem(too_many, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn only_the_owners_messages_change_and_a_private_chat_of_two_others_is_not_found() {
    let app = TestApp::spawn().await;
    let _admin = app.member("admin").await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let carol = app.member("carol").await;
    let ops = room(&alice, "ops").await;
    bob.page("/rooms/ops").await;
    let bobs = bob.post_message(ops, "bob's words").await;
    let theirs = bob.conversation_id("/dm/carol").await;
    let private = carol.post_message(theirs, "between us").await;
    let token = make_token(&alice, "bot").await;

    let edit = api_send(
        &app,
        &token,
        reqwest::Method::PATCH,
        &format!("/messages/{bobs}"),
        Some(json!({"body": "not yours"})),
    )
    .await;
    problem(edit, StatusCode::FORBIDDEN).await;
    let delete = api_send(
        &app,
        &token,
        reqwest::Method::DELETE,
        &format!("/messages/{bobs}"),
        None,
    )
    .await;
    problem(delete, StatusCode::FORBIDDEN).await;
    assert!(
        bob.page("/rooms/ops")
            .await
            .message_bodies()
            .contains(&"bob's words".to_owned())
    );

    for resp in [
        api_get(&app, &token, &format!("/conversations/{theirs}/messages")).await,
        api_post(
            &app,
            &token,
            &format!("/conversations/{theirs}/messages"),
            json!({"body": "let me in"}),
        )
        .await,
        api_send(
            &app,
            &token,
            reqwest::Method::PATCH,
            &format!("/messages/{private}"),
            Some(json!({"body": "x"})),
        )
        .await,
        api_post(
            &app,
            &token,
            &format!("/messages/{private}/reactions"),
            json!({"emoji": "👍"}),
        )
        .await,
    ] {
        let refusal = problem(resp, StatusCode::NOT_FOUND).await;
        assert_eq!(refusal["code"], "not_found");
    }
    let kept = json(
        api_get(&app, &token, &format!("/conversations/{ops}/messages")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ids(&kept), [bobs]);

    // Her own message she edits, reacts to and deletes.
    let mine = json(
        api_post(
            &app,
            &token,
            &format!("/conversations/{ops}/messages"),
            json!({"body": "first draft"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await["id"]
        .as_i64()
        .expect("id");
    let edited = api_send(
        &app,
        &token,
        reqwest::Method::PATCH,
        &format!("/messages/{mine}"),
        Some(json!({"body": "final words"})),
    )
    .await;
    let edited = json(edited, StatusCode::OK).await;
    assert_eq!(edited["body"], "final words");
    assert!(edited["edited_at"].is_string());

    let reactions = format!("/messages/{bobs}/reactions");
    for _ in 0..2 {
        let added = json(
            api_post(&app, &token, &reactions, json!({"emoji": "👍"})).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(
            added["reactions"][0]["count"], 1,
            "adding twice is adding once"
        );
        assert_eq!(added["reactions"][0]["users"][0], "alice");
    }
    let removed = api_send(
        &app,
        &token,
        reqwest::Method::DELETE,
        &format!("{reactions}?emoji=%F0%9F%91%8D"),
        None,
    )
    .await;
    assert_eq!(json(removed, StatusCode::OK).await["reactions"], json!([]));
    let bad = api_post(&app, &token, &reactions, json!({"emoji": "not one"})).await;
    problem(bad, StatusCode::UNPROCESSABLE_ENTITY).await;

    let deleted = api_send(
        &app,
        &token,
        reqwest::Method::DELETE,
        &format!("/messages/{mine}"),
        None,
    )
    .await;
    let deleted = json(deleted, StatusCode::OK).await;
    assert!(deleted["deleted_at"].is_string());
    assert_eq!(deleted["body"], "");
}

#[tokio::test]
async fn bad_bodies_are_problems_and_store_nothing() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let ops = room(&alice, "ops").await;
    let token = make_token(&alice, "bot").await;
    let url = app.url(&format!("/api/v1/conversations/{ops}/messages"));
    let before = app.rows("messages").await;

    let malformed = program()
        .post(&url)
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"body\": \"unfinished")
        .send()
        .await
        .expect("POST");
    let refusal = problem(malformed, StatusCode::BAD_REQUEST).await;
    assert_eq!(refusal["code"], "malformed_json");
    let detail = refusal["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("line 1 column"),
        "says where it broke: {detail}"
    );

    let long = api_post(
        &app,
        &token,
        &format!("/conversations/{ops}/messages"),
        json!({"body": "x".repeat(4001)}),
    )
    .await;
    assert_eq!(
        problem(long, StatusCode::UNPROCESSABLE_ENTITY).await["code"],
        "body_too_long"
    );
    let empty = api_post(
        &app,
        &token,
        &format!("/conversations/{ops}/messages"),
        json!({"body": "   "}),
    )
    .await;
    problem(empty, StatusCode::UNPROCESSABLE_ENTITY).await;

    let huge = api_post(
        &app,
        &token,
        &format!("/conversations/{ops}/messages"),
        json!({"body": "y".repeat(100_000)}),
    )
    .await;
    problem(huge, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(app.rows("messages").await, before, "nothing was stored");

    let nowhere = api_get(&app, &token, "/no-such-thing").await;
    problem(nowhere, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn a_session_cookie_opens_nothing_in_the_api_and_a_bearer_token_skips_no_csrf_check() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let ops = room(&alice, "ops").await;
    let token = make_token(&alice, "bot").await;
    let before = app.rows("messages").await;

    let with_cookie = alice
        .http
        .post(alice.url(&format!("/api/v1/conversations/{ops}/messages")))
        .header("content-type", "application/json")
        .body(json!({"body": "riding on a cookie"}).to_string())
        .send()
        .await
        .expect("POST");
    problem(with_cookie, StatusCode::UNAUTHORIZED).await;

    let page_post = alice
        .http
        .post(alice.url(&format!("/conversations/{ops}/messages")))
        .bearer_auth(&token)
        .form(&[("body", "no token for the form")])
        .send()
        .await
        .expect("POST");
    assert_eq!(page_post.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.rows("messages").await, before);
}

#[tokio::test]
async fn the_openapi_document_describes_every_operation_and_the_docs_page_lists_them() {
    let app = TestApp::spawn().await;
    let document: Value = read_json(
        program()
            .get(app.url("/api/v1/openapi.json"))
            .send()
            .await
            .expect("GET"),
    )
    .await;
    assert!(
        document["openapi"]
            .as_str()
            .unwrap_or_default()
            .starts_with("3.")
    );
    let paths = document["paths"].as_object().expect("paths");
    for path in [
        "/conversations",
        "/conversations/{id}/messages",
        "/messages/{id}",
        "/messages/{id}/reactions",
    ] {
        assert!(paths.contains_key(path), "{path} in {:?}", paths.keys());
    }
    assert!(paths["/conversations/{id}/messages"]["post"].is_object());
    assert!(document["components"]["securitySchemes"].is_object());

    let docs = program()
        .get(app.url("/api/v1/docs"))
        .send()
        .await
        .expect("GET");
    assert_eq!(docs.status(), StatusCode::OK);
    let page = Page::read(docs).await;
    assert!(page.has("#postMessage"), "the page lists the operations");
    assert!(page.text.contains("/api/v1/conversations/{id}/messages"));
    assert!(!page.text.contains("<script"), "no script on it");
}

#[tokio::test]
async fn an_address_guessing_tokens_is_made_to_wait_and_good_tokens_are_not() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let token = make_token(&alice, "good").await;
    let from = |last: u8| {
        reqwest::Client::builder()
            .local_address(std::net::IpAddr::from([127, 0, 0, last]))
            .build()
            .expect("client")
    };
    let guesser = from(77);
    let mut refused = None;
    for n in 0..40 {
        let resp = guesser
            .get(app.url("/api/v1/conversations"))
            .bearer_auth(format!("hearth_guess{n:038}"))
            .send()
            .await
            .expect("GET");
        match resp.status() {
            StatusCode::UNAUTHORIZED => {}
            StatusCode::TOO_MANY_REQUESTS => {
                refused = Some(resp);
                break;
            }
            other => panic!("guess {n}: {other}"),
        }
    }
    let refused = refused.expect("40 guesses from one address are not all looked up");
    let wait: u64 = refused
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After in seconds");
    assert!(wait >= 1);
    assert_eq!(
        problem(refused, StatusCode::TOO_MANY_REQUESTS).await["code"],
        "rate_limited"
    );
    let elsewhere = from(78)
        .get(app.url("/api/v1/conversations"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET");
    assert_eq!(
        elsewhere.status(),
        StatusCode::OK,
        "another address is not held up"
    );
}
