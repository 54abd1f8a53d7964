//! People and who may do what: each account's role (`member` or `admin`), whether it
//! is deactivated, its display name and status line; each room's visibility (`public`
//! or `private`), topic, whether it is archived and who adds a private room's members, and the slugs a renamed room had
//! (`room_redirects`, which send old links to it); whose each session is
//! (`sessions.user_id`, so that a person's sessions can all be ended at once); the
//! site's settings (`settings`: the sign-up policy, who may create rooms); the invite
//! links (`invites`); and the one-time log-in links an administrator makes for someone
//! who lost their password (`login_links`).
//!
//! On a database that already has accounts, the first of them becomes the
//! administrator, as it would have on a new one.
use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        let user_columns = [
            ColumnDef::new(Users::Role)
                .string_len(16)
                .not_null()
                .default("member")
                .to_owned(),
            ColumnDef::new(Users::DeactivatedAt)
                .big_integer()
                .null()
                .to_owned(),
            ColumnDef::new(Users::DisplayName)
                .string_len(64)
                .null()
                .to_owned(),
            ColumnDef::new(Users::Status)
                .string_len(140)
                .null()
                .to_owned(),
        ];
        for column in user_columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        let room_columns = [
            ColumnDef::new(Conversations::Visibility)
                .string_len(16)
                .not_null()
                .default("public")
                .to_owned(),
            ColumnDef::new(Conversations::Topic)
                .string_len(250)
                .null()
                .to_owned(),
            ColumnDef::new(Conversations::ArchivedAt)
                .big_integer()
                .null()
                .to_owned(),
            ColumnDef::new(Conversations::MembersAddedBy)
                .string_len(16)
                .not_null()
                .default("members")
                .to_owned(),
        ];
        for column in room_columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(Conversations::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .add_column(ColumnDef::new(Sessions::UserId).big_integer().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sessions_user")
                    .table(Sessions::Table)
                    .col(Sessions::UserId)
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        // Sessions signed in before this column existed say whose they are in their data.
        let backfill = match manager.get_database_backend() {
            DatabaseBackend::Sqlite => {
                "UPDATE sessions SET user_id = json_extract(data, '$.user.id') \
                 WHERE json_valid(data)"
            }
            _ => "UPDATE sessions SET user_id = ((data::json)->'user'->>'id')::bigint",
        };
        db.execute_unprepared(backfill).await?;
        db.execute_unprepared(
            "UPDATE users SET role = 'admin' WHERE id = (SELECT MIN(id) FROM users)",
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Settings::Table)
                    .col(
                        ColumnDef::new(Settings::Name)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Settings::Value).string_len(256).not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Invites::Table)
                    .col(
                        ColumnDef::new(Invites::Code)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Invites::CreatedBy).big_integer().null())
                    .col(ColumnDef::new(Invites::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(Invites::ExpiresAt).big_integer().null())
                    .col(
                        ColumnDef::new(Invites::SingleUse)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(ColumnDef::new(Invites::UsedAt).big_integer().null())
                    .col(ColumnDef::new(Invites::RevokedAt).big_integer().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RoomRedirects::Table)
                    .col(
                        ColumnDef::new(RoomRedirects::Slug)
                            .string_len(255)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(RoomRedirects::ConversationId)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LoginLinks::Table)
                    .col(
                        ColumnDef::new(LoginLinks::Token)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(LoginLinks::UserId).big_integer().not_null())
                    .col(
                        ColumnDef::new(LoginLinks::CreatedBy)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(LoginLinks::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(LoginLinks::UsedAt).big_integer().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LoginLinks::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(RoomRedirects::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Invites::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Settings::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_sessions_user")
                    .table(Sessions::Table)
                    .to_owned(),
            )
            .await?;
        let drops = [
            (Sessions::Table.into_iden(), Sessions::UserId.into_iden()),
            (
                Conversations::Table.into_iden(),
                Conversations::MembersAddedBy.into_iden(),
            ),
            (
                Conversations::Table.into_iden(),
                Conversations::ArchivedAt.into_iden(),
            ),
            (
                Conversations::Table.into_iden(),
                Conversations::Topic.into_iden(),
            ),
            (
                Conversations::Table.into_iden(),
                Conversations::Visibility.into_iden(),
            ),
            (Users::Table.into_iden(), Users::Status.into_iden()),
            (Users::Table.into_iden(), Users::DisplayName.into_iden()),
            (Users::Table.into_iden(), Users::DeactivatedAt.into_iden()),
            (Users::Table.into_iden(), Users::Role.into_iden()),
        ];
        for (table, column) in drops {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Role,
    DeactivatedAt,
    DisplayName,
    Status,
}

#[derive(DeriveIden)]
enum Conversations {
    Table,
    Visibility,
    Topic,
    ArchivedAt,
    MembersAddedBy,
}

#[derive(DeriveIden)]
enum LoginLinks {
    Table,
    Token,
    UserId,
    CreatedBy,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum RoomRedirects {
    Table,
    Slug,
    ConversationId,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    UserId,
}

#[derive(DeriveIden)]
enum Settings {
    Table,
    Name,
    Value,
}

#[derive(DeriveIden)]
enum Invites {
    Table,
    Code,
    CreatedBy,
    CreatedAt,
    ExpiresAt,
    SingleUse,
    UsedAt,
    RevokedAt,
}
