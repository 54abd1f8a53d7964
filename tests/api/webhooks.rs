//! Bot accounts and incoming webhooks: an administrator makes a bot, which reads and
//! posts only in the rooms it is added to and cannot log in; a webhook's secret URL
//! takes Slack's payloads and posts them to its room as the bot, answering as Slack
//! does, with nothing stored for a refused payload.
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    bots::{api_get, api_post, json as json_in, problem, room},
    helpers::{Page, TestApp, Visitor, frame_where},
};

/// Makes bot `name` on `/admin/bots`; answers its token, shown once.
async fn make_bot(admin: &Visitor, name: &str) -> String {
    let page = Page::read(admin.post_form("/admin/bots", &[("username", name)]).await).await;
    assert_eq!(page.status, StatusCode::OK);
    let token = page
        .text_of("#new-token")
        .expect("the bot's token is shown");
    assert!(token.starts_with("hearth_"), "{token}");
    token
}

/// Makes a webhook for `room` (a slug) posting as `bot`; answers its URL.
async fn make_webhook(admin: &Visitor, bot: &str, room: &str) -> String {
    let page = Page::read(
        admin
            .post_form(&format!("/admin/bots/{bot}/webhooks"), &[("room", room)])
            .await,
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    page.text_of("#new-webhook")
        .expect("the webhook's URL is shown")
}

fn ids(listed: &Value) -> Vec<i64> {
    listed
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|c| c["id"].as_i64())
        .collect()
}

#[tokio::test]
async fn a_bot_reads_and_posts_only_in_the_rooms_it_is_added_to_and_never_logs_in() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let ops = room(&alice, "ops").await;
    let lounge = room(&alice, "lounge").await;
    assert_eq!(bob.get("/admin/bots").await.status(), StatusCode::NOT_FOUND);
    let refused = bob
        .post_form("/admin/bots", &[("username", "sneaky")])
        .await;
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);

    let token = make_bot(&alice, "deploybot").await;
    let taken = Page::read(alice.post_form("/admin/bots", &[("username", "bob")]).await).await;
    assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY);
    let listed = json_in(
        api_get(&app, &token, "/conversations").await,
        StatusCode::OK,
    )
    .await;
    assert!(ids(&listed).is_empty(), "a new bot is in no room: {listed}");
    let path = format!("/conversations/{ops}/messages");
    problem(api_get(&app, &token, &path).await, StatusCode::NOT_FOUND).await;
    let post = api_post(&app, &token, &path, json!({"body": "hello?"})).await;
    problem(post, StatusCode::NOT_FOUND).await;

    let not_theirs = bob
        .post_form("/rooms/ops/members", &[("username", "deploybot")])
        .await;
    assert_eq!(
        not_theirs.status(),
        StatusCode::FORBIDDEN,
        "bob did not make ops"
    );
    let added = alice
        .post_form("/rooms/ops/members", &[("username", "deploybot")])
        .await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    let listed = json_in(
        api_get(&app, &token, "/conversations").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ids(&listed), [ops], "ops, and not lounge ({lounge})");
    // From the room's start: a post that commits before the socket has joined the
    // hub still reaches it.
    let mut bob_ops = bob.socket(&format!("/ws?conversation={ops}&after=0")).await;
    let posted = json_in(
        api_post(&app, &token, &path, json!({"body": "Deploying **v2**"})).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(posted["author"], "deploybot");
    let frame = frame_where(&mut bob_ops, |f| f.contains("Deploying")).await;
    assert!(frame.contains("<strong>v2</strong>"), "{frame}");
    let page = alice.page("/admin/bots").await;
    assert!(page.has("#bot-deploybot"), "the bot is listed");
    assert!(
        page.text_of("#bot-deploybot .rooms")
            .unwrap_or_default()
            .contains("#ops")
    );

    let bot = app.visitor();
    for password in ["", "!bot", "deploybot", "hunter2hunter2"] {
        let resp = bot.login("deploybot", password).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{password:?}");
    }
    let link = alice
        .post_form("/admin/users/deploybot/login-link", &[])
        .await;
    assert_eq!(
        link.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "no log-in link for a bot"
    );

    let removed = alice
        .post_form("/rooms/ops/members/remove", &[("username", "deploybot")])
        .await;
    assert_eq!(removed.status(), StatusCode::SEE_OTHER);
    let post = api_post(&app, &token, &path, json!({"body": "still here?"})).await;
    problem(post, StatusCode::NOT_FOUND).await;
}

