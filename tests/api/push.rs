//! Web Push, end to end: a push service the test runs on 127.0.0.1 (allowed by the test
//! flag) receives a VAPID-signed request whose payload the test decrypts with the
//! subscription's own keys; a 410 from it removes the subscription; the level and an
//! open page decide who is pushed; bursts are coalesced. Endpoints that are not public
//! HTTPS are refused, and hearth is installable (manifest, worker, offline page).
use std::{
    sync::{
        Arc,
        atomic::{AtomicU16, Ordering},
    },
    time::Duration,
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use poem::{
    EndpointExt, Request, Response, Route, handler, http::StatusCode as PoemStatus, web::Data,
};
use reqwest::StatusCode;
use tokio::sync::mpsc;
use web_push_native::{
    Auth,
    jwt_simple::{
        algorithms::{ECDSAP256PublicKeyLike, ES256PublicKey},
        claims::NoCustomClaims,
        common::VerificationOptions,
    },
    p256::{SecretKey, elliptic_curve::sec1::ToEncodedPoint},
};

use crate::helpers::{PATIENCE, TestApp, Visitor, eventually};

/// One request as the push service got it.
#[derive(Debug)]
struct Received {
    path: String,
    authorization: String,
    encoding: String,
    ttl: String,
    topic: String,
    body: Vec<u8>,
}

/// A push service on 127.0.0.1: records what it gets and answers `status`.
struct PushService {
    origin: String,
    received: mpsc::UnboundedReceiver<Received>,
    status: Arc<AtomicU16>,
}

#[handler]
async fn receive(
    req: &Request,
    body: Vec<u8>,
    Data(sink): Data<&mpsc::UnboundedSender<Received>>,
    Data(status): Data<&Arc<AtomicU16>>,
) -> Response {
    let header = |name: &str| req.header(name).unwrap_or_default().to_owned();
    let _ = sink.send(Received {
        path: req.uri().path().to_owned(),
        authorization: header("authorization"),
        encoding: header("content-encoding"),
        ttl: header("ttl"),
        topic: header("topic"),
        body,
    });
    let code = PoemStatus::from_u16(status.load(Ordering::SeqCst)).unwrap_or(PoemStatus::CREATED);
    Response::builder().status(code).finish()
}

impl PushService {
    async fn start() -> PushService {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let std_listener = listener.into_std().expect("std listener");
        let (sink, received) = mpsc::unbounded_channel();
        let status = Arc::new(AtomicU16::new(201));
        let app = Route::new()
            .at("/push/:id", poem::post(receive))
            .data(sink)
            .data(status.clone());
        let acceptor = poem::listener::TcpAcceptor::from_std(std_listener).expect("acceptor");
        tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(acceptor).run(app).await;
        });
        PushService {
            origin: format!("http://{addr}"),
            received,
            status,
        }
    }

    async fn next(&mut self) -> Received {
        tokio::time::timeout(PATIENCE, self.received.recv())
            .await
            .expect("a push within the patience")
            .expect("the push service runs")
    }
}

/// A browser's side of a subscription: its keys, as `pushManager.subscribe` makes them.
struct Browser {
    secret: SecretKey,
    auth: [u8; 16],
    endpoint: String,
}

impl Browser {
    fn new(service: &PushService, name: &str) -> Browser {
        Browser {
            secret: SecretKey::random(&mut rand::thread_rng()),
            auth: rand::random(),
            endpoint: format!("{}/push/{name}", service.origin),
        }
    }

    fn subscription(&self) -> serde_json::Value {
        let public = self.secret.public_key().as_affine().to_encoded_point(false);
        serde_json::json!({
            "endpoint": self.endpoint,
            "expirationTime": null,
            "keys": {
                "p256dh": URL_SAFE_NO_PAD.encode(public.as_bytes()),
                "auth": URL_SAFE_NO_PAD.encode(self.auth),
            }
        })
    }

    async fn subscribe(&self, visitor: &Visitor) {
        let resp = visitor
            .post_json("/push/subscriptions", &self.subscription())
            .await;
        assert_eq!(resp.status(), StatusCode::CREATED, "subscribing");
    }

    /// Decrypts a push as the browser would; answers its JSON.
    fn open(&self, push: &Received) -> serde_json::Value {
        let plain = web_push_native::decrypt(
            push.body.clone(),
            &self.secret,
            &Auth::clone_from_slice(&self.auth),
        )
        .expect("the payload decrypts with the subscription's keys");
        serde_json::from_slice(&plain).expect("the payload is JSON")
    }
}

async fn app_with_push(coalesce: Duration) -> TestApp {
    TestApp::builder()
        .configure(move |config| {
            config.push.allow_private_endpoints = true;
            config.push.coalesce = coalesce;
        })
        .spawn()
        .await
}

