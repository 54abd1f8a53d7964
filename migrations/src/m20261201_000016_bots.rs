//! Bot accounts and incoming webhooks: `users.is_bot` marks an account made by an
//! administrator for a program (it cannot log in, and belongs only to the rooms it is
//! added to); `incoming_webhooks` are secret URLs, one room each, that post as a bot
//! (the SHA-256 of the secret is kept, never the secret).
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(
                        ColumnDef::new(Users::IsBot)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(IncomingWebhooks::Table)
                    .col(
                        ColumnDef::new(IncomingWebhooks::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(IncomingWebhooks::BotId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IncomingWebhooks::ConversationId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IncomingWebhooks::SecretHash)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(IncomingWebhooks::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IncomingWebhooks::LastUsedAt)
                            .big_integer()
                            .null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(IncomingWebhooks::Table, IncomingWebhooks::BotId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(IncomingWebhooks::Table, IncomingWebhooks::ConversationId)
                            .to(Conversations::Table, Conversations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(IncomingWebhooks::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Users::IsBot)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum IncomingWebhooks {
    Table,
    Id,
    BotId,
    ConversationId,
    SecretHash,
    CreatedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    IsBot,
}

#[derive(DeriveIden)]
enum Conversations {
    Table,
    Id,
}
