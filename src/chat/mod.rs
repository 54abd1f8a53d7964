//! What public rooms and private chats (of two people or of a group) share: a [`Conversation`], its events (a new
//! message now), posting to it, reading its history, catching up on it, and the views
//! of a conversation page and of one message. [`Chat`] is what its handlers share.
//!
//! Posting follows one rule: persist, then broadcast. An event is handed to the
//! [`crate::live::Hub`] only after its transaction has committed ([`writer`]).
//!
//! - [`store`] writes events, numbered per conversation; [`writer`] runs it, batching;
//!   [`catchup`] reads what changed since an event, for sockets and for the hub
//!   ([`source`]).
//! - [`queries`], [`page`], [`views`]: history and its rendering; [`sidebar`] and
//!   [`unread`]: the conversations of a person and what they have not read.
//! - [`invisible`]: the characters that disguise text, taken out of messages and names.
//! - [`access`] decides who may see a conversation; [`members`] keeps who is in one.
//! - [`mentions`] finds whom a message names; [`levels`] holds what each member wants
//!   to hear of a conversation.
//! - [`socket`] is the WebSocket endpoint of a page; [`routes`] the composer's action.
pub mod access;
pub mod actions;
mod body;
pub mod catchup;
pub mod format;
pub mod invisible;
pub mod levels;
pub mod members;
pub mod mentions;
pub mod page;
pub mod queries;
pub mod reactions;
pub mod routes;
pub mod sidebar;
pub mod socket;
pub mod source;
pub mod store;
pub mod unread;
pub mod views;
pub mod writer;

use std::sync::Arc;

pub use body::{BodyError, MessageBody};
pub use queries::MessageView;
pub use store::Posted;

use sea_orm::{DatabaseConnection, EntityTrait};

use crate::{entities::conversation, error::AppError, limits::Limits, live::Hub};

/// A row of `conversations`: a public room or a private chat.
pub type Conversation = conversation::Model;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConversationKind {
    Room,
    /// The private chat of two people.
    Direct,
    /// The private chat of three to eight people (see [`crate::direct::groups`]).
    Group,
    /// A website visitor's conversation with the site's team (see [`crate::support`]).
    Support,
}

impl ConversationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationKind::Room => "room",
            ConversationKind::Direct => "direct",
            ConversationKind::Group => "group",
            ConversationKind::Support => "support",
        }
    }

    /// The kind stored as `kind` (anything unknown is a room).
    pub fn named(kind: &str) -> Self {
        match kind {
            "direct" => ConversationKind::Direct,
            "group" => ConversationKind::Group,
            "support" => ConversationKind::Support,
            _ => ConversationKind::Room,
        }
    }

    pub fn of(conversation: &Conversation) -> Self {
        Self::named(&conversation.kind)
    }

    /// Whether this is a private chat, of two people or of a group: listed under
    /// "Private chats", and every message notifies by default.
    pub fn is_private_chat(self) -> bool {
        matches!(self, ConversationKind::Direct | ConversationKind::Group)
    }
}

/// The path of the group private chat `id`: `/dm/g/{id}`.
pub fn group_path(id: i64) -> String {
    format!("/dm/g/{id}")
}

/// The path of the room whose slug is `slug`: `/rooms/{slug}`, the slug's letters of
/// other scripts percent-encoded (a `Location` header takes ASCII only).
pub fn room_path(slug: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');
    format!("/rooms/{}", utf8_percent_encode(slug, SEGMENT))
}

/// Why an archived room takes no messages, reactions or edits.
pub const ARCHIVED: &str = "This room is archived: it can be read, but not written in.";

/// How many messages a page shows, and how many "older" loads at a time.
pub const PAGE_SIZE: u64 = 50;

/// What the handlers of conversations share.
pub struct Chat {
    pub db: DatabaseConnection,
    /// SQLite's write lock, as this process takes turns at it (changes to messages
    /// wait behind the writer).
    pub gate: crate::db::WriteGate,
    pub hub: Hub,
    /// Stores new events, batching them under load. It and the session store take
    /// turns at SQLite's write lock through one [`crate::db::WriteGate`].
    pub writer: writer::Writer,
    /// Each conversation's latest messages, rendered for its page.
    pub histories: Arc<page::HistoryCache>,
    pub members: Arc<members::Members>,
    pub limits: Arc<Limits>,
    /// Where messages' files are kept.
    pub files: Arc<crate::files::Files>,
    /// The newest event programs published, where a page's events start.
    pub events: Arc<crate::app_events::Latest>,
    /// The support inbox's live rows.
    pub support: Arc<crate::support::live::Inbox>,
}

impl Chat {
    /// Posts `body` to `conversation` as its author, answering `reply_to` if given:
    /// renders it, stores it, and once it is committed, hands it to the hub for
    /// delivery. Both the composer and the socket post through here, so both are held
    /// to the same rate limit.
    pub async fn post(
        &self,
        conversation: &Conversation,
        author_id: i64,
        author: &str,
        body: MessageBody,
        reply_to: Option<i64>,
    ) -> Result<Posted, AppError> {
        self.post_with_files(conversation, author_id, author, body, reply_to, Vec::new())
            .await
    }

    /// Takes a place for a live connection of `user_id` (a socket, an event stream)
    /// under the socket caps, counting a refusal; held for the connection's life.
    pub fn reserve_socket(&self, user_id: i64) -> Result<crate::live::slots::Slot, AppError> {
        use crate::{live::slots::Refusal, telemetry::metrics::Limit};
        let limits = &self.limits.settings;
        let caps = crate::live::slots::Caps {
            per_user: limits.sockets_per_user,
            total: limits.max_sockets,
            handshakes: limits.handshakes_in_flight,
        };
        self.hub.reserve_socket(user_id, caps).map_err(|refusal| {
            let (limit, error) = match refusal {
                Refusal::PersonFull => (Limit::SocketsPerUser, AppError::TooManySockets),
                Refusal::ServerFull => (Limit::SocketsTotal, AppError::ServerFull),
                Refusal::Busy => (Limit::Handshakes, AppError::SocketsBusy),
            };
            self.limits.refused(limit);
            error
        })
    }

