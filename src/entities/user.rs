use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub username: String,
    /// The username in lower case: what uniqueness and look-ups use.
    #[sea_orm(unique)]
    pub username_key: String,
    pub password_hash: String,
    pub created_at: i64,
    /// `member` or `admin`: see [`crate::admin::Role`].
    pub role: String,
    /// When an administrator deactivated the account; it cannot log in while set.
    pub deactivated_at: Option<i64>,
    /// The name shown beside the username, if the person chose one.
    pub display_name: Option<String>,
    /// A short status line ("on holiday until Monday").
    pub status: Option<String>,
    /// Where a password reset link is sent: lower case, unique, optional.
    pub email: Option<String>,
    /// The SHA-256 (hex) of the person's avatar picture, kept under
    /// [`crate::accounts::avatar::key`] in file storage.
    pub avatar: Option<String>,
    /// When the person deleted their account: the row is a tombstone from then on
    /// (see [`crate::accounts::deletion`]).
    pub deleted_at: Option<i64>,
    /// An account an administrator made for a program: it cannot log in, and belongs
    /// only to the rooms it is added to (see [`crate::bots`]).
    pub is_bot: bool,
    /// A visitor of a website that embeds the support widget: it cannot log in, and
    /// belongs only to its own conversation with the site's team (see [`crate::support`]).
    pub is_guest: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
