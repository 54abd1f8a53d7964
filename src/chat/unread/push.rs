//! What pushes unread counts and receipts to open pages. A new message is announced to
//! its conversation's members who are on other pages ([`Announcer`]), off the thread
//! that committed it, and handed on to Web Push for those with no page open; a read sends the reader's pages their new count and, in a
//! private chat, the other person's pages the receipt ([`read`]).
use std::sync::Arc;

use sea_orm::DatabaseConnection;
use tokio::sync::mpsc;

use super::{queries, views};
use crate::{
    chat::{Posted, members::Members, queries::conversation_by_id},
    live::{Hub, Outgoing},
    push::Pusher,
    support::live::Inbox,
};

/// Announces new messages to members on other pages, in the order they committed.
#[derive(Clone)]
pub struct Announcer {
    posted: mpsc::UnboundedSender<Posted>,
}

impl Announcer {
    /// Starts the announcing task; it ends when the last handle is dropped. `inbox`
    /// hears of messages in visitors' conversations.
    pub fn start(
        db: DatabaseConnection,
        hub: Hub,
        members: Arc<Members>,
        pusher: Pusher,
        inbox: Arc<Inbox>,
    ) -> Self {
        let (posted, mut queue) = mpsc::unbounded_channel::<Posted>();
        tokio::spawn(async move {
            while let Some(posted) = queue.recv().await {
                let message = &posted.message;
                inbox
                    .posted(&db, message.conversation_id, Some(&message.author))
                    .await;
                announce(&db, &hub, &members, &posted).await;
                // Only the process that stored a message pushes it: once, wherever
                // its members' pages are.
                pusher.posted(&posted);
            }
        });
        Self { posted }
    }

    /// A message was posted (called from the committing thread: it never waits).
    pub fn posted(&self, posted: Posted) {
        let _ = self.posted.send(posted);
    }
}

/// Tells the conversation's members who are on other pages that a message came: their
/// unread and mention counts, the order of their sidebar, a notification, the line on
/// `/mentions`. One fragment for all, rendered only when someone is there to get it.
pub async fn announce(db: &DatabaseConnection, hub: &Hub, members: &Members, posted: &Posted) {
    let message = &posted.message;
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
    let out = Outgoing::html(views::activity(&conversation, message, &posted.mentioned));
    hub.send_to_users_elsewhere(&members, conversation_id, &out);
}

/// `user_id` has read `conversation_id` up to `up_to`: their pages here get the new
/// count, and the other side's pages show the receipt: the other person's in a
/// private chat; in a visitor's conversation (`visitor`), the team's when the visitor
/// read and the visitor's when one of the team did (so that colleagues' reading does
/// not tick each other's messages).
pub async fn read(
    db: &DatabaseConnection,
    hub: &Hub,
    conversation_id: i64,
    user_id: i64,
    up_to: i64,
    visitor: Result<Option<i64>, sea_orm::DbErr>,
) {
    match visitor {
        Ok(Some(visitor)) if visitor != user_id => {
            // The visitor's ticks show the furthest any of the team has read, so a
            // colleague's page that reports less does not take them back.
            match crate::support::queries::read_marks(db, conversation_id).await {
                Ok(marks) => hub.send_to_user(
                    visitor,
                    Outgoing::html(views::peer_read(
                        conversation_id,
                        marks.team.max(up_to),
                        true,
                    )),
                ),
                Err(e) => tracing::warn!(error = %e, "could not read the team's read mark"),
            }
        }
        Ok(_) => hub.send_to_peers(
            conversation_id,
            user_id,
            Outgoing::html(views::peer_read(conversation_id, up_to, true)),
        ),
        // Whose side the reader is on is unknown: better no receipt than a wrong one.
        Err(e) => {
            tracing::warn!(error = %e, conversation_id, "could not tell whose conversation this is")
        }
    }
    if !hub.is_online(user_id) {
        return;
    }
    match queries::unread_counts(db, conversation_id, user_id).await {
        Ok((unread, mentions)) => hub.send_to_user(
            user_id,
            Outgoing::html(maud::html! {
                (views::badge(conversation_id, unread, true))
                (views::mention_badge(conversation_id, mentions, true))
            }),
        ),
        Err(e) => tracing::warn!(error = %e, "could not count unread messages"),
    }
}
