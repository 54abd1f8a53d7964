//! The API against its own OpenAPI document, by schemathesis (from PyPI; `.ci/run`
//! installs it into `target/tools/schemathesis`, or `HEARTH_TEST_SCHEMATHESIS` names
//! its `st`): every operation with generated inputs, and no answer a 5xx, off its
//! declared statuses, headers or schemas.
use std::{process::Command, time::Duration};

use reqwest::StatusCode;
use serde_json::json;

use crate::{
    bots::{api_post, make_token},
    helpers::TestApp,
};

/// Generated cases per operation and phase: enough to reach every declared answer,
/// few enough to finish in well under a minute on two cores.
const EXAMPLES: &str = "30";
/// A fixed seed, so a failure comes back on the next run.
const SEED: &str = "20261202";
/// The longest the run may take before the test gives up on it.
const DEADLINE: Duration = Duration::from_secs(150);

fn schemathesis() -> String {
    let st = std::env::var("HEARTH_TEST_SCHEMATHESIS").unwrap_or_else(|_| {
        format!(
            "{}/target/tools/schemathesis/bin/st",
            env!("CARGO_MANIFEST_DIR")
        )
    });
    assert!(
        std::path::Path::new(&st).is_file(),
        "schemathesis is not at {st}: .ci/run installs it there (or set HEARTH_TEST_SCHEMATHESIS \
         to an `st` binary)"
    );
    st
}

#[tokio::test]
#[ignore = "needs schemathesis (.ci/run installs it)"]
async fn every_api_operation_answers_generated_requests_as_its_openapi_document_says() {
    let st = schemathesis();
    let app = TestApp::spawn().await;
    // The first account is the administrator: its token reaches every operation.
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let token = make_token(&alice, "schemathesis").await;
    let room = alice.create_room("general").await;
    let room = alice.conversation_id(&room).await;
    let first = alice.post_message(room, "hello **world**").await;
    bob.post_message(room, "hi @alice").await;
    let direct = alice.conversation_id("/dm/bob").await;
    alice.post_message(direct, "a private word").await;
    for (path, body) in [
        (
            format!("/conversations/{room}/messages"),
            json!({"body": "an answer", "reply_to": first}),
        ),
        (
            format!("/messages/{first}/reactions"),
            json!({"emoji": "👍"}),
        ),
        (
            "/events".to_owned(),
            json!({"scope": "room", "target": room, "type": "seed.ready", "detail": {"n": 1}}),
        ),
    ] {
        let resp = api_post(&app, &token, &path, body).await;
        assert!(resp.status().is_success(), "seeding {path}: {resp:?}");
    }
    assert_eq!(
        app.visitor().get("/api/v1/openapi.json").await.status(),
        StatusCode::OK
    );

    let work = tempfile::tempdir().expect("a folder for schemathesis");
    let mut command = Command::new(&st);
    command
        .current_dir(work.path())
        .arg("run")
        .arg(app.url("/api/v1/openapi.json"))
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--checks", "all"])
        // The server has rules no JSON Schema here states (a body not blank once
        // trimmed, exactly one emoji, an event type's alphabet, a visible-ASCII
        // Idempotency-Key, one cursor at a time), so schema-valid requests are refused;
        // and poem-openapi reads a JSON number or boolean as a string field.
        .args([
            "--exclude-checks",
            "positive_data_acceptance,negative_data_rejection",
        ])
        // An endless Server-Sent Events response cannot be checked.
        .args(["--exclude-path-regex", "/stream$"])
        .args(["--max-examples", EXAMPLES, "--seed", SEED])
        // One worker: Python 3.11's ast.parse, which hypothesis calls, is not safe
        // across threads ("AST constructor recursion depth mismatch").
        .args(["--workers", "1", "--request-timeout", "10"])
        .args(["--generation-database", "none", "--no-color"]);
    let started = std::time::Instant::now();
    let run = tokio::task::spawn_blocking(move || command.output());
    let output = tokio::time::timeout(DEADLINE, run)
        .await
        .unwrap_or_else(|_| panic!("schemathesis ran over {DEADLINE:?}"))
        .expect("the run's thread")
        .unwrap_or_else(|e| panic!("cannot run {st}: {e}"));
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "schemathesis found problems ({}):\n{report}",
        output.status
    );
    println!(
        "schemathesis passed in {:.0?}:\n{report}",
        started.elapsed()
    );
}
