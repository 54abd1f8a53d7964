//! Making a private conversation, of two people or a group: the row under its unique
//! key and a membership for each member, in one transaction, so there is never a chat
//! without its members. Finding one, and who may read it, belong to the callers and to
//! [`crate::chat::access`].
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    TransactionTrait, sea_query::OnConflict,
};

use crate::{
    chat::{self, ConversationKind},
    db::now_ms,
    entities::conversation,
};

/// What a new private conversation is.
pub(super) struct NewChat<'a> {
    pub kind: ConversationKind,
    pub name: String,
    pub key: &'a str,
    pub visibility: &'static str,
    pub members: &'a [i64],
    pub created_by: i64,
}

/// Stores `chat`; answers whether this call made it. A concurrent first use meets the
/// row already there on the unique key and makes nothing, not even a membership.
pub(super) async fn create(db: &DatabaseConnection, chat: NewChat<'_>) -> Result<bool, DbErr> {
    let now = now_ms();
    let txn = db.begin().await?;
    let stored = conversation::Entity::insert(conversation::ActiveModel {
        kind: Set(chat.kind.as_str().to_owned()),
        name: Set(chat.name),
        direct_key: Set(Some(chat.key.to_owned())),
        visibility: Set(chat.visibility.to_owned()),
        created_by: Set(Some(chat.created_by)),
        created_at: Set(now),
        last_activity_at: Set(now),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::column(conversation::Column::DirectKey)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    if stored == 1 {
        let created = conversation::Entity::find()
            .filter(conversation::Column::DirectKey.eq(chat.key))
            .one(&txn)
            .await?
            .ok_or_else(|| DbErr::RecordNotFound("the chat just stored".to_owned()))?;
        for member in chat.members {
            chat::queries::join(&txn, created.id, *member).await?;
        }
    }
    txn.commit().await?;
    Ok(stored == 1)
}
