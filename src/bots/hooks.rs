//! `POST /hooks/{secret}`: an incoming webhook. It takes Slack's payload, JSON
//! (`{"text": "…"}`) or a form with a `payload` field holding that JSON, and posts
//! its text ([`super::slack`]) to the webhook's room as its bot, through the
//! composer's path (same rules, the bot's rate limit). Answers are Slack's: `ok`, or a
//! short code in plain text (`invalid_payload`, `no_text`, `no_service`,
//! `channel_is_archived`), so tools written for Slack read them as they expect.
//!
//! The secret in the path is the only credential: the route is mounted outside the
//! session middleware (no cookie, no CSRF token), and only the secret's SHA-256 is
//! stored.
use std::sync::Arc;

use poem::{
    Body, IntoResponse, Request, Response, handler,
    http::{StatusCode, header},
    web::{Data, Path},
};

use super::{queries, slack};
use crate::{
    chat::{BodyError, Chat, MessageBody, queries::conversation_by_id},
    config::Config,
    error::AppError,
};

/// The most a payload may hold; a message is at most 4000 characters.
const MAX_PAYLOAD_BYTES: usize = 64 * 1024;
/// Where webhooks are mounted.
pub const PREFIX: &str = "/hooks";

/// The path a webhook's secret posts to.
pub fn path(secret: &str) -> String {
    format!("{PREFIX}/{secret}")
}

fn answer(status: StatusCode, text: &'static str) -> Response {
    Response::builder()
        .status(status)
        .content_type("text/plain; charset=utf-8")
        .body(text)
}

#[handler]
pub async fn receive(
    req: &Request,
    Data(chat): Data<&Arc<Chat>>,
    Data(config): Data<&Arc<Config>>,
    Path(secret): Path<String>,
    body: Body,
) -> Response {
    match post(req, chat, config, &secret, body).await {
        Ok(resp) => resp,
        Err(e) => {
            use poem::error::ResponseError;
            if e.status().is_server_error() {
                tracing::error!(error = %e, "an incoming webhook failed");
            }
            e.into_response()
        }
    }
}

async fn post(
    req: &Request,
    chat: &Chat,
    config: &Config,
    secret: &str,
    body: Body,
) -> Result<Response, AppError> {
    if secret.len() > 128 {
        return Ok(answer(StatusCode::NOT_FOUND, "no_service"));
    }
    let Some(target) = queries::target(&chat.db, secret).await? else {
        return Ok(answer(StatusCode::NOT_FOUND, "no_service"));
    };
    let bytes = tokio::time::timeout(
        config.http.body_timeout,
        body.into_bytes_limit(MAX_PAYLOAD_BYTES),
    )
    .await
    .map_err(|_| AppError::BodyTimedOut)?
    .map_err(|_| AppError::PayloadTooLarge)?;
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let payload = if is_form {
        form_urlencoded::parse(&bytes)
            .find(|(key, _)| key == "payload")
            .and_then(|(_, json)| serde_json::from_str(&json).ok())
    } else {
        serde_json::from_slice::<serde_json::Value>(&bytes).ok()
    };
    let Some(payload) = payload.filter(serde_json::Value::is_object) else {
        return Ok(answer(StatusCode::BAD_REQUEST, "invalid_payload"));
    };
    let Some(text) = slack::text_of(&payload) else {
        return Ok(answer(StatusCode::BAD_REQUEST, "no_text"));
    };
    let body = match MessageBody::parse(&text) {
        Ok(body) => body,
        Err(BodyError::Empty) => return Ok(answer(StatusCode::BAD_REQUEST, "no_text")),
        Err(BodyError::TooLong(_)) => {
            return Ok(answer(StatusCode::PAYLOAD_TOO_LARGE, "msg_too_long"));
        }
    };
    let Some(conversation) = conversation_by_id(&chat.db, target.conversation_id).await? else {
        return Ok(answer(StatusCode::NOT_FOUND, "channel_not_found"));
    };
    if conversation.archived_at.is_some() {
        return Ok(answer(StatusCode::GONE, "channel_is_archived"));
    }
    chat.post(&conversation, target.bot_id, &target.bot, body, None)
        .await?;
    // When it was last used is for the administrators' list; failing to note it must
    // not fail a post that was made.
    if let Err(e) = queries::used(&chat.db, target.id).await {
        tracing::warn!(error = %e, "could not note when a webhook was used");
    }
    Ok(answer(StatusCode::OK, "ok"))
}
