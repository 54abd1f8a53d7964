//! Accounts through the real server: signing up (and every way to get it wrong), logging
//! in and out, the session id that changes at log-in, CSRF on the account forms, and
//! what an anonymous visitor may and may not do.
use reqwest::StatusCode;

use crate::helpers::{Page, TestApp, location};

/// Signs up with exactly `fields` (plus the session's token) on a fresh browser and
/// checks what a person sees when it is refused: 422, the form again, still logged out.
/// Answers the page, for the test to check the message and the kept input.
async fn refused_signup(app: &TestApp, fields: &[(&str, &str)]) -> Page {
    let visitor = app.visitor();
    let page = Page::read(visitor.post_form("/signup", fields).await).await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "sign-up with {fields:?} was not refused"
    );
    assert!(
        page.has("form[action='/signup'] input[name=username]")
            && page.has("form[action='/signup'] input[name=password]"),
        "the refusal of {fields:?} does not give the sign-up form back"
    );
    assert!(
        !visitor.is_signed_in().await,
        "a refused sign-up ({fields:?}) logged the visitor in"
    );
    page
}

/// The error messages shown on a page, as one lowercase string.
fn errors(page: &Page) -> String {
    page.texts(".form-error").join(" ").to_lowercase()
}

fn assert_says(page: &Page, expected: &str) {
    let shown = errors(page);
    assert!(
        shown.contains(&expected.to_lowercase()),
        "expected the page to say {expected:?}; it says {shown:?}"
    );
}

fn typed_username(page: &Page) -> Option<String> {
    page.attr("form[action='/signup'] input[name=username]", "value")
}

#[tokio::test]
async fn a_new_person_signs_up_and_lands_in_the_lobby() {
    let app = TestApp::spawn().await;
    let alice = app.visitor();
    let resp = alice.signup("alice", "tulip-harbor-42").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/");
    let lobby = alice.page("/").await;
    assert_eq!(lobby.status, StatusCode::OK);
    assert!(lobby.has("#rooms"));
    assert_eq!(lobby.text_of(".me").as_deref(), Some("alice"));
    assert_eq!(app.rows("users").await, 1, "accounts stored");
}

#[tokio::test]
async fn usernames_and_passwords_at_the_length_limits_are_accepted() {
    let app = TestApp::spawn().await;
    let shortest = app.visitor();
    let resp = shortest.signup("a-b", "k7#Qv!2m").await;
    assert_eq!(
        resp.status(),
        StatusCode::SEE_OTHER,
        "a 3-character name and an 8-character password"
    );
    assert!(shortest.is_signed_in().await);

    let longest_name = format!("{}_9", "x".repeat(30));
    let longest = app.visitor();
    let resp = longest
        .signup(&longest_name, &"k7#Qv!2mZ9@xL4$w".repeat(16))
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::SEE_OTHER,
        "a 32-character name and a 256-character password"
    );
    assert_eq!(longest.page("/").await.text_of(".me"), Some(longest_name));
    assert_eq!(app.rows("users").await, 2, "accounts stored");
}

#[tokio::test]
async fn a_username_shorter_than_three_characters_is_refused_and_nothing_is_created() {
    let app = TestApp::spawn().await;
    let page = refused_signup(&app, &[("username", "al"), ("password", "tulip-harbor-42")]).await;
    assert_says(&page, "at least 3 characters");
    assert_eq!(typed_username(&page).as_deref(), Some("al"));
    assert_eq!(app.rows("users").await, 0, "accounts stored");
}

#[tokio::test]
async fn a_username_longer_than_32_characters_is_refused_and_nothing_is_created() {
    let app = TestApp::spawn().await;
    let name = "a".repeat(33);
    let page = refused_signup(
        &app,
        &[("username", &name), ("password", "tulip-harbor-42")],
    )
    .await;
    assert_says(&page, "at most 32 characters");
    assert_eq!(typed_username(&page), Some(name));
    assert_eq!(app.rows("users").await, 0, "accounts stored");
}

