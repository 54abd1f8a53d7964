//! The live hub, through real sockets: fan-out, presence, typing, catch-up, slow and
//! hostile clients.
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::{Message, protocol::frame::coding::CloseCode};

use crate::helpers::{
    PATIENCE, Socket, TestApp, Visitor, eventually, frame_where, message_ids, message_ids_in,
    send_json,
};

/// A signed-up member, a room they opened, and its conversation id.
async fn room_with(app: &TestApp, owner: &str, room: &str) -> (Visitor, i64) {
    let visitor = app.member(owner).await;
    let url = visitor.create_room(room).await;
    let id = visitor.conversation_id(&url).await;
    (visitor, id)
}

/// alice and bob in one room, each with the room's socket open and both counted.
async fn two_in_a_room(app: &TestApp) -> (Visitor, Visitor, i64, Socket, Socket) {
    let (alice, room) = room_with(app, "alice", "general").await;
    let bob = app.member("bob").await;
    let path = format!("/ws?conversation={room}");
    let alice_socket = alice.socket(&path).await;
    let mut bob_socket = bob.socket(&path).await;
    wait_for_count(&mut bob_socket, 2).await;
    (alice, bob, room, alice_socket, bob_socket)
}

async fn posted_id(visitor: &Visitor, conversation: i64, body: &str) -> i64 {
    let resp = visitor
        .post_htmx(
            &format!("/conversations/{conversation}/messages"),
            &[("body", body)],
        )
        .await;
    assert_eq!(resp.status(), 200, "post of {body:?} refused");
    let fragment = resp.text().await.expect("fragment");
    message_ids_in(&fragment)[0]
}

/// Waits for the next frame that says how many are online here; answers the count.
async fn online_count(socket: &mut Socket) -> usize {
    let frame = frame_where(socket, |f| f.contains("id=\"online-count\"")).await;
    let start = frame.find("id=\"online-count\"").expect("count");
    let rest = &frame[start..];
    let open = rest.find('>').expect("tag end") + 1;
    let close = rest.find('<').expect("closing tag");
    rest[open..close].trim().parse().expect("a number")
}

async fn wait_for_count(socket: &mut Socket, wanted: usize) {
    let ok = tokio::time::timeout(PATIENCE, async {
        while online_count(socket).await != wanted {}
    })
    .await;
    assert!(ok.is_ok(), "the online count never became {wanted}");
}

#[tokio::test]
async fn a_message_reaches_every_socket_in_its_room_and_none_elsewhere() {
    let app = TestApp::spawn().await;
    let (alice, general) = room_with(&app, "alice", "general").await;
    let bob = app.member("bob").await;
    let (carol, random) = room_with(&app, "carol", "random").await;

    let mut alice_socket = alice.socket(&format!("/ws?conversation={general}")).await;
    let mut bob_socket = bob.socket(&format!("/ws?conversation={general}")).await;
    let mut carol_socket = carol.socket(&format!("/ws?conversation={random}")).await;
    // Each socket is registered once its own presence shows up.
    wait_for_count(&mut bob_socket, 2).await;
    wait_for_count(&mut carol_socket, 1).await;

    let in_general = posted_id(&alice, general, "hello general").await;
    // Events are handled in order: once carol has the later message of her room,
    // anything for her from general would already have come before it.
    let in_random = posted_id(&carol, random, "hello random").await;

    assert_eq!(message_ids(&mut alice_socket, 1).await, vec![in_general]);
    let bob_frame = frame_where(&mut bob_socket, |f| f.contains("id=\"message-")).await;
    assert!(bob_frame.contains("hello general"));
    assert!(bob_frame.contains("hx-swap-oob=\"beforeend:#messages\""));
    let carol_frame = frame_where(&mut carol_socket, |f| f.contains("id=\"message-")).await;
    assert_eq!(message_ids_in(&carol_frame), vec![in_random]);
}

