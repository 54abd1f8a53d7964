//! What pushes unread counts and receipts to open pages. A new message is announced to
//! its conversation's members who are on other pages ([`Announcer`]), off the thread
//! that committed it; a read sends the reader's pages their new count and, in a
//! private chat, the other person's pages the receipt ([`read`]).
use std::sync::Arc;

use maud::Markup;
use sea_orm::DatabaseConnection;
use tokio::sync::mpsc;

use super::{queries, views};
use crate::{
    chat::{MessageView, members::Members, queries::conversation_by_id},
    live::{Hub, Outgoing},
};

/// Announces new messages to members on other pages, in the order they committed.
#[derive(Clone)]
pub struct Announcer {
    posted: mpsc::UnboundedSender<MessageView>,
}

impl Announcer {
    /// Starts the announcing task; it ends when the last handle is dropped.
    pub fn start(db: DatabaseConnection, hub: Hub, members: Arc<Members>) -> Self {
        let (posted, mut queue) = mpsc::unbounded_channel::<MessageView>();
        tokio::spawn(async move {
            while let Some(message) = queue.recv().await {
                announce(&db, &hub, &members, &message).await;
            }
        });
        Self { posted }
    }

    /// `message` was posted (called from the committing thread: it never waits).
    pub fn posted(&self, message: MessageView) {
        let _ = self.posted.send(message);
    }
}

/// Tells the conversation's members who are on other pages that `message` came: their
/// unread counts, the order of their sidebar, a notification. One fragment for all,
/// rendered only when someone is there to get it.
pub async fn announce(
    db: &DatabaseConnection,
    hub: &Hub,
    members: &Members,
    message: &MessageView,
) {
    let conversation_id = message.conversation_id;
    let members = match members.of(conversation_id).await {
        Ok(members) => members,
        Err(e) => {
            tracing::warn!(error = %e, conversation_id, "could not load members");
            return;
        }
    };
    if !hub.has_users_elsewhere(&members, conversation_id) {
        return;
    }
    let conversation = match conversation_by_id(db, conversation_id).await {
        Ok(Some(c)) => c,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, conversation_id, "could not load a conversation");
            return;
        }
    };
    let out = Outgoing::html(views::activity(&conversation, message));
    hub.send_to_users_elsewhere(&members, conversation_id, &out);
}

/// `user_id` has read `conversation_id` up to `up_to`: their pages here get the new
/// count, and the other person's pages of a private chat show the receipt.
pub async fn read(
    db: &DatabaseConnection,
    hub: &Hub,
    conversation_id: i64,
    user_id: i64,
    up_to: i64,
) {
    hub.send_to_peers(
        conversation_id,
        user_id,
        Outgoing::html(views::peer_read(conversation_id, up_to, true)),
    );
    if !hub.is_online(user_id) {
        return;
    }
    match queries::unread_count(db, conversation_id, user_id).await {
        Ok(count) => hub.send_to_user(
            user_id,
            fragment(views::badge(conversation_id, count, true)),
        ),
        Err(e) => tracing::warn!(error = %e, "could not count unread messages"),
    }
}

fn fragment(markup: Markup) -> Outgoing {
    Outgoing::html(markup)
}
