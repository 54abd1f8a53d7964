//! Group private chats of three to eight people: started from the directory, the same
//! chat from any member and in any order, live to all of them, and nothing at all to
//! anyone else.
use reqwest::StatusCode;

use crate::helpers::{
    TestApp, TestDatabase, Upload, Visitor, frame_where, location, message_ids_in,
};

/// Starts (or finds) the group of `visitor` and `others` with one `username` field
/// per person; answers the response.
async fn start(visitor: &Visitor, others: &[&str]) -> reqwest::Response {
    let fields: Vec<(&str, &str)> = others.iter().map(|name| ("username", *name)).collect();
    visitor.post_form("/dm", &fields).await
}

/// The group's page path, which must have been opened.
async fn group(visitor: &Visitor, others: &[&str]) -> String {
    let resp = start(visitor, others).await;
    assert_eq!(
        resp.status(),
        StatusCode::SEE_OTHER,
        "group with {others:?}"
    );
    location(&resp)
}

async fn group_chats(app: &TestApp) -> i64 {
    let rows = sea_orm::ConnectionTrait::query_one_raw(
        &app.state.db,
        hearth::db::statement(
            &app.state.db,
            "SELECT COUNT(*) AS n FROM conversations WHERE kind = 'group'",
            [],
        ),
    )
    .await
    .expect("count")
    .expect("a row");
    rows.try_get::<i64>("", "n").expect("a count")
}

/// The same people find the same chat whoever starts it and in whatever order, and a
/// comma-separated field names them as well as repeated fields do.
async fn the_same_people_find_the_same_chat(app: &TestApp) {
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let carol = app.member("carol").await;
    let url = group(&alice, &["bob", "carol"]).await;
    assert!(url.starts_with("/dm/g/"), "{url}");
    assert_eq!(group(&bob, &["Carol", "alice"]).await, url);
    let resp = carol.post_form("/dm", &[("username", "@bob, ALICE")]).await;
    assert_eq!(location(&resp), url);
    assert_eq!(group_chats(app).await, 1);
    // A different set of people is a different chat; the two-person chat stays apart.
    let dave = app.member("dave").await;
    assert_ne!(group(&dave, &["alice", "bob"]).await, url);
    let pair = alice.conversation_id("/dm/bob").await;
    assert_ne!(format!("/dm/g/{pair}"), url);
    assert_eq!(
        alice.get(&format!("/dm/g/{pair}")).await.status(),
        StatusCode::NOT_FOUND,
        "a two-person chat is not a group page"
    );

    let page = bob.page(&url).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.text_of("h1").as_deref(), Some("alice, carol"));
    assert!(page.has("#messages") && page.has("form#composer") && page.has("#typing"));
}

/// Four people starting the same group at the same moment make one chat, with its
/// three members each once.
async fn starting_at_once_makes_one_chat(app: &TestApp) {
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let carol = app.member("carol").await;
    let (a, b, c, a2) = tokio::join!(
        start(&alice, &["bob", "carol"]),
        start(&bob, &["carol", "alice"]),
        start(&carol, &["alice", "bob"]),
        start(&alice, &["carol", "bob"]),
    );
    let urls: Vec<String> = [a, b, c, a2]
        .iter()
        .map(|resp| {
            assert_eq!(resp.status(), StatusCode::SEE_OTHER);
            location(resp)
        })
        .collect();
    assert!(urls.iter().all(|u| u == &urls[0]), "{urls:?}");
    assert_eq!(group_chats(app).await, 1);
    assert_eq!(app.rows("memberships").await, 3);
}

#[tokio::test]
async fn a_group_is_the_same_chat_from_any_member_in_any_order() {
    the_same_people_find_the_same_chat(&TestApp::spawn().await).await;
}

#[tokio::test]
async fn people_starting_the_same_group_at_once_make_one_chat() {
    starting_at_once_makes_one_chat(&TestApp::spawn().await).await;
}

#[tokio::test]
#[ignore = "needs postgres"]
async fn on_postgres_a_group_is_one_chat_however_and_whenever_it_is_started() {
    let database = TestDatabase::create().await;
    let app = TestApp::builder().database(database.url()).spawn().await;
    the_same_people_find_the_same_chat(&app).await;
    let database = TestDatabase::create().await;
    let app = TestApp::builder().database(database.url()).spawn().await;
    starting_at_once_makes_one_chat(&app).await;
}

#[tokio::test]
async fn a_message_reaches_every_member_live_and_their_sidebars_count_it() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let carol = app.member("carol").await;
    let url = group(&alice, &["bob", "carol"]).await;
    let id = alice.conversation_id(&url).await;
    let mut sockets = Vec::new();
    for member in [&alice, &bob, &carol] {
        let mut socket = member.socket(&format!("/ws?conversation={id}")).await;
        frame_where(&mut socket, |f| f.contains("id=\"sidebar\"")).await;
        sockets.push(socket);
    }
    let message = bob.post_message(id, "hello, both").await;
    for socket in &mut sockets {
        let frame = frame_where(socket, |f| message_ids_in(f).contains(&message)).await;
        assert!(frame.contains("hello, both"), "{frame}");
    }
    // Over a socket too, as the page's composer sends it.
    crate::helpers::send_json(
        &mut sockets[2],
        serde_json::json!({"type": "message", "body": "from the socket of carol"}),
    )
    .await;
    for socket in &mut sockets[..2] {
        frame_where(socket, |f| f.contains("from the socket of carol")).await;
    }

    // Each member's sidebar lists it under private chats, named by the others, with
    // what they have not read (whoever writes has read what came before).
    for (member, title, unread) in [
        (&alice, "bob, carol", 2),
        (&bob, "alice, carol", 1),
        (&carol, "alice, bob", 0),
    ] {
        let lobby = member.page("/").await;
        let entry = format!("#sidebar-direct li[data-conversation-id='{id}']");
        assert_eq!(
            lobby.text_of(&format!("{entry} .conv-label")).as_deref(),
            Some(title)
        );
        assert_eq!(
            lobby.attr(&format!("{entry} a"), "href").as_deref(),
            Some(url.as_str())
        );
        assert_eq!(member.unread_on_lobby(id).await, Some(unread), "{title}");
    }
}

