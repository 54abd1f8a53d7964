//! `GET /` (the lobby), `POST /rooms`, `GET /rooms/{slug}`.
use std::sync::Arc;

use poem::{
    IntoResponse, Request, Response, handler,
    http::StatusCode,
    web::{Data, Form, Path, Query, Redirect},
};
use sea_orm::{ActiveValue::Set, EntityTrait, SqlErr};
use serde::Deserialize;

use super::Directory;
use super::{RoomName, listing, views};
use crate::{
    chat::{self, Chat, ConversationKind},
    db::now_ms,
    entities::conversation,
    error::AppError,
    web::{Viewer, is_htmx},
};

/// `GET /?q=…&page=…`: the lobby's filter and page.
#[derive(Debug, Default, Deserialize)]
pub struct LobbyQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: Option<u64>,
}

async fn lobby_page(
    chat: &Chat,
    viewer: &Viewer,
    query: &LobbyQuery,
    form: views::CreateForm<'_>,
) -> Result<maud::Markup, AppError> {
    let filter: String = query.q.trim().chars().take(40).collect();
    let listing = listing::page(&chat.db, &listing::fold(&filter), query.page.unwrap_or(1)).await?;
    let ids: Vec<i64> = listing.rooms.iter().map(|r| r.id).collect();
    let counts = chat.hub.presence_counts(&ids).await;
    let rooms: Vec<views::RoomEntry> = listing
        .rooms
        .into_iter()
        .map(|room| views::RoomEntry {
            online: counts.get(&room.id).copied().unwrap_or(0),
            room,
        })
        .collect();
    let sidebar = chat::sidebar::for_user(&chat.db, viewer.id, None).await?;
    let paging = views::Paging {
        filter: &filter,
        page: listing.page,
        more: listing.more,
    };
    let may_create = super::Creators::current(&chat.db).await? == super::Creators::Everyone
        || crate::admin::is_admin(&chat.db, viewer.id).await?;
    let form = views::CreateForm { may_create, ..form };
    Ok(views::lobby(
        viewer,
        &rooms,
        paging,
        chat.hub.site_online().await,
        form,
        sidebar,
    ))
}

#[handler]
pub async fn lobby(
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Query(query): Query<LobbyQuery>,
) -> Result<Response, AppError> {
    Ok(
        lobby_page(chat, &viewer, &query, views::CreateForm::default())
            .await?
            .into_response(),
    )
}

#[derive(Debug, Deserialize)]
pub struct CreateRoom {
    #[serde(default)]
    name: String,
    /// `public` (the default) or `private`.
    #[serde(default)]
    visibility: String,
}

#[handler]
pub async fn create(
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Form(form): Form<CreateRoom>,
) -> Result<Response, AppError> {
    let refuse = |error: &'static str| views::CreateForm {
        name: &form.name,
        error: Some(error),
        may_create: true,
    };
    if super::Creators::current(&chat.db).await? == super::Creators::Admins
        && !crate::admin::is_admin(&chat.db, viewer.id).await?
    {
        return Err(AppError::Forbidden(
            "Only administrators can create rooms here.",
        ));
    }
    let parsed = RoomName::parse(&form.name).and_then(|room| {
        let visibility =
            super::Visibility::parse(&form.visibility).ok_or("A room is public or private.")?;
        Ok((room, visibility))
    });
    let (room, visibility) = match parsed {
        Ok(found) => found,
        Err(error) => {
            let mut resp = lobby_page(chat, &viewer, &LobbyQuery::default(), refuse(error))
                .await?
                .into_response();
            resp.set_status(StatusCode::UNPROCESSABLE_ENTITY);
            return Ok(resp);
        }
    };
    // Counted once the name is valid: a typo costs nothing, a flood of rooms waits.
    chat.limits
        .room(viewer.id)
        .map_err(AppError::TooManyRequests)?;
    let now = now_ms();
    let inserted = conversation::Entity::insert(conversation::ActiveModel {
        kind: Set(ConversationKind::Room.as_str().to_owned()),
        name: Set(room.name().to_owned()),
        slug: Set(Some(room.slug().to_owned())),
        visibility: Set(visibility.as_str().to_owned()),
        created_by: Set(Some(viewer.id)),
        created_at: Set(now),
        last_activity_at: Set(now),
        ..Default::default()
    })
    .exec(&chat.db)
    .await;
    match inserted {
        Ok(done) => {
            if chat::queries::join(&chat.db, done.last_insert_id, viewer.id).await? {
                chat.membership_changed(done.last_insert_id);
            }
            tracing::info!(
                room = room.slug(),
                visibility = visibility.as_str(),
                "room created"
            );
            Ok(Redirect::see_other(chat::room_path(room.slug())).into_response())
        }
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            let error = "There is already a room with that name.";
            let mut resp = lobby_page(chat, &viewer, &LobbyQuery::default(), refuse(error))
                .await?
                .into_response();
            resp.set_status(StatusCode::UNPROCESSABLE_ENTITY);
            Ok(resp)
        }
        Err(e) => Err(e.into()),
    }
}