#[tokio::test]
async fn two_tabs_of_one_person_count_once_and_the_count_drops_when_both_close() {
    let app = TestApp::spawn().await;
    let (alice, room) = room_with(&app, "alice", "general").await;
    let bob = app.member("bob").await;
    let path = format!("/ws?conversation={room}");

    let mut bob_socket = bob.socket(&path).await;
    wait_for_count(&mut bob_socket, 1).await;
    let mut tab_one = alice.socket(&path).await;
    let mut tab_two = alice.socket(&path).await;
    wait_for_count(&mut bob_socket, 2).await;
    assert_eq!(app.state.hub.presence(room).await.users.len(), 2);
    assert_eq!(app.state.hub.site_online().await, 2);

    tab_one.close(None).await.expect("close");
    tab_two.close(None).await.expect("close");
    wait_for_count(&mut bob_socket, 1).await;
    eventually("the site count drops to one", || async {
        app.state.hub.site_online().await == 1
    })
    .await;
}

#[tokio::test]
async fn the_lobby_and_every_page_hear_the_site_wide_count() {
    let app = TestApp::spawn().await;
    let (alice, room) = room_with(&app, "alice", "general").await;
    let bob = app.member("bob").await;
    let mut lobby = alice.socket("/ws").await;
    frame_where(&mut lobby, |f| {
        f.contains("id=\"site-online-count\"") && f.contains(">1<")
    })
    .await;
    let _bob_socket = bob.socket(&format!("/ws?conversation={room}")).await;
    // Two updates follow, in either order: the site's count and the room's own count.
    let (mut site, mut room_count) = (false, false);
    while !(site && room_count) {
        let frame = frame_where(&mut lobby, |f| f.contains("online")).await;
        site |= frame.contains("id=\"site-online-count\"") && frame.contains(">2<");
        room_count |=
            frame.contains(&format!("id=\"room-online-{room}\"")) && frame.contains("</span>1<");
    }
}

#[tokio::test]
async fn others_see_who_is_typing_until_their_message_arrives() {
    let app = TestApp::spawn().await;
    let (alice, _bob, room, mut alice_socket, mut bob_socket) = two_in_a_room(&app).await;

    send_json(
        &mut alice_socket,
        json!({"type": "typing", "HEADERS": {"HX-Request": "true"}}),
    )
    .await;
    let typing = frame_where(&mut bob_socket, |f| {
        f.contains("id=\"typing\"") && f.contains("typing…")
    })
    .await;
    assert!(typing.contains("alice is typing…"), "{typing}");
    // One fragment for all: alice's own page hides the line that names her.
    let alice_id = app_user_id(&app, "alice").await;
    assert!(
        typing.contains(&format!("data-except=\"{alice_id}\"")),
        "{typing}"
    );

    posted_id(&alice, room, "done typing").await;
    let cleared = frame_where(&mut bob_socket, |f| f.contains("id=\"typing\"")).await;
    assert!(
        !cleared.contains("typing…"),
        "typing should end with the message: {cleared}"
    );
}

#[tokio::test]
async fn typing_disappears_by_itself_when_its_signal_runs_out() {
    let lasts = Duration::from_millis(1500);
    let app = TestApp::builder()
        .configure(move |c| c.live.typing_lasts = lasts)
        .spawn()
        .await;
    let (_alice, _bob, _room, mut alice_socket, mut bob_socket) = two_in_a_room(&app).await;

    let started = tokio::time::Instant::now();
    send_json(&mut alice_socket, json!({"type": "typing"})).await;
    frame_where(&mut bob_socket, |f| f.contains("alice is typing…")).await;
    let cleared = tokio::time::timeout(lasts + PATIENCE, async {
        loop {
            match bob_socket.next().await {
                Some(Ok(Message::Text(t)))
                    if t.contains("id=\"typing\"") && !t.contains("typing…") =>
                {
                    return;
                }
                Some(Ok(_)) => continue,
                _ => panic!("socket ended"),
            }
        }
    })
    .await;
    assert!(cleared.is_ok(), "typing never cleared");
    assert!(started.elapsed() >= lasts, "typing cleared too early");
}

