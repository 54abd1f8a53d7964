//! `GET /messages/{id}` (the permalink), and the actions on a message: `edit`,
//! `delete`, `reactions` (POST), each with a page of its own for plain forms (`GET
//! …/edit`, `…/delete`, `…/react`), and `…/reply`, which opens the composer on it.
//!
//! Order of checks, the same for every action: the message exists and the viewer may
//! read its conversation (else 404, as for the conversation), it is theirs where that
//! matters (403), posting's rate limit (429), the input (422), then the change itself,
//! which checks again under the conversation's lock (409 for a deleted message).
use std::sync::Arc;

use poem::{
    IntoResponse, Request, Response, handler,
    http::StatusCode,
    web::{Data, Form, Path, Redirect},
};
use serde::Deserialize;

use super::{
    store::{self, Change, Target},
    views,
};
use crate::{
    chat::{
        Chat, Conversation, MessageBody, access, mentions, queries, reactions::Emoji,
        views as chat_views,
    },
    error::AppError,
    live::Committed,
    web::{Viewer, is_htmx},
};

/// The message and its conversation, if `user_id` may read it.
pub(crate) async fn open(
    chat: &Chat,
    user_id: i64,
    id: i64,
) -> Result<(Target, Conversation), AppError> {
    let target = store::target(&chat.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let conversation = access::open_for(&chat.db, user_id, target.conversation_id).await?;
    Ok((target, conversation))
}

/// The message and its conversation, if `user_id` may read it and it may change: an
/// archived room's messages stay as they are (409).
pub(crate) async fn open_to_change(
    chat: &Chat,
    user_id: i64,
    id: i64,
) -> Result<(Target, Conversation), AppError> {
    let (target, conversation) = open(chat, user_id, id).await?;
    if conversation.archived_at.is_some() {
        return Err(AppError::Conflict(crate::chat::ARCHIVED));
    }
    Ok((target, conversation))
}

/// `GET /messages/{id}`: the conversation around the message, which the page marks.
#[handler]
pub async fn permalink(
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let (_, conversation) = open(chat, viewer.id, id).await?;
    let url = access::url_for(&chat.db, &conversation, &viewer).await?;
    Ok(Redirect::see_other(format!("{url}?around={id}#message-{id}")).into_response())
}

/// `GET /messages/{id}/reply`: the conversation, its composer answering the message.
#[handler]
pub async fn reply(
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let (_, conversation) = open(chat, viewer.id, id).await?;
    let url = access::url_for(&chat.db, &conversation, &viewer).await?;
    Ok(Redirect::see_other(format!("{url}?reply_to={id}#composer")).into_response())
}

/// Stores `change` by `user_id` and hands it to the hub; answers the message as it
/// now is. Pages and the API change messages through here alone.
pub(crate) async fn change(
    chat: &Chat,
    user_id: i64,
    target: &Target,
    change: Change,
) -> Result<crate::chat::MessageView, AppError> {
    // An administrator may delete anyone's message (moderation); editing stays the
    // author's alone.
    let authors_only = change.authors_only()
        && !(matches!(change, Change::Delete)
            && target.author_id != user_id
            && crate::admin::is_admin(&chat.db, user_id).await?);
    store::check(target, user_id, authors_only)?;
    chat.limits
        .message(user_id)
        .map_err(AppError::TooManyRequests)?;
    let store::Applied {
        message,
        replies,
        freed,
    } = store::apply(
        &chat.db,
        &chat.gate,
        chat.hub.bus(),
        target.id,
        user_id,
        &change,
        authors_only,
    )
    .await?;
    if !freed.is_empty() {
        chat.files.release(&chat.db, freed).await;
    }
    chat.histories
        .committed(message.conversation_id, message.updated_seq);
    let mut html = chat_views::replaced(&message).into_string();
    for answer in &replies {
        html.push_str(&chat_views::replaced(answer).into_string());
    }
    chat.hub.committed(Committed {
        conversation_id: message.conversation_id,
        seq: message.updated_seq,
        html,
        author_id: None,
        coalesce: change.coalesces().then_some(message.id),
    });
    // A visitor's inbox row shows the conversation's last message.
    chat.support
        .posted(&chat.db, message.conversation_id, None)
        .await;
    Ok(message)
}

/// The answer to a change: the message refreshed where the page shows it for htmx (a
/// reaction, coalesced, comes over the socket instead), back to it for a plain form.
fn answered(req: &Request, message: &crate::chat::MessageView, refresh: bool) -> Response {
    if is_htmx(req) {
        if refresh {
            return chat_views::refreshed(message).into_response();
        }
        return StatusCode::NO_CONTENT.into_response();
    }
    Redirect::see_other(format!("/messages/{}", message.id)).into_response()
}

#[derive(Debug, Deserialize)]
pub struct EditForm {
    #[serde(default)]
    body: String,
}

/// `GET /messages/{id}/edit`: the edit form, as a page or (for htmx) in place.
#[handler]
pub async fn edit_form(
    req: &Request,
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let (target, conversation) = open(chat, viewer.id, id).await?;
    store::check(&target, viewer.id, true)?;
    let message = queries::message_by_id(&chat.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if is_htmx(req) {
        return Ok(views::edit_in_place(&message, &message.body, None).into_response());
    }
    let back = access::url_for(&chat.db, &conversation, &viewer).await?;
    Ok(views::edit_page(&viewer, &message, &back, &message.body, None).into_response())
}

/// `POST /messages/{id}/edit` (`body`): the author's new text, under the rules of
/// posting.
#[handler]
pub async fn edit(
    req: &Request,
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Path(id): Path<i64>,
    Form(form): Form<EditForm>,
) -> Result<Response, AppError> {
    let (target, conversation) = open_to_change(chat, viewer.id, id).await?;
    store::check(&target, viewer.id, true)?;
    let body = match MessageBody::parse(&form.body) {
        Ok(body) => body,
        Err(refusal) => {
            let message = queries::message_by_id(&chat.db, id)
                .await?
                .ok_or(AppError::NotFound)?;
            let why = refusal.to_string();
            let mut resp = if is_htmx(req) {
                views::edit_in_place(&message, &form.body, Some(&why)).into_response()
            } else {
                let back = access::url_for(&chat.db, &conversation, &viewer).await?;
                views::edit_page(&viewer, &message, &back, &form.body, Some(&why)).into_response()
            };
            resp.set_status(StatusCode::UNPROCESSABLE_ENTITY);
            return Ok(resp);
        }
    };
    let rendered = mentions::render(chat, &conversation, viewer.id, body.as_str()).await?;
    let edit = Change::Edit {
        body,
        html: rendered.html,
        mentioned: rendered.mentioned.people,
    };
    let message = change(chat, viewer.id, &target, edit).await?;
    Ok(answered(req, &message, true))
}

/// `GET /messages/{id}/delete`: the confirmation, for plain forms.
#[handler]
pub async fn delete_form(
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let (target, conversation) = open(chat, viewer.id, id).await?;
    store::check(&target, viewer.id, true)?;
    let message = queries::message_by_id(&chat.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let back = access::url_for(&chat.db, &conversation, &viewer).await?;
    Ok(views::delete_page(&viewer, &message, &back).into_response())
}

/// `POST /messages/{id}/delete`: the author takes the message back.
#[handler]
pub async fn delete(
    req: &Request,
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let (target, _) = open_to_change(chat, viewer.id, id).await?;
    let message = change(chat, viewer.id, &target, Change::Delete).await?;
    Ok(answered(req, &message, true))
}

/// `GET /messages/{id}/react`: every emoji, and any one typed in, for plain forms.
#[handler]
pub async fn react_form(
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let (target, conversation) = open(chat, viewer.id, id).await?;
    store::check(&target, viewer.id, false)?;
    let message = queries::message_by_id(&chat.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let back = access::url_for(&chat.db, &conversation, &viewer).await?;
    Ok(views::react_page(&viewer, &message, &back, None).into_response())
}

#[derive(Debug, Deserialize)]
pub struct ReactForm {
    #[serde(default)]
    emoji: String,
}

/// `POST /messages/{id}/reactions` (`emoji`): toggles the viewer's reaction.
#[handler]
pub async fn react(
    req: &Request,
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Path(id): Path<i64>,
    Form(form): Form<ReactForm>,
) -> Result<Response, AppError> {
    let (target, _) = open_to_change(chat, viewer.id, id).await?;
    let emoji = Emoji::parse(&form.emoji).map_err(AppError::Refused)?;
    let message = change(chat, viewer.id, &target, Change::React(emoji)).await?;
    Ok(answered(req, &message, false))
}
