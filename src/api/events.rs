//! `/events`: publishing an event to people's open pages, where it fires
//! `hearth:{type}` on `window` ([`crate::app_events`]), and, for administrators, the
//! list of recent events and replaying one.
//!
//! Who may publish to whom is decided here, by what the token's owner may do: anyone
//! to themselves and to a conversation they can read; only an administrator to another
//! person or to everyone.
use std::sync::Arc;

use poem::web::Data;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, param::Path, payload::Json};

use super::{Tag, auth::Token, problem::ApiError};
use crate::{
    admin,
    app_events::{self, AppEvent, MAX_DETAIL_BYTES, NewAppEvent, Scope},
    chat::{Chat, views::iso_time},
    error::AppError,
};

/// How many events the administrators' list shows.
const LISTED: u64 = 100;

pub struct Events;

/// Whom an event is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum EventScope {
    /// One person: `target` is their username.
    User,
    /// A conversation's members: `target` is its id.
    Room,
    /// Everyone signed in (administrators only); no `target`.
    All,
}

/// An event to publish.
#[derive(Clone, Debug, Object)]
#[oai(rename = "NewEvent")]
pub struct NewEvent {
    pub scope: EventScope,
    /// A username for `user`, a conversation id for `room`; none for `all`.
    pub target: Option<serde_json::Value>,
    /// The event's type: pages get `hearth:{type}`. 1 to 64 of `a-z 0-9 . _ -`,
    /// starting with a letter or a digit.
    #[oai(rename = "type")]
    pub kind: String,
    /// Any JSON, at most 8 KiB once serialised: the DOM event's `detail`.
    pub detail: Option<serde_json::Value>,
}

/// A published event.
#[derive(Clone, Debug, Object)]
#[oai(rename = "Event")]
pub struct PublishedEvent {
    pub id: i64,
    /// `user`, `room` or `all`.
    pub scope: String,
    /// The person's id for `user`, the conversation's id for `room`.
    #[oai(nullable)]
    pub target_id: Option<i64>,
    #[oai(rename = "type")]
    pub kind: String,
    pub detail: serde_json::Value,
    /// When it was published (RFC 3339).
    pub created_at: String,
}

impl From<&AppEvent> for PublishedEvent {
    fn from(e: &AppEvent) -> Self {
        let (scope, target_id) = e.scope.parts();
        Self {
            id: e.id,
            scope: scope.to_owned(),
            target_id,
            kind: e.kind.clone(),
            detail: serde_json::from_str(&e.detail).unwrap_or(serde_json::Value::Null),
            created_at: iso_time(e.created_at),
        }
    }
}

/// The answer to a publication.
#[derive(ApiResponse)]
enum Published {
    /// The event was stored and delivered to the open pages in its scope.
    #[oai(status = 201)]
    Created(Json<PublishedEvent>),
}

#[OpenApi(prefix_path = "/events", tag = "Tag::Events")]
impl Events {
    /// Publish an event
    ///
    /// Reaches the open pages of the people in scope over their socket, where it fires
    /// a DOM `CustomEvent` named `hearth:{type}` on `window`, with `detail` as its
    /// detail; a page that reconnects within a day gets the ones it missed. Anyone may
    /// publish to themselves (`user` with their own name) and to a conversation they
    /// can read (`room`); only an administrator to someone else or to `all`. Counts
    /// against the publisher's posting rate limit.
    #[oai(path = "/", method = "post", operation_id = "publishEvent")]
    async fn publish(
        &self,
        token: Token,
        chat: Data<&Arc<Chat>>,
        event: Json<NewEvent>,
    ) -> Result<Published, ApiError> {
        let user_id = token.0.user_id;
        let event = event.0;
        if !app_events::is_kind(&event.kind) {
            return Err(ApiError::unprocessable(
                "bad_type",
                "`type` is 1 to 64 of a-z, 0-9, `.`, `_` and `-`, starting with a letter or a digit.",
            ));
        }
        let detail = event.detail.unwrap_or(serde_json::Value::Null).to_string();
        if detail.len() > MAX_DETAIL_BYTES {
            return Err(ApiError::new(
                poem::http::StatusCode::PAYLOAD_TOO_LARGE,
                "detail_too_large",
                format!(
                    "`detail` can be at most {MAX_DETAIL_BYTES} bytes of JSON; this one is {}.",
                    detail.len()
                ),
            ));
        }
        let scope = scope_of(&chat, &token.0, event.scope, event.target.as_ref()).await?;
        chat.limits
            .message(user_id)
            .map_err(AppError::TooManyRequests)?;
        let new = NewAppEvent {
            scope,
            kind: event.kind,
            detail,
            author_id: user_id,
        };
        publish(&chat, new).await
    }

