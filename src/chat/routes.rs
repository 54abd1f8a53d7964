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
    files::upload::{self, Composed, UploadError},
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
    let posted = chat
        .post_received(
            &conversation,
            viewer.id,
            &viewer.username,
            body,
            reply_to,
            &mut form.files,
        )
        .await;
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
