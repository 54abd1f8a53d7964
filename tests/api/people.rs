//! People, private rooms and administration: roles, `/admin`, private rooms and their
//! members, deactivation, moderation, the sign-up policy with invite links, profiles
//! and settings.
use futures_util::StreamExt;
use reqwest::StatusCode;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;

const PASSWORD: &str = "tulip-harbor-42";

/// Waits until the server closes `socket`; fails after [`PATIENCE`].
pub async fn closed(socket: &mut Socket, what: &str) {
    let ended = tokio::time::timeout(PATIENCE, async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "{what}: the socket stayed open");
}

/// A private room made by `owner`: its path and conversation id.
pub(crate) async fn private_room(owner: &Visitor, name: &str) -> (String, i64) {
    let resp = owner
        .post_form("/rooms", &[("name", name), ("visibility", "private")])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "private room {name}");
    let path = location(&resp);
    let id = owner.conversation_id(&path).await;
    (path, id)
}

#[tokio::test]
async fn the_first_account_is_the_administrator_and_admin_is_not_found_for_anyone_else() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let admin = alice.page("/admin").await;
    assert_eq!(admin.status, StatusCode::OK);
    assert!(admin.has("#admin-people #person-bob"));
    assert_eq!(bob.get("/admin").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.visitor().get("/admin").await.status(),
        StatusCode::NOT_FOUND
    );
    for path in [
        "/admin/users/alice/deactivate",
        "/admin/users/bob/role",
        "/admin/invite",
        "/admin/signup",
    ] {
        let resp = bob
            .post_form(path, &[("role", "admin"), ("policy", "closed")])
            .await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
    }
    assert!(alice.is_signed_in().await, "bob could not deactivate alice");
    assert_eq!(bob.get("/admin").await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn administrators_make_others_administrators_and_the_last_one_keeps_the_role() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let resp = alice
        .post_form("/admin/users/alice/role", &[("role", "member")])
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(alice.get("/admin").await.status(), StatusCode::OK);

    let resp = alice
        .post_form("/admin/users/bob/role", &[("role", "admin")])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(bob.get("/admin").await.status(), StatusCode::OK);
    let resp = bob
        .post_form("/admin/users/alice/role", &[("role", "member")])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(alice.get("/admin").await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_administrator_made_on_the_command_line_can_run_the_site() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("hearth.db").display()
    );
    let url = match std::env::var("HEARTH_TEST_BACKEND").as_deref() {
        Ok("postgres") => None,
        _ => Some(url),
    };
    let Some(url) = url else {
        // The command line is the same on either backend; this test reads SQLite.
        return;
    };
    let run = |args: &[&str], stdin: &str| {
        use std::io::Write;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hearth"))
            .args(args)
            .env("DATABASE_URL", &url)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("hearth runs");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("password written");
        child.wait_with_output().expect("hearth ends")
    };
    let made = run(
        &["admin", "create-user", "--admin", "carol"],
        "tulip-harbor-42\n",
    );
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let weak = run(&["admin", "create-user", "dave"], "password\n");
    assert!(
        !weak.status.success(),
        "a common password is refused here too"
    );

    let app = TestApp::builder().database(&url).spawn().await;
    let member = app.member("erin").await;
    let carol = app.visitor();
    assert_eq!(
        carol.login("carol", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(carol.get("/admin").await.status(), StatusCode::OK);
    assert_eq!(member.get("/admin").await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_private_room_is_not_found_by_anyone_outside_it_until_a_member_adds_them() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let (path, room) = private_room(&alice, "secret plans").await;
    let said = alice
        .post_message(room, "the zeppelin leaves at dawn")
        .await;

    assert_eq!(bob.get(&path).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        bob.htmx_page(&format!("{path}?before={}", said + 1))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        bob.try_socket(&format!("/ws?conversation={room}"), Some(&app.url("")))
            .await
            .err(),
        Some(404)
    );
    assert_eq!(
        bob.get(&format!("/messages/{said}")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        bob.say(room, "let me in").await.status(),
        StatusCode::NOT_FOUND
    );
    let search = bob.page("/search?q=zeppelin").await;
    assert!(
        !search.has(&format!("#result-{said}")),
        "bob found a private message"
    );
    assert!(
        !bob.page("/").await.text.contains("secret plans"),
        "listed in the lobby"
    );
    assert!(
        !bob.page("/switcher?q=secret")
            .await
            .text
            .contains("secret plans")
    );
    let resp = bob
        .post_form(&format!("{path}/members"), &[("username", "bob")])
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::NOT_FOUND,
        "an outsider adds himself"
    );
    assert_eq!(bob.get(&path).await.status(), StatusCode::NOT_FOUND);

    let mut lobby = bob.socket("/ws").await;
    frame_where(&mut lobby, |f| f.contains("id=\"sidebar\"")).await;
    let resp = alice
        .post_form(&format!("{path}/members"), &[("username", "bob")])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let news = frame_where(&mut lobby, |f| f.contains("data-event=\"joined\"")).await;
    assert!(news.contains("#secret plans"), "{news}");
    let page = bob.page(&path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.has(&format!("#message-{said}")));
    assert_eq!(page.texts("#room-member-list li"), ["@alice", "@bob"]);
    assert!(
        bob.page("/search?q=zeppelin")
            .await
            .has(&format!("#result-{said}"))
    );
    let mut socket = bob.socket(&format!("/ws?conversation={room}")).await;
    let next = alice.post_message(room, "welcome bob").await;
    frame_where(&mut socket, |f| f.contains(&format!("message-{next}"))).await;

    let resp = alice
        .post_form(&format!("{path}/members"), &[("username", "nobody")])
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_member_who_leaves_or_is_removed_loses_the_room_and_its_socket_at_once() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let carol = app.member("carol").await;
    let (path, room) = private_room(&alice, "inner circle").await;
    for name in ["bob", "carol"] {
        let resp = alice
            .post_form(&format!("{path}/members"), &[("username", name)])
            .await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    }
    let mut bobs = bob.socket(&format!("/ws?conversation={room}")).await;
    let mut carols = carol.socket(&format!("/ws?conversation={room}")).await;
    frame_where(&mut bobs, |f| f.contains("online-count")).await;

    let resp = bob
        .post_form(&format!("{path}/members/remove"), &[("username", "carol")])
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::FORBIDDEN,
        "only the creator or an admin"
    );

    let resp = alice
        .post_form(&format!("{path}/members/remove"), &[("username", "bob")])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    closed(&mut bobs, "bob removed").await;
    assert_eq!(bob.get(&path).await.status(), StatusCode::NOT_FOUND);

    let resp = carol.post_form(&format!("{path}/leave"), &[]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    closed(&mut carols, "carol left").await;
    assert_eq!(carol.get(&path).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(alice.get(&path).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_deactivated_person_is_signed_out_at_once_and_cannot_log_in_until_reactivated() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let bobs_phone = app.visitor();
    assert_eq!(
        bobs_phone.login("bob", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    let room = alice.create_room("general").await;
    let id = bob.conversation_id(&room).await;
    let mut socket = bob.socket(&format!("/ws?conversation={id}")).await;
    let mut lobby = bobs_phone.socket("/ws").await;

    let resp = alice.post_form("/admin/users/bob/deactivate", &[]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    closed(&mut socket, "the room's socket").await;
    closed(&mut lobby, "the other browser's socket").await;
    assert!(!bob.is_signed_in().await);
    assert!(!bobs_phone.is_signed_in().await);
    assert_eq!(
        bob.try_socket("/ws", Some(&app.url(""))).await.err(),
        Some(401)
    );
    let again = app.visitor();
    let resp = again.login("bob", PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(!again.is_signed_in().await);
    let wrong = app.visitor().login("bob", "not-the-password-9").await;
    assert_eq!(
        wrong.status(),
        StatusCode::UNAUTHORIZED,
        "a guess learns nothing"
    );
    let profile = alice.page("/users/bob").await;
    assert!(profile.has("#profile-deactivated"));
    let admin = alice.page("/admin").await;
    assert!(admin.has("#person-bob.deactivated"));

    let resp = alice.post_form("/admin/users/alice/deactivate", &[]).await;
    assert_eq!(
        resp.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "not oneself"
    );

    let resp = alice.post_form("/admin/users/bob/reactivate", &[]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        again.login("bob", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    assert!(again.is_signed_in().await);
}

#[tokio::test]
async fn an_administrator_deletes_anyones_message_and_a_member_only_their_own() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let carol = app.member("carol").await;
    let room = alice.create_room("general").await;
    let id = bob.conversation_id(&room).await;
    carol.conversation_id(&room).await;
    let said = bob.post_message(id, "something regrettable").await;

    let resp = carol
        .post_form(&format!("/messages/{said}/delete"), &[])
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let mut socket = carol.socket(&format!("/ws?conversation={id}")).await;
    let resp = alice
        .post_form(&format!("/messages/{said}/delete"), &[])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let frame = frame_where(&mut socket, |f| f.contains(&format!("message-{said}"))).await;
    assert!(frame.contains("deleted") && !frame.contains("regrettable"));
    let resp = alice
        .post_form(&format!("/messages/{said}/edit"), &[("body", "x")])
        .await;
    assert_ne!(
        resp.status(),
        StatusCode::SEE_OTHER,
        "admins do not edit others' words"
    );
}

/// Sets the sign-up policy as `admin`.
async fn choose_policy(admin: &Visitor, policy: &str) {
    let resp = admin
        .post_form("/admin/signup", &[("policy", policy)])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
}

/// Makes a new invite link as `admin`; answers its path.
async fn new_invite(admin: &Visitor, fields: &[(&str, &str)]) -> String {
    let resp = admin.post_form("/admin/invite", fields).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    admin
        .page("/admin")
        .await
        .attr("#invite-link", "href")
        .expect("the invite link")
}

#[tokio::test]
async fn with_invite_only_sign_ups_people_join_through_the_link_and_nobody_without_it() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    choose_policy(&alice, "invite").await;
    let users = app.rows("users").await;

    let stranger = app.visitor();
    assert_eq!(
        stranger.get("/signup").await.status(),
        StatusCode::FORBIDDEN
    );
    let resp = stranger.signup("mallory", PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = stranger
        .post_form(
            "/join/not-a-code",
            &[("username", "mallory"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let page = stranger.page("/join/not-a-code").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.has("#signup-refused"));
    assert_eq!(app.rows("users").await, users, "nothing created");

    let link = new_invite(&alice, &[]).await;
    let form = stranger.page(&link).await;
    assert_eq!(form.status, StatusCode::OK);
    assert_eq!(
        form.attr("#signup", "action").as_deref(),
        Some(link.as_str())
    );
    let resp = stranger
        .post_form(&link, &[("username", "bob"), ("password", PASSWORD)])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(stranger.is_signed_in().await);
    let second = app.visitor();
    let resp = second
        .post_form(&link, &[("username", "carol"), ("password", PASSWORD)])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "a link for many");

    let fresh = new_invite(&alice, &[("single_use", "on")]).await;
    let late = app.visitor();
    let resp = late
        .post_form(&link, &[("username", "dave"), ("password", PASSWORD)])
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::NOT_FOUND,
        "the reset link is dead"
    );
    let resp = late
        .post_form(&fresh, &[("username", "dave"), ("password", PASSWORD)])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let users = app.rows("users").await;
    let resp = app
        .visitor()
        .post_form(&fresh, &[("username", "erin"), ("password", PASSWORD)])
        .await;
    assert_eq!(resp.status(), StatusCode::GONE, "single use");
    assert_eq!(app.rows("users").await, users);

    // A single-use link that made no account (the name was taken) still works.
    let once = new_invite(&alice, &[("single_use", "on")]).await;
    let resp = app
        .visitor()
        .post_form(&once, &[("username", "bob"), ("password", PASSWORD)])
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let resp = app
        .visitor()
        .post_form(&once, &[("username", "frank"), ("password", PASSWORD)])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn an_expired_invite_link_makes_no_account() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    choose_policy(&alice, "invite").await;
    let link = new_invite(&alice, &[("expires_hours", "1")]).await;
    let code = link.trim_start_matches("/join/");
    use sea_orm::ConnectionTrait;
    app.state
        .db
        .execute_unprepared(&format!(
            "UPDATE invites SET expires_at = 1 WHERE code = '{code}'"
        ))
        .await
        .expect("expired");
    let users = app.rows("users").await;
    let resp = app
        .visitor()
        .post_form(&link, &[("username", "bob"), ("password", PASSWORD)])
        .await;
    assert_eq!(resp.status(), StatusCode::GONE);
    assert_eq!(app.rows("users").await, users);
}

#[tokio::test]
async fn closed_sign_ups_make_no_account_even_with_an_invite_link() {
    let app = TestApp::builder()
        .configure(|c| c.signup = Some(hearth::accounts::policy::SignupPolicy::Closed))
        .spawn()
        .await;
    let users = app.rows("users").await;
    let visitor = app.visitor();
    assert_eq!(
        visitor.signup("alice", PASSWORD).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.rows("users").await, users);
}

#[tokio::test]
async fn a_profile_shows_the_display_name_and_status_chosen_in_settings() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let resp = alice
        .post_form(
            "/settings/profile",
            &[
                ("display_name", "  Alice   Liddell "),
                ("status", "down the rabbit hole"),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let profile = bob.page("/users/alice").await;
    assert_eq!(
        profile.text_of("#profile-display-name").as_deref(),
        Some("Alice Liddell")
    );
    assert_eq!(
        profile.text_of("#profile-status-line").as_deref(),
        Some("down the rabbit hole")
    );
    assert_eq!(
        profile.attr("#message-them", "href").as_deref(),
        Some("/dm/alice")
    );
    let long = "x".repeat(141);
    let resp = alice
        .post_form("/settings/profile", &[("status", &long)])
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one_and_ends_the_other_sessions() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let laptop = app.visitor();
    assert_eq!(
        laptop.login("alice", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    let mut socket = laptop.socket("/ws").await;
    let settings = alice.page("/settings").await;
    assert_eq!(settings.select("#sessions li").len(), 2);

    let resp = alice
        .post_form(
            "/settings/password",
            &[
                ("current_password", "wrong-guess-77"),
                ("new_password", "marble-fjord-19"),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(laptop.is_signed_in().await);

    let resp = alice
        .post_form(
            "/settings/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "marble-fjord-19"),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    closed(&mut socket, "the laptop's socket").await;
    assert!(!laptop.is_signed_in().await);
    assert!(alice.is_signed_in().await, "this session stays");
    let later = app.visitor();
    assert_eq!(
        later.login("alice", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        later.login("alice", "marble-fjord-19").await.status(),
        StatusCode::SEE_OTHER
    );

    let resp = alice.post_form("/settings/sessions/others", &[]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(!later.is_signed_in().await);
    assert!(alice.is_signed_in().await);
    assert_eq!(
        alice.page("/settings").await.select("#sessions li").len(),
        1
    );
}

#[tokio::test]
async fn an_administrator_can_keep_room_creation_to_administrators() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let resp = bob
        .post_form("/admin/rooms", &[("creators", "admins")])
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    bob.create_room("before").await;
    let resp = alice
        .post_form("/admin/rooms", &[("creators", "admins")])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let lobby = bob.page("/").await;
    assert!(lobby.has("#rooms-by-admins") && !lobby.has("#room-name"));
    assert!(alice.page("/").await.has("#room-name"));
    let rooms = app.rows("conversations").await;
    let resp = bob.post_form("/rooms", &[("name", "after")]).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.rows("conversations").await, rooms);
    alice.create_room("announcements").await;
}

#[tokio::test]
async fn a_room_gets_a_topic_a_new_name_its_old_links_follow_and_an_archive_keeps_it_read_only() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let old = alice.create_room("Old Name").await;
    let room = bob.conversation_id(&old).await;
    let said = bob.post_message(room, "first words").await;

    let resp = bob
        .post_form(&format!("{old}/topic"), &[("topic", "  where   we plan ")])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let page = alice.page(&old).await;
    assert_eq!(
        page.text_of("#room-topic").as_deref(),
        Some("where we plan")
    );

    let resp = bob
        .post_form(&format!("{old}/rename"), &[("name", "Mine")])
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let mut socket = bob.socket(&format!("/ws?conversation={room}")).await;
    let resp = alice
        .post_form(&format!("{old}/rename"), &[("name", "New Name")])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/rooms/new-name");
    closed(&mut socket, "a page of the renamed room").await;
    let resp = bob.get("/rooms/old-name").await;
    assert_eq!(resp.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(location(&resp), "/rooms/new-name");
    let page = bob.page("/rooms/new-name").await;
    assert_eq!(page.text_of("h1").as_deref(), Some("#New Name"));
    assert!(page.has(&format!("#message-{said}")));
    let taken = alice.create_room("Taken").await;
    let resp = alice
        .post_form("/rooms/new-name/rename", &[("name", "taken")])
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY, "{taken}");

    let resp = alice.post_form("/rooms/new-name/archive", &[]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let messages = app.rows("messages").await;
    assert_eq!(
        bob.say(room, "still here?").await.status(),
        StatusCode::CONFLICT
    );
    let resp = bob
        .post_form(&format!("/messages/{said}/reactions"), &[("emoji", "👍")])
        .await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert_eq!(app.rows("messages").await, messages);
    assert!(bob.page("/rooms/new-name").await.has("#room-archived"));
    let listed = bob.page("/").await.texts("#rooms li a");
    assert!(
        !listed.iter().any(|r| r == "#New Name"),
        "out of the lobby: {listed:?}"
    );

    let resp = alice.post_form("/rooms/new-name/unarchive", &[]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        bob.say(room, "back again").await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn a_renamed_private_rooms_old_link_tells_an_outsider_nothing() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let carol = app.member("carol").await;
    let (path, _) = private_room(&alice, "hush").await;
    let resp = alice
        .post_form(&format!("{path}/rename"), &[("name", "hush hush")])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        carol.get("/rooms/hush").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        alice.get("/rooms/hush").await.status(),
        StatusCode::MOVED_PERMANENTLY
    );
}

#[tokio::test]
async fn an_administrators_one_time_link_logs_someone_in_once_and_a_look_at_it_uses_nothing() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let _bob = app.member("bob").await;
    let carol = app.member("carol").await;
    let resp = carol.post_form("/admin/users/bob/login-link", &[]).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let made = Page::read(alice.post_form("/admin/users/bob/login-link", &[]).await).await;
    assert_eq!(made.status, StatusCode::OK);
    let link = made.attr("#login-link-made", "href").expect("a link");

    let phone = app.visitor();
    for _ in 0..2 {
        let shown = phone.page(&link).await;
        assert_eq!(shown.status, StatusCode::OK, "looking uses nothing up");
        assert!(shown.has("#login-link"));
    }
    assert!(!phone.is_signed_in().await);
    let resp = phone.post_form(&link, &[]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/settings");
    assert_eq!(
        phone.page("/settings").await.text_of(".me").as_deref(),
        Some("bob")
    );

    let other = app.visitor();
    let resp = other.post_form(&link, &[]).await;
    assert_eq!(resp.status(), StatusCode::GONE);
    assert!(!other.is_signed_in().await);
    assert_eq!(other.get("/login/made-up").await.status(), StatusCode::GONE);
}

#[tokio::test]
async fn a_private_room_can_leave_adding_people_to_administrators() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let _carol = app.member("carol").await;
    let (path, _) = private_room(&bob, "bobs den").await;
    let resp = bob
        .post_form(&format!("{path}/members"), &[("username", "alice")])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let resp = bob
        .post_form(&format!("{path}/members/policy"), &[("by", "admins")])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let page = bob.page(&path).await;
    assert_eq!(
        page.attr("#members-policy-by option[selected]", "value")
            .as_deref(),
        Some("admins")
    );
    let resp = bob
        .post_form(&format!("{path}/members"), &[("username", "carol")])
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = alice
        .post_form(&format!("{path}/members"), &[("username", "carol")])
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::SEE_OTHER,
        "alice is an administrator"
    );
}
