//! A server killed with SIGKILL in the middle of a stream of posts loses no message
//! whose post it answered: after a restart on the same SQLite file, every message a
//! client was told was stored is there, with its body. Posts go both ways: the
//! composer's HTTP path as htmx sends it (a 2xx answer carries `id="message-N"`), and
//! the socket's `{"type":"message"}` (an empty `#composer-error` frame back to the
//! sender means it was stored).
use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use futures_util::{SinkExt, StreamExt};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;

use crate::{
    helpers::{Socket, message_ids_in},
    server::{Hearth, all_messages, post_htmx},
};

const HTTP_CLIENTS: usize = 20;
const SOCKET_CLIENTS: usize = 5;
/// The kill comes once this many posts have been answered, with the rest in flight.
const KILL_AFTER: usize = 400;
/// No client posts more than this many, whatever happens (a bounded loop).
const MOST_PER_CLIENT: usize = 5_000;

/// A post the server said it stored.
#[derive(Debug)]
struct Stored {
    /// The id the answer named (the socket path does not name one).
    id: Option<i64>,
    body: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_under_load_keeps_every_message_it_answered_2xx_for() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("hearth.db").display()
    );
    let flags = ["--message-burst", "100000", "--signup-burst", "1000"];
    let mut hearth = Hearth::start(&url, &flags).await;

    let owner = hearth.member("owner").await;
    let room_url = owner.create_room("busy").await;
    let room = owner.conversation_id(&room_url).await;
    let mut http_clients = Vec::new();
    for i in 0..HTTP_CLIENTS {
        let visitor = hearth.member(&format!("poster{i}")).await;
        let token = visitor.csrf_token().await;
        http_clients.push((visitor, token));
    }
    let mut socket_clients = Vec::new();
    for i in 0..SOCKET_CLIENTS {
        let visitor = hearth.member(&format!("talker{i}")).await;
        socket_clients.push(visitor.socket(&format!("/ws?conversation={room}")).await);
    }

    let stored = Arc::new(Mutex::new(Vec::<Stored>::new()));
    let answered = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let mut clients = JoinSet::new();
    for (i, (visitor, token)) in http_clients.into_iter().enumerate() {
        let (stored, answered, refused) = (stored.clone(), answered.clone(), refused.clone());
        clients.spawn(async move {
            for n in 0..MOST_PER_CLIENT {
                let body = format!("http client {i} message {n}");
                let Ok(resp) = post_htmx(&visitor, &token, room, &body).await else {
                    return; // the server is gone
                };
                if !resp.status().is_success() {
                    refused.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                // The status line came: it was stored, even if the body is cut off.
                let id = match resp.text().await {
                    Ok(text) => message_ids_in(&text).first().copied(),
                    Err(_) => None,
                };
                stored.lock().expect("lock").push(Stored { id, body });
                answered.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    for (i, socket) in socket_clients.into_iter().enumerate() {
        let (stored, answered, refused) = (stored.clone(), answered.clone(), refused.clone());
        clients.spawn(async move {
            socket_poster(i, socket, stored, answered, refused).await;
        });
    }

    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while answered.load(Ordering::Relaxed) < KILL_AFTER {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} posts answered in two minutes; hearth's log:\n{}",
            answered.load(Ordering::Relaxed),
            hearth.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    hearth.sigkill();
    let all_done = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(done) = clients.join_next().await {
            done.expect("a client panicked");
        }
    })
    .await;
    assert!(
        all_done.is_ok(),
        "clients still posting 30 s after the kill"
    );

    let stored = std::mem::take(&mut *stored.lock().expect("lock"));
    assert_eq!(
        refused.load(Ordering::Relaxed),
        0,
        "posts were refused under load before the kill"
    );

    let restarted = Hearth::start(&url, &flags).await;
    let reader = owner.at(restarted.addr);
    let messages = all_messages(&reader, &room_url).await;
    let by_id: HashMap<i64, &str> = messages.iter().map(|(id, b)| (*id, b.trim())).collect();
    let bodies: HashMap<&str, i64> = messages.iter().map(|(id, b)| (b.trim(), *id)).collect();
    let mut lost = Vec::new();
    for post in &stored {
        let found = match post.id {
            Some(id) => by_id.get(&id).is_some_and(|b| *b == post.body),
            None => bodies.contains_key(post.body.as_str()),
        };
        if !found {
            lost.push(post);
        }
    }
    let over_socket = stored.iter().filter(|s| s.id.is_none()).count();
    eprintln!(
        "{} posts answered 2xx before the kill ({over_socket} over sockets); {} messages after the restart",
        stored.len(),
        messages.len()
    );
    assert!(
        over_socket > 0,
        "no post over a socket was answered before the kill"
    );
    assert!(
        lost.is_empty(),
        "{} of {} answered posts are missing after the restart, e.g. {:?}",
        lost.len(),
        stored.len(),
        &lost[..lost.len().min(5)]
    );
    assert!(
        !restarted.log().contains("panicked"),
        "hearth panicked after the restart:\n{}",
        restarted.log_tail()
    );
}

/// Posts over the socket one message at a time, each after the server's answer to
/// the one before: an empty `#composer-error` for the sender means stored.
async fn socket_poster(
    i: usize,
    mut socket: Socket,
    stored: Arc<Mutex<Vec<Stored>>>,
    answered: Arc<AtomicUsize>,
    refused: Arc<AtomicUsize>,
) {
    for n in 0..MOST_PER_CLIENT {
        let body = format!("socket client {i} message {n}");
        let frame = serde_json::json!({"type": "message", "body": body}).to_string();
        if socket.send(Message::text(frame)).await.is_err() {
            return;
        }
        let reply = loop {
            match tokio::time::timeout(Duration::from_secs(30), socket.next()).await {
                Ok(Some(Ok(Message::Text(text)))) if text.contains("id=\"composer-error\"") => {
                    break text.as_str().to_owned();
                }
                Ok(Some(Ok(_))) => continue,
                // Closed or reset by the kill (or silent for 30 s): nothing more to know.
                _ => return,
            }
        };
        if composer_error_text(&reply).is_empty() {
            stored.lock().expect("lock").push(Stored { id: None, body });
            answered.fetch_add(1, Ordering::Relaxed);
        } else {
            refused.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn composer_error_text(frame: &str) -> String {
    let html = scraper::Html::parse_fragment(frame);
    let selector = scraper::Selector::parse("#composer-error").expect("selector");
    html.select(&selector)
        .next()
        .map(|e| e.text().collect::<String>().trim().to_owned())
        .unwrap_or_default()
}
