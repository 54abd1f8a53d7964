//! What an operator relies on: `/metrics` on the metrics address only, with series that
//! move as people talk; `hearth backup` copying a database that is being served; and
//! logs that a collector can read (JSON) or that stay free of colour codes in a pipe.
use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
    net::SocketAddr,
    path::Path,
    process::{Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use prometheus_parse::{Scrape, Value};
use reqwest::StatusCode;

use crate::helpers::{TestApp, frame_where, message_ids_in};

fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_hearth")
}

/// A server that serves its metrics on a free port of its own.
async fn app_with_metrics() -> TestApp {
    TestApp::builder()
        .configure(|config| config.metrics_addr = Some("127.0.0.1:0".into()))
        .spawn()
        .await
}

/// One scrape of `/metrics`, parsed as Prometheus text.
async fn scrape(addr: SocketAddr) -> Scrape {
    let resp = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .expect("the metrics address answers");
    assert_eq!(resp.status(), StatusCode::OK);
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain"),
        "Prometheus text, not {content_type}"
    );
    let text = resp.text().await.expect("a body");
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("Prometheus text parses")
}

/// The value of the counter or gauge `name` whose labels include `labels` (0 when the
/// series is not there yet).
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
            _ => panic!("{name} is not a single value"),
        })
        .sum()
}

/// How many observations the histogram `name` holds (its `+Inf` bucket), over the
/// series whose labels include `labels`.
fn observations(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            Value::Histogram(buckets) => buckets
                .iter()
                .find(|b| b.less_than.is_infinite())
                .map_or(0.0, |b| b.count),
            _ => panic!("{name} is not a histogram"),
        })
        .sum()
}

#[tokio::test]
async fn metrics_move_as_messages_are_posted_and_only_the_metrics_address_serves_them() {
    let app = app_with_metrics().await;
    let metrics_addr = app.metrics_addr.expect("a metrics address");
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let room_url = alice.create_room("general").await;
    let room = alice.conversation_id(&room_url).await;
    assert_eq!(bob.page(&room_url).await.status, StatusCode::OK);

    // The public address has no such page, and the metrics address nothing else.
    assert_eq!(alice.get("/metrics").await.status(), StatusCode::NOT_FOUND);
    let elsewhere = reqwest::get(format!("http://{metrics_addr}/healthz"))
        .await
        .expect("the metrics address answers");
    assert_eq!(elsewhere.status(), StatusCode::NOT_FOUND);

    let mut socket = bob.socket(&format!("/ws?conversation={room}")).await;
    crate::helpers::eventually("the open socket is counted", || async {
        value(&scrape(metrics_addr).await, "hearth_sockets_open", &[]) == 1.0
    })
    .await;
    let before = scrape(metrics_addr).await;

    let posts = 3;
    let mut last = 0;
    for n in 0..posts {
        last = alice.post_message(room, &format!("figure {n}")).await;
    }
    // The socket has had every message's frame once the last one arrives.
    frame_where(&mut socket, |f| message_ids_in(f).contains(&last)).await;
    let after = scrape(metrics_addr).await;

    let delivered = value(&after, "hearth_frames_delivered_total", &[])
        - value(&before, "hearth_frames_delivered_total", &[]);
    assert!(
        delivered >= posts as f64,
        "each message was delivered to the socket: {delivered} frames"
    );
    let batches = observations(&after, "hearth_commit_batch_messages", &[])
        - observations(&before, "hearth_commit_batch_messages", &[]);
    assert!(
        (1.0..=posts as f64).contains(&batches),
        "the messages were committed in 1 to {posts} batches, not {batches}"
    );
    let commits = observations(&after, "hearth_commit_seconds", &[])
        - observations(&before, "hearth_commit_seconds", &[]);
    assert_eq!(commits, batches, "each batch's commit was timed");

    let post_route = [
        ("method", "POST"),
        ("route", "/conversations/:id/messages"),
        ("status", "200"),
    ];
    let requests = value(&after, "hearth_http_requests_total", &post_route)
        - value(&before, "hearth_http_requests_total", &post_route);
    assert_eq!(requests, posts as f64, "each post is counted by its route");
    let timed = observations(&after, "hearth_http_request_seconds", &post_route)
        - observations(&before, "hearth_http_request_seconds", &post_route);
    assert_eq!(
        timed, posts as f64,
        "each post's latency is in the histogram"
    );

    // Routes are templates: no series is labelled with a raw path.
    let routes: Vec<&str> = after
        .samples
        .iter()
        .filter(|s| s.metric == "hearth_http_requests_total")
        .filter_map(|s| s.labels.get("route"))
        .collect();
    assert!(routes.contains(&"/rooms/:slug"), "{routes:?}");
    assert!(
        !routes
            .iter()
            .any(|r| r.contains(&room.to_string()) || *r == room_url),
        "{routes:?}"
    );
    // A missing page is counted, under one label for every unknown path.
    assert_eq!(
        alice.get("/no/such/page").await.status(),
        StatusCode::NOT_FOUND
    );
    let unmatched = [("route", "unmatched"), ("status", "404")];
    assert!(
        value(
            &scrape(metrics_addr).await,
            "hearth_http_requests_total",
            &unmatched
        ) >= 1.0
    );
    // An answer from a handler keeps its route (a room nobody made is still `/rooms/:slug`).
    assert_eq!(
        alice.page("/rooms/nowhere").await.status,
        StatusCode::NOT_FOUND
    );
    let missing_room = [("route", "/rooms/:slug"), ("status", "404")];
    assert_eq!(
        value(
            &scrape(metrics_addr).await,
            "hearth_http_requests_total",
            &missing_room
        ),
        1.0
    );

    drop(socket);
    crate::helpers::eventually("the closed socket is no longer counted", || async {
        value(&scrape(metrics_addr).await, "hearth_sockets_open", &[]) == 0.0
    })
    .await;
}

