//! Bearer authentication: `Authorization: Bearer hearth_…`, a personal API token
//! ([`super::tokens`]). An API request is authenticated by its token alone, never by
//! a session cookie: the API is mounted outside the session middleware, so a page's
//! cookie opens nothing here, and the CSRF check (which guards what a cookie could
//! be made to do by another site) has nothing to guard. An unknown, revoked or
//! deactivated owner's token is 401 before the operation reads anything else, and an
//! address that presents many unknown tokens is told to wait (429).
//! (`/stream` alone also takes a page's session cookie, read-only: see
//! [`super::stream`].)
//!
//! What a token may read is what its owner may ([`access`]), except that a bot belongs
//! only to the rooms it was added to: any other room, public or not, is 404 to it
//! ([`open`]).
use std::{
    net::{IpAddr, Ipv4Addr},
    sync::Arc,
};

use poem::Request;
use poem_openapi::{SecurityScheme, auth::Bearer};
use sea_orm::{DatabaseConnection, EntityTrait};

use super::{problem::ApiError, tokens};
use crate::{
    chat::{Conversation, ConversationKind, access},
    entities::membership,
    error::AppError,
    limits::Limits,
};

/// The person a request's token acts for, with the token.
#[derive(SecurityScheme)]
#[oai(
    ty = "bearer",
    bearer_format = "hearth_ followed by 43 characters of base64url",
    checker = "holder_of"
)]
pub struct Token(pub tokens::Holder);

/// The holder of the bearer token of a request that is not an OpenAPI operation's (an
/// upload, which the service must not read whole), with the same checks.
pub async fn bearer_holder(req: &Request) -> Result<tokens::Holder, ApiError> {
    let presented = req
        .headers()
        .get(poem::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .ok_or_else(ApiError::unauthorized)?;
    presenting(req, presented).await
}

async fn holder_of(req: &Request, bearer: Bearer) -> poem::Result<tokens::Holder> {
    presenting(req, &bearer.token).await.map_err(Into::into)
}

/// Whose `presented` token is. A good token is always looked up and let through; an
/// address that has presented many unknown ones is told to wait (429) instead of 401,
/// so guessing gets slower and a program with a good token on a shared address (a
/// proxy) is never held up.
async fn presenting(req: &Request, presented: &str) -> Result<tokens::Holder, ApiError> {
    let db = req
        .data::<DatabaseConnection>()
        .ok_or_else(|| ApiError::from(AppError::Internal("no database".into())))?;
    let limits = req
        .data::<Arc<Limits>>()
        .ok_or_else(|| ApiError::from(AppError::Internal("no limits".into())))?;
    let address = req
        .remote_addr()
        .as_socket_addr()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
    match tokens::holder(db, presented.trim()).await {
        Ok(Some(holder)) => Ok(holder),
        Ok(None) => {
            if let Err(wait) = limits.token_attempt(address) {
                return Err(ApiError::from(AppError::TooManyRequests(wait)));
            }
            limits.token_failed(address);
            Err(ApiError::unauthorized())
        }
        Err(e) => Err(ApiError::from(e)),
    }
}

/// Loads conversation `id` if the token's owner may read it through the API; otherwise,
/// and when it does not exist, [`AppError::NotFound`].
pub async fn open(
    db: &DatabaseConnection,
    holder: &tokens::Holder,
    id: i64,
) -> Result<Conversation, AppError> {
    open_as(db, holder.user_id, holder.is_bot, id).await
}

/// [`open`] for `user_id`, who is a bot when `is_bot`.
pub async fn open_as(
    db: &DatabaseConnection,
    user_id: i64,
    is_bot: bool,
    id: i64,
) -> Result<Conversation, AppError> {
    let conversation = access::open_for(db, user_id, id).await?;
    may_use(db, user_id, is_bot, &conversation).await?;
    Ok(conversation)
}

/// Whether a bot may use `conversation`: every room it is in, and nothing else.
pub async fn may_use(
    db: &DatabaseConnection,
    user_id: i64,
    is_bot: bool,
    conversation: &Conversation,
) -> Result<(), AppError> {
    if is_bot
        && ConversationKind::of(conversation) == ConversationKind::Room
        && membership::Entity::find_by_id((conversation.id, user_id))
            .one(db)
            .await?
            .is_none()
    {
        return Err(AppError::NotFound);
    }
    Ok(())
}
