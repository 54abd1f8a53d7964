//! Mentions: whom a message names. `@name` of a member of the conversation,
//! `@here` (the room's members online now) and `@everyone` (all its members; rooms only,
//! and held to a tighter rate than messages). The names are looked up once, when a
//! version of the message is stored, and both its HTML ([`super::format`]) and its
//! rows in `mentions` come from that one look-up.
//!
//! It owns the look-up, the `/mentions` page ([`routes`], [`views`]) and the people
//! the composer's `@` suggests. It must not notify anyone: the members' news
//! ([`super::unread::push`]) and Web Push ([`crate::push`]) read what it found.
pub mod queries;
pub mod routes;
pub mod views;

use std::collections::{BTreeSet, HashMap};

use super::{Chat, Conversation, ConversationKind, format};
use crate::error::AppError;

/// The most names one message may mention; the rest stay text.
const MOST_NAMES: usize = 50;

/// A version of a message, rendered, and whom it mentions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rendered {
    pub html: String,
    pub mentioned: Mentioned,
}

/// Whom a message mentions: the people (never its author), and whether it named a
/// group (`@here`, `@everyone`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mentioned {
    pub people: Vec<i64>,
    pub everyone: bool,
    pub group: bool,
}

impl Mentioned {
    pub fn is_empty(&self) -> bool {
        self.people.is_empty()
    }

    /// Whether `user_id` is mentioned.
    pub fn names(&self, user_id: i64) -> bool {
        self.people.contains(&user_id)
    }
}

/// Renders `text`, by `author_id` in `conversation`, with its mentions looked up.
pub async fn render(
    chat: &Chat,
    conversation: &Conversation,
    author_id: i64,
    text: &str,
) -> Result<Rendered, AppError> {
    let mut names = format::mentioned_names(text);
    // A website's visitor names nobody: what they write must not tell them who has an
    // account here.
    let by_visitor = ConversationKind::of(conversation) == ConversationKind::Support
        && conversation.created_by == Some(author_id);
    if names.is_empty() || by_visitor {
        return Ok(Rendered {
            html: format::render(text),
            mentioned: Mentioned::default(),
        });
    }
    names.truncate(MOST_NAMES);
    let is_room = ConversationKind::of(conversation) == ConversationKind::Room;
    let here = is_room && names.iter().any(|n| n == "here");
    let everyone = is_room && names.iter().any(|n| n == "everyone");
    if here || everyone {
        chat.limits
            .group_mention(author_id)
            .map_err(AppError::TooManyRequests)?;
    }
    let people: HashMap<String, (i64, String)> = queries::people_named(&chat.db, &names)
        .await?
        .into_iter()
        .map(|(id, username)| (username.to_ascii_lowercase(), (id, username)))
        .collect();
    let html = format::render_with(text, &|name| match name {
        "here" if here => Some(format::Mention::Here),
        "everyone" if everyone => Some(format::Mention::Everyone),
        _ => people
            .get(name)
            .map(|(id, username)| format::Mention::Person {
                id: *id,
                username: username.clone(),
            }),
    });

    // Only its members hear of it (as in Slack, naming someone who is not in a room
    // links to them without telling them; a private chat's members are its two).
    let members = chat.members.of(conversation.id).await?;
    let mut mentioned: BTreeSet<i64> = people
        .values()
        .map(|(id, _)| *id)
        .filter(|id| members.contains(id))
        .collect();
    if everyone {
        mentioned.extend(members.iter().copied());
    } else if here {
        let members: Vec<i64> = members.iter().copied().collect();
        mentioned.extend(chat.hub.online_among(&members).await);
    }
    mentioned.remove(&author_id);
    Ok(Rendered {
        html,
        mentioned: Mentioned {
            people: mentioned.into_iter().collect(),
            everyone,
            group: here || everyone,
        },
    })
}
