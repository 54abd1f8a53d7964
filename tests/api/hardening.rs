//! Limits that must hold under concurrency and exhaustion: parallel guesses, bursts of
//! log-ins and sockets, slow clients, and what the server says when it cannot serve.
//! Visitors from other networks connect from loopback addresses of their own
//! (`127.0.0.2`, …), which the server sees as other addresses.
use futures_util::future::join_all;
use reqwest::StatusCode;

use crate::helpers::{TestApp, Visitor};

fn retry_after(resp: &reqwest::Response) -> Option<u64> {
    resp.headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// `count` log-ins as `username` with `password`, all sent at once; answers their
/// statuses and whether each carried `Retry-After`.
async fn log_ins_at_once(
    visitor: &Visitor,
    username: &str,
    password: &str,
    count: usize,
) -> Vec<(StatusCode, Option<u64>)> {
    let token = visitor.csrf_token().await;
    let attempts = (0..count).map(|_| {
        visitor
            .http
            .post(visitor.url("/login"))
            .form(&[
                ("username", username),
                ("password", password),
                ("csrf_token", token.as_str()),
            ])
            .send()
    });
    join_all(attempts)
        .await
        .into_iter()
        .map(|resp| {
            let resp = resp.expect("POST /login");
            (resp.status(), retry_after(&resp))
        })
        .collect()
}

fn count(answers: &[(StatusCode, Option<u64>)], status: StatusCode) -> usize {
    answers.iter().filter(|(s, _)| *s == status).count()
}

#[tokio::test]
async fn parallel_wrong_guesses_for_one_account_are_refused_past_its_allowance() {
    let app = TestApp::builder()
        .production_limits()
        .configure(|c| c.limits.hashes_in_flight_per_address = 100)
        .spawn()
        .await;
    let _alice = app.member("alice").await;
    let mallory = app.visitor_from([127, 0, 0, 2]);
    let answers = log_ins_at_once(&mallory, "alice", "wrong-guess", 40).await;
    // Five failures are free for an account; every attempt in flight takes one of
    // them, so the other 35 are refused before they are hashed.
    assert_eq!(count(&answers, StatusCode::UNAUTHORIZED), 5, "{answers:?}");
    assert_eq!(
        count(&answers, StatusCode::TOO_MANY_REQUESTS),
        35,
        "{answers:?}"
    );
    assert!(
        answers
            .iter()
            .filter(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS)
            .all(|(_, wait)| wait.is_some_and(|w| w >= 1)),
        "every 429 says when to come back: {answers:?}"
    );
}

#[tokio::test]
async fn a_browser_that_logged_in_before_is_not_locked_out_by_guesses_from_elsewhere() {
    let app = TestApp::builder().production_limits().spawn().await;
    let alice = app.member("alice").await;
    assert_eq!(
        alice.post_form("/logout", &[]).await.status(),
        StatusCode::SEE_OTHER
    );
    let mallory = app.visitor_from([127, 0, 0, 2]);
    for _ in 0..5 {
        assert_eq!(
            mallory.login("alice", "wrong-guess").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let locked = mallory.login("alice", "wrong-guess").await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&locked).is_some(), "429 without Retry-After");
    // A browser the account has never logged in from shares the locked allowance...
    let new_browser = app.visitor_from([127, 0, 0, 3]);
    let refused = new_browser.login("alice", "password123").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&refused).is_some(), "429 without Retry-After");
    // ...but Alice's own browser has an allowance of its own.
    assert_eq!(
        alice.login("alice", "password123").await.status(),
        StatusCode::SEE_OTHER
    );
    assert!(alice.is_signed_in().await);
}

