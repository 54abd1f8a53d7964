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
    let refused = new_browser.login("alice", "tulip-harbor-42").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&refused).is_some(), "429 without Retry-After");
    // ...but Alice's own browser has an allowance of its own.
    assert_eq!(
        alice.login("alice", "tulip-harbor-42").await.status(),
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
        alice.login("alice", "tulip-harbor-42").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    let laptop = app.visitor_from([127, 0, 0, 4]);
    assert_eq!(
        laptop.login("alice", "tulip-harbor-42").await.status(),
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
        tokio::join!(join_all(guesses), alice.login("alice", "tulip-harbor-42"));
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
    let refused = app.visitor().signup("one-more", "tulip-harbor-42").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        retry_after(&refused).is_some(),
        "sign-up 429 without Retry-After"
    );

    let user = app.visitor();
    user.login("user0", "tulip-harbor-42").await;
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

/// Asks for `count` sockets at once as `visitor`; answers those that opened (to be
/// kept open until every attempt is counted) and the statuses of the refusals.
async fn sockets_at_once(
    visitor: &Visitor,
    count: usize,
) -> (Vec<crate::helpers::Socket>, Vec<u16>) {
    let origin = visitor.url("");
    let attempts = (0..count).map(|_| visitor.try_socket("/ws", Some(&origin)));
    let (mut opened, mut refusals) = (Vec::new(), Vec::new());
    for result in join_all(attempts).await {
        match result {
            Ok(socket) => opened.push(socket),
            Err(status) => refusals.push(status),
        }
    }
    (opened, refusals)
}

#[tokio::test]
async fn concurrent_upgrades_cannot_pass_the_per_person_socket_cap() {
    let app = TestApp::builder()
        .configure(|c| c.limits.sockets_per_user = 5)
        .spawn()
        .await;
    let alice = app.member("alice").await;
    let (opened, refusals) = sockets_at_once(&alice, 30).await;
    assert_eq!(opened.len(), 5, "refusals: {refusals:?}");
    assert!(refusals.iter().all(|&s| s == 429), "{refusals:?}");
}

#[tokio::test]
async fn concurrent_upgrades_cannot_pass_the_server_s_socket_cap() {
    let app = TestApp::builder()
        .configure(|c| c.limits.max_sockets = 6)
        .spawn()
        .await;
    let mut people = Vec::new();
    for name in ["alice", "bob", "carol"] {
        people.push(app.member(name).await);
    }
    let all = join_all(people.iter().map(|p| sockets_at_once(p, 10))).await;
    let opened: usize = all.iter().map(|(open, _)| open.len()).sum();
    let refusals: Vec<&Vec<u16>> = all.iter().map(|(_, r)| r).collect();
    assert_eq!(opened, 6, "refusals: {refusals:?}");
    assert!(
        refusals.iter().all(|r| r.iter().all(|&s| s == 503)),
        "{refusals:?}"
    );
}

#[tokio::test]
async fn a_burst_of_upgrades_waits_its_turn_instead_of_being_refused() {
    // Two sockets may be set up at once; one is worked on at a time, the rest wait.
    let app = TestApp::builder()
        .configure(|c| {
            c.limits.handshakes_in_flight = 2;
            c.http.handshakes_at_once = 1;
        })
        .spawn()
        .await;
    let alice = app.member("alice").await;
    let (opened, refusals) = sockets_at_once(&alice, 15).await;
    assert_eq!(opened.len(), 15, "refusals: {refusals:?}");
}

#[tokio::test]
async fn a_slow_request_that_asks_for_another_upgrade_does_not_hold_up_sockets() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::builder()
        .configure(|c| c.http.handshakes_at_once = 1)
        .spawn()
        .await;
    let alice = app.member("alice").await;
    // A log-in whose body never comes, asking to upgrade to something else: it is read
    // for as long as the body may take, and must not hold a handshake's turn meanwhile.
    let mut slow = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    slow.write_all(
        b"POST /login HTTP/1.1\r\nHost: localhost\r\nConnection: upgrade\r\nUpgrade: x\r\n\
          Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\
          Expect: 100-continue\r\n\r\n",
    )
    .await
    .expect("write");
    // hyper asks for the body once the handler reads it: the request is being served.
    let mut heard = Vec::new();
    while !heard.windows(4).any(|w| w == b"\r\n\r\n") {
        let mut chunk = [0u8; 256];
        let n = slow.read(&mut chunk).await.expect("read");
        assert!(n > 0, "closed before asking for the body");
        heard.extend_from_slice(&chunk[..n]);
    }
    assert!(heard.starts_with(b"HTTP/1.1 100"), "{heard:?}");
    let origin = alice.url("");
    // Had the log-in taken the only turn, this would wait its 10 s and get 503.
    let socket = alice.try_socket("/ws", Some(&origin)).await;
    assert!(socket.is_ok(), "refused: {:?}", socket.err());
    drop(slow);
}