#[tokio::test]
async fn a_private_message_is_pushed_signed_and_encrypted_and_a_gone_subscription_is_dropped() {
    let mut service = PushService::start().await;
    let app = app_with_push(Duration::ZERO).await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let browser = Browser::new(&service, "bobs-phone");
    browser.subscribe(&bob).await;
    assert_eq!(app.rows("push_subscriptions").await, 1);
    let chat = alice.conversation_id("/dm/bob").await;

    let id = alice.post_message(chat, "the **release** is at noon").await;
    let push = service.next().await;
    assert_eq!(push.path, "/push/bobs-phone");
    assert_eq!(push.encoding, "aes128gcm");
    assert!(
        push.ttl.parse::<u64>().is_ok_and(|ttl| ttl > 0),
        "TTL: {}",
        push.ttl
    );
    assert_eq!(push.topic, format!("conversation-{chat}"));

    // VAPID (RFC 8292): a JWT for the push service's origin, signed by the key the
    // server hands browsers.
    let key = bob.get("/push/key").await.text().await.expect("key");
    let fields = push
        .authorization
        .strip_prefix("vapid ")
        .expect("a vapid authorization");
    let part = |name: &str| {
        fields
            .split(',')
            .map(str::trim)
            .find_map(|f| f.strip_prefix(name))
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(part("k="), key.trim());
    let public = ES256PublicKey::from_bytes(&URL_SAFE_NO_PAD.decode(key.trim()).expect("base64"))
        .expect("a P-256 key");
    let options = VerificationOptions {
        allowed_audiences: Some([service.origin.clone()].into_iter().collect()),
        ..Default::default()
    };
    let claims = public
        .verify_token::<NoCustomClaims>(&part("t="), Some(options))
        .expect("the token verifies for this push service");
    assert!(claims.subject.is_some_and(|s| s.starts_with("mailto:")));

    // RFC 8291: only bob's keys open it, and it says what was written, and where.
    let note = browser.open(&push);
    assert_eq!(note["title"], "alice");
    assert!(
        note["body"]
            .as_str()
            .unwrap_or_default()
            .contains("release is at noon"),
        "{note}"
    );
    assert_eq!(note["url"], format!("/messages/{id}"));

    // The push service says the subscription is gone: hearth forgets it.
    service.status.store(410, Ordering::SeqCst);
    alice.post_message(chat, "still there?").await;
    service.next().await;
    eventually("the gone subscription is removed", || async {
        app.rows("push_subscriptions").await == 0
    })
    .await;
}

#[tokio::test]
async fn only_what_the_level_asks_for_is_pushed_and_not_to_an_open_page() {
    let mut service = PushService::start().await;
    let app = app_with_push(Duration::ZERO).await;
    let alice = app.member("alice").await;
    let url = alice.create_room("general").await;
    let room = alice.conversation_id(&url).await;
    let bob = app.member("bob").await;
    bob.page(&url).await;
    let browser = Browser::new(&service, "bob");
    browser.subscribe(&bob).await;
    let bob_id: i64 = bob
        .page("/")
        .await
        .attr("body", "data-user-id")
        .and_then(|v| v.parse().ok())
        .expect("bob's id");

    // Pushes leave in the order messages were stored: a push that should not exist
    // would arrive before the one that must.
    alice
        .post_message(room, "chatter nobody is pushed for")
        .await;
    alice.post_message(room, "a word for @bob").await;
    let note = browser.open(&service.next().await);
    assert!(
        note["body"]
            .as_str()
            .unwrap_or_default()
            .contains("a word for @bob"),
        "{note}"
    );
    assert_eq!(note["title"], "alice in #general");

    // alice's own browser shows when the pusher has dealt with what came before: pushes
    // leave in order, so a push bob should not get would arrive before hers.
    let alices = Browser::new(&service, "alice");
    alices.subscribe(&alice).await;
    let hers = async |service: &mut PushService, text: &str| {
        let push = service.next().await;
        assert_eq!(push.path, "/push/alice", "no push to bob before alice's");
        let note = alices.open(&push);
        assert!(
            note["body"].as_str().unwrap_or_default().contains(text),
            "{note}"
        );
    };

    // Muted: not even a mention pushes.
    let path = format!("/conversations/{room}/notifications");
    bob.post_form(&path, &[("level", "nothing")]).await;
    alice.post_message(room, "@bob you are muted").await;
    bob.post_message(room, "@alice noted").await;
    hers(&mut service, "noted").await;
    bob.post_form(&path, &[("level", "everything")]).await;
    alice.post_message(room, "everything now").await;
    let note = browser.open(&service.next().await);
    assert!(
        note["body"]
            .as_str()
            .unwrap_or_default()
            .contains("everything now"),
        "{note}"
    );

    // While a page of bob's is open, that page tells him; no push. Her own messages
    // never push to alice either.
    let socket = bob.socket("/ws").await;
    eventually("bob is online", || async {
        app.state.hub.is_online(bob_id)
    })
    .await;
    alice.post_message(room, "seen on the page").await;
    bob.post_message(room, "@alice seen it").await;
    hers(&mut service, "seen it").await;
    drop(socket);
    eventually("bob is offline", || async {
        !app.state.hub.is_online(bob_id)
    })
    .await;
    alice.post_message(room, "after the page closed").await;
    let push = service.next().await;
    assert_eq!(push.path, "/push/bob");
    let note = browser.open(&push);
    assert!(
        note["body"]
            .as_str()
            .unwrap_or_default()
            .contains("after the page closed"),
        "{note}"
    );
}

#[tokio::test]
async fn a_burst_in_one_conversation_is_one_push_then_one_that_counts_the_rest() {
    let mut service = PushService::start().await;
    let app = app_with_push(Duration::from_millis(600)).await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let browser = Browser::new(&service, "bob");
    browser.subscribe(&bob).await;
    let chat = alice.conversation_id("/dm/bob").await;
    for n in 1..=5 {
        alice.post_message(chat, &format!("line {n}")).await;
    }
    let first = browser.open(&service.next().await);
    assert_eq!(first["count"], 1);
    assert!(
        first["body"]
            .as_str()
            .unwrap_or_default()
            .contains("line 1")
    );
    let rest = browser.open(&service.next().await);
    assert_eq!(rest["count"], 4, "{rest}");
    assert!(
        rest["body"].as_str().unwrap_or_default().contains("line 5"),
        "{rest}"
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(900), service.received.recv())
            .await
            .is_err(),
        "nothing more than the two pushes"
    );
}

