//! `/messages/{id}`: the token owner's changes to a message: editing and deleting their
//! own (an administrator may delete anyone's, as on the page), adding and removing
//! their reactions. Each goes through the page's own action
//! ([`crate::chat::actions::routes::change`]): the same checks in the same order
//! (404 when the conversation cannot be read, 403 for someone else's message, the
//! rate limit, the input), stored as an event and delivered live.
use std::sync::Arc;

use poem::web::Data;
use poem_openapi::{
    OpenApi,
    param::{Path, Query},
    payload::Json,
};

use super::{
    Tag,
    auth::Token,
    models::{Message, MessageEdit, NewReaction},
    problem::ApiError,
};
use crate::chat::{
    BodyError, Chat, Conversation, MessageBody,
    actions::{
        routes::{change, open_to_change},
        store::{self, Change, Target},
    },
    mentions,
    reactions::Emoji,
};

pub struct Messages;

#[OpenApi(prefix_path = "/messages", tag = "Tag::Messages")]
impl Messages {
    /// Edit a message
    ///
    /// The token owner's own messages only (403 otherwise), under the rules of posting.
    #[oai(path = "/:id", method = "patch", operation_id = "editMessage")]
    async fn edit(
        &self,
        token: Token,
        chat: Data<&Arc<Chat>>,
        /// The message's id.
        id: Path<i64>,
        edit: Json<MessageEdit>,
    ) -> Result<Json<Message>, ApiError> {
        let user_id = token.0.user_id;
        let (target, conversation) = opened(&chat, &token.0, id.0).await?;
        store::check(&target, user_id, true)?;
        let body = MessageBody::parse(&edit.0.body).map_err(|refusal| {
            let code = match refusal {
                BodyError::Empty => "body_empty",
                BodyError::TooLong(_) => "body_too_long",
            };
            ApiError::unprocessable(code, refusal.to_string())
        })?;
        let rendered = mentions::render(&chat, &conversation, user_id, body.as_str()).await?;
        let edit = Change::Edit {
            body,
            html: rendered.html,
            mentioned: rendered.mentioned.people,
        };
        let message = change(&chat, user_id, &target, edit).await?;
        Ok(Json(Message::from(&message)))
    }

    /// Delete a message
    ///
    /// The token owner's own messages (an administrator's token: anyone's). The
    /// message keeps its place as a tombstone without its text; it is answered so.
    #[oai(path = "/:id", method = "delete", operation_id = "deleteMessage")]
    async fn delete(
        &self,
        token: Token,
        chat: Data<&Arc<Chat>>,
        /// The message's id.
        id: Path<i64>,
    ) -> Result<Json<Message>, ApiError> {
        let user_id = token.0.user_id;
        let (target, _) = opened(&chat, &token.0, id.0).await?;
        let message = change(&chat, user_id, &target, Change::Delete).await?;
        Ok(Json(Message::from(&message)))
    }

    /// Add a reaction
    ///
    /// The token owner's reaction with this emoji is on the message afterwards
    /// (adding it twice is adding it once).
    #[oai(path = "/:id/reactions", method = "post", operation_id = "addReaction")]
    async fn react(
        &self,
        token: Token,
        chat: Data<&Arc<Chat>>,
        /// The message's id.
        id: Path<i64>,
        reaction: Json<NewReaction>,
    ) -> Result<Json<Message>, ApiError> {
        set_reaction(&chat, &token.0, id.0, &reaction.0.emoji, true).await
    }

    /// Remove a reaction
    ///
    /// The token owner's reaction with this emoji is off the message afterwards.
    #[oai(
        path = "/:id/reactions",
        method = "delete",
        operation_id = "removeReaction"
    )]
    async fn unreact(
        &self,
        token: Token,
        chat: Data<&Arc<Chat>>,
        /// The message's id.
        id: Path<i64>,
        /// The emoji to take back, such as `👍` (percent-encoded in the URL).
        emoji: Query<String>,
    ) -> Result<Json<Message>, ApiError> {
        set_reaction(&chat, &token.0, id.0, &emoji.0, false).await
    }
}

/// Message `id` and its conversation, when the token's owner may change it there.
async fn opened(
    chat: &Chat,
    holder: &super::tokens::Holder,
    id: i64,
) -> Result<(Target, Conversation), ApiError> {
    let (target, conversation) = open_to_change(chat, holder.user_id, id).await?;
    super::auth::may_use(&chat.db, holder.user_id, holder.is_bot, &conversation).await?;
    Ok((target, conversation))
}

async fn set_reaction(
    chat: &Chat,
    holder: &super::tokens::Holder,
    id: i64,
    emoji: &str,
    wanted: bool,
) -> Result<Json<Message>, ApiError> {
    let user_id = holder.user_id;
    let (target, _) = opened(chat, holder, id).await?;
    let emoji = Emoji::parse(emoji).map_err(|why| ApiError::unprocessable("bad_emoji", why))?;
    let message = change(chat, user_id, &target, Change::SetReaction(emoji, wanted)).await?;
    Ok(Json(Message::from(&message)))
}
