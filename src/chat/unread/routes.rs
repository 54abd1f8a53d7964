//! `POST /conversations/{id}/read` (`up_to`): the page reports what the person has seen.
use std::sync::Arc;

use poem::{
    handler,
    http::StatusCode,
    web::{Data, Form, Path},
};
use serde::Deserialize;

use crate::{
    chat::{Chat, access},
    error::AppError,
    live::Event,
    web::Viewer,
};

#[derive(Debug, Deserialize)]
pub struct ReadForm {
    up_to: i64,
}

/// One write per report, however many messages it covers; the reader's other pages
/// and, in a private chat, the other person hear of it here and in every process.
#[handler]
pub async fn mark_read(
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Path(conversation_id): Path<i64>,
    Form(form): Form<ReadForm>,
) -> Result<StatusCode, AppError> {
    let conversation = access::open(&chat.db, &viewer, conversation_id).await?;
    let visitor = chat.support.visitor_of(&chat.db, conversation.id).await;
    if matches!(visitor, Ok(Some(v)) if v != viewer.id) {
        // Operators read a visitor's conversation without joining it; the first time
        // one reports reading it, they join, so that their reading is kept and shown.
        crate::chat::queries::join(&chat.db, conversation.id, viewer.id).await?;
    }
    if let Some(up_to) =
        super::queries::mark_read(&chat.db, &conversation, viewer.id, form.up_to).await?
    {
        super::push::read(
            &chat.db,
            &chat.hub,
            conversation.id,
            viewer.id,
            up_to,
            visitor,
        )
        .await;
        chat.hub.publish(Event::Read {
            conversation_id: conversation.id,
            user_id: viewer.id,
            up_to,
        });
    }
    Ok(StatusCode::NO_CONTENT)
}