async fn app_user_id(app: &TestApp, username: &str) -> i64 {
    let row = sea_orm::ConnectionTrait::query_one_raw(
        &app.state.db,
        sea_orm::Statement::from_sql_and_values(
            app.state.db.get_database_backend(),
            "SELECT id FROM users WHERE username_key = $1",
            [username.to_lowercase().into()],
        ),
    )
    .await
    .expect("query")
    .expect("user exists");
    row.try_get::<i64>("", "id").expect("id")
}

#[tokio::test]
async fn a_client_that_reconnects_gets_exactly_what_it_missed_in_order() {
    let app = TestApp::spawn().await;
    let (alice, room) = room_with(&app, "alice", "general").await;
    let bob = app.member("bob").await;
    let path = format!("/ws?conversation={room}");
    let first = posted_id(&alice, room, "before").await;

    let mut bob_socket = bob.socket(&format!("{path}&after={first}")).await;
    let seen = posted_id(&alice, room, "seen live").await;
    assert_eq!(message_ids(&mut bob_socket, 1).await, vec![seen]);
    bob_socket.close(None).await.expect("close");

    let mut missed = Vec::new();
    for i in 0..20 {
        missed.push(posted_id(&alice, room, &format!("missed {i}")).await);
    }
    let mut bob_socket = bob.socket(&format!("{path}&after={seen}")).await;
    assert_eq!(message_ids(&mut bob_socket, 20).await, missed);
    let live = posted_id(&alice, room, "live again").await;
    assert_eq!(
        message_ids(&mut bob_socket, 1).await,
        vec![live],
        "no repeat at the seam"
    );
}

#[tokio::test]
async fn messages_committed_while_a_client_catches_up_arrive_once_and_in_order() {
    let app = TestApp::spawn().await;
    let (alice, room) = room_with(&app, "alice", "general").await;
    let bob = app.member("bob").await;
    let mut expected = Vec::new();
    for i in 0..150 {
        expected.push(posted_id(&alice, room, &format!("old {i}")).await);
    }
    // Post more while bob connects and reads his catch-up.
    let writer = {
        let alice = alice.clone();
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..30 {
                ids.push(posted_id(&alice, room, &format!("during {i}")).await);
            }
            ids
        })
    };
    let mut bob_socket = bob
        .socket(&format!("/ws?conversation={room}&after=0"))
        .await;
    let during = writer.await.expect("writer");
    expected.extend(during);
    let got = message_ids(&mut bob_socket, expected.len()).await;
    assert_eq!(got, expected);
}

/// The catch-up is read a few messages at a time here, so that messages commit between
/// its pages and while the socket turns from catching up to live: each still arrives
/// once, in order, for every one of several sockets that connect meanwhile.
#[tokio::test]
async fn messages_committed_between_the_pages_of_a_catch_up_arrive_once_and_in_order() {
    let app = TestApp::builder()
        .configure(|c| c.live.catch_up_page = 4)
        .spawn()
        .await;
    let (alice, room) = room_with(&app, "alice", "general").await;
    let bob = app.member("bob").await;
    let mut expected = Vec::new();
    for i in 0..60 {
        expected.push(posted_id(&alice, room, &format!("old {i}")).await);
    }
    let writer = {
        let alice = alice.clone();
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..40 {
                ids.push(posted_id(&alice, room, &format!("during {i}")).await);
            }
            ids
        })
    };
    let mut sockets = Vec::new();
    for _ in 0..4 {
        sockets.push(
            bob.socket(&format!("/ws?conversation={room}&after=0"))
                .await,
        );
    }
    expected.extend(writer.await.expect("writer"));
    for socket in &mut sockets {
        assert_eq!(message_ids(socket, expected.len()).await, expected);
    }
}

