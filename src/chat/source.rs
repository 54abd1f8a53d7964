//! What the live layer asks of conversations ([`crate::live::Source`]): what changed
//! since an event (to fill a gap, or to learn where a conversation stands), whether a
//! conversation is a room, and what to do with other processes' news of messages,
//! reads and memberships.
use std::sync::Arc;

use async_trait::async_trait;
use sea_orm::{DatabaseConnection, DbErr};

use super::{ConversationKind, catchup, members::Members, queries, unread};
use crate::live::{Event, Filled, Hub};

/// Messages one fill reads at most, over all the conversations it fills; past it they
/// are read one conversation at a time, and a conversation more than this far behind
/// fills in several steps.
const FILL_LIMIT: u64 = 2000;

pub struct ChatSource {
    db: DatabaseConnection,
    members: Arc<Members>,
    events: Arc<crate::app_events::Latest>,
    support: Arc<crate::support::live::Inbox>,
}

impl ChatSource {
    pub fn new(
        db: DatabaseConnection,
        members: Arc<Members>,
        events: Arc<crate::app_events::Latest>,
        support: Arc<crate::support::live::Inbox>,
    ) -> Self {
        Self {
            db,
            members,
            events,
            support,
        }
    }
}

fn filled(changes: catchup::Changes, complete: bool) -> Filled {
    let authors = changes
        .messages
        .iter()
        .filter(|m| m.seq > changes.after)
        .map(|m| m.author_id)
        .collect();
    Filled {
        conversation_id: changes.conversation_id,
        after: changes.after,
        upto: changes.upto,
        html: changes.fragment().into_string(),
        authors,
        complete,
    }
}

#[async_trait]
impl crate::live::Source for ChatSource {
    async fn changes(&self, wanted: &[(i64, Option<i64>)]) -> Result<Vec<Filled>, DbErr> {
        if let Some(all) = catchup::since_many(&self.db, wanted, FILL_LIMIT).await? {
            return Ok(all.into_iter().map(|c| filled(c, true)).collect());
        }
        let mut all = Vec::with_capacity(wanted.len());
        for (conversation_id, after) in wanted {
            let Some(after) = after else {
                let head = queries::head(&self.db, *conversation_id).await?;
                all.push(Filled {
                    conversation_id: *conversation_id,
                    after: head,
                    upto: head,
                    html: String::new(),
                    authors: Vec::new(),
                    complete: true,
                });
                continue;
            };
            let changes = catchup::since(&self.db, *conversation_id, *after, FILL_LIMIT).await?;
            let complete = (changes.messages.len() as u64) < FILL_LIMIT;
            all.push(filled(changes, complete));
        }
        Ok(all)
    }

    async fn is_room(&self, conversation_id: i64) -> Option<bool> {
        let conversation = queries::conversation_by_id(&self.db, conversation_id)
            .await
            .ok()??;
        // A private room's count is its members' business: the lobby does not list it.
        Some(
            ConversationKind::of(&conversation) == ConversationKind::Room
                && !super::access::is_private_room(&conversation),
        )
    }

    async fn heard(&self, hub: &Hub, event: &Event) {
        match event {
            Event::Changed {
                message_id,
                posted: true,
                ..
            } => match super::mentions::queries::posted(&self.db, *message_id).await {
                Ok(Some(posted)) => {
                    self.support
                        .posted(
                            &self.db,
                            posted.message.conversation_id,
                            Some(&posted.message.author),
                        )
                        .await;
                    unread::push::announce(&self.db, hub, &self.members, &posted).await
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "could not load a message to announce"),
            },
            // An edit, a deletion or a reaction: a visitor's row shows the last message.
            Event::Changed {
                conversation_id,
                posted: false,
                ..
            } => self.support.posted(&self.db, *conversation_id, None).await,
            Event::SupportChanged { conversation_id } => {
                self.support.changed_here(*conversation_id)
            }
            Event::Typing {
                conversation_id,
                username,
                ..
            } => {
                self.support
                    .typed(&self.db, *conversation_id, username)
                    .await
            }
            Event::Read {
                conversation_id,
                user_id,
                up_to,
            } => {
                let visitor = self.support.visitor_of(&self.db, *conversation_id).await;
                unread::push::read(&self.db, hub, *conversation_id, *user_id, *up_to, visitor).await
            }
            Event::MembershipChanged { conversation_id } => self.members.forget(*conversation_id),
            Event::Added {
                conversation_id,
                user_id,
            } => super::tell_added(&self.db, hub, *conversation_id, *user_id).await,
            Event::Published { id } => {
                crate::app_events::heard(&self.db, hub, &self.members, &self.events, *id).await
            }
            _ => {}
        }
    }
}
