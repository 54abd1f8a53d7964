//! Deleting one's own account: it needs the password, ends every session and socket,
//! keeps the messages as by "Deleted user", frees the name, and the last administrator
//! cannot do it.
use reqwest::StatusCode;

use crate::helpers::*;
use crate::people::closed;

const PASSWORD: &str = "tulip-harbor-42";

#[tokio::test]
async fn a_deleted_account_keeps_its_messages_as_by_deleted_user_and_cannot_log_in() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await; // the administrator
    let bob = app.member("bob").await;
    let bobs_phone = app.visitor();
    assert_eq!(
        bobs_phone.login("bob", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    bob.post_form("/settings/email", &[("email", "bob@example.com")])
        .await;
    let room = alice.create_room("general").await;
    let id = bob.conversation_id(&room).await;
    let message = bob.post_message(id, "something worth keeping").await;
    let mut socket = bob.socket(&format!("/ws?conversation={id}")).await;
    let mut phone = bobs_phone.socket("/ws").await;

    // A wrong password deletes nothing.
    let resp = bob
        .post_form(
            "/settings/delete",
            &[("current_password", "not-my-password-1")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bob.is_signed_in().await);
    assert_eq!(alice.page("/users/bob").await.status, StatusCode::OK);

    let resp = bob
        .post_form("/settings/delete", &[("current_password", PASSWORD)])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/login");
    closed(&mut socket, "the room's socket").await;
    closed(&mut phone, "the other browser's socket").await;
    assert!(!bob.is_signed_in().await);
    assert!(!bobs_phone.is_signed_in().await);
    assert_eq!(
        app.visitor().login("bob", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // The message stays, by "Deleted user"; nothing of bob is shown any more.
    let page = alice.page(&room).await;
    let selector = format!("#message-{message}");
    assert_eq!(
        page.text_of(&format!("{selector} .author")).as_deref(),
        Some("Deleted user")
    );
    assert!(
        page.text_of(&format!("{selector} .message-body"))
            .is_some_and(|t| t.contains("something worth keeping"))
    );
    assert_eq!(
        alice.get("/users/bob").await.status(),
        StatusCode::NOT_FOUND
    );
    let people = alice.page("/users?q=").await;
    assert!(
        !people
            .texts("#people .person")
            .iter()
            .any(|p| p.contains("bob") || p.contains("Deleted"))
    );
    assert_eq!(app.rows("memberships WHERE user_id = 2").await, 0);
}

#[tokio::test]
async fn a_deleted_name_can_be_signed_up_again_by_someone_new() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let room = alice.create_room("general").await;
    let id = bob.conversation_id(&room).await;
    let old = bob.post_message(id, "the first bob").await;
    bob.post_form("/settings/delete", &[("current_password", PASSWORD)])
        .await;

    let new_bob = app.visitor();
    assert_eq!(
        new_bob.signup("Bob", "another-bob-pass-31").await.status(),
        StatusCode::SEE_OTHER
    );
    let mine = new_bob.post_message(id, "a new bob").await;
    let page = alice.page(&room).await;
    assert_eq!(
        page.text_of(&format!("#message-{old} .author")).as_deref(),
        Some("Deleted user")
    );
    assert_eq!(
        page.text_of(&format!("#message-{mine} .author")).as_deref(),
        Some("Bob")
    );
    assert_ne!(
        page.attr(&format!("#message-{old}"), "data-author-id"),
        page.attr(&format!("#message-{mine}"), "data-author-id"),
        "the new bob is not the old one"
    );
}

#[tokio::test]
async fn the_last_administrator_cannot_delete_their_account() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let resp = alice
        .post_form("/settings/delete", &[("current_password", PASSWORD)])
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = Page::read(resp).await;
    assert!(
        page.text_of(".form-error")
            .is_some_and(|e| e.contains("last administrator"))
    );
    assert!(alice.is_signed_in().await);

    // With another administrator, she can.
    app.member("bob").await;
    let resp = alice
        .post_form("/admin/users/bob/role", &[("role", "admin")])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let resp = alice
        .post_form("/settings/delete", &[("current_password", PASSWORD)])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(!alice.is_signed_in().await);
}