#[tokio::test]
async fn a_username_with_other_characters_than_letters_digits_underscore_and_dash_is_refused() {
    let app = TestApp::spawn().await;
    for name in ["al ice", "ålice", "bob!", "<b>eve</b>", "zero\u{200b}width"] {
        let page =
            refused_signup(&app, &[("username", name), ("password", "tulip-harbor-42")]).await;
        assert_says(&page, "letters, digits");
        assert_eq!(
            typed_username(&page).as_deref(),
            Some(name),
            "the typed name is kept"
        );
    }
    assert_eq!(app.rows("users").await, 0, "accounts stored");
}

#[tokio::test]
async fn a_password_shorter_than_eight_characters_is_refused_and_nothing_is_created() {
    let app = TestApp::spawn().await;
    let page = refused_signup(&app, &[("username", "alice"), ("password", "1234567")]).await;
    assert_says(&page, "at least 8 characters");
    assert_eq!(typed_username(&page).as_deref(), Some("alice"));
    let echoed = page
        .attr("input[name=password]", "value")
        .unwrap_or_default();
    assert!(
        echoed.is_empty(),
        "the password is echoed back into the page: {echoed:?}"
    );
    assert_eq!(app.rows("users").await, 0, "accounts stored");
}

#[tokio::test]
async fn a_password_longer_than_256_characters_is_refused_and_nothing_is_created() {
    let app = TestApp::spawn().await;
    let page = refused_signup(
        &app,
        &[("username", "alice"), ("password", &"p".repeat(257))],
    )
    .await;
    assert_says(&page, "at most 256 characters");
    assert_eq!(typed_username(&page).as_deref(), Some("alice"));
    assert_eq!(app.rows("users").await, 0, "accounts stored");
}

#[tokio::test]
async fn a_sign_up_with_missing_fields_is_refused_and_nothing_is_created() {
    let app = TestApp::spawn().await;

    let no_name = refused_signup(&app, &[("password", "tulip-harbor-42")]).await;
    assert_says(&no_name, "username");

    let no_password = refused_signup(&app, &[("username", "alice")]).await;
    assert_says(&no_password, "password");
    assert_eq!(typed_username(&no_password).as_deref(), Some("alice"));

    let nothing = refused_signup(&app, &[]).await;
    assert!(
        !errors(&nothing).trim().is_empty(),
        "an empty sign-up says nothing"
    );

    assert_eq!(app.rows("users").await, 0, "accounts stored");
}

#[tokio::test]
async fn a_username_taken_in_another_case_is_refused_and_the_first_account_is_untouched() {
    let app = TestApp::spawn().await;
    app.member("alice").await;

    let page = refused_signup(
        &app,
        &[("username", "ALICE"), ("password", "another-password")],
    )
    .await;
    assert_says(&page, "taken");
    assert_eq!(typed_username(&page).as_deref(), Some("ALICE"));
    assert_eq!(app.rows("users").await, 1, "accounts stored");

    let intruder = app.visitor();
    let resp = intruder.login("ALICE", "another-password").await;
    assert_eq!(
        resp.status(),
        StatusCode::UNAUTHORIZED,
        "the refused password opens an account"
    );
    let owner = app.visitor();
    let resp = owner.login("alice", "tulip-harbor-42").await;
    assert_eq!(
        resp.status(),
        StatusCode::SEE_OTHER,
        "alice can no longer log in"
    );
}

#[tokio::test]
async fn a_member_logs_in_with_the_right_password_and_reaches_the_lobby() {
    let app = TestApp::spawn().await;
    app.member("alice").await;

    let browser = app.visitor();
    assert!(!browser.is_signed_in().await);
    let resp = browser.login("alice", "tulip-harbor-42").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/");
    let lobby = browser.page("/").await;
    assert_eq!(lobby.status, StatusCode::OK);
    assert_eq!(lobby.text_of(".me").as_deref(), Some("alice"));
}

