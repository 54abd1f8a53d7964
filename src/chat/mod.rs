//! What public rooms and private chats share: a [`Conversation`], its messages, posting
//! to it, reading its history, and the views of a conversation page and of one message.
//!
//! Posting follows one rule: persist, then broadcast. A message is handed to the
//! [`crate::live::Hub`] only after its transaction has committed ([`writer`]).
pub mod access;
mod body;
pub mod page;
pub mod queries;
pub mod routes;
pub mod sidebar;
pub mod views;
pub mod writer;

pub use body::{BodyError, MessageBody};
pub use queries::{MessageView, Posted};

use crate::{entities::conversation, error::AppError, startup::AppState};

/// A row of `conversations`: a public room or a private chat.
pub type Conversation = conversation::Model;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConversationKind {
    Room,
    Direct,
}

impl ConversationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationKind::Room => "room",
            ConversationKind::Direct => "direct",
        }
    }

    pub fn of(conversation: &Conversation) -> Self {
        if conversation.kind == "direct" {
            ConversationKind::Direct
        } else {
            ConversationKind::Room
        }
    }
}

/// How many messages a page shows, and how many "older" loads at a time.
pub const PAGE_SIZE: u64 = 50;

/// Posts `body` to `conversation` as its author: stores it, and once it is committed,
/// hands it to the hub for delivery. Both the composer and the socket post through here,
/// so both are held to the same rate limit.
pub async fn post(
    state: &AppState,
    conversation: &Conversation,
    author_id: i64,
    author: &str,
    body: MessageBody,
) -> Result<Posted, AppError> {
    state
        .limits
        .message(author_id)
        .map_err(AppError::TooManyRequests)?;
    Ok(state
        .writer
        .post(queries::NewMessage {
            conversation_id: conversation.id,
            author_id,
            author: author.to_owned(),
            body,
        })
        .await?)
}
