//! A person's email address: [`EmailAddress`], which can only hold one that mail can
//! be sent to, and `POST /settings/email` (`email`, empty to remove it), answered 303
//! back to `/settings`. The address is optional and unique; it is where a password
//! reset link goes ([`super::reset`]), and nothing else is ever sent to it.
use std::sync::Arc;

use poem::{
    IntoResponse, Response, handler,
    http::StatusCode,
    web::{Data, Form, Redirect},
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, SqlErr};
use serde::Deserialize;

use super::settings;
use crate::{chat::Chat, entities::user, error::AppError, web::Viewer, web::session::Sessions};

/// An address mail can be sent to, in lower case (uniqueness and look-ups ignore
/// case; no provider in use tells `Ann@` from `ann@`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// The longest address SMTP carries (RFC 5321's path limit less its brackets).
    pub const MAX: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        const WRONG: &str = "That is not an email address (it looks like name@example.com).";
        let address = raw.trim().to_lowercase();
        if address.chars().count() > Self::MAX {
            return Err("Email addresses have at most 254 characters.");
        }
        let Some((local, domain)) = address.rsplit_once('@') else {
            return Err(WRONG);
        };
        // lettre's parser is the judge of what its transport will send to; a domain
        // without a dot is a machine of the sender's network, never a person's.
        if local.is_empty()
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || address.parse::<lettre::Address>().is_err()
        {
            return Err(WRONG);
        }
        Ok(Self(address))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Deserialize)]
pub struct EmailForm {
    #[serde(default)]
    email: String,
}

#[handler]
pub async fn save(
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Data(sessions): Data<&Arc<Sessions>>,
    Form(form): Form<EmailForm>,
) -> Result<Response, AppError> {
    let refuse = async |why: &str| -> Result<Response, AppError> {
        let page = settings::render(chat, sessions, &viewer, None, Some(why), None).await?;
        Ok(settings::with_status(
            page,
            StatusCode::UNPROCESSABLE_ENTITY,
        ))
    };
    let address = match form.email.trim() {
        "" => None,
        raw => match EmailAddress::parse(raw) {
            Ok(address) => Some(address.0),
            Err(why) => return refuse(why).await,
        },
    };
    let saved = user::Entity::update_many()
        .col_expr(user::Column::Email, address.into())
        .filter(user::Column::Id.eq(viewer.id))
        .exec(&chat.db)
        .await;
    match saved {
        Ok(_) => Ok(Redirect::see_other("/settings?done=email").into_response()),
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            refuse("Another account uses that address: choose another one.").await
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::EmailAddress;

    #[test]
    fn only_addresses_mail_can_reach_are_taken() {
        assert_eq!(
            EmailAddress::parse(" Ann@Example.COM ").map(|a| a.0),
            Ok("ann@example.com".to_owned())
        );
        for wrong in [
            "ann",
            "ann@",
            "@example.com",
            "ann@localhost",
            "a b@example.com",
            "ann@.com",
            "ann@example.com\r\nBcc: x@y.z",
        ] {
            assert!(EmailAddress::parse(wrong).is_err(), "{wrong:?}");
        }
        assert!(EmailAddress::parse(&format!("{}@example.com", "a".repeat(250))).is_err());
    }
}
