//! A person's avatar: `POST /settings/avatar` (a `multipart/form-data` form with one
//! `file` and `csrf_token`, so it works without script), `POST /settings/avatar/remove`,
//! and `GET /avatars/{hash}`, the picture itself. Where a person has none, pages show
//! the letter avatar, as before one is chosen.
//!
//! The upload is read by the composer's reader ([`crate::files::upload`]: streamed to
//! a temporary file, size-limited, typed by its content, measured before decoding so
//! an image bomb is refused), then made into a small square PNG by
//! [`crate::files::images::avatar`] (re-encoded from the pixels, so no EXIF survives),
//! and kept in file storage under the SHA-256 of that PNG ([`key`]). A refused upload
//! changes nothing: the account's avatar is only replaced once the new one is stored.
//!
//! Who may see an avatar: anyone signed in, and nobody else (404). Avatars show beside
//! messages in every room a person posts in and on their profile, which every signed-in
//! person may open, so tying them to a conversation would guard nothing; keeping them
//! from anonymous visitors keeps the site's people unlisted to the outside, as the
//! profile pages are. The URL is named by the picture's hash, so it never changes
//! under a cache and a changed avatar is a new URL.
use std::sync::Arc;

use futures_util::TryStreamExt;
use maud::{Markup, html};
use poem::{
    Body, IntoResponse, Request, Response, handler,
    http::{StatusCode, header},
    web::{Data, Path, Redirect},
};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter};
use sha2::{Digest, Sha256};

use super::settings;
use crate::{
    chat::Chat,
    config::Config,
    entities::user,
    error::AppError,
    files::{
        FileSettings, Files,
        images::{self, ImageError},
        kind::Shown,
        upload::{self as form_reader, UploadError},
    },
    web::{
        Viewer,
        session::{Sessions, viewer_of},
    },
};

/// The largest picture taken to make an avatar from.
pub const MAX_BYTES: u64 = 5 * 1024 * 1024;

/// Where the avatar whose PNG has SHA-256 `hash` is kept. Not under `files/`, whose
/// sweep removes what no message names.
pub fn key(hash: &str) -> String {
    format!("avatars/{hash}")
}

/// The URL of that avatar.
pub fn url(hash: &str) -> String {
    format!("/avatars/{hash}")
}

/// A person's avatar as pages show it: the picture, or nothing where they have none
/// (the page's script then draws the letter avatar).
pub fn picture(hash: Option<&str>) -> Markup {
    html! {
        @if let Some(hash) = hash {
            img.avatar.avatar-picture src=(url(hash)) alt="" aria-hidden="true" width="128" height="128" loading="lazy";
        }
    }
}

fn avatar_upload_settings() -> FileSettings {
    FileSettings {
        url: None,
        max_file_bytes: MAX_BYTES,
        max_message_bytes: MAX_BYTES,
        max_files: 1,
    }
}

/// Why an avatar upload was refused, in words.
fn refusal(e: &UploadError) -> String {
    match e {
        UploadError::TooLarge(_) => format!(
            "An avatar can be made from a picture of at most {} MB.",
            MAX_BYTES / (1024 * 1024)
        ),
        other => other.message(),
    }
}

#[handler]
pub async fn upload(
    req: &Request,
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Data(sessions): Data<&Arc<Sessions>>,
    Data(config): Data<&Arc<Config>>,
    body: Body,
) -> Result<Response, AppError> {
    let refuse = async |status: StatusCode, why: &str| -> Result<Response, AppError> {
        let page = settings::render(chat, sessions, &viewer, None, Some(why), None).await?;
        Ok(settings::with_status(page, status))
    };
    const NOT_A_PICTURE: &str =
        "That file is not a picture hearth can read: choose a PNG, JPEG, WebP or GIF.";
    if !form_reader::is_multipart(req) {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Choose a picture to upload.",
        )
        .await;
    }
    let settings = avatar_upload_settings();
    let mut form = match form_reader::read(req, body, &settings, config.http.body_timeout).await {
        Ok(form) => form,
        Err(UploadError::Csrf) => return Err(AppError::CsrfRejected),
        Err(e) => {
            if e.status().is_server_error() {
                tracing::error!(error = %e, "an avatar upload failed");
            }
            return refuse(e.status(), &refusal(&e)).await;
        }
    };
    let Some(file) = form.files.pop() else {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Choose a picture to upload.",
        )
        .await;
    };
    // The content decided the type; a file that only claimed to be a picture (an HTML
    // page called `me.png`) or did not decode as one has no measurements.
    let picture = matches!(
        Shown::of(&file.content_type),
        Shown::Image | Shown::Animation
    ) && file.image.is_some();
    if !picture {
        return refuse(StatusCode::UNPROCESSABLE_ENTITY, NOT_A_PICTURE).await;
    }
    let copy = file
        .file
        .try_clone()
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .into_std()
        .await;
    let content_type = file.content_type.clone();
    let made = tokio::task::spawn_blocking(move || images::avatar(copy, &content_type))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let avatar = match made {
        Ok(avatar) => avatar,
        Err(ImageError::TooBig(..)) => {
            let why = format!(
                "That picture is too big to read: pictures can be at most {} megapixels.",
                images::MAX_PIXELS / 1_000_000
            );
            return refuse(StatusCode::UNPROCESSABLE_ENTITY, &why).await;
        }
        Err(ImageError::Unreadable(_)) => {
            return refuse(StatusCode::UNPROCESSABLE_ENTITY, NOT_A_PICTURE).await;
        }
    };
    let hash = hex::encode(Sha256::digest(&avatar.bytes));
    chat.files
        .storage
        .put_bytes(&key(&hash), avatar.bytes)
        .await?;
    let before = replace(&chat.db, viewer.id, Some(&hash)).await?;
    release(&chat.db, &chat.files, before).await;
    chat.histories.forget_all();
    tracing::info!(user_id = viewer.id, "avatar set");
    Ok(Redirect::see_other("/settings?done=avatar").into_response())
}