/// Sends `request` on a new connection to `app` and reads the answer's head.
async fn raw_exchange(app: &TestApp, request: &str) -> (tokio::net::TcpStream, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    tcp.write_all(request.as_bytes()).await.expect("write");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let read = tokio::time::timeout(crate::helpers::PATIENCE, tcp.read(&mut byte))
            .await
            .expect("an answer in time")
            .expect("read");
        assert_eq!(
            read, 1,
            "the connection closed before the answer's head ended"
        );
        head.push(byte[0]);
    }
    (tcp, String::from_utf8_lossy(&head).into_owned())
}

fn upgrade_request(app: &TestApp, cookie: &str, version: &str) -> String {
    format!(
        "GET /ws HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: {version}\r\n\
         Cookie: {cookie}\r\n\r\n",
        app.addr
    )
}

#[tokio::test]
async fn an_upgrade_for_another_websocket_version_is_answered_426_naming_13() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let cookie = alice.cookie_header();
    let (_tcp, head) = raw_exchange(&app, &upgrade_request(&app, &cookie, "8")).await;
    assert!(head.starts_with("HTTP/1.1 426"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("sec-websocket-version: 13"),
        "{head}"
    );
    let (_tcp, head) = raw_exchange(&app, &upgrade_request(&app, &cookie, "13")).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
}

#[tokio::test]
async fn a_socket_from_this_host_under_another_scheme_is_refused() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let https = format!("https://{}", app.addr);
    assert_eq!(alice.try_socket("/ws", Some(&https)).await.err(), Some(403));
    let http = format!("http://{}", app.addr);
    assert!(alice.try_socket("/ws", Some(&http)).await.is_ok());
}

/// Reads frames off a raw server-to-client WebSocket until a close; answers its code.
async fn close_code(tcp: &mut tokio::net::TcpStream) -> Option<u16> {
    use tokio::io::AsyncReadExt;
    let read = async {
        loop {
            let mut head = [0u8; 2];
            tcp.read_exact(&mut head).await.ok()?;
            let mut len = u64::from(head[1] & 0x7f);
            if len == 126 {
                let mut ext = [0u8; 2];
                tcp.read_exact(&mut ext).await.ok()?;
                len = u64::from(u16::from_be_bytes(ext));
            } else if len == 127 {
                let mut ext = [0u8; 8];
                tcp.read_exact(&mut ext).await.ok()?;
                len = u64::from_be_bytes(ext);
            }
            let mut payload = vec![0u8; usize::try_from(len).ok()?];
            tcp.read_exact(&mut payload).await.ok()?;
            if head[0] & 0x0f == 0x8 {
                return payload
                    .get(..2)
                    .map(|code| u16::from_be_bytes([code[0], code[1]]));
            }
        }
    };
    tokio::time::timeout(crate::helpers::PATIENCE, read)
        .await
        .expect("a close in time")
}

#[tokio::test]
async fn malformed_frames_close_with_the_code_for_their_kind() {
    use tokio::io::AsyncWriteExt;
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let cookie = alice.cookie_header();
    // A masked text frame (mask 0) whose payload is not UTF-8, then one with a
    // reserved bit set; each on a socket of its own.
    let cases: [(&[u8], u16); 2] = [
        (&[0x81, 0x82, 0, 0, 0, 0, 0xc3, 0x28], 1007),
        (&[0xc1, 0x82, 0, 0, 0, 0, b'h', b'i'], 1002),
    ];
    for (frame, expected) in cases {
        let (mut tcp, head) = raw_exchange(&app, &upgrade_request(&app, &cookie, "13")).await;
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        tcp.write_all(frame).await.expect("write");
        assert_eq!(close_code(&mut tcp).await, Some(expected), "{frame:?}");
    }
}

