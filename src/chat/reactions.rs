//! Reactions: one emoji from one person on one message, toggled. This module owns the
//! [`Emoji`] a reaction may be, reading a page's reactions in one query, and their list
//! under a message. Toggling one is a conversation event ([`super::actions`]), which
//! the hub coalesces: a storm of reactions on one message costs each page a frame per
//! tick, always with the final state.
use std::collections::HashMap;

use maud::{Markup, html};
use sea_orm::{ConnectionTrait, DbErr};

use super::MessageView;
use crate::db;

/// The emoji the picker offers first.
pub const COMMON: [&str; 8] = ["👍", "❤️", "😂", "🎉", "😮", "😢", "🙏", "👀"];

/// One emoji on a message, and who gave it (id and name), first first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reaction {
    pub emoji: String,
    pub users: Vec<(i64, String)>,
}

/// A reaction's emoji: exactly one emoji (a flag, a skin tone or a family counts as
/// one), 16 bytes at most.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Emoji(String);

impl Emoji {
    pub const MAX_BYTES: usize = 16;

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("Pick an emoji to react with.");
        }
        if raw.len() > Self::MAX_BYTES {
            return Err("A reaction is one emoji.");
        }
        // The emoji as the table of emoji spells it, so that "❤" and "❤️" are one.
        match emojis::get(raw) {
            Some(emoji) => Ok(Self(emoji.as_str().to_owned())),
            None => Err("A reaction is one emoji."),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Reads the reactions of `messages` in one query.
pub async fn load(db: &impl ConnectionTrait, messages: &mut [MessageView]) -> Result<(), DbErr> {
    let mut refs: Vec<&mut MessageView> = messages.iter_mut().collect();
    load_each(db, &mut refs).await
}

/// [`load`] for messages that are not side by side.
pub async fn load_each(
    db: &impl ConnectionTrait,
    messages: &mut [&mut MessageView],
) -> Result<(), DbErr> {
    let (ids, marks) = super::queries::shown_ids(messages);
    if ids.is_empty() {
        return Ok(());
    }
    let rows = db
        .query_all_raw(db::statement_for(
            db.get_database_backend(),
            &format!(
                "SELECT x.message_id, x.emoji, x.user_id, u.username FROM reactions x \
                 JOIN users u ON u.id = x.user_id WHERE x.message_id IN ({marks}) \
                 ORDER BY x.created_at, x.user_id"
            ),
            ids.iter().map(|id| sea_orm::Value::from(*id)),
        ))
        .await?;
    let mut by_message: HashMap<i64, Vec<Reaction>> = HashMap::new();
    for row in rows {
        let message: i64 = row.try_get("", "message_id")?;
        let emoji: String = row.try_get("", "emoji")?;
        let user = (
            row.try_get::<i64>("", "user_id")?,
            row.try_get::<String>("", "username")?,
        );
        let reactions = by_message.entry(message).or_default();
        match reactions.iter_mut().find(|r| r.emoji == emoji) {
            Some(reaction) => reaction.users.push(user),
            None => reactions.push(Reaction {
                emoji,
                users: vec![user],
            }),
        }
    }
    for message in messages.iter_mut() {
        message.reactions = by_message.remove(&message.id).unwrap_or_default();
    }
    Ok(())
}

/// A message's reactions, each a button that toggles the viewer's own: a form's
/// button without script (the page's `#message-actions` form carries the CSRF token),
/// a request with it. Whose they are is in `data-users`, for the viewer's CSS.
pub fn list(message: &MessageView) -> Markup {
    let action = format!("/messages/{}/reactions", message.id);
    html! {
        ul.reactions id={ "reactions-" (message.id) } aria-label="Reactions" {
            @for reaction in &message.reactions {
                @let users: Vec<String> = reaction.users.iter().map(|(id, _)| id.to_string()).collect();
                @let names: Vec<&str> = reaction.users.iter().map(|(_, name)| name.as_str()).collect();
                li {
                    button.reaction type="submit" form="message-actions" formaction=(action)
                        name="emoji" value=(reaction.emoji) data-users=(users.join(" "))
                        title=(names.join(", ")) {
                        (reaction.emoji) " " span.count { (reaction.users.len()) }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Emoji;

    #[test]
    fn a_reaction_is_one_emoji() {
        assert_eq!(Emoji::parse("👍").map(|e| e.0), Ok("👍".to_owned()));
        assert!(Emoji::parse("👍🏽").is_ok(), "a skin tone");
        assert!(Emoji::parse("🇫🇷").is_ok(), "a flag");
        assert!(Emoji::parse("👍👍").is_err());
        assert!(Emoji::parse("a").is_err());
        assert!(Emoji::parse("<b>").is_err());
        assert!(Emoji::parse("").is_err());
        assert!(Emoji::parse(&"👍".repeat(5)).is_err(), "over 16 bytes");
    }
}