#[handler]
pub async fn remove(viewer: Viewer, Data(chat): Data<&Arc<Chat>>) -> Result<Response, AppError> {
    let before = replace(&chat.db, viewer.id, None).await?;
    release(&chat.db, &chat.files, before).await;
    chat.histories.forget_all();
    Ok(Redirect::see_other("/settings?done=avatar-removed").into_response())
}

/// Sets `user_id`'s avatar to `hash`; answers the one it had.
async fn replace(
    db: &DatabaseConnection,
    user_id: i64,
    hash: Option<&str>,
) -> Result<Option<String>, DbErr> {
    let before = user::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .and_then(|u| u.avatar);
    user::Entity::update_many()
        .col_expr(user::Column::Avatar, hash.map(str::to_owned).into())
        .filter(user::Column::Id.eq(user_id))
        .exec(db)
        .await?;
    Ok(before.filter(|b| Some(b.as_str()) != hash))
}

/// Removes the avatar `hash` from storage when nobody has it any more (two people
/// may have chosen the same picture). A failure leaves the blob behind, logged.
pub async fn release(db: &DatabaseConnection, files: &Files, hash: Option<String>) {
    let Some(hash) = hash else { return };
    let users = user::Entity::find()
        .filter(user::Column::Avatar.eq(hash.as_str()))
        .count(db)
        .await;
    match users {
        Ok(0) => {
            if let Err(e) = files.storage.delete(&key(&hash)).await {
                tracing::warn!(error = %e, "could not remove an unused avatar");
            }
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "could not tell whether an avatar is used"),
    }
}

/// `GET /avatars/{hash}`: to anyone signed in, while someone has that avatar.
#[handler]
pub async fn serve(
    req: &Request,
    Data(db): Data<&DatabaseConnection>,
    Data(files): Data<&Arc<Files>>,
    Path(hash): Path<String>,
) -> Result<Response, AppError> {
    viewer_of(req).await?.ok_or(AppError::NotFound)?;
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::NotFound);
    }
    let used = user::Entity::find()
        .filter(user::Column::Avatar.eq(hash.as_str()))
        .count(db)
        .await?;
    if used == 0 {
        return Err(AppError::NotFound);
    }
    let etag = format!("\"{}\"", &hash[..32]);
    if req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        return Ok(with_headers(
            Response::builder()
                .status(StatusCode::NOT_MODIFIED)
                .finish(),
            &etag,
        ));
    }
    let Some((size, stream)) = files.storage.get(&key(&hash), None).await? else {
        tracing::warn!(%hash, "an avatar is missing from storage");
        return Err(AppError::NotFound);
    };
    let resp = Response::builder()
        .content_type("image/png")
        .header(header::CONTENT_LENGTH, size)
        .body(Body::from_bytes_stream(
            stream.map_err(|e| std::io::Error::other(e.to_string())),
        ));
    Ok(with_headers(resp, &etag))
}

/// The headers of every avatar answer: a PNG made by hearth, never sniffed as
/// anything else, kept by the browser (never a shared cache: only signed-in people
/// may see it) for as long as it likes, since the bytes at a URL never change.
fn with_headers(resp: Response, etag: &str) -> Response {
    crate::files::routes::private_immutable(resp, etag, "sandbox; default-src 'none'")
}