async fn hook(url: &str, content_type: &str, body: String) -> (StatusCode, String) {
    let resp = reqwest::Client::new()
        .post(url)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("POST to the webhook");
    let status = resp.status();
    (status, resp.text().await.expect("a body"))
}

async fn hook_json(url: &str, payload: Value) -> (StatusCode, String) {
    hook(url, "application/json", payload.to_string()).await
}

#[tokio::test]
async fn a_webhook_posts_slacks_payloads_to_its_room_as_its_bot() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let ops = room(&alice, "ops").await;
    make_bot(&alice, "ci-bot").await;
    let url = make_webhook(&alice, "ci-bot", "ops").await;
    assert!(url.starts_with(&app.url("/hooks/")), "{url}");
    let secret = url.rsplit('/').next().expect("a secret").to_owned();
    let mut bob_ops = bob.socket(&format!("/ws?conversation={ops}")).await;

    let said = json!({"text": "Build *42* passed: <https://ci.example/42|logs> &amp; more"});
    assert_eq!(
        hook_json(&url, said).await,
        (StatusCode::OK, "ok".to_owned())
    );
    let frame = frame_where(&mut bob_ops, |f| f.contains("Build")).await;
    assert!(frame.contains("<strong>42</strong>"), "{frame}");
    assert!(frame.contains("href=\"https://ci.example/42\""), "{frame}");
    assert!(frame.contains("&amp; more"), "{frame}");
    let page = bob.page("/rooms/ops").await;
    assert!(page.text.contains("ci-bot"), "posted as the bot");

    // Slack's form encoding: the JSON in a `payload` field.
    let form: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &json!({"text": "from a form"}).to_string())
        .finish();
    let answer = hook(&url, "application/x-www-form-urlencoded", form).await;
    assert_eq!(answer, (StatusCode::OK, "ok".to_owned()));
    frame_where(&mut bob_ops, |f| f.contains("from a form")).await;

    let before = app.rows("messages").await;
    for (payload, status, code) in [
        (
            "not json".to_owned(),
            StatusCode::BAD_REQUEST,
            "invalid_payload",
        ),
        (
            "[1, 2]".to_owned(),
            StatusCode::BAD_REQUEST,
            "invalid_payload",
        ),
        (json!({}).to_string(), StatusCode::BAD_REQUEST, "no_text"),
        (
            json!({"text": "   "}).to_string(),
            StatusCode::BAD_REQUEST,
            "no_text",
        ),
        (
            json!({"text": "x".repeat(4001)}).to_string(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "msg_too_long",
        ),
    ] {
        let got = hook(&url, "application/json", payload.clone()).await;
        assert_eq!(got, (status, code.to_owned()), "{payload:.40}");
    }
    let wrong = app.url("/hooks/not-a-webhook");
    assert_eq!(
        hook_json(&wrong, json!({"text": "hi"})).await,
        (StatusCode::NOT_FOUND, "no_service".to_owned())
    );
    assert_eq!(
        app.rows("messages").await,
        before,
        "nothing refused was stored"
    );
    assert_eq!(app.rows("incoming_webhooks").await, 1);
    let in_clear = app
        .rows(&format!("incoming_webhooks WHERE secret_hash = '{secret}'"))
        .await;
    assert_eq!(in_clear, 0, "the secret itself is not stored");

    // Deleted, it posts nothing more.
    let page = alice.page("/admin/bots").await;
    let delete = page
        .attr("#webhooks form", "action")
        .expect("a delete button");
    assert_eq!(
        alice.post_form(&delete, &[]).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        hook_json(&url, json!({"text": "after"})).await,
        (StatusCode::NOT_FOUND, "no_service".to_owned())
    );
}

#[tokio::test]
async fn a_webhook_to_an_archived_room_is_gone() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    room(&alice, "old").await;
    make_bot(&alice, "cron").await;
    let url = make_webhook(&alice, "cron", "old").await;
    assert_eq!(
        hook_json(&url, json!({"text": "tick"})).await.0,
        StatusCode::OK
    );
    let archived = alice.post_form("/rooms/old/archive", &[]).await;
    assert_eq!(archived.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        hook_json(&url, json!({"text": "tock"})).await,
        (StatusCode::GONE, "channel_is_archived".to_owned())
    );
}
