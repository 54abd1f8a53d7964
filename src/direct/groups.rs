//! Group private chats: three to eight people, started with `POST /dm` (`username`,
//! repeated or comma-separated: the two to seven others) and read at `/dm/g/{id}`.
//! The same people, named in any order by any of them, always find the same chat: its
//! key is their sorted ids ([`access::group_key`]) in the unique column that two-person
//! chats use, and its members are stored in the transaction that makes it, so there is
//! never a group without its members. Its members never change.
//!
//! Who may read one is [`access::may_read`]'s to say (its members, from their
//! memberships); this module must not decide it again.
use std::{collections::HashSet, sync::Arc};

use poem::{
    IntoResponse, Request, Response, handler,
    http::StatusCode,
    web::{Data, Form, Path, Query, Redirect},
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::{
    accounts::Username,
    chat::{self, Chat, Conversation, ConversationKind, access},
    entities::{conversation, user},
    error::AppError,
    web::{Viewer, is_htmx},
};

/// The fewest and most people a group chat holds, its starter included.
pub const SMALLEST: usize = 3;
pub const LARGEST: usize = 8;

/// A group's title for one of its members: the others' names, alphabetically.
pub fn title(members: &[String], viewer: &str) -> String {
    members
        .iter()
        .filter(|name| !name.eq_ignore_ascii_case(viewer))
        .cloned()
        .collect::<Vec<_>>()
        .join(", ")
}

/// The names typed into the form: every `username` field, each split at commas and
/// spaces, a leading `@` dropped.
pub fn typed_names(fields: &[(String, String)]) -> Vec<String> {
    fields
        .iter()
        .filter(|(field, _)| field == "username")
        .flat_map(|(_, value)| value.split(|c: char| c == ',' || c.is_whitespace()))
        .map(|name| name.trim_start_matches('@'))
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The others `viewer` named, as accounts: two to seven active people, each once, not
/// the viewer; or why not, in words for the form.
async fn others_named(
    chat: &Chat,
    viewer: &Viewer,
    names: &[String],
) -> Result<Result<Vec<user::Model>, String>, AppError> {
    let mut keys = Vec::with_capacity(names.len());
    let mut seen = HashSet::new();
    for name in names {
        let key = name.to_ascii_lowercase();
        if key == viewer.username.to_ascii_lowercase() {
            return Ok(Err(
                "Leave yourself out: you are in every group chat you start.".to_owned(),
            ));
        }
        if !seen.insert(key.clone()) {
            return Ok(Err(format!(
                "{name} is named twice: name each person once."
            )));
        }
        keys.push((name, key));
    }
    if keys.len() + 1 < SMALLEST {
        return Ok(Err(format!(
            "A group chat needs at least {} other people (for one, open a private chat with them).",
            SMALLEST - 1
        )));
    }
    if keys.len() + 1 > LARGEST {
        return Ok(Err(format!(
            "A group chat holds at most {LARGEST} people: name {} others at most.",
            LARGEST - 1
        )));
    }
    let mut people = Vec::with_capacity(keys.len());
    for (name, key) in &keys {
        let found = match Username::parse(key) {
            Ok(valid) => {
                user::Entity::find()
                    .filter(user::Column::UsernameKey.eq(valid.key()))
                    .one(&chat.db)
                    .await?
            }
            Err(_) => None,
        };
        match found {
            None => return Ok(Err(format!("There is nobody called {name} on hearth."))),
            Some(person) if person.deactivated_at.is_some() => {
                return Ok(Err(format!(
                    "{} is deactivated and cannot join a chat.",
                    person.username
                )));
            }
            Some(person) => people.push(person),
        }
    }
    Ok(Ok(people))
}

/// `POST /dm`: opens the group chat of the viewer and the people named, starting it if
/// it is new; 303 to it. Bad names: the people directory again, 422, with why.
#[handler]
pub async fn start(
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let names = typed_names(&fields);
    let others = match others_named(chat, &viewer, &names).await? {
        Ok(others) => others,
        Err(why) => {
            let form = super::views::GroupForm {
                typed: names.join(", "),
                error: Some(why),
            };
            let mut resp = super::routes::directory_page(chat, &viewer, "", form)
                .await?
                .into_response();
            resp.set_status(StatusCode::UNPROCESSABLE_ENTITY);
            return Ok(resp);
        }
    };
    let group = open_or_start(chat, &viewer, &others).await?;
    Ok(Redirect::see_other(chat::group_path(group.id)).into_response())
}

/// The group chat of `viewer` and `others`, started (with every membership, in one
/// transaction) if there is none. Two people starting the same group at once meet on
/// the unique key: one insert stores it, the other stores nothing, and both open it.
async fn open_or_start(
    chat: &Chat,
    viewer: &Viewer,
    others: &[user::Model],
) -> Result<Conversation, AppError> {
    let mut ids: Vec<i64> = others.iter().map(|p| p.id).collect();
    ids.push(viewer.id);
    let key = access::group_key(&ids);
    let find = || {
        conversation::Entity::find()
            .filter(conversation::Column::DirectKey.eq(key.clone()))
            .filter(conversation::Column::Kind.eq(ConversationKind::Group.as_str()))
    };
    if let Some(found) = find().one(&chat.db).await? {
        return Ok(found);
    }
    // A new conversation, as a room is: a flood of them waits.
    chat.limits
        .room(viewer.id)
        .map_err(AppError::TooManyRequests)?;
    let mut names: Vec<&str> = others.iter().map(|p| p.username.as_str()).collect();
    names.push(&viewer.username);
    names.sort_by_key(|name| name.to_ascii_lowercase());
    let stored = super::store::create(
        &chat.db,
        super::store::NewChat {
            kind: ConversationKind::Group,
            // What one fragment for every member calls it; each member's page and
            // sidebar leave themselves out.
            name: names.join(", "),
            key: &key,
            visibility: "private",
            members: &ids,
            created_by: viewer.id,
        },
    )
    .await?;
    let group = find().one(&chat.db).await?.ok_or(AppError::NotFound)?;
    if stored {
        tracing::info!(
            conversation = group.id,
            people = ids.len(),
            "group chat started"
        );
        chat.membership_changed(group.id);
    }
    Ok(group)
}

/// `GET /dm/g/{id}`: the group chat's page, to its members; 404 to anyone else, as if
/// there were no such chat.
#[handler]
pub async fn show(
    req: &Request,
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Path(id): Path<String>,
    Query(query): Query<chat::page::PageQuery>,
) -> Result<Response, AppError> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    let group = access::open(&chat.db, &viewer, id).await?;
    if ConversationKind::of(&group) != ConversationKind::Group {
        return Err(AppError::NotFound);
    }
    if let (Some(before), true) = (query.before, is_htmx(req)) {
        return Ok(
            chat::page::older(&chat.db, &group, &chat::group_path(group.id), before)
                .await?
                .into_response(),
        );
    }
    Ok(chat::page::render(chat, &viewer, &group, &query, None)
        .await?
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(values: &[&str]) -> Vec<(String, String)> {
        values
            .iter()
            .map(|v| ("username".to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn names_come_from_repeated_fields_and_from_commas_alike() {
        assert_eq!(
            typed_names(&fields(&["bob", " @carol, dave ,,", ""])),
            vec!["bob", "carol", "dave"]
        );
        let mut other = fields(&["bob"]);
        other.push(("csrf_token".to_owned(), "x".to_owned()));
        assert_eq!(typed_names(&other), vec!["bob"]);
    }

    #[test]
    fn a_title_leaves_the_viewer_out() {
        let names = ["alice", "Bob", "carol"].map(str::to_owned);
        assert_eq!(title(&names, "bob"), "alice, carol");
    }
}
