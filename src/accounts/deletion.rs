//! `POST /settings/delete` (`current_password`): a person deletes their own account.
//!
//! What deleting keeps, and why: the messages the person wrote stay in their
//! conversations, shown as by "Deleted user". A conversation is everyone's record, and
//! removing one person's half of it would leave the others' replies answering nothing.
//! The account's row stays too, as an anonymised tombstone, so that every message,
//! reaction and private chat that names it still holds (foreign keys and the one
//! rendering of a message need an author). The tombstone keeps nothing of the person:
//! its username becomes "Deleted user" (which no account can be called: usernames have
//! no spaces) and its key an unguessable `deleted:…` that no log-in or profile look-up
//! can type, so the name is free for anyone to sign up with again; the password hash,
//! email, avatar, display name and status are cleared; the row is deactivated, and its
//! memberships, mentions, push subscriptions and log-in and reset links are removed.
//! Its sessions end and its sockets close, in every process.
//!
//! The last administrator cannot delete their account: a site without one could
//! only be run again from the command line.
use std::sync::Arc;

use poem::{
    IntoResponse, Request, Response, handler,
    http::StatusCode,
    web::{Data, Form, Redirect},
};
use rand::RngCore;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, TransactionTrait};
use serde::Deserialize;

use super::{avatar, settings};
use crate::{
    admin::Role,
    chat::Chat,
    db::{self, now_ms},
    entities::user,
    error::AppError,
    limits::Limits,
    web::{
        Viewer,
        session::{self, Sessions},
    },
};

/// The name every deleted account shows under.
pub const DELETED_NAME: &str = "Deleted user";

#[derive(Debug, Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    current_password: String,
}

#[handler]
pub async fn delete(
    req: &Request,
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Data(sessions): Data<&Arc<Sessions>>,
    Data(limits): Data<&Arc<Limits>>,
    Form(form): Form<DeleteForm>,
) -> Result<Response, AppError> {
    let refuse = async |status: StatusCode, why: &str| -> Result<Response, AppError> {
        let page = settings::render(chat, sessions, &viewer, None, Some(why), None).await?;
        Ok(settings::with_status(page, status))
    };
    let me = user::Entity::find_by_id(viewer.id)
        .one(&chat.db)
        .await?
        .ok_or(AppError::NotFound)?;
    if Role::of(&me) == Role::Admin && crate::admin::people::admins(&chat.db).await? <= 1 {
        let why = "You are the last administrator: make someone else an administrator before you delete your account.";
        return refuse(StatusCode::UNPROCESSABLE_ENTITY, why).await;
    }
    if let Err((status, why)) =
        settings::confirm_password(req, &viewer, chat, limits, &form.current_password).await?
    {
        return refuse(status, why).await;
    }
    tombstone(&chat.db, viewer.id).await?;
    let ended = sessions.store.end_sessions_of(viewer.id, None).await?;
    for session in &ended {
        chat.hub.close_session(session);
    }
    chat.hub.end_access(viewer.id, None);
    avatar::release(&chat.db, &chat.files, me.avatar).await;
    chat.histories.forget_all();
    session::sign_out(&viewer.session).await?;
    tracing::info!(user_id = viewer.id, "account deleted by its owner");
    Ok(Redirect::see_other("/login").into_response())
}

/// Turns account `user_id` into its tombstone, in one transaction.
async fn tombstone(db: &DatabaseConnection, user_id: i64) -> Result<(), DbErr> {
    let mut bytes = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let key = format!("deleted:{}", hex::encode(bytes));
    let now = now_ms();
    let txn = db.begin().await?;
    txn.execute_raw(db::statement(
        db,
        "UPDATE users SET username = ?, username_key = ?, password_hash = '', role = 'member', \
         display_name = NULL, status = NULL, email = NULL, avatar = NULL, \
         deactivated_at = ?, deleted_at = ? WHERE id = ?",
        [
            DELETED_NAME.into(),
            key.into(),
            now.into(),
            now.into(),
            user_id.into(),
        ],
    ))
    .await?;
    for table in [
        "memberships",
        "mentions",
        "push_subscriptions",
        "login_links",
        "password_resets",
    ] {
        txn.execute_raw(db::statement(
            db,
            &format!("DELETE FROM {table} WHERE user_id = ?"),
            [user_id.into()],
        ))
        .await?;
    }
    txn.commit().await
}