#[tokio::test]
async fn a_browser_s_own_wrong_guesses_lock_only_that_browser() {
    let app = TestApp::builder().production_limits().spawn().await;
    let alice = app.member("alice").await;
    alice.post_form("/logout", &[]).await;
    for _ in 0..5 {
        assert_eq!(
            alice.login("alice", "mistyped!").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        alice.login("alice", "password123").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    let laptop = app.visitor_from([127, 0, 0, 4]);
    assert_eq!(
        laptop.login("alice", "password123").await.status(),
        StatusCode::SEE_OTHER,
        "the account's shared allowance is untouched"
    );
}

#[tokio::test]
async fn a_burst_of_log_ins_from_one_address_is_refused_before_it_queues_for_hashing() {
    let app = TestApp::builder()
        .production_limits()
        .configure(|c| {
            c.limits.login_failures_per_address = 10_000;
            c.limits.hashes_in_flight_per_address = 2;
        })
        .spawn()
        .await;
    let _alice = app.member("alice").await;
    let alice = app.visitor();
    let guesser = app.visitor_from([127, 0, 0, 2]);
    let token = guesser.csrf_token().await;
    let names: Vec<String> = (0..30).map(|i| format!("nobody{i}")).collect();
    let guesses = names.iter().map(|name| {
        guesser
            .http
            .post(guesser.url("/login"))
            .form(&[
                ("username", name.as_str()),
                ("password", "wrong-guess"),
                ("csrf_token", token.as_str()),
            ])
            .send()
    });
    let (answers, alice_logs_in) =
        tokio::join!(join_all(guesses), alice.login("alice", "password123"));
    let answers: Vec<(StatusCode, Option<u64>)> = answers
        .into_iter()
        .map(|r| {
            let r = r.expect("POST /login");
            (r.status(), retry_after(&r))
        })
        .collect();
    let refused = count(&answers, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        refused > 0 && count(&answers, StatusCode::UNAUTHORIZED) + refused == 30,
        "{answers:?}"
    );
    assert!(
        answers
            .iter()
            .filter(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS)
            .all(|(_, wait)| wait.is_some()),
        "{answers:?}"
    );
    // Another address has turns of its own.
    assert_eq!(alice_logs_in.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn names_that_cannot_be_accounts_never_become_keys_of_the_log_in_limits() {
    let app = TestApp::builder().production_limits().spawn().await;
    let guesser = app.visitor();
    let huge = "a".repeat(60 * 1024);
    for name in [huge.as_str(), "no spaces allowed", "ab", "ålice"] {
        assert_eq!(
            guesser.login(name, "wrong-guess").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(app.state.limits.login_accounts_tracked(), 0);
    guesser.login("valid-name", "wrong-guess").await;
    assert_eq!(app.state.limits.login_accounts_tracked(), 1);
}

#[tokio::test]
async fn sign_ups_and_sockets_past_their_limits_say_when_to_retry() {
    let app = TestApp::builder()
        .production_limits()
        .configure(|c| c.limits.sockets_per_user = 1)
        .spawn()
        .await;
    for i in 0..10 {
        app.member(&format!("user{i}")).await;
    }
    let refused = app.visitor().signup("one-more", "password123").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        retry_after(&refused).is_some(),
        "sign-up 429 without Retry-After"
    );

    let user = app.visitor();
    user.login("user0", "password123").await;
    let _open = user.socket("/ws").await;
    let refused = user.raw_socket_refusal("/ws").await;
    assert_eq!(refused.status(), 429);
    assert!(
        refused.headers().contains_key("retry-after"),
        "socket 429 without Retry-After"
    );
}

#[tokio::test]
async fn one_person_may_create_a_burst_of_rooms_and_then_waits() {
    let app = TestApp::builder().production_limits().spawn().await;
    let alice = app.member("alice").await;
    for i in 0..10 {
        alice.create_room(&format!("room {i}")).await;
    }
    let before = app.rows("conversations").await;
    let refused = alice.post_form("/rooms", &[("name", "one too many")]).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&refused).is_some());
    assert_eq!(app.rows("conversations").await, before, "nothing created");
    // Someone else is not held back.
    let bob = app.member("bob").await;
    bob.create_room("bobs room").await;
}
