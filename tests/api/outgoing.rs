//! Bots' outgoing webhooks, against a receiver this test runs on 127.0.0.1: a bot that
//! is mentioned or written to gets a signed call with the message, and its answer is
//! posted as its reply; a target that fails is tried again and then shown failing;
//! private addresses are refused unless the server allows them.
use std::{
    sync::{
        Arc,
        atomic::{AtomicU16, Ordering},
    },
    time::Duration,
};

use hmac::{Hmac, Mac};
use poem::{
    EndpointExt, Request, Response, Route, handler, http::StatusCode as PoemStatus, web::Data,
};
use reqwest::StatusCode;
use serde_json::Value;
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::{
    bots::room,
    helpers::{PATIENCE, Page, TestApp, Visitor, eventually, frame_where},
};

/// One call as the receiver got it.
#[derive(Debug)]
struct Call {
    timestamp: String,
    signature: String,
    body: Value,
    raw: String,
}

/// A bot's program on 127.0.0.1: records each call and answers `status`, with a reply
/// when it is 200.
struct Receiver {
    url: String,
    calls: mpsc::UnboundedReceiver<Call>,
    status: Arc<AtomicU16>,
}

#[handler]
async fn answer(
    req: &Request,
    body: String,
    Data(sink): Data<&mpsc::UnboundedSender<Call>>,
    Data(status): Data<&Arc<AtomicU16>>,
) -> Response {
    let header = |name: &str| req.header(name).unwrap_or_default().to_owned();
    let parsed: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let said = parsed["message"]["body"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let _ = sink.send(Call {
        timestamp: header("x-hearth-timestamp"),
        signature: header("x-hearth-signature"),
        body: parsed,
        raw: body,
    });
    let code = PoemStatus::from_u16(status.load(Ordering::SeqCst)).unwrap_or(PoemStatus::OK);
    let reply = serde_json::json!({ "text": format!("you said: {said}") }).to_string();
    Response::builder()
        .status(code)
        .content_type("application/json")
        .body(reply)
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let acceptor = poem::listener::TcpAcceptor::from_std(listener.into_std().expect("std"))
            .expect("acceptor");
        let (sink, calls) = mpsc::unbounded_channel();
        let status = Arc::new(AtomicU16::new(200));
        let app = Route::new()
            .at("/hook", poem::post(answer))
            .data(sink)
            .data(status.clone());
        tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(acceptor).run(app).await;
        });
        Receiver {
            url: format!("http://{addr}/hook"),
            calls,
            status,
        }
    }

    async fn next(&mut self) -> Call {
        tokio::time::timeout(PATIENCE, self.calls.recv())
            .await
            .expect("a call within the patience")
            .expect("the receiver runs")
    }
}

async fn app_calling_loopback() -> TestApp {
    TestApp::builder()
        .configure(|config| {
            config.webhooks.allow_private_targets = true;
            config.webhooks.poll_every = Duration::from_millis(50);
            config.webhooks.retry_after = vec![Duration::from_millis(100); 2];
            config.webhooks.timeout = Duration::from_secs(2);
        })
        .spawn()
        .await
}

/// Makes bot `name` calling `url`; answers the signing secret, shown once.
async fn bot_calling(admin: &Visitor, name: &str, url: &str) -> String {
    let made = admin.post_form("/admin/bots", &[("username", name)]).await;
    assert_eq!(made.status(), StatusCode::OK);
    let page = Page::read(
        admin
            .post_form(&format!("/admin/bots/{name}/outgoing"), &[("url", url)])
            .await,
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    page.text_of("#new-signing-secret")
        .expect("the secret is shown once")
}

fn signed_by(secret: &str, call: &Call) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("a key");
    mac.update(format!("{}.{}", call.timestamp, call.raw).as_bytes());
    call.signature == format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[tokio::test]
async fn a_mentioned_bot_gets_a_signed_call_and_its_answer_is_posted_as_its_reply() {
    let app = app_calling_loopback().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let ops = room(&alice, "ops").await;
    let mut receiver = Receiver::start().await;
    let secret = bot_calling(&alice, "helper", &receiver.url).await;
    let added = alice
        .post_form("/rooms/ops/members", &[("username", "helper")])
        .await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    let mut bob_ops = bob.socket(&format!("/ws?conversation={ops}")).await;

    bob.post_message(ops, "nothing for the bot here").await;
    let asked = bob.post_message(ops, "@helper what is the status?").await;
    let call = receiver.next().await;
    assert!(
        signed_by(&secret, &call),
        "signed with the bot's secret: {call:?}"
    );
    assert!(!signed_by("another secret", &call));
    assert_eq!(
        call.body["reason"], "mention",
        "the unmentioning message was not sent"
    );
    assert_eq!(call.body["bot"], "helper");
    assert_eq!(call.body["message"]["id"], asked);
    assert_eq!(call.body["message"]["author"], "bob");
    assert_eq!(call.body["conversation"]["id"], ops);
    assert_eq!(call.body["conversation"]["slug"], "ops");
    let reply = frame_where(&mut bob_ops, |f| f.contains("you said:")).await;
    assert!(reply.contains("helper"), "posted as the bot: {reply}");

    // A private chat with the bot is a call too.
    let chat = bob.conversation_id("/dm/helper").await;
    let direct = bob.post_message(chat, "hello bot").await;
    let call = receiver.next().await;
    assert_eq!(call.body["reason"], "direct");
    assert_eq!(call.body["message"]["id"], direct);
}

#[tokio::test]
async fn a_failing_target_is_retried_then_shown_failing_and_posting_goes_on() {
    let app = app_calling_loopback().await;
    let alice = app.member("alice").await;
    let mut receiver = Receiver::start().await;
    receiver.status.store(500, Ordering::SeqCst);
    bot_calling(&alice, "flaky", &receiver.url).await;
    let chat = alice.conversation_id("/dm/flaky").await;
    let said = alice.post_message(chat, "are you there?").await;
    for attempt in 1..=3 {
        let call = receiver.next().await;
        assert_eq!(call.body["message"]["id"], said, "attempt {attempt}");
    }
    eventually("the bots page says the webhook is failing", || async {
        let page = alice.page("/admin/bots").await;
        page.text_of("#bot-flaky .failing").is_some()
            && page
                .text_of("#bot-flaky .outgoing")
                .unwrap_or_default()
                .contains("500")
    })
    .await;
    // Posting never waited for it, and a call that works clears the mark.
    receiver.status.store(200, Ordering::SeqCst);
    alice.post_message(chat, "and now?").await;
    let call = receiver.next().await;
    assert_eq!(call.body["message"]["body"], "and now?");
    eventually("the failing mark is gone", || async {
        alice
            .page("/admin/bots")
            .await
            .text_of("#bot-flaky .failing")
            .is_none()
    })
    .await;
}

#[tokio::test]
async fn private_and_loopback_targets_are_refused() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let made = alice
        .post_form("/admin/bots", &[("username", "nosy")])
        .await;
    assert_eq!(made.status(), StatusCode::OK);
    for url in [
        "http://127.0.0.1:9/hook",
        "https://127.0.0.1/hook",
        "https://10.0.0.7/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://localhost/hook",
        "ftp://example.com/",
        "https://user:pw@example.com/",
    ] {
        let page = Page::read(
            alice
                .post_form("/admin/bots/nosy/outgoing", &[("url", url)])
                .await,
        )
        .await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{url}");
        assert!(!page.has("#new-signing-secret"), "{url}");
    }
    assert_eq!(app.rows("outgoing_webhooks").await, 0);
}
