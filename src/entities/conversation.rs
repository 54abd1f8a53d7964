use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "conversations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `room` or `direct`: see [`crate::chat::ConversationKind`].
    pub kind: String,
    pub name: String,
    #[sea_orm(unique)]
    pub slug: Option<String>,
    #[sea_orm(unique)]
    pub direct_key: Option<String>,
    pub created_by: Option<i64>,
    pub created_at: i64,
    pub last_message_id: Option<i64>,
    pub last_activity_at: i64,
    /// The number of the conversation's latest event (0 before the first).
    pub last_seq: i64,
    /// `public` or `private` (rooms only): see [`crate::rooms::Visibility`].
    pub visibility: String,
    pub topic: Option<String>,
    /// When the room was archived: read-only, out of the lobby.
    pub archived_at: Option<i64>,
    /// Who adds people to a private room: `members` or `admins`.
    pub members_added_by: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
