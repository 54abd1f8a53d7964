//! Running out of file descriptors: with its limit lowered to a few hundred and more
//! idle connections than that held open against it, hearth sheds what it cannot
//! serve, reaps idle connections, and keeps answering `/healthz` (it used to stop
//! answering for good once idle connections had taken every descriptor).
use std::{process::Command, time::Duration};

use crate::server::Hearth;

/// Descriptors the server is left with: fewer than the connections held against it.
const LIMIT: usize = 200;
const HELD: usize = 400;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_out_of_descriptors_sheds_idle_connections_and_keeps_answering() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("hearth.db").display()
    );
    let hearth = Hearth::start(
        &url,
        &[
            "--connections-per-address",
            "100000",
            "--keep-alive-timeout",
            "1",
        ],
    )
    .await;
    let lowered = Command::new("prlimit")
        .args([
            "--pid",
            &hearth.pid().to_string(),
            &format!("--nofile={LIMIT}:{LIMIT}"),
        ])
        .status()
        .expect("prlimit runs");
    assert!(lowered.success(), "prlimit could not lower the limit");

    let mut held = Vec::new();
    for _ in 0..HELD {
        match tokio::net::TcpStream::connect(hearth.addr).await {
            Ok(tcp) => held.push(tcp),
            Err(e) => hearth.fail(&format!("connecting failed on the client's side: {e}")),
        }
    }
    let healthy = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let answered = reqwest::Client::new()
                .get(hearth.url("/healthz"))
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if answered.is_ok_and(|r| r.status() == 200) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    if healthy.is_err() {
        hearth.fail("/healthz did not answer while idle connections held the descriptors");
    }
    assert!(
        hearth.log().contains("out of file descriptors"),
        "the lowered limit was never reached:\n{}",
        hearth.log_tail()
    );
    drop(held);
}
