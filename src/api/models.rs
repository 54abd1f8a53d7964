//! What the API's JSON says: conversations and messages as a program sees them, and
//! the bodies of its requests. Built from the chat's own types, never stored.
use poem_openapi::Object;

use crate::chat::{MessageView, views::iso_time};

/// A room or a private chat the token's owner can read.
#[derive(Clone, Debug, Object)]
#[oai(rename = "Conversation")]
pub struct Conversation {
    pub id: i64,
    /// `room`, `direct` (a private chat of two people) or `group` (a private chat of
    /// three to eight).
    pub kind: String,
    /// A room's name, the other person's username in a private chat, or the other
    /// members' usernames in a group, separated by commas.
    pub name: String,
    /// A room's slug, as in `/rooms/{slug}`; none for a private chat.
    #[oai(nullable)]
    pub slug: Option<String>,
    /// A room's visibility: `public` or `private`; none for a private chat or group.
    #[oai(nullable)]
    pub visibility: Option<String>,
    #[oai(nullable)]
    pub topic: Option<String>,
    /// An archived room can be read but not written in.
    pub archived: bool,
    /// The conversation's page on this site.
    pub url: String,
}

/// One reaction on a message: the emoji and who gave it.
#[derive(Clone, Debug, Object)]
#[oai(rename = "Reaction")]
pub struct Reaction {
    pub emoji: String,
    pub count: u32,
    /// The usernames of the people who gave it, first first.
    pub users: Vec<String>,
}

/// A message.
#[derive(Clone, Debug, Object)]
#[oai(rename = "Message")]
pub struct Message {
    pub id: i64,
    pub conversation_id: i64,
    pub author_id: i64,
    /// The author's username.
    pub author: String,
    /// The text as written (with its Markdown); empty once deleted.
    pub body: String,
    /// The text as pages show it (HTML, escaped and formatted).
    #[oai(nullable)]
    pub body_html: Option<String>,
    /// When it was posted (RFC 3339, UTC).
    pub created_at: String,
    #[oai(nullable)]
    pub edited_at: Option<String>,
    #[oai(nullable)]
    pub deleted_at: Option<String>,
    /// The message this one answers.
    #[oai(nullable)]
    pub reply_to: Option<i64>,
    pub reactions: Vec<Reaction>,
}

impl From<&MessageView> for Message {
    fn from(m: &MessageView) -> Self {
        Self {
            id: m.id,
            conversation_id: m.conversation_id,
            author_id: m.author_id,
            author: m.author.clone(),
            body: m.body.clone(),
            body_html: m.body_html.clone(),
            created_at: iso_time(m.created_at),
            edited_at: m.edited_at.map(iso_time),
            deleted_at: m.deleted_at.map(iso_time),
            reply_to: m.reply.as_ref().map(|q| q.id),
            reactions: m
                .reactions
                .iter()
                .map(|r| Reaction {
                    emoji: r.emoji.clone(),
                    count: u32::try_from(r.users.len()).unwrap_or(u32::MAX),
                    users: r.users.iter().map(|(_, name)| name.clone()).collect(),
                })
                .collect(),
        }
    }
}

/// A message to post.
#[derive(Clone, Debug, Object)]
#[oai(rename = "NewMessage")]
pub struct NewMessage {
    /// 1 to 4000 characters after trimming, with the formatting of the composer
    /// (`**bold**`, `*italic*`, `` `code` ``, `> quote`, `- list`, `@mentions`).
    pub body: String,
    /// The id of a message of the same conversation that this one answers.
    #[oai(nullable)]
    pub reply_to: Option<i64>,
}

/// A message's new text.
#[derive(Clone, Debug, Object)]
#[oai(rename = "MessageEdit")]
pub struct MessageEdit {
    /// 1 to 4000 characters after trimming.
    pub body: String,
}

/// A reaction to add.
#[derive(Clone, Debug, Object)]
#[oai(rename = "NewReaction")]
pub struct NewReaction {
    /// Exactly one emoji, such as `👍`.
    pub emoji: String,
}
