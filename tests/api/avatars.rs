//! Avatars: a person uploads one in their settings (a plain multipart form), it shows
//! on their profile, in their settings and beside their messages, and it can be
//! removed; a file that is not a picture, is too big or is an image bomb changes
//! nothing.
use reqwest::StatusCode;

use crate::files::{jpeg_with_exif, png, png_bomb};
use crate::helpers::*;

/// Posts `bytes` as the avatar form does: the CSRF token, then one `file`.
async fn upload_avatar(
    visitor: &Visitor,
    name: &str,
    claimed: &str,
    bytes: Vec<u8>,
) -> reqwest::Response {
    let token = visitor.csrf_token().await;
    let part = reqwest::multipart::Part::bytes(bytes)
        .file_name(name.to_owned())
        .mime_str(claimed)
        .expect("a mime type");
    let form = reqwest::multipart::Form::new()
        .text("csrf_token", token)
        .part("file", part);
    visitor
        .http
        .post(visitor.url("/settings/avatar"))
        .multipart(form)
        .send()
        .await
        .expect("POST /settings/avatar")
}

/// The avatar picture's URL on `page`, if it shows one at `css`.
fn avatar_src(page: &Page, css: &str) -> Option<String> {
    page.attr(&format!("{css} img.avatar-picture"), "src")
}

#[tokio::test]
async fn an_uploaded_avatar_shows_on_the_profile_the_settings_and_beside_messages() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let room = alice.create_room("general").await;
    let id = alice.conversation_id(&room).await;
    let before = alice.post_message(id, "before the avatar").await;

    let resp = upload_avatar(&alice, "me.jpg", "image/jpeg", jpeg_with_exif(900, 600, 6)).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/settings?done=avatar");
    let settings = alice.page("/settings").await;
    let src = avatar_src(&settings, "#avatar-setting").expect("the settings show the avatar");
    assert!(src.starts_with("/avatars/"), "{src}");
    assert_eq!(
        avatar_src(&bob.page("/users/alice").await, "#profile"),
        Some(src.clone())
    );

    // Beside her messages, old and new, where the letter avatar was; not beside bob's.
    let after = alice.post_message(id, "after the avatar").await;
    let bobs = bob.post_message(id, "no picture here").await;
    let page = bob.page(&room).await;
    for message in [before, after] {
        assert_eq!(
            avatar_src(&page, &format!("#message-{message}")),
            Some(src.clone())
        );
    }
    assert_eq!(avatar_src(&page, &format!("#message-{bobs}")), None);

    // The picture: a small square PNG, nothing of the photo's EXIF left in it.
    let picture = bob.get(&src).await;
    assert_eq!(picture.status(), StatusCode::OK);
    assert_eq!(
        picture
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("image/png")
    );
    let bytes = picture.bytes().await.expect("the avatar's bytes");
    assert!(
        !bytes.windows(9).any(|w| w == b"SECRETCAM"),
        "the EXIF survived"
    );
    let shown = image::load_from_memory(&bytes).expect("a picture");
    assert_eq!((shown.width(), shown.height()), (128, 128));

    // Signed-in people only.
    assert_eq!(
        app.visitor().get(&src).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_removed_avatar_leaves_the_letter_avatar_and_is_no_longer_served() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let room = alice.create_room("general").await;
    let id = alice.conversation_id(&room).await;
    let message = alice.post_message(id, "hello").await;
    let resp = upload_avatar(&alice, "me.png", "image/png", png(300, 200)).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let src = avatar_src(&alice.page("/settings").await, "#avatar-setting").expect("an avatar");
    assert_eq!(alice.get(&src).await.status(), StatusCode::OK);

    let resp = alice.post_form("/settings/avatar/remove", &[]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let settings = alice.page("/settings").await;
    assert!(settings.has("#no-avatar"));
    assert_eq!(avatar_src(&settings, "#avatar-setting"), None);
    assert!(!settings.has("#avatar-remove"), "nothing left to remove");
    assert_eq!(
        avatar_src(&alice.page(&room).await, &format!("#message-{message}")),
        None
    );
    let profile = alice.page("/users/alice").await;
    assert_eq!(profile.text_of("#profile .avatar").as_deref(), Some("A"));
    assert_eq!(alice.get(&src).await.status(), StatusCode::NOT_FOUND);
    assert!(
        !app.files_dir()
            .join("avatars")
            .read_dir()
            .map(|mut d| d.next().is_some())
            .unwrap_or(false),
        "the picture is gone from storage"
    );
}

#[tokio::test]
async fn a_file_that_is_not_a_picture_too_big_or_a_bomb_changes_no_avatar() {
    let app = TestApp::spawn().await;
    let alice = app.member("alice").await;
    let resp = upload_avatar(&alice, "me.png", "image/png", png(64, 64)).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let kept = avatar_src(&alice.page("/settings").await, "#avatar-setting").expect("an avatar");

    let html = b"<html><body><script>alert(1)</script></body></html>".to_vec();
    let mut big = png(16, 16);
    big.resize(5 * 1024 * 1024 + 512 * 1024, 0);
    let cases: [(&str, &str, Vec<u8>, StatusCode, &str); 5] = [
        (
            "page.png",
            "image/png",
            html,
            StatusCode::UNPROCESSABLE_ENTITY,
            "not a picture",
        ),
        (
            "notes.txt",
            "text/plain",
            b"just words".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "not a picture",
        ),
        (
            "broken.png",
            "image/png",
            b"\x89PNG\r\n\x1a\nnot really".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "not a picture",
        ),
        (
            "bomb.png",
            "image/png",
            png_bomb(60_000, 60_000),
            StatusCode::UNPROCESSABLE_ENTITY,
            "megapixels",
        ),
        (
            "huge.png",
            "image/png",
            big,
            StatusCode::PAYLOAD_TOO_LARGE,
            "at most 5 MB",
        ),
    ];
    for (name, claimed, bytes, status, words) in cases {
        let resp = upload_avatar(&alice, name, claimed, bytes).await;
        assert_eq!(resp.status(), status, "{name}");
        let page = Page::read(resp).await;
        let error = page.text_of(".form-error").unwrap_or_default();
        assert!(error.contains(words), "{name}: {error}");
        assert_eq!(
            avatar_src(&alice.page("/settings").await, "#avatar-setting").as_deref(),
            Some(kept.as_str()),
            "{name} changed the avatar"
        );
    }
    let stored = app
        .files_dir()
        .join("avatars")
        .read_dir()
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(stored, 1, "only the one avatar is stored");

    // A form from elsewhere, without the token, changes nothing either.
    let part = reqwest::multipart::Part::bytes(png(32, 32)).file_name("x.png");
    let resp = alice
        .http
        .post(alice.url("/settings/avatar"))
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        avatar_src(&alice.page("/settings").await, "#avatar-setting").as_deref(),
        Some(kept.as_str())
    );
}
