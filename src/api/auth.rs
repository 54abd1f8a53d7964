//! Bearer authentication: `Authorization: Bearer hearth_…`, a personal API token
//! ([`super::tokens`]). An API request is authenticated by its token alone, never by
//! a session cookie: the API is mounted outside the session middleware, so a page's
//! cookie opens nothing here, and the CSRF check (which guards what a cookie could
//! be made to do by another site) has nothing to guard. An unknown, revoked or
//! deactivated owner's token is 401 before the operation reads anything else.
use poem::Request;
use poem_openapi::{SecurityScheme, auth::Bearer};
use sea_orm::DatabaseConnection;

use super::{problem::ApiError, tokens};

/// The person a request's token acts for, with the token.
#[derive(SecurityScheme)]
#[oai(
    ty = "bearer",
    bearer_format = "hearth_ followed by 43 characters of base64url",
    checker = "holder_of"
)]
pub struct Token(pub tokens::Holder);

async fn holder_of(req: &Request, bearer: Bearer) -> poem::Result<tokens::Holder> {
    let db = req
        .data::<DatabaseConnection>()
        .ok_or_else(|| ApiError::from(crate::error::AppError::Internal("no database".into())))?;
    match tokens::holder(db, bearer.token.trim()).await {
        Ok(Some(holder)) => Ok(holder),
        Ok(None) => Err(ApiError::unauthorized().into()),
        Err(e) => Err(ApiError::from(e).into()),
    }
}