/// A raw connection to `app` from the loopback address `local`.
async fn connect_from(app: &TestApp, local: [u8; 4]) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(std::net::SocketAddr::from((local, 0)))
        .expect("bind a loopback address");
    socket.connect(app.addr).await.expect("connect")
}

/// Whether the server closes `tcp` within [`PATIENCE`], reading (and dropping)
/// whatever it sends first.
async fn closed_by_server(tcp: &mut tokio::net::TcpStream) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 4096];
    let closed = async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    };
    tokio::time::timeout(crate::helpers::PATIENCE, closed)
        .await
        .is_ok()
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_keep_alive_timeout() {
    let app = TestApp::builder()
        .configure(|c| c.http.keep_alive_timeout = std::time::Duration::from_secs(1))
        .spawn()
        .await;
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", app.addr);
    let (mut tcp, head) = raw_exchange(&app, &request).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        closed_by_server(&mut tcp).await,
        "the idle connection stayed open"
    );
}

#[tokio::test]
async fn a_request_head_sent_a_byte_at_a_time_is_dropped_after_the_header_read_timeout() {
    use tokio::io::AsyncWriteExt;
    let app = TestApp::builder()
        .configure(|c| c.http.header_read_timeout = std::time::Duration::from_secs(1))
        .spawn()
        .await;
    let tcp = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    let (mut read, mut write) = tcp.into_split();
    // A slowloris: a header byte every 100 ms, never the blank line that ends the head.
    let trickle = tokio::spawn(async move {
        write
            .write_all(b"GET /healthz HTTP/1.1\r\nX-Slow: ")
            .await?;
        loop {
            write.write_all(b"a").await?;
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        #[allow(unreachable_code)]
        Ok::<(), std::io::Error>(())
    });
    let closed = tokio::time::timeout(crate::helpers::PATIENCE, async {
        use tokio::io::AsyncReadExt;
        let mut buf = [0u8; 1024];
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    })
    .await;
    trickle.abort();
    assert!(closed.is_ok(), "the half-sent head kept its connection");
}

#[tokio::test]
async fn a_request_body_that_does_not_arrive_in_time_is_answered_408() {
    use tokio::io::AsyncWriteExt;
    let app = TestApp::builder()
        .configure(|c| c.http.body_timeout = std::time::Duration::from_secs(1))
        .spawn()
        .await;
    let mut tcp = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    let head = format!(
        "POST /login HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: 100\r\n\r\nusername=a",
        app.addr
    );
    tcp.write_all(head.as_bytes()).await.expect("write");
    let answer = tokio::time::timeout(crate::helpers::PATIENCE, async {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 64];
        let mut got = Vec::new();
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = tcp.read(&mut buf).await.expect("read");
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&got).into_owned()
    })
    .await
    .expect("an answer in time");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