#[tokio::test]
async fn refusals_are_counted_by_the_limit_that_refused() {
    let app = TestApp::builder()
        .production_limits()
        .configure(|config| config.metrics_addr = Some("127.0.0.1:0".into()))
        .spawn()
        .await;
    let metrics_addr = app.metrics_addr.expect("a metrics address");
    let alice = app.member("alice").await;
    let room_url = alice.create_room("general").await;
    let room = alice.conversation_id(&room_url).await;
    let limit = [("limit", "messages")];
    assert_eq!(
        value(
            &scrape(metrics_addr).await,
            "hearth_rate_limit_refusals_total",
            &limit
        ),
        0.0
    );

    let mut refused = 0;
    for n in 0..40 {
        if alice.say(room, &format!("quick {n}")).await.status() == StatusCode::TOO_MANY_REQUESTS {
            refused += 1;
            if refused == 2 {
                break;
            }
        }
    }
    assert_eq!(refused, 2, "the message limit refused a burst of 40");
    let after = scrape(metrics_addr).await;
    assert_eq!(
        value(&after, "hearth_rate_limit_refusals_total", &limit),
        2.0
    );
    assert_eq!(
        value(
            &after,
            "hearth_rate_limit_refusals_total",
            &[("limit", "rooms")]
        ),
        0.0,
        "other limits are counted apart"
    );
}

#[tokio::test]
async fn a_server_without_a_metrics_address_listens_on_its_public_address_only() {
    let app = TestApp::spawn().await;
    assert_eq!(app.metrics_addr, None);
    assert!(app.state.metrics.render().is_none(), "no figures are kept");
    let visitor = app.visitor();
    assert_eq!(
        visitor.get("/metrics").await.status(),
        StatusCode::NOT_FOUND
    );
}

