//! What a stranger on the internet might try.
use std::time::Instant;

use reqwest::StatusCode;

use crate::helpers::{TestApp, message_ids_in};

#[tokio::test]
async fn a_missing_user_and_a_wrong_password_take_about_as_long_to_refuse() {
    let app = TestApp::spawn().await;
    let _alice = app.member("alice").await;
    let guesser = app.visitor();
    // Warm up both paths once, then alternate, so a busy machine slows both alike.
    guesser.login("alice", "wrong-password").await;
    guesser.login("nobody-here", "wrong-password").await;
    let (mut wrong_password, mut missing_user) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        for (name, times) in [
            ("alice", &mut wrong_password),
            ("nobody-here", &mut missing_user),
        ] {
            let started = Instant::now();
            let resp = guesser.login(name, "wrong-password").await;
            times.push(started.elapsed());
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        }
    }
    wrong_password.sort();
    missing_user.sort();
    let (wrong_password, missing_user) = (wrong_password[3], missing_user[3]);
    // Both pay for one argon2 hash; without the dummy hash a missing user would answer
    // tens of times faster, far outside this band.
    let ratio = missing_user.as_secs_f64() / wrong_password.as_secs_f64();
    assert!(
        (0.33..3.0).contains(&ratio),
        "missing user {missing_user:?} vs wrong password {wrong_password:?}"
    );
}

#[tokio::test]
async fn look_alike_and_invisible_characters_cannot_make_a_name() {
    let app = TestApp::spawn().await;
    let _alice = app.member("alice").await;
    for disguise in [
        "аlice",           // Cyrillic а
        "alice\u{200B}",   // zero-width space
        "al\u{202E}ecila", // right-to-left override
        "alice\u{0301}",   // combining accent
        "ＡＬＩＣＥ",      // full-width letters
        "alice\u{00A0}",   // no-break space (not trimmed as ASCII)
    ] {
        let visitor = app.visitor();
        let resp = visitor.signup(disguise, "tulip-harbor-42").await;
        assert_eq!(
            resp.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{disguise:?} was accepted"
        );
        let page = resp.text().await.expect("page");
        // Refused for its characters, or (after trimming the no-break space) as taken.
        assert!(
            page.contains("may only use letters, digits") || page.contains("is taken"),
            "{disguise:?}: no clear reason"
        );
    }
}

#[tokio::test]
async fn messages_keep_real_unicode_and_lose_the_characters_that_disguise_text() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let url = alice.create_room("general").await;
    let room = alice.conversation_id(&url).await;
    let cases = [
        ("👩‍👩‍👧 family, ça va? שלום 你好", "👩‍👩‍👧 family, ça va? שלום 你好"),
        ("e\u{0301} combining", "e\u{0301} combining"),
        ("pay \u{202E}gpj.exe", "pay gpj.exe"),
        ("a\u{2066}b\u{2069}c", "abc"),
        ("nul\u{0}byte", "nulbyte"),
    ];
    for (sent, shown) in cases {
        let resp = alice
            .post_htmx(
                &format!("/conversations/{room}/messages"),
                &[("body", sent)],
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK, "{sent:?}");
        let id = message_ids_in(&resp.text().await.expect("body"))[0];
        let page = alice.page(&url).await;
        let body = page.text_of(&format!("#message-{id} .message-body"));
        assert_eq!(body.as_deref(), Some(shown), "{sent:?}");
    }
}

#[tokio::test]
async fn markup_in_names_rooms_and_messages_never_becomes_markup() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    // Room names refuse markup characters outright.
    let resp = alice
        .post_form("/rooms", &[("name", "<img src=x onerror=alert(1)>")])
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let url = alice.create_room("general").await;
    let room = alice.conversation_id(&url).await;
    let attack = "\"><script>alert(1)</script><a href=\"javascript:alert(2)\">x</a> https://ok.example/?a=\"b\"";
    alice
        .post_htmx(
            &format!("/conversations/{room}/messages"),
            &[("body", attack)],
        )
        .await;
    let page = alice.page(&url).await;
    assert!(page.select("#messages script").is_empty());
    let anchors = page.select("#messages .message-body a");
    assert_eq!(anchors.len(), 1, "only the https link is an anchor");
    let href = anchors[0].value().attr("href").unwrap_or_default();
    assert!(href.starts_with("https://ok.example/"), "{href}");
    assert_eq!(
        anchors[0].value().attr("rel"),
        Some("noopener noreferrer nofollow")
    );
    // The search box echoes what was typed, as text.
    let search = alice
        .page("/users?q=%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E")
        .await;
    assert!(search.select("main script").is_empty());
}

