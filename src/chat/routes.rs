//! `POST /conversations/{id}/messages`: the composer's action, for rooms and private
//! chats alike. It takes a plain form, or `multipart/form-data` with files
//! ([`crate::files::upload`]); either way the message goes through [`Chat::post_with_files`].
use std::sync::Arc;

use poem::{
    Body, FromRequest, IntoResponse, Request, RequestBody, Response, handler,
    http::StatusCode,
    web::{Data, Form, Path, Redirect},
};
use serde::Deserialize;

use super::{Chat, MessageBody, views};
use crate::{
    config::Config,
    error::AppError,
    files::{
        Attachment,
        upload::{self, Composed, UploadError},
    },
    web::{Viewer, is_htmx},
};

#[derive(Debug, Deserialize)]
pub struct ComposerForm {
    #[serde(default)]
    body: String,
    /// The message this one answers (empty: none).
    #[serde(default)]
    reply_to: String,
}

#[handler]
pub async fn post_message(
    req: &Request,
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Data(config): Data<&Arc<Config>>,
    Path(conversation_id): Path<i64>,
    body: Body,
) -> Result<Response, AppError> {
    let conversation = super::access::open(&chat.db, &viewer, conversation_id).await?;
    let htmx = is_htmx(req);
    // A refusal answers in the composer: its error line for htmx, the whole page with
    // the draft kept for a plain form post.
    let refuse =
        async |status: StatusCode, message: String, draft: &str| -> Result<Response, AppError> {
            let mut resp = if htmx {
                views::composer_error(Some(&message), true).into_response()
            } else {
                let draft = Some((message, draft.to_owned()));
                super::page::render(chat, &viewer, &conversation, &Default::default(), draft)
                    .await?
                    .into_response()
            };
            resp.set_status(status);
            Ok(resp)
        };
    let mut form = if upload::is_multipart(req) {
        match upload::read(req, body, &chat.files.settings, config.http.body_timeout).await {
            Ok(form) => form,
            Err(UploadError::Csrf) => return Err(AppError::CsrfRejected),
            Err(e) => {
                if e.status().is_server_error() {
                    tracing::error!(error = %e, "an upload failed");
                }
                return refuse(e.status(), e.message(), "").await;
            }
        }
    } else {
        let Form(form) = Form::<ComposerForm>::from_request(req, &mut RequestBody::new(body))
            .await
            .map_err(|_| AppError::Refused("That form could not be read."))?;
        Composed {
            body: form.body,
            reply_to: form.reply_to,
            files: Vec::new(),
        }
    };
    let parsed = match form.files.is_empty() {
        true => MessageBody::parse(&form.body),
        false => MessageBody::parse_beside_files(&form.body),
    };
    let body = match parsed {
        Ok(body) => body,
        Err(refusal) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return refuse(status, refusal.to_string(), &form.body).await;
        }
    };
    let reply_to = match form.reply_to.trim() {
        "" => None,
        id => match id.parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) => {
                let why = "You can only reply to a message of this conversation.";
                return refuse(StatusCode::UNPROCESSABLE_ENTITY, why.to_owned(), &form.body).await;
            }
        },
    };
    // Blobs first, under their hashes; the rows that name them commit with the message.
    let kept = chat.files.keep(&chat.db, &mut form.files).await;
    let attachments: Vec<Attachment> = form
        .files
        .iter()
        .enumerate()
        .map(|(position, file)| Attachment {
            message_id: 0,
            position: i32::try_from(position).unwrap_or(i32::MAX),
            name: file.name.as_str().to_owned(),
            content_type: file.content_type.clone(),
            size: i64::try_from(file.size).unwrap_or(i64::MAX),
            hash: file.hash.clone(),
            width: file
                .image
                .as_ref()
                .and_then(|i| i32::try_from(i.width).ok()),
            height: file
                .image
                .as_ref()
                .and_then(|i| i32::try_from(i.height).ok()),
            thumbnail: file.image.as_ref().and_then(|i| {
                let t = i.thumbnail.as_ref()?;
                Some((i32::try_from(t.width).ok()?, i32::try_from(t.height).ok()?))
            }),
        })
        .collect();
    let hashes: Vec<String> = attachments.iter().map(|a| a.hash.clone()).collect();
    let posted = match kept.map_err(AppError::from) {
        Ok(()) => {
            let posted = chat
                .post_with_files(
                    &conversation,
                    viewer.id,
                    &viewer.username,
                    body,
                    reply_to,
                    attachments,
                )
                .await;
            if posted.is_err() && !hashes.is_empty() {
                chat.files.release(&chat.db, hashes).await;
            }
            posted
        }
        Err(e) => Err(e),
    };
    let posted = match posted {
        Ok(posted) => posted,
        // The composer shows what went wrong in its error line: always for htmx, and
        // for a plain post that was too fast or refused (the page keeps the draft).
        Err(e)
            if htmx
                || matches!(
                    e,
                    AppError::TooManyRequests(_) | AppError::Refused(_) | AppError::Storage(_)
                ) =>
        {
            let status = poem::error::ResponseError::status(&e);
            if status.is_server_error() {
                tracing::error!(error = %e, "posting failed");
            }
            let mut resp = refuse(status, e.message(), &form.body).await?;
            let wait = match &e {
                AppError::TooManyRequests(wait) => Some(wait.seconds()),
                _ if status == StatusCode::SERVICE_UNAVAILABLE => Some(5),
                _ => None,
            };
            if let Some(wait) = wait {
                if let Ok(value) = poem::http::HeaderValue::from_str(&wait.to_string()) {
                    resp.headers_mut()
                        .insert(poem::http::header::RETRY_AFTER, value);
                }
            }
            return Ok(resp);
        }
        Err(e) => return Err(e),
    };
    if htmx {
        // The socket brings the message, in order; this refreshes it where it is.
        let fragment = maud::html! {
            (views::refreshed(&posted.message))
            (views::composer_error(None, true))
        };
        Ok(fragment.into_response())
    } else {
        let url = super::access::url_for(&chat.db, &conversation, &viewer).await?;
        Ok(Redirect::see_other(url).into_response())
    }
}