#[tokio::test]
async fn someone_outside_a_group_finds_nothing_of_it_anywhere() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let _carol = app.member("carol").await;
    let mallory = app.member("mallory").await;
    let url = group(&alice, &["bob", "carol"]).await;
    let id = alice.conversation_id(&url).await;
    let resp = alice
        .post_files(
            id,
            "the plan is marmalade",
            vec![Upload::new("plan.txt", "text/plain", b"marmalade".to_vec())],
            true,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let message = message_ids_in(&resp.text().await.expect("fragment"))[0];
    let file = format!("/messages/{message}/files/0");
    assert_eq!(bob.get(&file).await.status(), StatusCode::OK);
    let found = bob.page("/search?q=marmalade").await;
    assert!(found.has(&format!("#result-{message}")));
    assert_eq!(
        found
            .attr(&format!("#result-{message} .search-where a"), "href")
            .as_deref(),
        Some(url.as_str())
    );

    for path in [
        url.clone(),
        format!("{url}?before={message}"),
        format!("/messages/{message}"),
        file.clone(),
    ] {
        assert_eq!(
            mallory.get(&path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    assert_eq!(
        mallory.get("/dm/g/not-a-number").await.status(),
        StatusCode::NOT_FOUND
    );
    for path in [
        format!("/ws?conversation={id}"),
        format!("/ws?conversation={id}&after=0"),
    ] {
        assert_eq!(
            mallory.try_socket(&path, None).await.err(),
            Some(404),
            "{path}"
        );
    }
    let posted = mallory
        .post_htmx(&format!("/conversations/{id}/messages"), &[("body", "hi")])
        .await;
    assert_eq!(posted.status(), StatusCode::NOT_FOUND);
    let searched = mallory.page("/search?q=marmalade").await;
    assert!(!searched.has(&format!("#result-{message}")));
    assert!(
        !mallory
            .page("/")
            .await
            .has(&format!("[data-conversation-id='{id}']"))
    );
    // Signed out: sent to log in, and no socket.
    assert_eq!(
        app.visitor().get(&url).await.status(),
        StatusCode::SEE_OTHER
    );
    // And the plan is still the only message.
    assert_eq!(
        bob.page(&url).await.message_bodies(),
        vec!["the plan is marmalade".to_owned()]
    );
}

#[tokio::test]
async fn a_group_of_the_wrong_people_is_refused_clearly_and_nothing_is_made() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    for name in [
        "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan",
    ] {
        app.member(name).await;
    }
    let gone = app.member("judy").await;
    let deactivated = alice.post_form("/admin/users/judy/deactivate", &[]).await;
    assert_eq!(deactivated.status(), StatusCode::SEE_OTHER);
    drop(gone);
    let before = app.rows("conversations").await;
    for (others, why) in [
        (vec![], "at least 2 other people"),
        (vec!["bob"], "at least 2 other people"),
        (vec!["bob", "alice"], "Leave yourself out"),
        (vec!["bob", "carol", "BOB"], "named twice"),
        (vec!["bob", "nobody-here"], "nobody called nobody-here"),
        (vec!["bob", "<script>"], "nobody called &lt;script&gt;"),
        (vec!["bob", "judy"], "judy is deactivated"),
        (
            vec![
                "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan",
            ],
            "at most 8 people",
        ),
    ] {
        let resp = start(&alice, &others).await;
        assert_eq!(
            resp.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{others:?}"
        );
        let text = resp.text().await.expect("body");
        assert!(text.contains(why), "{others:?}: {text}");
        assert!(text.contains("id=\"new-group\""), "the form comes back");
    }
    assert_eq!(app.rows("conversations").await, before);
    // Eight people in all is a group.
    let eight = group(
        &alice,
        &["bob", "carol", "dave", "erin", "frank", "grace", "heidi"],
    )
    .await;
    assert_eq!(alice.page(&eight).await.status, StatusCode::OK);
    // Without the token, nothing is made either.
    let forged = alice
        .post_raw("/dm", &[("username", "bob"), ("username", "ivan")])
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.rows("conversations").await, before + 1);
}

#[tokio::test]
async fn the_directory_offers_the_form_that_starts_a_group() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let page = alice.page("/users").await;
    assert_eq!(
        page.attr("form#new-group", "action").as_deref(),
        Some("/dm")
    );
    assert_eq!(
        page.attr("form#new-group", "method").as_deref(),
        Some("post")
    );
    assert!(page.has("form#new-group input[name='username']"));
    assert!(page.has("form#new-group input[name='csrf_token']"));
}
