//! Bot accounts and incoming webhooks: `users.is_bot` marks an account made by an
//! administrator for a program (it cannot log in, and belongs only to the rooms it is
//! added to); `incoming_webhooks` are secret URLs, one room each, that post as a bot
//! (the SHA-256 of the secret is kept, never the secret); `outgoing_webhooks` are the
//! URLs hearth calls for a bot (with the secret it signs with, how far its messages
//! were looked through, and whether it is failing), and `webhook_deliveries` the calls
//! owed, kept until made so that a restart loses none.
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
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OutgoingWebhooks::Table)
                    .col(
                        ColumnDef::new(OutgoingWebhooks::BotId)
                            .big_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(OutgoingWebhooks::Url)
                            .string_len(2048)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OutgoingWebhooks::Secret)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OutgoingWebhooks::EveryMessage)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(
                        ColumnDef::new(OutgoingWebhooks::ScannedTo)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OutgoingWebhooks::FailingSince)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(OutgoingWebhooks::LastError)
                            .string_len(512)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(OutgoingWebhooks::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(OutgoingWebhooks::Table, OutgoingWebhooks::BotId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .col(
                        ColumnDef::new(WebhookDeliveries::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::BotId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::MessageId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::Reason)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::Attempts)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::NextAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::DoneAt)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::FailedAt)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::LastError)
                            .string_len(512)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebhookDeliveries::Table, WebhookDeliveries::BotId)
                            .to(OutgoingWebhooks::Table, OutgoingWebhooks::BotId)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_deliveries_once")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::BotId)
                    .col(WebhookDeliveries::MessageId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_deliveries_due")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::DoneAt)
                    .col(WebhookDeliveries::FailedAt)
                    .col(WebhookDeliveries::NextAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WebhookDeliveries::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(OutgoingWebhooks::Table).to_owned())
            .await?;
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
enum OutgoingWebhooks {
    Table,
    BotId,
    Url,
    Secret,
    EveryMessage,
    ScannedTo,
    FailingSince,
    LastError,
    CreatedAt,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    BotId,
    MessageId,
    Reason,
    Attempts,
    NextAt,
    DoneAt,
    FailedAt,
    LastError,
    CreatedAt,
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
