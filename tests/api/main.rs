//! Integration tests: a real server on a free port, spoken to over HTTP and WebSocket
//! as browsers would. One test binary, one module per capability.
mod helpers;

mod accounts;
mod actions;
mod adversarial;
mod avatars;
mod bots;
mod deletion;
mod direct;
mod events;
mod files;
mod first_minutes;
mod groups;
mod hardening;
mod limits;
mod live;
mod mentions;
mod messages;
mod operations;
mod outgoing;
mod password_reset;
mod people;
mod push;
mod rooms;
mod schemathesis;
mod search;
mod stream;
mod support;
mod support_desk;
mod switcher;
mod webhooks;

/// Every test above, again on PostgreSQL: this test binary runs itself with the
/// backend switched, so the two backends cannot drift apart.
#[test]
#[ignore = "needs postgres"]
fn the_whole_suite_passes_on_postgres_too() {
    let me = std::env::current_exe().expect("the test binary");
    let output = std::process::Command::new(me)
        .env("HEARTH_TEST_BACKEND", "postgres")
        .args(["--skip", "the_whole_suite_passes_on_postgres_too"])
        .output()
        .expect("the suite runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary = stdout
        .lines()
        .filter(|l| l.starts_with("test result"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        output.status.success(),
        "the suite failed on PostgreSQL:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    println!("on PostgreSQL: {summary}");
}