#[tokio::test]
async fn a_wrong_password_is_refused_with_one_generic_message_and_the_form() {
    let app = TestApp::spawn().await;
    app.member("alice").await;

    let browser = app.visitor();
    let page = Page::read(browser.login("alice", "password124").await).await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert_eq!(page.texts(".form-error"), ["Wrong username or password."]);
    assert!(page.has("form[action='/login'] input[name=username]"));
    assert!(page.has("form[action='/login'] input[name=password]"));
    assert!(!browser.is_signed_in().await);
}

#[tokio::test]
async fn an_unknown_username_gets_the_same_answer_as_a_wrong_password() {
    let app = TestApp::spawn().await;
    app.member("alice").await;

    for name in ["nobody", "a", "<script>"] {
        let browser = app.visitor();
        let page = Page::read(browser.login(name, "tulip-harbor-42").await).await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED, "log-in as {name:?}");
        assert_eq!(
            page.texts(".form-error"),
            ["Wrong username or password."],
            "log-in as {name:?}"
        );
        assert!(page.has("form[action='/login'] input[name=password]"));
        assert!(!browser.is_signed_in().await);
    }
}

#[tokio::test]
async fn the_session_id_changes_at_log_in_so_an_id_known_before_is_worthless_after() {
    let app = TestApp::spawn().await;
    app.member("alice").await;

    // The log-in page makes no session; an id planted in the browser beforehand (by
    // someone who hopes to share the session once it is signed in) is not kept.
    let fresh = app.visitor();
    assert_eq!(fresh.page("/login").await.status, StatusCode::OK);
    assert_eq!(
        fresh.session_cookie(),
        None,
        "the log-in page made a session"
    );
    let before = "hearth_session=AAAAAAAAAAAAAAAAAAAAAA".to_owned();
    let browser = app.visitor_with_cookie(&before);
    assert_eq!(browser.page("/login").await.status, StatusCode::OK);
    let resp = browser.login("alice", "tulip-harbor-42").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let after = browser
        .session_cookie()
        .expect("a session cookie after log-in");
    assert_ne!(before, after, "the session id did not change at log-in");
    assert!(browser.is_signed_in().await);

    let planted = app.visitor_with_cookie(&before);
    assert!(
        !planted.is_signed_in().await,
        "the session id from before log-in reaches alice's lobby"
    );
}

#[tokio::test]
async fn logging_out_ends_the_session_and_sends_you_to_the_login_page() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let cookie = alice.session_cookie().expect("a session cookie");
    let copy = app.visitor_with_cookie(&cookie);
    assert!(
        copy.is_signed_in().await,
        "the copied cookie works before log-out"
    );

    let resp = alice.post_form("/logout", &[]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/login");
    assert!(
        !alice.is_signed_in().await,
        "still logged in after logging out"
    );
    assert!(
        !copy.is_signed_in().await,
        "the session still works from a copy of its cookie after log-out"
    );
}

#[tokio::test]
async fn a_sign_up_without_the_session_csrf_token_is_forbidden_and_creates_nothing() {
    let app = TestApp::spawn().await;
    let someone_elses = app.visitor().csrf_token().await;
    let browser = app.visitor();
    assert_eq!(browser.page("/signup").await.status, StatusCode::OK);

    browser
        .assert_forgeries_forbidden(
            "/signup",
            &[("username", "alice"), ("password", "tulip-harbor-42")],
            &someone_elses,
        )
        .await;
    assert_eq!(app.rows("users").await, 0, "accounts stored");
    assert!(!browser.is_signed_in().await);
}

