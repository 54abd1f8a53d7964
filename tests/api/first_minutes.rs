//! What a new person meets in their first minutes, through the pages the server sends:
//! landing where a link pointed after logging in, error pages that are pages, names of
//! any script, private chats that appear when someone writes, and pages that say what
//! they know without script.
use reqwest::StatusCode;

use crate::helpers::{Page, TestApp, location};

#[tokio::test]
async fn logging_in_from_a_link_lands_on_the_page_the_link_was_for() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    alice.create_room("general").await;
    app.member("bob").await;

    for wanted in ["/rooms/general", "/dm/alice", "/users?q=al"] {
        let bob = app.visitor();
        let resp = bob.get(wanted).await;
        let login = location(&resp);
        assert!(login.starts_with("/login?next="), "{wanted}: {login}");
        let form = bob.page(&login).await;
        assert_eq!(
            form.attr("input[name=next]", "value").as_deref(),
            Some(wanted)
        );
        let token = form.csrf_token();
        let resp = bob
            .post_raw(
                "/login",
                &[
                    ("username", "bob"),
                    ("password", "tulip-harbor-42"),
                    ("next", wanted),
                    ("csrf_token", &token),
                ],
            )
            .await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&resp), wanted, "after logging in from {wanted}");
    }
}

#[tokio::test]
async fn only_paths_of_this_site_are_followed_after_logging_in() {
    let app = TestApp::spawn().await;
    app.member("bob").await;
    for next in [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "javascript:alert(1)",
        "evil.example",
        "/\u{0}x",
    ] {
        let bob = app.visitor();
        let token = bob.page("/login").await.csrf_token();
        let resp = bob
            .post_raw(
                "/login",
                &[
                    ("username", "bob"),
                    ("password", "tulip-harbor-42"),
                    ("next", next),
                    ("csrf_token", &token),
                ],
            )
            .await;
        assert_eq!(location(&resp), "/", "next={next:?}");
    }
}

#[tokio::test]
async fn error_pages_are_whole_pages_with_the_persons_own_header_and_a_way_back() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let page = alice.page("/rooms/nowhere").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert_eq!(page.text_of(".user-menu .me").as_deref(), Some("alice"));
    assert!(
        !page.has(".user-menu a[href='/login']"),
        "a signed-in person is offered to log in"
    );
    assert_eq!(page.text_of("main h1").as_deref(), Some("Not found"));
    assert!(page.has("main a[href='/']"), "no way back");

    // A form's address visited as a page (a refused form without script, reloaded).
    let page = alice.page("/rooms").await;
    assert_eq!(page.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(
        page.has("header.topbar") && page.has("main a[href='/']"),
        "{}",
        page.text
    );
    assert_ne!(
        page.text_of("main h1").as_deref(),
        Some("Method Not Allowed")
    );

    let stranger = app.visitor();
    let page = stranger.page("/messages/999").await;
    assert!(page.status.is_redirection() || page.has(".user-menu a[href='/login']"));
}

#[tokio::test]
async fn an_htmx_request_that_is_refused_says_why_in_the_composer() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let url = alice.create_room("general").await;
    let room = alice.conversation_id(&url).await;
    // A form that outlived its session (logged out in another tab).
    let resp = alice
        .http
        .post(alice.url(&format!("/conversations/{room}/messages")))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", "stale")
        .form(&[("body", "hello")])
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let fragment = Page::read(resp).await;
    let said = fragment
        .text_of("#composer-error[hx-swap-oob]")
        .expect("the reason, for the composer's error line");
    assert!(said.contains("expired"), "{said}");
    assert!(!fragment.has("html body header"), "a whole page for htmx");
}

#[tokio::test]
async fn a_private_chat_appears_for_the_other_person_with_its_first_message() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let chat = alice.conversation_id("/dm/bob").await;
    assert!(
        alice
            .page("/")
            .await
            .has(&format!("#sidebar li[data-conversation-id='{chat}']")),
        "the chat is in the sidebar of whoever opened it"
    );
    assert!(
        !bob.page("/")
            .await
            .has(&format!("#sidebar li[data-conversation-id='{chat}']")),
        "an empty chat showed up for bob"
    );
    alice.say(chat, "hi bob").await;
    let lobby = bob.page("/").await;
    assert!(lobby.has(&format!("#sidebar li[data-conversation-id='{chat}']")));
    assert_eq!(
        lobby.attr("#menu-unread", "data-count").as_deref(),
        Some("1")
    );
}

#[tokio::test]
async fn rooms_may_be_named_in_any_script_and_are_one_whatever_their_case_or_form() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let url = alice.create_room("کافه ☕").await;
    assert!(
        url.starts_with("/rooms/%"),
        "a slug in the URL's own encoding: {url}"
    );
    let page = alice.page(&url).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.text_of("main h1").as_deref(), Some("#کافه ☕"));
    assert_eq!(page.attr("main h1", "dir").as_deref(), Some("auto"));

    alice.create_room("Café Noir").await;
    for twin in ["CAFÉ NOIR", "Cafe\u{301} noir", "ｃａｆé ｎｏｉｒ"] {
        let resp = alice.post_form("/rooms", &[("name", twin)]).await;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY, "{twin:?}");
    }
    let lobby = alice.page("/").await;
    assert_eq!(lobby.select("#rooms li").len(), 2);
    assert!(
        lobby
            .select("#rooms a")
            .iter()
            .all(|a| a.value().attr("dir") == Some("auto"))
    );
}

#[tokio::test]
async fn a_page_says_what_it_knows_when_it_is_rendered() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let url = alice.create_room("general").await;
    let page = alice.page(&url).await;
    // Without script nothing connects: the page says so instead of "Connecting…".
    assert!(page.has("#connection-status[hidden]"));
    assert!(page.text.contains("Live updates need JavaScript"));
    // The viewer is here, socket or not.
    assert_eq!(page.text_of("#online-count").as_deref(), Some("1"));
    assert_eq!(page.texts("#online-users li"), ["alice"]);
    assert!(page.text_of("#site-online-count").is_some_and(|n| n != "0"));
    // Times say their zone, and the lobby says how long ago.
    let room = alice.conversation_id(&url).await;
    alice.say(room, "hello").await;
    let page = alice.page(&url).await;
    let time = page.text_of("#messages time").expect("a time");
    assert!(time.ends_with(" UTC"), "{time}");
    let lobby = alice.page("/").await;
    assert_eq!(
        lobby.text_of("#rooms time[data-relative]").as_deref(),
        Some("just now")
    );
    assert!(
        lobby
            .attr("#rooms time[data-relative]", "title")
            .is_some_and(|t| t.ends_with(" UTC"))
    );
}

#[tokio::test]
async fn a_private_chat_says_whether_the_other_person_is_online() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let page = alice.page("/dm/bob").await;
    let bob_id: i64 = bob
        .page("/")
        .await
        .attr("body", "data-user-id")
        .and_then(|id| id.parse().ok())
        .expect("bob's id");
    let status = format!("#presence-{bob_id}");
    assert_eq!(page.text_of(&status).as_deref(), Some("offline"));
    assert!(
        page.attr("#live", "hx-ws:connect")
            .is_some_and(|u| u.contains(&format!("watch={bob_id}")))
    );

    let _bob_here = bob.socket("/ws").await;
    crate::helpers::eventually("alice's next page says bob is online", || async {
        alice.page("/dm/bob").await.text_of(&status).as_deref() == Some("online")
    })
    .await;
}