/// A page reconnects from its cursor (`since`, the last event it holds, which the page
/// carries and every frame of events moves): it gets what it missed, and then the
/// live messages, with nothing twice.
#[tokio::test]
async fn a_page_that_reconnects_from_its_cursor_gets_exactly_what_it_missed() {
    let app = TestApp::spawn().await;
    let (alice, room) = room_with(&app, "alice", "general").await;
    let bob = app.member("bob").await;
    posted_id(&alice, room, "before").await;
    let page = bob.page("/rooms/general").await;
    let cursor: i64 = page
        .attr("#cursor", "data-seq")
        .and_then(|s| s.parse().ok())
        .expect("the page carries its cursor");

    let mut missed = Vec::new();
    for i in 0..5 {
        missed.push(posted_id(&alice, room, &format!("missed {i}")).await);
    }
    let mut socket = bob
        .socket(&format!("/ws?conversation={room}&since={cursor}"))
        .await;
    assert_eq!(message_ids(&mut socket, 5).await, missed);
    let live = posted_id(&alice, room, "live").await;
    let frame = frame_where(&mut socket, |f| f.contains("id=\"message-")).await;
    assert_eq!(message_ids_in(&frame), [live], "no repeat at the seam");
    let moved: i64 = frame
        .split("id=\"cursor\" data-seq=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .and_then(|seq| seq.parse().ok())
        .expect("the frame moves the page's cursor");
    assert_eq!(moved, cursor + 6);
}

#[tokio::test]
async fn a_socket_that_never_reads_is_dropped_and_the_others_keep_receiving() {
    let app = TestApp::spawn().await;
    let (alice, room) = room_with(&app, "alice", "general").await;
    let bob = app.member("bob").await;
    let path = format!("/ws?conversation={room}");
    let mut reader = alice.socket(&path).await;
    let _sluggard = bob.socket(&path).await; // never read from again
    wait_for_count(&mut reader, 2).await;

    let conversation = hearth::chat::queries::conversation_by_id(&app.state.db, room)
        .await
        .expect("query")
        .expect("room");
    let alice_id = app_user_id(&app, "alice").await;
    let big = "x".repeat(4000);
    // Enough to fill the kernel's socket buffers on both sides and then the queue.
    let total = 4000;
    let reading = tokio::spawn(async move {
        let ids = message_ids(&mut reader, total).await;
        (reader, ids)
    });
    for _ in 0..total {
        let body = hearth::chat::MessageBody::parse(&big).expect("body");
        app.state
            .chat
            .post(&conversation, alice_id, "alice", body, None)
            .await
            .expect("post");
    }
    let (_reader, ids) = reading.await.expect("reader");
    assert_eq!(ids.len(), total);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in order");
    eventually("the slow socket is dropped", || async {
        app.state.hub.socket_count() == 1
    })
    .await;
}

#[tokio::test]
async fn an_idle_socket_is_pinged_so_that_proxies_keep_it_open() {
    let ping_every = Duration::from_secs(1);
    let app = TestApp::builder()
        .configure(move |c| c.live.ping_every = ping_every)
        .spawn()
        .await;
    let (alice, room) = room_with(&app, "alice", "general").await;
    let mut socket = alice.socket(&format!("/ws?conversation={room}")).await;
    let pinged = tokio::time::timeout(ping_every + PATIENCE, async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Ping(_))) => return true,
                Some(Ok(_)) => continue,
                _ => return false,
            }
        }
    })
    .await
    .expect("a ping within the ping interval");
    assert!(pinged, "the socket closed instead");
}

#[tokio::test]
async fn a_frame_sent_right_behind_the_upgrade_request_is_not_lost() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, tungstenite::protocol::Role};
    let app = TestApp::spawn().await;
    let (alice, room) = room_with(&app, "alice", "general").await;
    // The request and a first frame in one write, as a client may send them: the
    // server reads both at once and must hand the frame to the socket.
    let payload = br#"{"type":"message","body":"early bird"}"#;
    let mut bytes = format!(
        "GET /ws?conversation={room} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\nCookie: {cookie}\r\n\r\n",
        addr = app.addr,
        cookie = alice.cookie_header(),
    )
    .into_bytes();
    // A final text frame, masked with a zero key (clients must mask; any key will do).
    bytes.extend([0x81, 0x80 | payload.len() as u8, 0, 0, 0, 0]);
    bytes.extend_from_slice(payload);
    let mut tcp = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    tcp.write_all(&bytes).await.expect("write");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        tcp.read_exact(&mut byte).await.expect("read the answer");
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    let mut socket =
        WebSocketStream::from_raw_socket(MaybeTlsStream::Plain(tcp), Role::Client, None).await;
    frame_where(&mut socket, |f| f.contains("early bird")).await;
}