/// Runs `hearth backup FILE` against `database_url`; answers its exit, stdout, stderr.
fn backup(database_url: &str, file: &Path) -> (bool, String, String) {
    let output = Command::new(binary())
        .arg("backup")
        .arg(file)
        .env("DATABASE_URL", database_url)
        .stdin(Stdio::null())
        .output()
        .expect("hearth runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn a_backup_taken_while_serving_holds_the_messages_and_never_overwrites() {
    // A SQLite file whichever backend the suite runs on: backups are SQLite's.
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("hearth.db").display()
    );
    let app = TestApp::builder().database(&url).spawn().await;
    let alice = app.member("alice").await;
    let room_url = alice.create_room("general").await;
    let room = alice.conversation_id(&room_url).await;
    let mut posted = Vec::new();
    for n in 0..5 {
        let body = format!("kept {n}");
        alice.post_message(room, &body).await;
        posted.push(body);
    }

    // Someone keeps posting while the copy is taken: the server goes on serving.
    let writer = {
        let alice = alice.clone();
        tokio::spawn(async move {
            for n in 0..40 {
                alice.post_message(room, &format!("during {n}")).await;
            }
        })
    };
    let copy = dir.path().join("copy.db");
    let (ok, stdout, stderr) = {
        let (url, copy) = (url.clone(), copy.clone());
        tokio::task::spawn_blocking(move || backup(&url, &copy))
            .await
            .expect("the backup ran")
    };
    assert!(ok, "the backup succeeds: {stdout}{stderr}");
    assert!(
        stdout.contains("copy.db"),
        "it says where the copy went: {stdout}"
    );
    writer.await.expect("the posts during the backup succeed");

    // Refused, and the copy is left as it was.
    let size = std::fs::metadata(&copy).expect("the copy").len();
    let (ok, _, stderr) = backup(&url, &copy);
    assert!(!ok, "a second backup to the same file fails");
    assert!(stderr.contains("already exists"), "{stderr}");
    assert_eq!(std::fs::metadata(&copy).expect("the copy").len(), size);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("the folder")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("partial"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "no partial copies are left: {leftovers:?}"
    );

    // The copy is a database a server can serve, with the messages in it.
    let copy_url = format!("sqlite://{}?mode=rwc", copy.display());
    let restored = TestApp::builder().database(&copy_url).spawn().await;
    let reader = restored.visitor();
    assert_eq!(
        reader.login("alice", "tulip-harbor-42").await.status(),
        StatusCode::SEE_OTHER
    );
    let page = reader.page(&room_url).await;
    assert_eq!(page.status, StatusCode::OK);
    let bodies = page.message_bodies();
    for body in &posted {
        assert!(
            bodies.iter().any(|b| b.trim() == body),
            "{body:?} is in the copy: {bodies:?}"
        );
    }
}

#[test]
fn a_backup_of_postgres_points_to_pg_dump_and_a_missing_database_is_not_created() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("copy.db");
    let (ok, _, stderr) = backup("postgres://postgres@127.0.0.1:5432/hearth", &file);
    assert!(!ok);
    assert!(stderr.contains("pg_dump"), "{stderr}");
    assert!(!file.exists());

    let missing = dir.path().join("missing.db");
    let url = format!("sqlite://{}?mode=rwc", missing.display());
    let (ok, _, stderr) = backup(&url, &file);
    assert!(!ok);
    assert!(stderr.contains("no database"), "{stderr}");
    assert!(!missing.exists(), "the backup does not make a database");
    assert!(!file.exists());
}

/// Starts `hearth` with `args` on a fresh SQLite file and a free port, reads its stderr
/// up to and including the line that says it is listening, and stops it.
fn stderr_until_listening(args: &[&str]) -> Vec<Vec<u8>> {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("hearth.db").display()
    );
    let mut child = Command::new(binary())
        .args(args)
        .args(["--addr", "127.0.0.1:0", "--database-url", &url])
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("hearth starts");
    let stderr = child.stderr.take().expect("stderr");
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stderr);
        loop {
            let mut line = Vec::new();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if lines.send(line).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let mut seen = Vec::new();
    let found = loop {
        match received.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => {
                let listening = String::from_utf8_lossy(&line).contains("listening");
                seen.push(line);
                if listening {
                    break true;
                }
            }
            Err(_) => break false,
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    let text: Vec<_> = seen.iter().map(|l| String::from_utf8_lossy(l)).collect();
    assert!(
        found,
        "hearth never said it was listening; its stderr:\n{text:?}"
    );
    seen
}

#[test]
fn json_logs_are_one_object_a_line_with_level_and_message() {
    let lines = stderr_until_listening(&["--log-format", "json"]);
    for line in &lines {
        let text = String::from_utf8_lossy(line);
        let object: HashMap<String, serde_json::Value> =
            serde_json::from_str(text.trim_end()).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert!(object.get("level").is_some_and(|v| v.is_string()), "{text}");
        assert!(
            object.get("message").is_some_and(|v| v.is_string()),
            "{text}"
        );
    }
    let last = String::from_utf8_lossy(lines.last().expect("a line"));
    assert!(last.contains("\"level\":\"INFO\""), "{last}");
}

#[test]
fn text_logs_into_a_pipe_carry_no_colour_codes() {
    let lines = stderr_until_listening(&[]);
    for line in &lines {
        assert!(
            !line.contains(&0x1b),
            "an escape code in {:?}",
            String::from_utf8_lossy(line)
        );
        let text = String::from_utf8_lossy(line);
        assert!(
            serde_json::from_str::<serde_json::Value>(text.trim_end()).is_err(),
            "text, not JSON: {text}"
        );
    }
}