#[handler]
pub async fn show(
    req: &Request,
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Data(rooms): Data<&Arc<Directory>>,
    Path(slug): Path<String>,
    Query(query): Query<chat::page::PageQuery>,
) -> Result<Response, AppError> {
    let room = match rooms.find(&chat.db, &slug).await? {
        Some(room) => room,
        None => {
            return moved(chat, rooms, &viewer, &slug)
                .await?
                .ok_or(AppError::NotFound);
        }
    };
    if !chat::access::may_read(&chat.db, &room, viewer.id).await? {
        return Err(AppError::NotFound);
    }
    if let (Some(before), true) = (query.before, is_htmx(req)) {
        let base = chat::room_path(&slug);
        return Ok(chat::page::older(&chat.db, &room, &base, before)
            .await?
            .into_response());
    }
    // Opening a public room makes it yours: it joins your sidebar. (The members cache
    // answers for everyone who is in already, so page views stay reads.)
    if !chat.members.contains(room.id, viewer.id).await?
        && chat::queries::join(&chat.db, room.id, viewer.id).await?
    {
        chat.membership_changed(room.id);
    }
    Ok(chat::page::render(chat, &viewer, &room, &query, None)
        .await?
        .into_response())
}

pub(super) async fn room_by_slug(
    chat: &Chat,
    rooms: &Directory,
    slug: &str,
) -> Result<Arc<conversation::Model>, AppError> {
    rooms.find(&chat.db, slug).await?.ok_or(AppError::NotFound)
}

/// The room at `slug` if `viewer` may read it; 404 otherwise, as for a room that is not.
pub(super) async fn readable(
    chat: &Chat,
    rooms: &Directory,
    viewer: &Viewer,
    slug: &str,
) -> Result<Arc<conversation::Model>, AppError> {
    let room = room_by_slug(chat, rooms, slug).await?;
    if !chat::access::may_read(&chat.db, &room, viewer.id).await? {
        return Err(AppError::NotFound);
    }
    Ok(room)
}

/// Whether `viewer` made `room` or is an administrator: who may rename, archive and
/// take people out of it.
pub(super) async fn may_manage(
    chat: &Chat,
    room: &conversation::Model,
    viewer: &Viewer,
) -> Result<bool, AppError> {
    Ok(room.created_by == Some(viewer.id) || crate::admin::is_admin(&chat.db, viewer.id).await?)
}

/// An old slug of a renamed room: 301 to its page now (for anyone who may read it).
async fn moved(
    chat: &Chat,
    rooms: &Directory,
    viewer: &Viewer,
    slug: &str,
) -> Result<Option<Response>, AppError> {
    let Some(now) = rooms.renamed(&chat.db, slug).await? else {
        return Ok(None);
    };
    let room = room_by_slug(chat, rooms, &now).await?;
    if !chat::access::may_read(&chat.db, &room, viewer.id).await? {
        return Ok(None);
    }
    Ok(Some(
        Redirect::moved_permanent(chat::room_path(&now)).into_response(),
    ))
}

/// `POST /rooms/{slug}/leave`: a public room leaves your sidebar until you open it
/// again; a private one is closed to you until a member adds you again (your open
/// pages of it close at once).
#[handler]
pub async fn leave(
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Data(rooms): Data<&Arc<Directory>>,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let room = readable(chat, rooms, &viewer, &slug).await?;
    if chat::queries::leave(&chat.db, room.id, viewer.id).await? {
        chat.membership_changed(room.id);
        if chat::access::is_private_room(&room) {
            chat.hub.end_access(viewer.id, Some(room.id));
        }
    }
    Ok(Redirect::see_other("/").into_response())
}