#[tokio::test]
async fn connections_past_an_address_s_cap_are_closed_while_other_addresses_are_served() {
    let app = TestApp::builder()
        .configure(|c| c.http.connections_per_address = 5)
        .spawn()
        .await;
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(connect_from(&app, [127, 0, 0, 2]).await);
    }
    let mut one_more = connect_from(&app, [127, 0, 0, 2]).await;
    assert!(
        closed_by_server(&mut one_more).await,
        "a sixth connection from one address was kept"
    );
    let bystander = app.visitor();
    assert_eq!(bystander.get("/healthz").await.status(), StatusCode::OK);
    // A place given back is free again.
    drop(held.pop());
    crate::helpers::eventually("a freed place is taken", || async {
        let visitor = app.visitor_from([127, 0, 0, 2]);
        visitor
            .http
            .get(visitor.url("/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == StatusCode::OK)
    })
    .await;
}

async fn execute(app: &TestApp, sql: &str) {
    use sea_orm::ConnectionTrait;
    app.state
        .db
        .execute_unprepared(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn on_postgres(app: &TestApp) -> bool {
    !hearth::db::is_sqlite(&app.state.db)
}

#[tokio::test]
async fn readiness_names_what_is_missing_while_liveness_stays_ok() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let ready = alice.get("/readyz").await;
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(ready.text().await.expect("body"), "ready");

    // Writes refused (as when INSERT is revoked): the probe's write fails.
    if on_postgres(&app) {
        execute(
            &app,
            "CREATE FUNCTION refuse_writes() RETURNS trigger AS $$ \
             BEGIN RAISE EXCEPTION 'no writes'; END $$ LANGUAGE plpgsql",
        )
        .await;
        execute(
            &app,
            "CREATE TRIGGER refuse_sessions BEFORE INSERT ON sessions \
             FOR EACH ROW EXECUTE FUNCTION refuse_writes()",
        )
        .await;
    } else {
        execute(
            &app,
            "CREATE TRIGGER refuse_sessions BEFORE INSERT ON sessions \
             BEGIN SELECT RAISE(ABORT, 'no writes'); END",
        )
        .await;
    }
    // The schema behind the server's back: its version row and a table gone.
    execute(
        &app,
        "DELETE FROM seaql_migrations WHERE version = \
         (SELECT MAX(version) FROM seaql_migrations)",
    )
    .await;
    execute(&app, "DROP TABLE reactions").await;

    // The last answer is given again for a second: ask until it is checked again.
    crate::helpers::eventually("/readyz says it is not ready", || async {
        alice.get("/readyz").await.status() == StatusCode::SERVICE_UNAVAILABLE
    })
    .await;
    let not_ready = alice.get("/readyz").await;
    assert_eq!(not_ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(not_ready.headers().contains_key("retry-after"));
    let why = not_ready.text().await.expect("body");
    for reason in [
        "refuses writes",
        "schema is not at version",
        "reactions is missing",
    ] {
        assert!(why.contains(reason), "{reason:?} not in {why:?}");
    }
    let alive = alice.get("/healthz").await;
    assert_eq!(
        alive.status(),
        StatusCode::OK,
        "liveness is about the process"
    );
}

#[tokio::test]
async fn a_write_that_fails_for_a_missing_table_answers_503_in_words() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let url = alice.create_room("general").await;
    let room = alice.conversation_id(&url).await;
    let said = alice.say(room, "hello").await;
    assert_eq!(said.status(), StatusCode::SEE_OTHER);
    let id = *alice
        .page(&url)
        .await
        .message_ids()
        .last()
        .expect("the message");
    execute(&app, "DROP TABLE reactions").await;
    let resp = alice
        .post_form(&format!("/messages/{id}/reactions"), &[("emoji", "👍")])
        .await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let page = resp.text().await.expect("page");
    assert!(page.contains("missing part of what it needs"), "{page}");
}

#[tokio::test]
async fn a_database_in_a_directory_that_does_not_exist_is_refused_in_words() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("not-made-yet");
    let url = format!("sqlite://{}?mode=rwc", missing.join("hearth.db").display());
    let Err(error) = hearth::Server::build(hearth::Config::for_database(&url)).await else {
        panic!("the server started on a database it cannot create");
    };
    let said = format!("{error:#}");
    assert!(
        said.contains("does not exist") && said.contains("not-made-yet"),
        "{said}"
    );
    assert!(!said.contains("code: 14"), "{said}");
}

#[tokio::test]
async fn the_lobby_lists_rooms_a_page_at_a_time_and_filters_them_by_name() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    // 120 rooms straight into the database, the newest activity last.
    let values: Vec<String> = (0..120)
        .map(|i| format!("('room', 'Room {i:03}', 'room-{i:03}', 1, {i}, {i}, 0)"))
        .collect();
    execute(
        &app,
        &format!(
            "INSERT INTO conversations (kind, name, slug, created_by, created_at, \
             last_activity_at, last_seq) VALUES {}",
            values.join(", ")
        ),
    )
    .await;
    let first = alice.page("/").await;
    assert_eq!(first.status, StatusCode::OK);
    let listed = first.texts("#rooms li a");
    assert_eq!(listed.len(), 50);
    assert_eq!(listed[0], "#Room 119", "most recently active first");
    let next = first
        .attr("a[rel=next]", "href")
        .expect("a link to the next page");
    assert_eq!(next, "/?page=2");
    let third = alice.page("/?page=3").await;
    assert_eq!(third.texts("#rooms li a").len(), 20);
    assert!(!third.has("a[rel=next]"), "the last page links no further");
    assert!(third.has("a[rel=prev]"));
    // A page far past the end is bounded, and a page that is not a number is refused.
    let far = alice.page("/?page=99999999").await;
    assert_eq!(far.status, StatusCode::OK);
    assert!(far.texts("#rooms li a").is_empty());
    assert_eq!(
        alice.page("/?page=abc").await.status,
        StatusCode::BAD_REQUEST
    );
    // The filter box finds a room by part of its name, in any case.
    let found = alice.page("/?q=ROOM+00").await;
    assert_eq!(found.attr("#rooms-q", "value").as_deref(), Some("ROOM 00"));
    let mut names = found.texts("#rooms li a");
    names.sort();
    let expected: Vec<String> = (0..10).map(|i| format!("#Room 00{i}")).collect();
    assert_eq!(names, expected);
    let filtered_next = alice.page("/?q=room").await;
    assert_eq!(
        filtered_next.attr("a[rel=next]", "href").as_deref(),
        Some("/?q=room&page=2"),
        "the filter is kept across pages"
    );
}

