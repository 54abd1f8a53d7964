//! Events programs publish to people's open pages (`app_events`, `POST /api/v1/events`):
//! whom they are for (everyone signed in, one person, or a conversation's members), a
//! type and a JSON detail. They are kept for a bounded time, so that a page that
//! reconnects gets what it missed, and administrators can list and replay them.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AppEvents::Table)
                    .col(
                        ColumnDef::new(AppEvents::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AppEvents::Scope).string_len(8).not_null())
                    .col(ColumnDef::new(AppEvents::TargetId).big_integer().null())
                    .col(ColumnDef::new(AppEvents::Kind).string_len(64).not_null())
                    .col(ColumnDef::new(AppEvents::Detail).text().not_null())
                    .col(ColumnDef::new(AppEvents::AuthorId).big_integer().not_null())
                    .col(
                        ColumnDef::new(AppEvents::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(AppEvents::Table, AppEvents::AuthorId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_app_events_created_at")
                    .table(AppEvents::Table)
                    .col(AppEvents::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AppEvents::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum AppEvents {
    Table,
    Id,
    Scope,
    TargetId,
    Kind,
    Detail,
    AuthorId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
