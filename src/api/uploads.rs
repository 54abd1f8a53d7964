//! `POST /conversations/{id}/files`: a message with files, as `multipart/form-data`
//! (`file`, once per file; optional `body` and `reply_to`), through the composer's own
//! reader ([`crate::files::upload`]): each file streamed to a temporary file while it
//! is hashed and counted, the size limits answered before storage, the type decided by
//! the content, and the message posted with them by [`Chat::post_received`].
//!
//! The request is served by [`upload`], a plain endpoint mounted beside the OpenAPI
//! service and outside its body limit (the service's operation of the same path only
//! describes it in the document): the service reads every body whole, and a file must
//! never be.
use std::sync::Arc;

use poem::{
    Body, IntoResponse, Request, Response, handler,
    http::{HeaderValue, Method, StatusCode, header},
    web::Data,
};
use poem_openapi::{
    ApiResponse, Multipart, OpenApi, param::Path, payload::Json, types::multipart::Upload,
};

use super::{Tag, auth::Token, models::Message, problem::ApiError};
use crate::{
    chat::{BodyError, Chat, MessageBody},
    config::Config,
    files::upload::{self as reader, UploadError},
    web::session::CsrfToCheck,
};

/// A message with files, as the form sends it.
#[derive(Debug, Multipart)]
pub struct NewFilesMessage {
    /// The files, one `file` part each (at most the server's files per message, each
    /// and all together under its size limits).
    pub file: Vec<Upload>,
    /// Text beside the files, under the posting rules; may be empty.
    pub body: Option<String>,
    /// The message of this conversation it answers.
    pub reply_to: Option<i64>,
}

/// The answer to a post with files.
#[derive(ApiResponse)]
pub enum Posted {
    /// The message and its files were stored and delivered.
    #[oai(status = 201)]
    Created(Json<Message>, #[oai(header = "Location")] String),
}

pub struct Uploads;

#[OpenApi(prefix_path = "/conversations", tag = "Tag::Conversations")]
impl Uploads {
    /// Post a message with files
    ///
    /// `multipart/form-data` with one `file` part per file and an optional `body`. The
    /// files are checked as the composer's are (size limits, at most so many, the
    /// type read from the content), stored once per content, and shown with the
    /// message on every open page of the conversation.
    #[oai(path = "/:id/files", method = "post", operation_id = "postFiles")]
    async fn post_files(
        &self,
        _token: Token,
        /// The conversation's id.
        id: Path<i64>,
        _form: NewFilesMessage,
    ) -> Result<Posted, ApiError> {
        // Never reached: `upload` serves this path, streaming (see the module's note).
        let _ = id;
        Err(ApiError::not_found())
    }
}

/// Serves `/conversations/{id}/files`: a POST, and a 405 naming it for any other
/// method.
#[handler]
pub async fn upload(
    req: &Request,
    Data(chat): Data<&Arc<Chat>>,
    Data(config): Data<&Arc<Config>>,
    poem::web::Path(id): poem::web::Path<String>,
    body: Body,
) -> Response {
    if req.method() != Method::POST {
        let mut resp = super::problem::problem_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "This path takes POST; see /api/v1/docs.".to_owned(),
        );
        resp.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return resp;
    }
    match post(req, chat, config, &id, body).await {
        Ok(posted) => posted.into_response(),
        Err(e) => super::problem::with_challenge(e.into_response()),
    }
}

async fn post(
    req: &Request,
    chat: &Chat,
    config: &Config,
    id: &str,
    body: Body,
) -> Result<Posted, ApiError> {
    let holder = super::auth::bearer_holder(req).await?;
    let id: i64 = id.parse().map_err(|_| {
        ApiError::bad_request("bad_parameter", "The conversation's id is a number.")
    })?;
    let conversation = super::auth::open(&chat.db, &holder, id).await?;
    if !reader::is_multipart(req) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_content_type",
            "Send the files as `Content-Type: multipart/form-data`, one `file` part each.",
        ));
    }
    // A bearer token, not a cookie, authenticates this request: there is no forged
    // cross-site form to guard against.
    let read = reader::read_checked(
        req,
        body,
        &chat.files.settings,
        config.http.body_timeout,
        Some(CsrfToCheck::Checked),
    )
    .await;
    let mut form = read.map_err(|e| {
        if e.status().is_server_error() {
            tracing::error!(error = %e, "an API upload failed");
        }
        let code = match &e {
            UploadError::TooLarge(_) => "too_large",
            UploadError::Refused(_) => "file_refused",
            UploadError::TimedOut => "body_timed_out",
            UploadError::Malformed(_) => "malformed_form",
            UploadError::Csrf | UploadError::Io(_) => "internal",
        };
        ApiError::new(e.status(), code, e.message())
    })?;
    if form.files.is_empty() {
        return Err(ApiError::unprocessable(
            "no_files",
            "Send at least one `file` part (to post text alone, use /messages).",
        ));
    }
    let body = MessageBody::parse_beside_files(&form.body).map_err(|refusal| {
        let code = match refusal {
            BodyError::Empty => "body_empty",
            BodyError::TooLong(_) => "body_too_long",
        };
        ApiError::unprocessable(code, refusal.to_string())
    })?;
    let reply_to = match form.reply_to.trim() {
        "" => None,
        raw => Some(raw.parse::<i64>().map_err(|_| {
            ApiError::unprocessable("bad_reply_to", "`reply_to` is a message's id.")
        })?),
    };
    let posted = chat
        .post_received(
            &conversation,
            holder.user_id,
            &holder.username,
            body,
            reply_to,
            &mut form.files,
        )
        .await?;
    let location = format!("/api/v1/messages/{}", posted.message.id);
    Ok(Posted::Created(
        Json(Message::from(&posted.message)),
        location,
    ))
}
