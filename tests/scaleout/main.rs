//! Several `hearth serve` processes on one PostgreSQL database behave as one server:
//! messages, typing, online and unread counts cross processes, a process killed
//! without warning drops out of the counts, and a client moved to another process
//! misses and doubles nothing. Needs PostgreSQL (`HEARTH_TEST_POSTGRES_URL`).
#[path = "../api/helpers.rs"]
mod helpers;

use std::time::Duration;

use hearth_testkit::Child;

use futures_util::StreamExt;
use helpers::{
    PATIENCE, Socket, TestDatabase, Visitor, frame_where, message_ids, message_ids_in, send_json,
};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

/// One `hearth serve` process: these tests post more than one person's burst allows.
async fn start(database_url: &str) -> Child {
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_hearth"));
    let extra = ["--message-burst", "10000"];
    match Child::hearth(
        binary,
        Some(database_url),
        &extra,
        &[],
        Duration::from_secs(30),
    )
    .await
    {
        Ok(child) => child,
        Err(e) => panic!("{e}"),
    }
}

async fn cluster(n: usize) -> (TestDatabase, Vec<Child>) {
    let database = TestDatabase::create().await;
    let mut processes = Vec::new();
    for _ in 0..n {
        processes.push(start(database.url()).await);
    }
    (database, processes)
}

async fn member(process: &Child, name: &str) -> Visitor {
    let visitor = Visitor::new(process.addr);
    let resp = visitor.signup(name, "tulip-harbor-42").await;
    assert_eq!(resp.status(), 303, "sign-up of {name}");
    visitor
}

/// `owner` creates #general; answers its URL, conversation id and socket path.
async fn general_room(owner: &Visitor) -> (String, i64, String) {
    let url = owner.create_room("general").await;
    let room = owner.conversation_id(&url).await;
    let path = format!("/ws?conversation={room}");
    (url, room, path)
}

async fn online_count_becomes(socket: &mut Socket, wanted: usize, within: Duration) {
    let needle = format!("id=\"online-count\" hx-swap-oob=\"true\">{wanted}<");
    let reached = tokio::time::timeout(within, async {
        while let Some(frame) = socket.next().await {
            match frame {
                Ok(Message::Text(text)) if text.contains(&needle) => return true,
                Ok(_) => continue,
                Err(_) => return false,
            }
        }
        false
    })
    .await;
    assert_eq!(
        reached,
        Ok(true),
        "the online count did not become {wanted} within {within:?}"
    );
}

async fn post(visitor: &Visitor, conversation: i64, body: &str) -> i64 {
    let resp = visitor
        .post_htmx(
            &format!("/conversations/{conversation}/messages"),
            &[("body", body)],
        )
        .await;
    assert_eq!(resp.status(), 200);
    message_ids_in(&resp.text().await.expect("body"))[0]
}

#[tokio::test]
#[ignore = "needs postgres"]
async fn messages_typing_and_counts_cross_processes() {
    let (_db, procs) = cluster(2).await;
    let alice = member(&procs[0], "alice").await;
    let bob = member(&procs[1], "bob").await;
    let (_url, room, path) = general_room(&alice).await;

    let mut alice_socket = alice.socket(&path).await;
    let mut bob_socket = bob.socket(&path).await;
    online_count_becomes(&mut alice_socket, 2, PATIENCE).await;
    online_count_becomes(&mut bob_socket, 2, PATIENCE).await;

    let id = post(&alice, room, "across").await;
    assert_eq!(message_ids(&mut bob_socket, 1).await, vec![id]);

    send_json(&mut bob_socket, json!({"type": "typing"})).await;
    frame_where(&mut alice_socket, |f| f.contains("bob is typing…")).await;

    // A private message posted on one process reaches the other person's lobby on the
    // other, as an unread event.
    let carol = member(&procs[1], "carol").await;
    let mut carol_lobby = carol.socket("/ws").await;
    frame_where(&mut carol_lobby, |f| f.contains("id=\"sidebar\"")).await;
    let chat = alice.conversation_id("/dm/carol").await;
    let dm_id = post(&alice, chat, "psst").await;
    let event = frame_where(&mut carol_lobby, |f| f.contains("live-event")).await;
    assert!(
        event.contains(&format!("data-message-id=\"{dm_id}\"")),
        "{event}"
    );
    // And her reading, on her process, clears the count on every page of hers.
    carol
        .post_htmx(
            &format!("/conversations/{chat}/read"),
            &[("up_to", &dm_id.to_string())],
        )
        .await;
    let badge = frame_where(&mut carol_lobby, |f| {
        f.contains(&format!("id=\"unread-{chat}\""))
    })
    .await;
    assert!(badge.contains("data-count=\"0\""), "{badge}");
}

#[tokio::test]
#[ignore = "needs postgres"]
async fn one_person_with_tabs_on_two_processes_counts_once() {
    let (_db, procs) = cluster(2).await;
    let alice = member(&procs[0], "alice").await;
    let bob = member(&procs[0], "bob").await;
    let (url, _room, path) = general_room(&alice).await;

    let mut bob_socket = bob.socket(&path).await;
    online_count_becomes(&mut bob_socket, 1, PATIENCE).await;
    let _tab_here = alice.socket(&path).await;
    let _tab_there = alice.at(procs[1].addr).socket(&path).await;
    online_count_becomes(&mut bob_socket, 2, PATIENCE).await;
    let page = bob.at(procs[1].addr).page(&url).await;
    assert_eq!(page.text_of("#online-count").as_deref(), Some("2"));
    assert_eq!(page.text_of("#site-online-count").as_deref(), Some("2"));
}

