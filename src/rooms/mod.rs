//! Public rooms: the lobby that lists them, creating one, and opening one (its page is
//! [`crate::chat`]'s conversation page). A room's name is checked by [`RoomName`]; the
//! [`Directory`] finds rooms by slug. It does not own messages or membership.
pub mod routes;
mod views;

use std::sync::Arc;

use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};

use crate::{chat::ConversationKind, entities::conversation};

/// Rooms kept in memory by slug, at most.
const KEPT_ROOMS: u64 = 10_000;

/// Public rooms by slug. Rooms are never renamed or removed, so a slug names the same
/// room for good, and a room once read is kept: opening a room needs no query for it.
/// A kept row's counters (`last_message_id`, `last_activity_at`) are those of when it
/// was read; what needs them current reads them again.
pub struct Directory {
    by_slug: moka::sync::Cache<String, Arc<conversation::Model>>,
}

impl Default for Directory {
    fn default() -> Self {
        Self {
            by_slug: moka::sync::Cache::new(KEPT_ROOMS),
        }
    }
}

impl Directory {
    /// The room called `slug`, if there is one.
    pub async fn find(
        &self,
        db: &DatabaseConnection,
        slug: &str,
    ) -> Result<Option<Arc<conversation::Model>>, DbErr> {
        if let Some(room) = self.by_slug.get(slug) {
            return Ok(Some(room));
        }
        let Some(room) = conversation::Entity::find()
            .filter(conversation::Column::Slug.eq(slug))
            .filter(conversation::Column::Kind.eq(ConversationKind::Room.as_str()))
            .one(db)
            .await?
        else {
            return Ok(None);
        };
        let room = Arc::new(room);
        self.by_slug.insert(slug.to_owned(), room.clone());
        Ok(Some(room))
    }
}

/// A room name that follows the rules: 2 to 40 characters of ASCII letters, digits,
/// spaces, `-` and `_`, which also gives a clean URL slug.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomName {
    name: String,
    slug: String,
}

impl RoomName {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let name = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        let length = name.chars().count();
        if length == 0 {
            return Err("Give the room a name.");
        }
        if length < 2 {
            return Err("Room names have at least 2 characters.");
        }
        if length > 40 {
            return Err("Room names have at most 40 characters.");
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        {
            return Err("Room names may only use letters, digits, spaces, - and _.");
        }
        let slug = name
            .to_ascii_lowercase()
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join("-");
        if slug.is_empty() {
            return Err("Room names need at least one letter or digit.");
        }
        Ok(Self { name, slug })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn slug(&self) -> &str {
        &self.slug
    }
}

#[cfg(test)]
mod tests {
    use super::RoomName;

    #[test]
    fn room_names_give_slugs() {
        let room =
            RoomName::parse("  Rust   Talk_2 ").map(|r| (r.name().to_owned(), r.slug().to_owned()));
        assert_eq!(
            room,
            Ok(("Rust Talk_2".to_owned(), "rust-talk-2".to_owned()))
        );
        assert!(RoomName::parse("--").is_err());
        assert!(RoomName::parse("<b>").is_err());
        assert!(RoomName::parse(&"x".repeat(41)).is_err());
    }
}
