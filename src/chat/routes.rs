//! `POST /conversations/{id}/messages`: the composer's action, for rooms and private
//! chats alike.
use std::sync::Arc;

use poem::{
    IntoResponse, Request, Response, handler,
    http::StatusCode,
    web::{Data, Form, Path, Redirect},
};
use serde::Deserialize;

use super::{Chat, MessageBody, views};
use crate::{
    error::AppError,
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
    Path(conversation_id): Path<i64>,
    Form(form): Form<ComposerForm>,
) -> Result<Response, AppError> {
    let conversation = super::access::open(&chat.db, &viewer, conversation_id).await?;
    let htmx = is_htmx(req);
    // A refusal answers in the composer: its error line for htmx, the whole page with
    // the draft kept for a plain form post.
    let refuse = async |status: StatusCode, message: String| -> Result<Response, AppError> {
        let mut resp = if htmx {
            views::composer_error(Some(&message), true).into_response()
        } else {
            let draft = Some((message, form.body.clone()));
            super::page::render(chat, &viewer, &conversation, &Default::default(), draft)
                .await?
                .into_response()
        };
        resp.set_status(status);
        Ok(resp)
    };
    let body = match MessageBody::parse(&form.body) {
        Ok(body) => body,
        Err(refusal) => return refuse(StatusCode::UNPROCESSABLE_ENTITY, refusal.to_string()).await,
    };
    let reply_to = match form.reply_to.trim() {
        "" => None,
        id => match id.parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) => {
                let why = "You can only reply to a message of this conversation.";
                return refuse(StatusCode::UNPROCESSABLE_ENTITY, why.to_owned()).await;
            }
        },
    };
    let posted = match chat
        .post(&conversation, viewer.id, &viewer.username, body, reply_to)
        .await
    {
        Ok(posted) => posted,
        // The composer shows what went wrong in its error line: always for htmx, and
        // for a plain post that was too fast or refused (the page keeps the draft).
        Err(e) if htmx || matches!(e, AppError::TooManyRequests(_) | AppError::Refused(_)) => {
            let status = poem::error::ResponseError::status(&e);
            if status.is_server_error() {
                tracing::error!(error = %e, "posting failed");
            }
            let mut resp = refuse(status, e.message()).await?;
            if let AppError::TooManyRequests(wait) = e {
                if let Ok(value) = poem::http::HeaderValue::from_str(&wait.seconds().to_string()) {
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