#[tokio::test]
#[ignore = "needs postgres"]
async fn a_killed_process_leaves_the_counts_within_thirty_seconds() {
    let (_db, mut procs) = cluster(3).await;
    let alice = member(&procs[0], "alice").await;
    let bob = member(&procs[2], "bob").await;
    let (_url, room, path) = general_room(&alice).await;

    let mut alice_socket = alice.socket(&path).await;
    let _bob_socket = bob.socket(&path).await;
    online_count_becomes(&mut alice_socket, 2, PATIENCE).await;

    procs[2].sigkill();
    online_count_becomes(&mut alice_socket, 1, Duration::from_secs(30)).await;

    // The survivors keep working together.
    let carol = alice.at(procs[1].addr);
    let id = post(&carol, room, "still here").await;
    assert_eq!(message_ids(&mut alice_socket, 1).await, vec![id]);
}

#[tokio::test]
#[ignore = "needs postgres"]
async fn a_client_moved_to_another_process_misses_and_doubles_nothing() {
    let (_db, procs) = cluster(2).await;
    let alice = member(&procs[0], "alice").await;
    let bob = member(&procs[1], "bob").await;
    let (_url, room, path) = general_room(&alice).await;

    let mut socket = alice.socket(&format!("{path}&after=0")).await;
    let first = post(&bob, room, "one").await;
    assert_eq!(message_ids(&mut socket, 1).await, vec![first]);
    drop(socket);

    let mut missed = Vec::new();
    for i in 0..15 {
        missed.push(post(&bob, room, &format!("while away {i}")).await);
    }
    let moved = alice.at(procs[1].addr);
    let mut socket = moved.socket(&format!("{path}&after={first}")).await;
    // Posts keep coming while the catch-up is read, from both processes.
    let writer = {
        let bob = bob.clone();
        let alice = alice.clone();
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..10 {
                let who = if i % 2 == 0 { &bob } else { &alice };
                ids.push(post(who, room, &format!("during {i}")).await);
            }
            ids
        })
    };
    let during = writer.await.expect("writer");
    missed.extend(during);
    assert_eq!(message_ids(&mut socket, missed.len()).await, missed);
}

/// Waits until the server closes `socket`.
async fn closed(socket: &mut Socket, what: &str) {
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

#[tokio::test]
#[ignore = "needs postgres"]
async fn removal_from_a_private_room_and_deactivation_close_sockets_on_the_other_process() {
    let (_db, procs) = cluster(2).await;
    let alice = member(&procs[0], "alice").await;
    let bob = member(&procs[1], "bob").await;
    let resp = alice
        .post_form("/rooms", &[("name", "backroom"), ("visibility", "private")])
        .await;
    assert_eq!(resp.status(), 303);
    let url = helpers::location(&resp);
    let room = alice.conversation_id(&url).await;
    let resp = alice
        .post_form(&format!("{url}/members"), &[("username", "bob")])
        .await;
    assert_eq!(resp.status(), 303);
    let mut in_room = bob.socket(&format!("/ws?conversation={room}")).await;
    let mut lobby = bob.socket("/ws").await;
    online_count_becomes(&mut in_room, 1, PATIENCE).await;

    let resp = alice
        .post_form(&format!("{url}/members/remove"), &[("username", "bob")])
        .await;
    assert_eq!(resp.status(), 303);
    closed(&mut in_room, "the removed member's room socket").await;
    assert_eq!(bob.get(&url).await.status(), 404);

    let resp = alice.post_form("/admin/users/bob/deactivate", &[]).await;
    assert_eq!(resp.status(), 303);
    closed(&mut lobby, "the deactivated person's lobby socket").await;
    let resp = bob.get("/").await;
    assert_eq!(resp.status(), 303, "signed out on the other process too");
}

#[tokio::test]
#[ignore = "needs postgres"]
async fn an_operator_on_another_process_sees_a_visitor_assigned_and_closed() {
    let (_db, procs) = cluster(2).await;
    let alice = member(&procs[0], "alice").await;
    let bob = member(&procs[1], "bob").await;
    let resp = alice
        .post_form(
            "/admin/sites",
            &[
                ("name", "Shop"),
                ("origins", "http://shop.test"),
                ("guests", "on"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 200, "making the site");
    let key = helpers::Page::read(resp)
        .await
        .text_of("#site-key")
        .expect("the site's key");
    for name in ["alice", "bob"] {
        let resp = alice
            .post_form(
                &format!("/admin/sites/{key}/operators"),
                &[("username", name)],
            )
            .await;
        assert_eq!(resp.status(), 303, "adding {name}");
    }
    let mut bob_inbox = bob.socket("/ws").await;

    let guest = Visitor::new(procs[0].addr);
    let resp = guest
        .http
        .post(guest.url(&format!("/widget/{key}/start")))
        .form(&[("body", "Is this in stock?"), ("host", "http://shop.test")])
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.status(), 200, "starting a conversation");
    let id: i64 = helpers::Page::read(resp)
        .await
        .attr("main", "data-conversation-id")
        .and_then(|v| v.parse().ok())
        .expect("the frame shows the conversation");
    let row = format!("id=\"inbox-{id}\"");
    frame_where(&mut bob_inbox, |f| {
        f.contains(&row) && f.contains("Is this in stock?")
    })
    .await;

    let resp = alice
        .post_form(&format!("/inbox/{id}/assign"), &[("username", "alice")])
        .await;
    assert_eq!(resp.status(), 303, "assigning");
    frame_where(&mut bob_inbox, |f| f.contains(&row) && f.contains("alice")).await;
    let resp = alice.post_form(&format!("/inbox/{id}/close"), &[]).await;
    assert_eq!(resp.status(), 303, "closing");
    frame_where(&mut bob_inbox, |f| {
        f.contains(&row) && f.contains("data-status=\"closed\"")
    })
    .await;
}