#[tokio::test]
async fn the_commonest_passwords_and_a_password_equal_to_the_username_are_refused() {
    let app = TestApp::spawn().await;
    for (name, password) in [
        ("alice", "password"),
        ("alice", "12345678"),
        ("alice", "password123"),
        ("alice_1984", "alice_1984"),
        ("alice_1984", "ALICE_1984"),
    ] {
        let resp = app.visitor().signup(name, password).await;
        assert_eq!(
            resp.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{password:?} for {name}"
        );
        let page = resp.text().await.expect("page");
        assert!(
            page.contains("most common") || page.contains("can't be your username"),
            "{password:?}: no clear reason"
        );
    }
    assert_eq!(app.rows("users").await, 0, "nothing created");
}

#[tokio::test]
async fn invisible_characters_leave_messages_and_room_names() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let url = alice.create_room("general").await;
    let room = alice.conversation_id(&url).await;
    let england = "\u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}";
    let cases = [
        ("pay\u{200B}pal\u{FEFF} now", "paypal now".to_owned()),
        (
            "hidden\u{E0041}\u{E0042}\u{E0043} tags",
            "hidden tags".to_owned(),
        ),
        ("soft\u{00AD}hyphen \u{3164}", "softhyphen".to_owned()),
        (england, england.to_owned()),
        (
            "👩\u{200D}👩\u{200D}👧 می\u{200C}خواهم",
            "👩\u{200D}👩\u{200D}👧 می\u{200C}خواهم".to_owned(),
        ),
    ];
    for (sent, shown) in cases {
        let resp = alice
            .post_htmx(
                &format!("/conversations/{room}/messages"),
                &[("body", sent)],
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK, "{sent:?}");
        let id = message_ids_in(&resp.text().await.expect("body"))[0];
        let page = alice.page(&url).await;
        let body = page.text_of(&format!("#message-{id} .message-body"));
        assert_eq!(
            body.as_deref().map(str::trim),
            Some(shown.as_str()),
            "{sent:?}"
        );
    }
    // A name with a zero-width space is the room of the name without it.
    let resp = alice
        .post_form("/rooms", &[("name", "gen\u{200B}eral")])
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(resp.text().await.expect("page").contains("already a room"));
    let resp = alice
        .post_form("/rooms", &[("name", "\u{3164}\u{3164}\u{3164}")])
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "a blank name"
    );
}

#[tokio::test]
async fn a_link_whose_host_mixes_scripts_is_shown_and_linked_in_punycode() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let url = alice.create_room("general").await;
    let room = alice.conversation_id(&url).await;
    let look_alike = "https://p\u{0430}ypal.com/login";
    alice
        .post_htmx(
            &format!("/conversations/{room}/messages"),
            &[(
                "body",
                &format!("see {look_alike} and [this](https://g\u{043e}ogle.com/)"),
            )],
        )
        .await;
    let page = alice.page(&url).await;
    let anchors = page.select("#messages .message-body a");
    assert_eq!(anchors.len(), 2);
    for anchor in &anchors {
        let href = anchor.value().attr("href").unwrap_or_default();
        assert!(
            href.starts_with("https://xn--") && href.is_ascii(),
            "{href}"
        );
    }
    let text: String = anchors[0].text().collect();
    assert!(
        text.starts_with("https://xn--") && text.ends_with(".com/login"),
        "{text}"
    );
    // A host in one script is shown as written.
    alice
        .post_htmx(
            &format!("/conversations/{room}/messages"),
            &[("body", "https://b\u{fc}cher.de/")],
        )
        .await;
    let page = alice.page(&url).await;
    let last = page
        .select("#messages .message-body a")
        .last()
        .map(|a| a.value().attr("href").unwrap_or_default().to_owned());
    assert_eq!(last.as_deref(), Some("https://b\u{fc}cher.de/"));
}
