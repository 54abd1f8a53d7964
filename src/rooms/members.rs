//! `POST /rooms/{slug}/members` (`username`): a member of a private room adds someone by
//! name (a bot, to any room, only by the room's creator or an administrator) (or only an administrator, as the room's creator or an administrator may
//! choose with `POST /rooms/{slug}/members/policy`, `by=members|admins`); `POST /rooms/{slug}/members/remove` (`username`): the room's creator or an
//! administrator takes someone out, whose open pages of it close at once, in every
//! process (the bus carries [`crate::live::Event::AccessEnded`]), and who gets 404 from
//! then on.
//!
//! Someone who may not read the room gets 404 here as on its page: these forms must not
//! tell an outsider that a private room by that name exists.
use std::sync::Arc;

use poem::{
    IntoResponse, Response, handler,
    web::{Data, Form, Path, Redirect},
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::Deserialize;

use super::{
    Directory,
    routes::{may_manage, readable},
};
use crate::{
    accounts::Username,
    chat::{self, Chat, access},
    entities::user,
    error::AppError,
    web::Viewer,
};

#[derive(Debug, Deserialize)]
pub struct MemberForm {
    #[serde(default)]
    username: String,
}

/// The account called `name` (and active, when `active`: nobody
/// adds a deactivated person, but anyone may be taken out); a clear refusal otherwise.
async fn account(chat: &Chat, name: &str, active: bool) -> Result<user::Model, AppError> {
    let nobody = || AppError::Refused("There is nobody with that name on hearth.");
    let Ok(name) = Username::parse(name) else {
        return Err(nobody());
    };
    let mut query = user::Entity::find().filter(user::Column::UsernameKey.eq(name.key()));
    if active {
        query = query.filter(user::Column::DeactivatedAt.is_null());
    }
    query.one(&chat.db).await?.ok_or_else(nobody)
}

#[handler]
pub async fn add(
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Data(rooms): Data<&Arc<Directory>>,
    Path(slug): Path<String>,
    Form(form): Form<MemberForm>,
) -> Result<Response, AppError> {
    let room = readable(chat, rooms, &viewer, &slug).await?;
    let person = account(chat, &form.username, true).await?;
    if person.is_bot {
        // A bot reads only the rooms it is in, public ones included: adding one is
        // the room's managers' to decide.
        if !may_manage(chat, &room, &viewer).await? {
            return Err(AppError::Forbidden(
                "Only the room's creator or an administrator can add a bot to it.",
            ));
        }
    } else if !access::is_private_room(&room) {
        return Err(AppError::Refused(
            "Everyone can open a public room: send them its link.",
        ));
    } else if room.members_added_by == "admins"
        && !crate::admin::is_admin(&chat.db, viewer.id).await?
    {
        return Err(AppError::Forbidden(
            "In this room, only administrators add people.",
        ));
    }
    if chat::queries::join(&chat.db, room.id, person.id).await? {
        chat.membership_changed(room.id);
        chat.added(&room, person.id);
        tracing::info!(room = room.id, user_id = person.id, "member added");
    }
    Ok(Redirect::see_other(chat::room_path(&slug)).into_response())
}

#[handler]
pub async fn remove(
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Data(rooms): Data<&Arc<Directory>>,
    Path(slug): Path<String>,
    Form(form): Form<MemberForm>,
) -> Result<Response, AppError> {
    let room = readable(chat, rooms, &viewer, &slug).await?;
    if !may_manage(chat, &room, &viewer).await? {
        return Err(AppError::Forbidden(
            "Only the room's creator or an administrator can take someone out of it.",
        ));
    }
    let person = account(chat, &form.username, false).await?;
    if chat::queries::leave(&chat.db, room.id, person.id).await? {
        chat.membership_changed(room.id);
        if access::is_private_room(&room) || person.is_bot {
            chat.hub.end_access(person.id, Some(room.id));
        }
        tracing::info!(room = room.id, user_id = person.id, "member removed");
    }
    Ok(Redirect::see_other(chat::room_path(&slug)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct PolicyForm {
    #[serde(default)]
    by: String,
}

#[handler]
pub async fn policy(
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Data(rooms): Data<&Arc<Directory>>,
    Path(slug): Path<String>,
    Form(form): Form<PolicyForm>,
) -> Result<Response, AppError> {
    let room = readable(chat, rooms, &viewer, &slug).await?;
    if !may_manage(chat, &room, &viewer).await? {
        return Err(AppError::Forbidden(
            "Only the room's creator or an administrator decides who adds people.",
        ));
    }
    let by = match form.by.trim() {
        "members" => "members",
        "admins" => "admins",
        _ => {
            return Err(AppError::Refused(
                "People are added by members, or by administrators only.",
            ));
        }
    };
    use sea_orm::EntityTrait as _;
    crate::entities::conversation::Entity::update_many()
        .col_expr(
            crate::entities::conversation::Column::MembersAddedBy,
            by.into(),
        )
        .filter(crate::entities::conversation::Column::Id.eq(room.id))
        .exec(&chat.db)
        .await?;
    rooms.forget(&slug);
    Ok(Redirect::see_other(chat::room_path(&slug)).into_response())
}