#[tokio::test]
async fn sockets_need_a_session_and_this_sites_origin() {
    let app = TestApp::spawn().await;
    let (alice, room) = room_with(&app, "alice", "general").await;
    let path = format!("/ws?conversation={room}");
    assert_eq!(app.visitor().try_socket(&path, None).await.err(), Some(401));
    assert_eq!(
        alice
            .try_socket(&path, Some("http://evil.example"))
            .await
            .err(),
        Some(403)
    );
    assert_eq!(
        alice.try_socket("/ws?conversation=999", None).await.err(),
        Some(404)
    );
    assert!(
        alice.try_socket(&path, None).await.is_ok(),
        "no Origin: not a browser, allowed"
    );
}

#[tokio::test]
async fn garbage_binary_and_oversized_frames_disturb_nobody_else() {
    let app = TestApp::spawn().await;
    let (alice, room) = room_with(&app, "alice", "general").await;
    let mallory = app.member("mallory").await;
    let path = format!("/ws?conversation={room}");
    let mut alice_socket = alice.socket(&path).await;
    let mut mallory_socket = mallory.socket(&path).await;
    wait_for_count(&mut alice_socket, 2).await;

    for junk in [
        "",
        "{",
        "null",
        "[]",
        "{\"type\":42}",
        "{\"type\":\"nope\"}",
        "{\"type\":\"message\"}",
    ] {
        mallory_socket
            .send(Message::text(junk))
            .await
            .expect("send");
    }
    mallory_socket
        .send(Message::binary(vec![0u8, 159, 146, 150]))
        .await
        .expect("send");
    // Still connected and still heard: a message from mallory goes through.
    send_json(
        &mut mallory_socket,
        json!({"type": "message", "body": "still here"}),
    )
    .await;
    let frame = frame_where(&mut alice_socket, |f| f.contains("id=\"message-")).await;
    assert!(frame.contains("still here"));

    // An oversized frame ends mallory's socket only.
    let huge = "y".repeat(64 * 1024);
    let _ = mallory_socket.send(Message::text(huge)).await;
    let closed = tokio::time::timeout(PATIENCE, async {
        loop {
            match mallory_socket.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    })
    .await
    .expect("mallory's socket closes");
    assert!(matches!(closed, Some(CloseCode::Size) | None));
    let after = posted_id(&alice, room, "after the flood").await;
    assert_eq!(message_ids(&mut alice_socket, 1).await, vec![after]);
}

#[tokio::test]
async fn messages_posted_over_the_socket_follow_the_composers_rules() {
    let app = TestApp::spawn().await;
    let (_alice, bob, _room, mut alice_socket, mut bob_socket) = two_in_a_room(&app).await;

    send_json(
        &mut alice_socket,
        json!({"type": "message", "body": "  \u{7}  "}),
    )
    .await;
    let refusal = frame_where(&mut alice_socket, |f| f.contains("id=\"composer-error\"")).await;
    assert!(refusal.contains("Write something"), "{refusal}");
    let too_long = "z".repeat(4001);
    send_json(
        &mut alice_socket,
        json!({"type": "message", "body": too_long}),
    )
    .await;
    let refusal = frame_where(&mut alice_socket, |f| f.contains("id=\"composer-error\"")).await;
    assert!(refusal.contains("4000"), "{refusal}");

    send_json(
        &mut alice_socket,
        json!({"type": "message", "body": "<i>hi</i> bob", "csrf_token": "ignored"}),
    )
    .await;
    let frame = frame_where(&mut bob_socket, |f| f.contains("id=\"message-")).await;
    assert!(frame.contains("&lt;i&gt;hi&lt;/i&gt; bob"), "{frame}");
    // Only the valid message was stored: bob's first message frame is that one.
    let page = bob.page("/rooms/general").await;
    assert_eq!(page.message_bodies(), vec!["<i>hi</i> bob".to_owned()]);
}

#[tokio::test]
async fn logging_out_closes_that_sessions_sockets() {
    let app = TestApp::spawn().await;
    let (alice, room) = room_with(&app, "alice", "general").await;
    let mut socket = alice.socket(&format!("/ws?conversation={room}")).await;
    let resp = alice.post_form("/logout", &[]).await;
    assert_eq!(resp.status(), 303);
    let ended = tokio::time::timeout(PATIENCE, async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the socket stayed open after log-out");
}

#[tokio::test]
async fn shutting_down_tells_sockets_to_come_back() {
    let mut app = TestApp::spawn().await;
    let (alice, room) = room_with(&app, "alice", "general").await;
    let mut socket = alice.socket(&format!("/ws?conversation={room}")).await;
    frame_where(&mut socket, |f| f.contains("online-count")).await;
    let stopping = tokio::spawn(async move {
        app.stop().await;
    });
    let code = tokio::time::timeout(PATIENCE, async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    })
    .await
    .expect("closed in time");
    assert_eq!(code, Some(CloseCode::Away));
    tokio::time::timeout(Duration::from_secs(10), stopping)
        .await
        .expect("stops within 10 s")
        .expect("join");
}

#[tokio::test]
async fn many_posts_at_once_to_two_rooms_reach_each_room_once_and_in_order() {
    let app = TestApp::spawn().await;
    let (alice, general) = room_with(&app, "alice", "general").await;
    let random_url = alice.create_room("random").await;
    let random = alice.conversation_id(&random_url).await;
    let urls = ["/rooms/general".to_owned(), random_url];
    let mut watchers = Vec::new();
    for room in [general, random] {
        watchers.push(alice.socket(&format!("/ws?conversation={room}")).await);
    }
    let mut posters = vec![alice.clone()];
    for name in ["bob", "carol", "dave"] {
        posters.push(app.member(name).await);
    }

    // Everyone posts to both rooms at the same moment: the writer stores what arrives
    // together in one transaction.
    let posts = posters.iter().enumerate().flat_map(|(who, poster)| {
        [general, random].into_iter().flat_map(move |room| {
            (0..5).map(move |i| async move {
                let id = posted_id(poster, room, &format!("burst {i}")).await;
                (who, room, id)
            })
        })
    });
    let stored = futures_util::future::join_all(posts).await;

    for ((room, socket), url) in [general, random]
        .into_iter()
        .zip(watchers.iter_mut())
        .zip(&urls)
    {
        let mut expected: Vec<i64> = stored
            .iter()
            .filter(|(_, r, _)| *r == room)
            .map(|(_, _, id)| *id)
            .collect();
        expected.sort_unstable();
        assert_eq!(expected.len(), 20);
        let delivered = message_ids(socket, expected.len()).await;
        assert_eq!(delivered, expected, "room {room}: each once, in order");
        let page = alice.page(url).await;
        assert_eq!(page.message_ids(), expected, "room {room}: its page");

        // Posting reads the room up to your own message, batched or not: what is
        // unread is what the others posted after it.
        for (who, poster) in posters.iter().enumerate() {
            let own_last = stored
                .iter()
                .filter(|(w, r, _)| *w == who && *r == room)
                .map(|(_, _, id)| *id)
                .max()
                .expect("posted here");
            let after = expected.iter().filter(|id| **id > own_last).count() as i64;
            assert_eq!(
                poster.unread_on_lobby(room).await,
                Some(after),
                "room {room}, poster {who}: unread after their last post"
            );
        }
    }
}
