//! Running hearth for a group: who administers it ([`Role`], the [`Admin`] extractor),
//! the `/admin` page ([`routes`], [`views`]), and what administrators do to people
//! ([`people`]: roles, deactivation, accounts made from the command line).
//!
//! Every check is on the server, and every admin URL answers 404 to anyone who is not
//! an administrator, exactly as an address that does not exist: a 403 would tell a
//! curious member where the controls are. It does not own sessions (those are
//! [`crate::web::session`]'s) nor the sign-up policy ([`crate::accounts::policy`]).
pub mod people;
pub mod routes;
mod views;

use poem::{FromRequest, Request, RequestBody};
use sea_orm::{DatabaseConnection, EntityTrait};

use crate::{entities::user, error::AppError, web::Viewer};

/// What an account may do: every account is a member; an administrator also runs the
/// site.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Member,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Admin => "admin",
        }
    }

    pub fn of(user: &user::Model) -> Self {
        if user.role == "admin" {
            Role::Admin
        } else {
            Role::Member
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "member" => Some(Role::Member),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// Whether `user_id` is an active administrator, as the database says now (a role
/// taken away counts at once, in every process).
pub async fn is_admin(db: &DatabaseConnection, user_id: i64) -> Result<bool, AppError> {
    Ok(user::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .is_some_and(|u| Role::of(&u) == Role::Admin && u.deactivated_at.is_none()))
}

/// A signed-in administrator. Extracting it for anyone else, signed in or not,
/// answers 404 (not a redirect to log in, which would say there is something here).
pub struct Admin(pub Viewer);

impl<'a> FromRequest<'a> for Admin {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        let Some(viewer) = crate::web::session::viewer_of(req).await? else {
            return Err(AppError::NotFound.into());
        };
        let db = req
            .data::<DatabaseConnection>()
            .ok_or_else(|| AppError::Internal("the database is not installed".into()))?;
        if is_admin(db, viewer.id).await? {
            Ok(Admin(viewer))
        } else {
            Err(AppError::NotFound.into())
        }
    }
}