#[tokio::test]
async fn anonymous_visits_to_the_log_in_and_sign_up_forms_write_no_session() {
    let app = TestApp::spawn().await;
    let _alice = app.member("alice").await;
    let before = app.rows("sessions").await;
    // Fresh browsers, 20 at a time.
    let app = &app;
    for _ in 0..5 {
        let visits = (0..20).map(|i| async move {
            let visitor = app.visitor();
            let path = if i % 2 == 0 { "/login" } else { "/signup" };
            let page = visitor.page(path).await;
            assert_eq!(page.status, StatusCode::OK);
            assert!(!page.csrf_token().is_empty());
        });
        join_all(visits).await;
    }
    // A form sent back wrong is re-rendered, and writes nothing either.
    let visitor = app.visitor();
    assert_eq!(
        visitor.signup("bob", "short").await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        visitor.login("alice", "wrong-guess").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.rows("sessions").await,
        before,
        "a session row was written"
    );
    // The token from the form still guards the log-in, and logging in makes a session.
    assert_eq!(
        visitor
            .post_with_token(
                "/login",
                &[("username", "alice"), ("password", "tulip-harbor-42")],
                "made-up-token"
            )
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        visitor.login("alice", "tulip-harbor-42").await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(app.rows("sessions").await, before + 1);
}

#[tokio::test]
#[ignore = "needs postgres"]
async fn sockets_being_set_up_are_capped_and_each_frees_its_place_once_set_up() {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let database = crate::helpers::TestDatabase::create().await;
    let app = TestApp::builder()
        .database(database.url())
        .configure(|c| c.limits.handshakes_in_flight = 1)
        .spawn()
        .await;
    let alice = app.member("alice").await;
    let origin = alice.url("");
    // The table a socket's set-up reads first (its sidebar), held, so that the set-up
    // of the first socket waits after its upgrade.
    let blocker = sea_orm::Database::connect(database.url())
        .await
        .expect("connect");
    let hold = blocker.begin().await.expect("begin");
    hold.execute_unprepared("LOCK TABLE memberships IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock");
    let first = alice
        .try_socket("/ws", Some(&origin))
        .await
        .expect("the first socket is upgraded");
    assert_eq!(
        alice.try_socket("/ws", Some(&origin)).await.err(),
        Some(503),
        "a second socket while the first is still being set up"
    );
    hold.rollback().await.expect("release");
    crate::helpers::eventually("a socket opens once the first is set up", || async {
        alice.try_socket("/ws", Some(&origin)).await.is_ok()
    })
    .await;
    drop(first);
}