#[tokio::test]
async fn subscriptions_to_anything_but_a_public_https_push_service_are_refused() {
    let app = TestApp::spawn().await;
    let bob = app.member("bob").await;
    let keys = serde_json::json!({
        "p256dh": URL_SAFE_NO_PAD.encode(
            SecretKey::random(&mut rand::thread_rng()).public_key().as_affine().to_encoded_point(false).as_bytes()
        ),
        "auth": URL_SAFE_NO_PAD.encode([7u8; 16]),
    });
    for endpoint in [
        "http://push.example.com/send/1",
        "https://127.0.0.1/send/1",
        "https://[::1]:8443/send/1",
        "https://localhost/send/1",
        "https://10.0.0.8/send/1",
        "https://169.254.169.254/latest/meta-data",
        "https://user:secret@push.example.com/send/1",
        "ftp://push.example.com/",
        "not a url",
        "",
    ] {
        let resp = bob
            .post_json(
                "/push/subscriptions",
                &serde_json::json!({ "endpoint": endpoint, "keys": keys }),
            )
            .await;
        assert_eq!(
            resp.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{endpoint}"
        );
    }
    // Keys that are not a browser's.
    let service = PushService::start().await;
    let allowed = app_with_push(Duration::from_secs(1)).await;
    let carol = allowed.member("carol").await;
    let endpoint = format!("{}/push/carol", service.origin);
    for keys in [
        serde_json::json!({ "p256dh": "AAAA", "auth": URL_SAFE_NO_PAD.encode([7u8; 16]) }),
        serde_json::json!({ "p256dh": keys["p256dh"], "auth": "c2hvcnQ" }),
        serde_json::json!({}),
    ] {
        let resp = carol
            .post_json(
                "/push/subscriptions",
                &serde_json::json!({ "endpoint": endpoint, "keys": keys }),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY, "{keys}");
    }
    // Without the CSRF token, or signed out: nothing stored either.
    let resp = bob
        .post_raw(
            "/push/subscriptions",
            &[("endpoint", "https://fcm.googleapis.com/x")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.rows("push_subscriptions").await, 0);
    assert_eq!(allowed.rows("push_subscriptions").await, 0);
}

#[tokio::test]
async fn hearth_is_installable_and_has_an_offline_page() {
    let app = TestApp::spawn().await;
    let visitor = app.visitor();
    let page = visitor.page("/login").await;
    assert_eq!(
        page.attr("link[rel=manifest]", "href").as_deref(),
        Some("/manifest.webmanifest")
    );
    let resp = visitor.get("/manifest.webmanifest").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let manifest: serde_json::Value =
        serde_json::from_str(&resp.text().await.expect("body")).expect("JSON");
    assert_eq!(manifest["display"], "standalone");
    assert_eq!(manifest["start_url"], "/");
    let icons = manifest["icons"].as_array().cloned().unwrap_or_default();
    for size in ["192x192", "512x512"] {
        let icon = icons
            .iter()
            .find(|i| i["sizes"] == size && i["type"] == "image/png")
            .unwrap_or_else(|| panic!("a {size} PNG icon"));
        let resp = visitor.get(icon["src"].as_str().unwrap_or_default()).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let bytes = resp.bytes().await.expect("icon");
        assert!(bytes.starts_with(b"\x89PNG"), "{size} is a PNG");
    }
    let resp = visitor.get("/sw.js").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("text/javascript")
    );
    let worker = resp.text().await.expect("worker");
    assert!(worker.contains("addEventListener(\"push\""));
    assert!(
        !worker.contains("__APP_CSS__"),
        "the worker names the real stylesheet"
    );
    let offline = visitor.page("/offline").await;
    assert_eq!(offline.status, StatusCode::OK);
    assert!(offline.has("#offline h1"));
}
