//! A room's own settings: `POST /rooms/{slug}/topic` (`topic`, by any member),
//! `POST /rooms/{slug}/rename` (`name`, by its creator or an administrator: the old
//! slug keeps leading to the room, 301), and `POST /rooms/{slug}/archive` and
//! `…/unarchive` (by its creator or an administrator: an archived room is read-only and
//! out of the lobby). Each answers 303 to the room.
//!
//! A rename or an archive closes the room's open sockets in every process: their pages
//! reconnect to the room as it now is (or, renamed, are told to reload).
use std::sync::Arc;

use poem::{
    IntoResponse, Response, handler,
    web::{Data, Form, Path, Redirect},
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, SqlErr, TransactionTrait};
use serde::Deserialize;

use super::{
    Directory, RoomName,
    routes::{may_manage, readable},
};
use crate::{
    chat::{self, Chat, Conversation, invisible},
    db::{self, now_ms},
    entities::conversation,
    error::AppError,
    web::Viewer,
};

/// The room, if the viewer made it or is an administrator.
async fn managed(
    chat: &Chat,
    rooms: &Directory,
    viewer: &Viewer,
    slug: &str,
) -> Result<Arc<Conversation>, AppError> {
    let room = readable(chat, rooms, viewer, slug).await?;
    if !may_manage(chat, &room, viewer).await? {
        return Err(AppError::Forbidden(
            "Only the room's creator or an administrator can rename or archive it.",
        ));
    }
    Ok(room)
}

#[derive(Debug, Deserialize)]
pub struct TopicForm {
    #[serde(default)]
    topic: String,
}

#[handler]
pub async fn topic(
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Data(rooms): Data<&Arc<Directory>>,
    Path(slug): Path<String>,
    Form(form): Form<TopicForm>,
) -> Result<Response, AppError> {
    let room = readable(chat, rooms, &viewer, &slug).await?;
    let topic = invisible::strip(&form.topic)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if topic.chars().count() > 250 {
        return Err(AppError::Refused("A topic has at most 250 characters."));
    }
    let topic = (!topic.is_empty()).then_some(topic);
    conversation::Entity::update_many()
        .col_expr(conversation::Column::Topic, topic.into())
        .filter(conversation::Column::Id.eq(room.id))
        .exec(&chat.db)
        .await?;
    rooms.forget(&slug);
    Ok(Redirect::see_other(chat::room_path(&slug)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct RenameForm {
    #[serde(default)]
    name: String,
}

#[handler]
pub async fn rename(
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Data(rooms): Data<&Arc<Directory>>,
    Path(slug): Path<String>,
    Form(form): Form<RenameForm>,
) -> Result<Response, AppError> {
    let room = managed(chat, rooms, &viewer, &slug).await?;
    let name = RoomName::parse(&form.name).map_err(AppError::Refused)?;
    let old = room.slug.clone().unwrap_or_default();
    let txn = chat.db.begin().await?;
    let renamed = txn
        .execute_raw(db::statement_for(
            txn.get_database_backend(),
            "UPDATE conversations SET name = ?, slug = ? WHERE id = ?",
            [name.name().into(), name.slug().into(), room.id.into()],
        ))
        .await;
    match renamed {
        Ok(_) => {}
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            return Err(AppError::Refused("There is already a room with that name."));
        }
        Err(e) => return Err(e.into()),
    }
    if old != name.slug() {
        // The old slug leads here from now on; the new one no longer leads anywhere
        // else (it may have been this room's own, long ago).
        txn.execute_raw(db::statement_for(
            txn.get_database_backend(),
            "DELETE FROM room_redirects WHERE slug = ? OR slug = ?",
            [old.as_str().into(), name.slug().into()],
        ))
        .await?;
        txn.execute_raw(db::statement_for(
            txn.get_database_backend(),
            "INSERT INTO room_redirects (slug, conversation_id) VALUES (?, ?)",
            [old.as_str().into(), room.id.into()],
        ))
        .await?;
    }
    txn.commit().await?;
    rooms.forget(&old);
    rooms.forget(name.slug());
    chat.hub.close_conversation(room.id);
    tracing::info!(room = room.id, from = old, to = name.slug(), "room renamed");
    Ok(Redirect::see_other(chat::room_path(name.slug())).into_response())
}

async fn set_archived(
    chat: &Chat,
    rooms: &Directory,
    viewer: &Viewer,
    slug: &str,
    archived: bool,
) -> Result<Response, AppError> {
    let room = managed(chat, rooms, viewer, slug).await?;
    let at = archived.then(now_ms);
    conversation::Entity::update_many()
        .col_expr(conversation::Column::ArchivedAt, at.into())
        .filter(conversation::Column::Id.eq(room.id))
        .exec(&chat.db)
        .await?;
    rooms.forget(slug);
    chat.hub.close_conversation(room.id);
    tracing::info!(room = room.id, archived, "room archive changed");
    Ok(Redirect::see_other(chat::room_path(slug)).into_response())
}

#[handler]
pub async fn archive(
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Data(rooms): Data<&Arc<Directory>>,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    set_archived(chat, rooms, &viewer, &slug, true).await
}

#[handler]
pub async fn unarchive(
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Data(rooms): Data<&Arc<Directory>>,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    set_archived(chat, rooms, &viewer, &slug, false).await
}
