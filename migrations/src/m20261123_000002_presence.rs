//! Presence leases, for several server processes on one PostgreSQL database: each
//! process writes who is online through it, renews its rows while it lives, and every
//! process counts the union of rows whose lease has not run out. A process that dies
//! without saying goodbye drops out when its leases expire. (A single SQLite process
//! keeps presence in memory and leaves this table empty.)
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Presence::Table)
                    .col(
                        ColumnDef::new(Presence::ProcessId)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Presence::UserId).big_integer().not_null())
                    // 0 for "on the site", otherwise the conversation shown.
                    .col(
                        ColumnDef::new(Presence::ConversationId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Presence::Username).string_len(32).not_null())
                    .col(ColumnDef::new(Presence::ExpiresAt).big_integer().not_null())
                    .primary_key(
                        Index::create()
                            .col(Presence::ProcessId)
                            .col(Presence::ConversationId)
                            .col(Presence::UserId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_presence_conversation")
                    .table(Presence::Table)
                    .col(Presence::ConversationId)
                    .col(Presence::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Presence::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Presence {
    Table,
    ProcessId,
    UserId,
    ConversationId,
    Username,
    ExpiresAt,
}
