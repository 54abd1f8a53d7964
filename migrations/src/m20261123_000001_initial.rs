//! Users, conversations (public rooms and private chats in one table), memberships,
//! messages and sessions. Times are milliseconds since the Unix epoch in BIGINT
//! columns: the same on both backends, cheap to compare, and never ambiguous about
//! time zones (the browser shows them in the reader's zone).
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(
                        ColumnDef::new(Users::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Users::Username).string_len(32).not_null())
                    // Uniqueness ignores case: "Alice" and "alice" are one account.
                    .col(
                        ColumnDef::new(Users::UsernameKey)
                            .string_len(32)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Users::PasswordHash).string().not_null())
                    .col(ColumnDef::new(Users::CreatedAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Conversations::Table)
                    .col(
                        ColumnDef::new(Conversations::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    // "room" or "direct".
                    .col(
                        ColumnDef::new(Conversations::Kind)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Conversations::Name)
                            .string_len(64)
                            .not_null(),
                    )
                    // Rooms: the URL slug. Private chats: NULL.
                    .col(
                        ColumnDef::new(Conversations::Slug)
                            .string_len(64)
                            .null()
                            .unique_key(),
                    )
                    // Private chats: "{lower id}:{higher id}", so both sides find one row.
                    .col(
                        ColumnDef::new(Conversations::DirectKey)
                            .string_len(64)
                            .null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(Conversations::CreatedBy)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Conversations::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Conversations::LastMessageId)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Conversations::LastActivityAt)
                            .big_integer()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Conversations::Table, Conversations::CreatedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Memberships::Table)
                    .col(
                        ColumnDef::new(Memberships::ConversationId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Memberships::UserId).big_integer().not_null())
                    .col(
                        ColumnDef::new(Memberships::LastReadMessageId)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(Memberships::JoinedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(Memberships::ConversationId)
                            .col(Memberships::UserId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Memberships::Table, Memberships::ConversationId)
                            .to(Conversations::Table, Conversations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Memberships::Table, Memberships::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_memberships_user")
                    .table(Memberships::Table)
                    .col(Memberships::UserId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Messages::Table)
                    .col(
                        ColumnDef::new(Messages::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Messages::ConversationId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Messages::AuthorId).big_integer().not_null())
                    .col(ColumnDef::new(Messages::Body).text().not_null())
                    .col(ColumnDef::new(Messages::CreatedAt).big_integer().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(Messages::Table, Messages::ConversationId)
                            .to(Conversations::Table, Conversations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Messages::Table, Messages::AuthorId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Every page and every catch-up reads "messages of one conversation by id".
        manager
            .create_index(
                Index::create()
                    .name("idx_messages_conversation_id")
                    .table(Messages::Table)
                    .col(Messages::ConversationId)
                    .col(Messages::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(
                        ColumnDef::new(Sessions::Id)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Sessions::Data).text().not_null())
                    .col(ColumnDef::new(Sessions::ExpiresAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sessions_expires_at")
                    .table(Sessions::Table)
                    .col(Sessions::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Sessions::Table.into_table_ref(),
            Messages::Table.into_table_ref(),
            Memberships::Table.into_table_ref(),
            Conversations::Table.into_table_ref(),
            Users::Table.into_table_ref(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Username,
    UsernameKey,
    PasswordHash,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Conversations {
    Table,
    Id,
    Kind,
    Name,
    Slug,
    DirectKey,
    CreatedBy,
    CreatedAt,
    LastMessageId,
    LastActivityAt,
}

#[derive(DeriveIden)]
enum Memberships {
    Table,
    ConversationId,
    UserId,
    LastReadMessageId,
    JoinedAt,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    Id,
    ConversationId,
    AuthorId,
    Body,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    Data,
    ExpiresAt,
}