    /// Recent events (administrators)
    ///
    /// The last 100 events of the past day, newest first.
    #[oai(path = "/", method = "get", operation_id = "listEvents")]
    async fn list(
        &self,
        token: Token,
        chat: Data<&Arc<Chat>>,
    ) -> Result<Json<Vec<PublishedEvent>>, ApiError> {
        only_admins(&chat, token.0.user_id).await?;
        let events = app_events::recent(&chat.db, LISTED)
            .await
            .map_err(AppError::from)?;
        Ok(Json(events.iter().map(PublishedEvent::from).collect()))
    }

    /// Replay an event (administrators)
    ///
    /// Publishes a recent event again, to the same people, as a new event of its own
    /// (pages keep one of each event, so the same one would not fire twice).
    #[oai(path = "/:id/replay", method = "post", operation_id = "replayEvent")]
    async fn replay(
        &self,
        token: Token,
        chat: Data<&Arc<Chat>>,
        /// The event's id.
        id: Path<i64>,
    ) -> Result<Published, ApiError> {
        let user_id = token.0.user_id;
        only_admins(&chat, user_id).await?;
        let kept_since = crate::db::now_ms() - app_events::KEPT_FOR_MS;
        let original = app_events::by_id(&chat.db, id.0)
            .await
            .map_err(AppError::from)?
            .filter(|e| e.created_at >= kept_since)
            .ok_or_else(ApiError::not_found)?;
        let new = NewAppEvent {
            scope: original.scope,
            kind: original.kind,
            detail: original.detail,
            author_id: user_id,
        };
        publish(&chat, new).await
    }
}

/// Stores and delivers `new`; answers it as published.
async fn publish(chat: &Chat, new: NewAppEvent) -> Result<Published, ApiError> {
    let published = app_events::publish(&chat.db, &chat.hub, &chat.members, &chat.events, new)
        .await
        .map_err(AppError::from)?;
    Ok(Published::Created(Json(PublishedEvent::from(&published))))
}

async fn only_admins(chat: &Chat, user_id: i64) -> Result<(), ApiError> {
    if admin::is_admin(&chat.db, user_id).await? {
        Ok(())
    } else {
        Err(ApiError::from(AppError::Forbidden(
            "Only administrators may do this.",
        )))
    }
}

/// Whom the owner of `user_id`'s token asks to reach, if they may.
async fn scope_of(
    chat: &Chat,
    holder: &super::tokens::Holder,
    scope: EventScope,
    target: Option<&serde_json::Value>,
) -> Result<Scope, ApiError> {
    let user_id = holder.user_id;
    match scope {
        EventScope::All => {
            only_admins(chat, user_id).await?;
            Ok(Scope::All)
        }
        EventScope::User => {
            let Some(name) = target.and_then(serde_json::Value::as_str) else {
                return Err(ApiError::unprocessable(
                    "bad_target",
                    "For `user`, `target` is a username.",
                ));
            };
            let person = admin::people::named(&chat.db, name)
                .await
                .map_err(AppError::from)?
                .filter(|p| p.deactivated_at.is_none())
                .ok_or_else(ApiError::not_found)?;
            if person.id != user_id {
                only_admins(chat, user_id).await?;
            }
            Ok(Scope::User(person.id))
        }
        EventScope::Room => {
            let Some(id) = target.and_then(serde_json::Value::as_i64) else {
                return Err(ApiError::unprocessable(
                    "bad_target",
                    "For `room`, `target` is a conversation's id.",
                ));
            };
            let conversation = super::auth::open(&chat.db, holder, id).await?;
            Ok(Scope::Conversation(conversation.id))
        }
    }
}
