//! What reaches people: who each message mentions (`mentions`, for mention counts and
//! `/mentions`), how much of each conversation a member wants to hear of
//! (`memberships.notify`: everything, mentions or nothing; none chosen means the
//! conversation kind's default), and the browsers that take Web Push for a person
//! (`push_subscriptions`).
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Mentions::Table)
                    .col(ColumnDef::new(Mentions::MessageId).big_integer().not_null())
                    .col(ColumnDef::new(Mentions::UserId).big_integer().not_null())
                    .col(
                        ColumnDef::new(Mentions::ConversationId)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(Mentions::MessageId)
                            .col(Mentions::UserId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Mentions::Table, Mentions::MessageId)
                            .to(Messages::Table, Messages::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Mentions::Table, Mentions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // A person's mentions, per conversation, newest last: counts past a read mark
        // and the `/mentions` page.
        manager
            .create_index(
                Index::create()
                    .name("idx_mentions_user")
                    .table(Mentions::Table)
                    .col(Mentions::UserId)
                    .col(Mentions::ConversationId)
                    .col(Mentions::MessageId)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Memberships::Table)
                    .add_column(ColumnDef::new(Memberships::Notify).string_len(16).null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PushSubscriptions::Table)
                    .col(
                        ColumnDef::new(PushSubscriptions::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(PushSubscriptions::UserId)
                            .big_integer()
                            .not_null(),
                    )
                    // What the browser's push service gave: where to send, and the keys
                    // the payload is encrypted to.
                    .col(
                        ColumnDef::new(PushSubscriptions::Endpoint)
                            .string_len(2048)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(PushSubscriptions::P256dh)
                            .string_len(128)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(PushSubscriptions::Auth)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(PushSubscriptions::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(PushSubscriptions::Table, PushSubscriptions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_push_subscriptions_user")
                    .table(PushSubscriptions::Table)
                    .col(PushSubscriptions::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PushSubscriptions::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Memberships::Table)
                    .drop_column(Memberships::Notify)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(Mentions::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Mentions {
    Table,
    MessageId,
    UserId,
    ConversationId,
}

#[derive(DeriveIden)]
enum Memberships {
    Table,
    Notify,
}

#[derive(DeriveIden)]
enum PushSubscriptions {
    Table,
    Id,
    UserId,
    Endpoint,
    P256dh,
    Auth,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
