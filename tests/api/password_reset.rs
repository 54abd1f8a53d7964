//! Password reset by email, against a real SMTP server: aiosmtpd, installed from PyPI
//! by `.ci/run` into `target/tools/aiosmtpd` (or wherever `HEARTH_TEST_AIOSMTPD` says),
//! started by each test on a port of its own, delivering into a maildir the test
//! reads. Also the email setting, and what the log-in page offers without SMTP.
use std::{path::PathBuf, process::Stdio, time::Duration};

use reqwest::StatusCode;
use sea_orm::ConnectionTrait;

use crate::helpers::*;

const PASSWORD: &str = "tulip-harbor-42";
const NEW_PASSWORD: &str = "lantern-meadow-77";

/// A running aiosmtpd, stopped when dropped, delivering into its own maildir.
pub(crate) struct SmtpServer {
    port: u16,
    maildir: tempfile::TempDir,
    child: std::process::Child,
}

impl SmtpServer {
    pub(crate) async fn start() -> SmtpServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let python = std::env::var("HEARTH_TEST_AIOSMTPD").unwrap_or_else(|_| {
            format!(
                "{}/target/tools/aiosmtpd/bin/python",
                env!("CARGO_MANIFEST_DIR")
            )
        });
        let maildir = tempfile::tempdir().expect("a maildir");
        let child = std::process::Command::new(&python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir.path().join("mail"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {python} -m aiosmtpd ({e}): .ci/run installs aiosmtpd there")
            });
        let mut server = SmtpServer {
            port,
            maildir,
            child,
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("aiosmtpd exited at once ({status}): is it installed in {python}?");
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "aiosmtpd did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every mail delivered so far, as text.
    fn mails(&self) -> Vec<String> {
        let new: PathBuf = self.maildir.path().join("mail").join("new");
        let mut found: Vec<String> = std::fs::read_dir(new)
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        found
    }

    /// Waits until `count` mails have arrived; answers them.
    pub(crate) async fn wait_for_mails(&self, count: usize) -> Vec<String> {
        eventually(&format!("{count} mail(s) arrive"), || async {
            self.mails().len() >= count
        })
        .await;
        self.mails()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The reset link's path in `mail` (quoted-printable soft breaks undone).
fn reset_path(mail: &str) -> String {
    let text = mail
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    let start = text
        .find("/password/reset/")
        .expect("a reset link in the mail");
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_'))
        .collect()
}

async fn app_with_smtp(smtp: &SmtpServer) -> TestApp {
    let url = smtp.url();
    TestApp::builder()
        .configure(move |c| c.mail.smtp_url = Some(url))
        .spawn()
        .await
}

async fn ask_for_link(visitor: &Visitor, account: &str) -> reqwest::Response {
    visitor
        .post_form("/password/forgot", &[("account", account)])
        .await
}

#[tokio::test]
#[ignore = "needs aiosmtpd, an SMTP server (.ci/run installs it)"]
async fn a_forgotten_password_is_reset_by_a_mailed_link_that_works_once_and_ends_every_session() {
    let smtp = SmtpServer::start().await;
    let app = app_with_smtp(&smtp).await;
    let alice = app.member("alice").await;
    let resp = alice
        .post_form("/settings/email", &[("email", "Alice@Example.com")])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let mut socket = alice.socket("/ws").await;

    let visitor = app.visitor();
    let login = visitor.page("/login").await;
    assert_eq!(
        login.attr("#forgot-password", "href").as_deref(),
        Some("/password/forgot")
    );
    assert!(visitor.page("/password/forgot").await.has("form#forgot"));
    let resp = ask_for_link(&visitor, "alice").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(Page::read(resp).await.has("#reset-requested"));
    let mails = smtp.wait_for_mails(1).await;
    assert!(mails[0].contains("alice@example.com"), "{}", mails[0]);
    let path = reset_path(&mails[0]);

    // Opening the link uses nothing up; a weak password is refused and changes nothing.
    let form = visitor.page(&path).await;
    assert!(form.has("form#reset"));
    let resp = visitor
        .post_form(&path, &[("new_password", "password")])
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(Page::read(resp).await.has(".form-error"));
    assert!(
        alice.is_signed_in().await,
        "a refused password ended nothing"
    );

    let resp = visitor
        .post_form(&path, &[("new_password", NEW_PASSWORD)])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(
        visitor.is_signed_in().await,
        "the new password logs this browser in"
    );
    assert!(!alice.is_signed_in().await, "the other sessions ended");
    crate::people::closed(&mut socket, "alice's socket").await;
    assert_eq!(
        app.visitor().login("alice", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.visitor().login("alice", NEW_PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );

    // The link worked once.
    let stranger = app.visitor();
    let resp = stranger.get(&path).await;
    assert_eq!(resp.status(), StatusCode::GONE);
    assert!(Page::read(resp).await.has("#reset-gone"));
    let resp = stranger
        .post_form(&path, &[("new_password", "another-good-one-55")])
        .await;
    assert_eq!(resp.status(), StatusCode::GONE);
    assert_eq!(
        app.visitor().login("alice", NEW_PASSWORD).await.status(),
        StatusCode::SEE_OTHER,
        "a used link changes nothing"
    );
}

#[tokio::test]
#[ignore = "needs aiosmtpd, an SMTP server (.ci/run installs it)"]
async fn an_unknown_account_gets_the_same_answer_and_no_mail() {
    let smtp = SmtpServer::start().await;
    let app = app_with_smtp(&smtp).await;
    let alice = app.member("alice").await;
    alice
        .post_form("/settings/email", &[("email", "alice@example.com")])
        .await;
    app.member("bob").await; // no email address

    let visitor = app.visitor();
    let mut answers = Vec::new();
    for account in [
        "nobody",
        "nobody@example.com",
        "bob",
        "not even a name!",
        "alice@example.com",
    ] {
        let resp = ask_for_link(&visitor, account).await;
        assert_eq!(resp.status(), StatusCode::OK, "{account}");
        answers.push(Page::read(resp).await.text_of("#reset-requested"));
    }
    assert!(
        answers.iter().all(|a| a.is_some() && *a == answers[0]),
        "{answers:?}"
    );
    // Alice's mail is the last asked for, and the only one that comes.
    let mails = smtp.wait_for_mails(1).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0].contains("alice@example.com"));
    assert_eq!(app.rows("password_resets").await, 1);
}

#[tokio::test]
#[ignore = "needs aiosmtpd, an SMTP server (.ci/run installs it)"]
async fn an_expired_link_shows_why_and_changes_nothing() {
    let smtp = SmtpServer::start().await;
    let app = app_with_smtp(&smtp).await;
    let alice = app.member("alice").await;
    alice
        .post_form("/settings/email", &[("email", "alice@example.com")])
        .await;
    let visitor = app.visitor();
    assert_eq!(
        ask_for_link(&visitor, "alice").await.status(),
        StatusCode::OK
    );
    let path = reset_path(&smtp.wait_for_mails(1).await[0]);
    // An hour later, as the database sees it.
    let db = &app.state.db;
    db.execute_unprepared("UPDATE password_resets SET expires_at = expires_at - 3600001")
        .await
        .expect("the link aged");

    let resp = visitor.get(&path).await;
    assert_eq!(resp.status(), StatusCode::GONE);
    let resp = visitor
        .post_form(&path, &[("new_password", NEW_PASSWORD)])
        .await;
    assert_eq!(resp.status(), StatusCode::GONE);
    assert!(!visitor.is_signed_in().await);
    assert!(alice.is_signed_in().await);
    assert_eq!(
        app.visitor().login("alice", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    // A wrong token is the same page.
    let resp = visitor.get("/password/reset/not-a-token").await;
    assert_eq!(resp.status(), StatusCode::GONE);
}

#[tokio::test]
async fn without_smtp_there_is_no_forgot_link_and_no_reset_pages() {
    let app = TestApp::spawn().await;
    let visitor = app.visitor();
    assert!(!visitor.page("/login").await.has("#forgot-password"));
    assert_eq!(
        visitor.get("/password/forgot").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        ask_for_link(&visitor, "alice").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn an_unreachable_smtp_server_is_told_plainly_and_requests_are_limited_per_address() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let app = TestApp::builder()
        .configure(move |c| c.mail.smtp_url = Some(format!("smtp://127.0.0.1:{port}")))
        .spawn()
        .await;
    let alice = app.member("alice").await;
    alice
        .post_form("/settings/email", &[("email", "alice@example.com")])
        .await;
    let visitor = app.visitor();
    for _ in 0..5 {
        let resp = ask_for_link(&visitor, "alice").await;
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        let error = Page::read(resp)
            .await
            .text_of(".form-error")
            .unwrap_or_default();
        assert!(error.contains("cannot send email"), "{error}");
    }
    let resp = ask_for_link(&visitor, "nobody").await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(app.rows("password_resets").await, 0);
}

#[tokio::test]
async fn an_email_address_is_checked_and_belongs_to_one_account() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    for wrong in ["alice", "alice@", "alice@localhost", "a b@example.com"] {
        let resp = alice
            .post_form("/settings/email", &[("email", wrong)])
            .await;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY, "{wrong}");
    }
    let resp = alice
        .post_form("/settings/email", &[("email", "alice@example.com")])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        alice
            .page("/settings")
            .await
            .attr("#email", "value")
            .as_deref(),
        Some("alice@example.com")
    );
    let resp = bob
        .post_form("/settings/email", &[("email", "ALICE@example.com")])
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        bob.page("/settings")
            .await
            .attr("#email", "value")
            .as_deref(),
        Some("")
    );
    // Empty removes it, and frees it.
    let resp = alice.post_form("/settings/email", &[("email", "")]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let resp = bob
        .post_form("/settings/email", &[("email", "alice@example.com")])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
}