    /// [`Chat::post`] with the files of a form as received ([`crate::files::upload`]):
    /// their blobs are stored first, under their hashes, and the rows that name them
    /// commit with the message; a post that fails gives back the blobs no other
    /// message uses, so no file is left behind.
    pub async fn post_received(
        &self,
        conversation: &Conversation,
        author_id: i64,
        author: &str,
        body: MessageBody,
        reply_to: Option<i64>,
        files: &mut [crate::files::upload::Received],
    ) -> Result<Posted, AppError> {
        self.files.keep(&self.db, files).await?;
        let attachments: Vec<crate::files::Attachment> = files
            .iter()
            .enumerate()
            .map(|(position, file)| crate::files::Attachment {
                message_id: 0,
                position: i32::try_from(position).unwrap_or(i32::MAX),
                name: file.name.as_str().to_owned(),
                content_type: file.content_type.clone(),
                size: i64::try_from(file.size).unwrap_or(i64::MAX),
                hash: file.hash.clone(),
                width: file
                    .image
                    .as_ref()
                    .and_then(|i| i32::try_from(i.width).ok()),
                height: file
                    .image
                    .as_ref()
                    .and_then(|i| i32::try_from(i.height).ok()),
                thumbnail: file.image.as_ref().and_then(|i| {
                    let t = i.thumbnail.as_ref()?;
                    Some((i32::try_from(t.width).ok()?, i32::try_from(t.height).ok()?))
                }),
            })
            .collect();
        let hashes: Vec<String> = attachments.iter().map(|a| a.hash.clone()).collect();
        let posted = self
            .post_with_files(conversation, author_id, author, body, reply_to, attachments)
            .await;
        if posted.is_err() && !hashes.is_empty() {
            self.files.release(&self.db, hashes).await;
        }
        posted
    }

    /// [`Chat::post`] with files, already in storage ([`crate::files::Files::keep`]):
    /// their rows commit in the message's transaction, or not at all.
    pub async fn post_with_files(
        &self,
        conversation: &Conversation,
        author_id: i64,
        author: &str,
        body: MessageBody,
        reply_to: Option<i64>,
        attachments: Vec<crate::files::Attachment>,
    ) -> Result<Posted, AppError> {
        // A socket opened before the room was archived holds the room as it was then;
        // archiving closes those sockets, so what they hold is never stale for long.
        if conversation.archived_at.is_some() {
            return Err(AppError::Conflict(ARCHIVED));
        }
        self.limits
            .message(author_id)
            .map_err(AppError::TooManyRequests)?;
        let reply = match reply_to {
            Some(id) => Some(self.quote(conversation.id, id).await?),
            None => None,
        };
        let rendered = mentions::render(self, conversation, author_id, body.as_str()).await?;
        let author_avatar = crate::entities::user::Entity::find_by_id(author_id)
            .one(&self.db)
            .await?
            .and_then(|u| u.avatar);
        // Posting makes the author a member (the writer's upsert); someone who had not
        // opened the room first (a program, through the API) joins its members here too.
        let joins = !self.members.contains(conversation.id, author_id).await?;
        let posted = self
            .writer
            .post(store::NewMessage {
                conversation_id: conversation.id,
                author_id,
                author: author.to_owned(),
                author_avatar,
                body,
                body_html: rendered.html,
                reply,
                mentioned: rendered.mentioned,
                attachments,
            })
            .await?;
        if joins {
            self.members.joined(&self.hub, conversation.id, author_id);
        }
        Ok(posted)
    }

    /// The quote of message `id`, which a reply in `conversation_id` answers.
    async fn quote(&self, conversation_id: i64, id: i64) -> Result<queries::Quote, AppError> {
        match queries::message_by_id(&self.db, id).await? {
            Some(m) if m.conversation_id == conversation_id => Ok(queries::Quote {
                id: m.id,
                author: m.author,
                excerpt: format::excerpt(&m.body, queries::QUOTE_CHARS),
                deleted: m.deleted_at.is_some(),
            }),
            _ => Err(AppError::Refused(
                "You can only reply to a message of this conversation.",
            )),
        }
    }

    /// Someone joined or left `conversation_id`.
    pub fn membership_changed(&self, conversation_id: i64) {
        self.members.changed(&self.hub, conversation_id);
    }

    /// `user_id` was added to the private room `conversation`: their open pages, in
    /// every process, add it to their sidebar.
    pub fn added(&self, conversation: &Conversation, user_id: i64) {
        self.hub.send_to_user(
            user_id,
            crate::live::Outgoing::html(unread::views::joined(conversation)),
        );
        self.hub.publish(crate::live::Event::Added {
            conversation_id: conversation.id,
            user_id,
        });
    }
}

/// Another process added `user_id` to `conversation_id`: their pages here show it.
async fn tell_added(db: &DatabaseConnection, hub: &Hub, conversation_id: i64, user_id: i64) {
    if !hub.is_online(user_id) {
        return;
    }
    match queries::conversation_by_id(db, conversation_id).await {
        Ok(Some(conversation)) => hub.send_to_user(
            user_id,
            crate::live::Outgoing::html(unread::views::joined(&conversation)),
        ),
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "could not load a conversation to show"),
    }
}
