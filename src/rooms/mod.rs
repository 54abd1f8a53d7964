//! Rooms: the lobby that lists the public ones a page at a time ([`listing`]), creating
//! one, public or private ([`Visibility`]), and opening one (its page is
//! [`crate::chat`]'s conversation page); a private room's members ([`members`]); its
//! topic, name and archiving ([`manage`]). A
//! room's name is checked by [`RoomName`]; the [`Directory`] finds rooms by slug. It
//! does not own messages, nor who may read a conversation ([`crate::chat::access`]).
pub mod listing;
pub mod manage;
pub mod members;
pub mod routes;
mod views;

use std::sync::Arc;

use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};

use crate::{chat::ConversationKind, entities::conversation};

/// Who may read a room: everyone signed in, or its members only. Chosen when the room
/// is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Visibility {
    #[default]
    Public,
    Private,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Private => "private",
        }
    }

    /// The form's value: `public` (or nothing) or `private`.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim() {
            "" | "public" => Some(Visibility::Public),
            "private" => Some(Visibility::Private),
            _ => None,
        }
    }
}

/// Who may create rooms: everyone signed in (the default), or administrators only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Creators {
    #[default]
    Everyone,
    Admins,
}

impl Creators {
    const SETTING: &str = "room_creators";

    pub fn as_str(self) -> &'static str {
        match self {
            Creators::Everyone => "everyone",
            Creators::Admins => "admins",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim() {
            "everyone" => Some(Creators::Everyone),
            "admins" => Some(Creators::Admins),
            _ => None,
        }
    }

    /// The rule in force, as an administrator last chose it.
    pub async fn current(db: &DatabaseConnection) -> Result<Self, DbErr> {
        Ok(crate::accounts::policy::setting(db, Self::SETTING)
            .await?
            .and_then(|value| Self::parse(&value))
            .unwrap_or_default())
    }

    pub async fn choose(self, db: &DatabaseConnection) -> Result<(), DbErr> {
        crate::accounts::policy::choose_setting(db, Self::SETTING, self.as_str()).await
    }
}

/// Rooms kept in memory by slug, at most.
const KEPT_ROOMS: u64 = 10_000;

/// How long a room read is kept. A room renamed, archived or given a topic is
/// forgotten at once by the process that changed it; the others see the change within
/// this long.
const KEPT_FOR: std::time::Duration = std::time::Duration::from_secs(5);

/// Rooms by slug. A room once read is kept a few seconds ([`KEPT_FOR`]): opening a
/// busy room needs no query for it. A kept row's counters (`last_message_id`,
/// `last_activity_at`) are those of when it was read; what needs them current reads
/// them again.
pub struct Directory {
    by_slug: moka::sync::Cache<String, Arc<conversation::Model>>,
}

impl Default for Directory {
    fn default() -> Self {
        Self {
            by_slug: moka::sync::Cache::builder()
                .max_capacity(KEPT_ROOMS)
                .time_to_live(KEPT_FOR)
                .build(),
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

    /// The room this process kept under `slug` changed: read it again next time.
    pub fn forget(&self, slug: &str) {
        self.by_slug.invalidate(slug);
    }

    /// Where a renamed room went: the slug it has now, if `slug` was one of its old ones.
    pub async fn renamed(
        &self,
        db: &DatabaseConnection,
        slug: &str,
    ) -> Result<Option<String>, DbErr> {
        use sea_orm::ConnectionTrait;
        let row = db
            .query_one_raw(crate::db::statement(
                db,
                "SELECT c.slug FROM room_redirects r JOIN conversations c \
                 ON c.id = r.conversation_id WHERE r.slug = ?",
                [slug.into()],
            ))
            .await?;
        row.map(|row| row.try_get::<Option<String>>("", "slug"))
            .transpose()
            .map(Option::flatten)
    }
}

/// A room name that follows the rules: 2 to 40 characters of letters and digits of any
/// script, emoji, spaces, `-` and `_`, which also gives its URL slug: the name in NFKC,
/// lower case, its runs of spaces and marks one `-`. Two names with one slug are one
/// room, so "Café", "CAFÉ" and "ｃａｆｅ́" cannot all exist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomName {
    name: String,
    slug: String,
}

/// Whether `c` may be part of a room's name (besides spaces, `-` and `_`).
fn is_name_char(c: char) -> bool {
    c.is_alphanumeric()
        || unicode_normalization::char::is_combining_mark(c)
        // Zero-width joiners that scripts (Persian, Indic) and emoji need.
        || matches!(c, '\u{200c}' | '\u{200d}' | '\u{fe0f}')
        || is_emoji(c)
}

/// Whether `c` stays in a slug (anything else separates its words).
fn is_slug_char(c: char) -> bool {
    c.is_alphanumeric()
        || is_emoji(c)
        || matches!(c, '\u{200c}' | '\u{200d}' | '\u{fe0f}')
        || unicode_normalization::char::is_combining_mark(c)
}

fn is_emoji(c: char) -> bool {
    matches!(c, '\u{2600}'..='\u{27bf}' | '\u{1f000}'..='\u{1faff}' | '\u{2b00}'..='\u{2bff}')
}

impl RoomName {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        use unicode_normalization::UnicodeNormalization;
        // Invisible characters would make names that look alike but are not one room.
        let visible = crate::chat::invisible::strip(raw);
        let name = visible.split_whitespace().collect::<Vec<_>>().join(" ");
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
            .all(|c| is_name_char(c) || matches!(c, ' ' | '-' | '_'))
        {
            return Err("Room names may use letters, digits, emoji, spaces, - and _.");
        }
        let folded: String = name.nfkc().collect::<String>().to_lowercase();
        let slug = folded
            .split(|c: char| !is_slug_char(c))
            .filter(|part| part.chars().any(|c| c.is_alphanumeric() || is_emoji(c)))
            .collect::<Vec<_>>()
            .join("-");
        if slug.is_empty() {
            return Err("Room names need at least one letter, digit or emoji.");
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
        assert!(RoomName::parse("a/b").is_err());
        assert!(RoomName::parse(&"x".repeat(41)).is_err());
    }

    #[test]
    fn names_of_any_script_and_emoji_give_one_slug_whatever_their_case_or_form() {
        let slug = |raw: &str| RoomName::parse(raw).map(|r| r.slug().to_owned());
        assert_eq!(slug("کافه ☕"), Ok("کافه-☕".to_owned()));
        assert_eq!(slug("Café Noir"), slug("CAFÉ  noir"));
        assert_eq!(
            slug("Café"),
            slug("Cafe\u{301}"),
            "composed and decomposed é"
        );
        assert_eq!(slug("ｃａｆｅ"), slug("cafe"), "full-width letters");
        assert_eq!(slug("日本語の部屋"), Ok("日本語の部屋".to_owned()));
        assert!(RoomName::parse("☕☕").is_ok());
        assert_eq!(
            slug("gen\u{200B}eral"),
            slug("general"),
            "a zero-width space"
        );
        assert!(
            RoomName::parse("\u{3164}\u{3164}").is_err(),
            "Hangul fillers"
        );
    }
}
