use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "messages")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub conversation_id: i64,
    pub author_id: i64,
    #[sea_orm(column_type = "Text")]
    pub body: String,
    pub created_at: i64,
    /// The conversation event that created the message.
    pub seq: i64,
    /// The conversation event that last changed it (its creation, until it is changed).
    pub updated_seq: i64,
    /// `body` rendered (see `chat::format`); `None` for messages stored before it was.
    #[sea_orm(column_type = "Text", nullable)]
    pub body_html: Option<String>,
    pub edited_at: Option<i64>,
    /// A deleted message keeps its place, author and time; its text is gone.
    pub deleted_at: Option<i64>,
    /// The message this one answers.
    pub reply_to: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::AuthorId",
        to = "super::user::Column::Id"
    )]
    Author,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Author.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
