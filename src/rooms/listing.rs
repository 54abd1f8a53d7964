//! The lobby's list of public rooms, a page at a time: most recently active first,
//! narrowed to the rooms whose name contains what the filter box holds. However many
//! rooms there are, one page holds at most [`PAGE`] of them, and pages past
//! [`LAST_PAGE`] are not read (the filter finds what paging that far would).
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::{chat::ConversationKind, entities::conversation};

/// Rooms on one page of the lobby.
pub const PAGE: u64 = 50;
/// The deepest page the lobby reads.
pub const LAST_PAGE: u64 = 100;
/// The longest filter read (a room name has at most 40 characters).
const FILTER_CHARS: usize = 40;

/// One page of rooms.
pub struct Listing {
    pub rooms: Vec<conversation::Model>,
    /// 1 for the first page.
    pub page: u64,
    /// Whether a later page has rooms.
    pub more: bool,
}

/// The filter as a room's slug spells it: the name in NFKC, lower case, its runs of
/// anything but letters, digits, marks and emoji one `-` (see [`super::RoomName`]).
/// What is left holds no LIKE wildcard.
pub fn fold(filter: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let short: String = filter.chars().take(FILTER_CHARS).collect();
    let folded = short.nfkc().collect::<String>().to_lowercase();
    folded
        .split(|c: char| !super::is_slug_char(c))
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// Page `page` (from 1, at most [`LAST_PAGE`]) of the rooms whose slug contains
/// `folded` (every room when it is empty).
pub async fn page(db: &DatabaseConnection, folded: &str, page: u64) -> Result<Listing, DbErr> {
    let page = page.clamp(1, LAST_PAGE);
    let mut query = conversation::Entity::find()
        .filter(conversation::Column::Kind.eq(ConversationKind::Room.as_str()))
        .filter(conversation::Column::Visibility.eq(super::Visibility::Public.as_str()))
        .filter(conversation::Column::ArchivedAt.is_null());
    if !folded.is_empty() {
        query = query.filter(conversation::Column::Slug.contains(folded));
    }
    let mut rooms = query
        .order_by_desc(conversation::Column::LastActivityAt)
        .order_by_desc(conversation::Column::Id)
        .offset((page - 1) * PAGE)
        .limit(PAGE + 1)
        .all(db)
        .await?;
    let more = rooms.len() as u64 > PAGE && page < LAST_PAGE;
    rooms.truncate(PAGE as usize);
    Ok(Listing { rooms, page, more })
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn a_filter_is_folded_as_slugs_are() {
        assert_eq!(fold("  Rust   Talk "), "rust-talk");
        assert_eq!(fold("ＣＡＦÉ"), "café");
        assert_eq!(fold("100%_off"), "100-off");
        assert_eq!(fold(&"x".repeat(500)).len(), 40);
    }
}