#[tokio::test]
async fn a_log_in_without_the_session_csrf_token_is_forbidden_and_does_not_log_in() {
    let app = TestApp::spawn().await;
    app.member("alice").await;
    let someone_elses = app.visitor().csrf_token().await;
    let browser = app.visitor();
    assert_eq!(browser.page("/login").await.status, StatusCode::OK);

    browser
        .assert_forgeries_forbidden(
            "/login",
            &[("username", "alice"), ("password", "tulip-harbor-42")],
            &someone_elses,
        )
        .await;
    assert!(!browser.is_signed_in().await);
}

#[tokio::test]
async fn a_log_out_without_the_session_csrf_token_is_forbidden_and_the_member_stays_logged_in() {
    let app = TestApp::spawn().await;
    let bob = app.member("bob").await;
    let alice = app.member("alice").await;

    alice
        .assert_forgeries_forbidden("/logout", &[], &bob.csrf_token().await)
        .await;
    assert!(
        alice.is_signed_in().await,
        "a forged log-out logged alice out"
    );
    assert!(bob.is_signed_in().await);
}

#[tokio::test]
async fn the_csrf_token_may_come_in_the_x_csrf_token_header_instead_of_the_form() {
    let app = TestApp::spawn().await;
    let browser = app.visitor();
    let token = browser.csrf_token().await;
    let resp = browser
        .http
        .post(browser.url("/signup"))
        .header("X-CSRF-Token", &token)
        .form(&[("username", "alice"), ("password", "tulip-harbor-42")])
        .send()
        .await
        .expect("POST /signup");
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.rows("users").await, 1, "accounts stored");
    assert!(browser.is_signed_in().await);

    // The token changed with the session at sign-up: read the new one off the page.
    let token = browser.csrf_token().await;
    let resp = browser
        .http
        .post(browser.url("/logout"))
        .header("X-CSRF-Token", &token)
        .send()
        .await
        .expect("POST /logout");
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/login");
    assert!(!browser.is_signed_in().await);
}

#[tokio::test]
async fn an_anonymous_visitor_is_sent_to_log_in_from_the_lobby_and_from_rooms() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    alice.create_room("general").await;

    let stranger = app.visitor();
    for (path, to) in [
        ("/", "/login"),
        ("/rooms/general", "/login?next=%2Frooms%2Fgeneral"),
        ("/rooms/x", "/login?next=%2Frooms%2Fx"),
    ] {
        let resp = stranger.get(path).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "GET {path}");
        assert_eq!(location(&resp), to, "GET {path}");
    }
    let login = stranger.page("/login").await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.has("form[action='/login']"));
}

#[tokio::test]
async fn a_post_from_a_browser_without_a_session_is_forbidden_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let room = alice.create_room("general").await;
    let conversation = alice.conversation_id(&room).await;
    let alices_token = alice.csrf_token().await;
    let messages = format!("/conversations/{conversation}/messages");

    let attempts: [(&str, Vec<(&str, &str)>); 5] = [
        (
            "/signup",
            vec![("username", "mallory"), ("password", "tulip-harbor-42")],
        ),
        (
            "/login",
            vec![("username", "alice"), ("password", "tulip-harbor-42")],
        ),
        ("/logout", vec![]),
        ("/rooms", vec![("name", "spam")]),
        (&messages, vec![("body", "spam")]),
    ];
    for (path, fields) in &attempts {
        let stranger = app.visitor();
        let resp = stranger.post_raw(path, fields).await;
        assert_eq!(
            resp.status(),
            StatusCode::FORBIDDEN,
            "POST {path} without a session or token"
        );
        let resp = stranger.post_with_token(path, fields, &alices_token).await;
        assert_eq!(
            resp.status(),
            StatusCode::FORBIDDEN,
            "POST {path} without a session, with alice's token"
        );
        assert!(
            !stranger.is_signed_in().await,
            "POST {path} signed a stranger in"
        );
    }

    assert_eq!(app.rows("users").await, 1, "accounts stored");
    assert_eq!(app.rows("conversations").await, 1, "rooms stored");
    assert_eq!(app.rows("messages").await, 0, "messages stored");
    assert!(alice.is_signed_in().await);
}
