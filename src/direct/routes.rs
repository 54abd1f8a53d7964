//! `GET /users?q=`, `GET /users/{username}` and `GET /dm/{username}`; group chats are
//! [`super::groups`]'.
use std::sync::Arc;

use poem::{
    IntoResponse, Request, Response, handler,
    http::StatusCode,
    web::{Data, Path, Query},
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::Deserialize;

use super::views;
use crate::{
    accounts::Username,
    chat::{self, Chat, Conversation, ConversationKind, access, sidebar},
    db,
    entities::{conversation, user},
    error::AppError,
    web::{Viewer, is_htmx, layout},
};

/// The most people one directory page lists.
pub const DIRECTORY_LIMIT: usize = 50;

#[derive(Debug, Deserialize)]
pub struct DirectoryQuery {
    #[serde(default)]
    q: String,
}

#[handler]
pub async fn directory(
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Query(query): Query<DirectoryQuery>,
) -> Result<Response, AppError> {
    Ok(
        directory_page(chat, &viewer, &query.q, views::GroupForm::default())
            .await?
            .into_response(),
    )
}

/// The people directory for `viewer`, those whose name starts with `q` listed, with the
/// form that starts a group chat as `group` says.
pub(super) async fn directory_page(
    chat: &Chat,
    viewer: &Viewer,
    q: &str,
    group: views::GroupForm,
) -> Result<maud::Markup, AppError> {
    let q = q.trim();
    // Only the characters a username can have can match one; anything else (or a
    // prefix longer than any name) finds nobody, without asking the database.
    let searchable = q.len() <= Username::MAX
        && q.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let people =
        if searchable {
            let pattern = format!("{}%", q.to_ascii_lowercase().replace('_', "\\_"));
            let rows = chat
            .db
            .query_all_raw(db::statement(
                &chat.db,
                "SELECT id, username FROM users WHERE username_key LIKE ? ESCAPE '\\' AND id <> ? \
                 AND deleted_at IS NULL AND NOT is_guest ORDER BY username_key LIMIT ?",
                [pattern.into(), viewer.id.into(), (DIRECTORY_LIMIT as i64).into()],
            ))
            .await?;
            let mut found = Vec::with_capacity(rows.len());
            for row in rows {
                found.push((
                    row.try_get::<i64>("", "id")?,
                    row.try_get::<String>("", "username")?,
                ));
            }
            let ids: Vec<i64> = found.iter().map(|(id, _)| *id).collect();
            let online = chat.hub.online_among(&ids).await;
            found
                .into_iter()
                .map(|(id, username)| views::Person {
                    online: online.contains(&id),
                    id,
                    username,
                })
                .collect()
        } else {
            Vec::new()
        };
    let sidebar = sidebar::for_user(&chat.db, viewer.id, None).await?;
    Ok(views::directory(
        viewer,
        q,
        &people,
        &group,
        chat.hub.site_online().await,
        sidebar,
    ))
}

/// The person called `username` (any case), if there is one.
async fn person_named(
    db: &sea_orm::DatabaseConnection,
    username: &str,
) -> Result<Option<user::Model>, AppError> {
    match Username::parse(username) {
        Ok(name) => Ok(user::Entity::find()
            .filter(user::Column::UsernameKey.eq(name.key()))
            .one(db)
            .await?),
        Err(_) => Ok(None),
    }
}

fn nobody() -> Response {
    layout::error_page(
        StatusCode::NOT_FOUND,
        "There is nobody with that name on hearth.",
    )
}

/// `GET /users/{username}`: who someone is, whether they are online, and a way to
/// message them (where a mention links).
#[handler]
pub async fn profile(
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Path(username): Path<String>,
) -> Result<Response, AppError> {
    let Some(person) = person_named(&chat.db, &username).await? else {
        return Ok(nobody());
    };
    let online = chat
        .hub
        .online_among(&[person.id])
        .await
        .contains(&person.id)
        || person.id == viewer.id;
    let sidebar = sidebar::for_user(&chat.db, viewer.id, None).await?;
    let last_seen = crate::accounts::settings::last_seen(&chat.db, person.id).await?;
    Ok(views::profile(
        &viewer,
        &views::Person {
            id: person.id,
            username: person.username.clone(),
            online,
        },
        &person,
        last_seen,
        chat.hub.site_online().await,
        sidebar,
    )
    .into_response())
}

#[handler]
pub async fn open_chat(
    req: &Request,
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Path(username): Path<String>,
    Query(query): Query<chat::page::PageQuery>,
) -> Result<Response, AppError> {
    let Some(other) = person_named(&chat.db, &username).await? else {
        return Ok(nobody());
    };
    if other.id == viewer.id {
        return Ok(layout::error_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            "A private chat needs two people: pick someone else from the directory.",
        ));
    }
    let conversation = open_or_create(chat, viewer.id, other.id).await?;
    if let (Some(before), true) = (query.before, is_htmx(req)) {
        let base = format!("/dm/{}", other.username);
        return Ok(chat::page::older(&chat.db, &conversation, &base, before)
            .await?
            .into_response());
    }
    Ok(
        chat::page::render(chat, &viewer, &conversation, &query, None)
            .await?
            .into_response(),
    )
}

/// The private chat of two people, created (with both memberships) on first use.
/// Concurrent first uses from both sides meet on the unique key and share one row.
async fn open_or_create(chat: &Chat, a: i64, b: i64) -> Result<Conversation, AppError> {
    let key = access::direct_key(a, b);
    let find =
        || conversation::Entity::find().filter(conversation::Column::DirectKey.eq(key.clone()));
    if let Some(found) = find().one(&chat.db).await? {
        return Ok(found);
    }
    let stored = super::store::create(
        &chat.db,
        super::store::NewChat {
            kind: ConversationKind::Direct,
            name: String::new(),
            key: &key,
            visibility: "public",
            members: &[a, b],
            created_by: a,
        },
    )
    .await?;
    let created = find().one(&chat.db).await?.ok_or(AppError::NotFound)?;
    if stored {
        chat.membership_changed(created.id);
    }
    Ok(created)
}
