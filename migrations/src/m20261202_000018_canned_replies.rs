//! `canned_replies`: the answers a site's operators keep ready, each called up by a
//! shortcut (`/refund`) in the inbox's composer. They belong to the site, so every
//! operator of it shares them, and go with it.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CannedReplies::Table)
                    .col(
                        ColumnDef::new(CannedReplies::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(CannedReplies::SiteId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(CannedReplies::Shortcut).text().not_null())
                    .col(ColumnDef::new(CannedReplies::Body).text().not_null())
                    .col(
                        ColumnDef::new(CannedReplies::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(CannedReplies::Table, CannedReplies::SiteId)
                            .to(Sites::Table, Sites::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // One reply per shortcut and site: the shortcut is how it is called up.
        manager
            .create_index(
                Index::create()
                    .name("canned_replies_site_shortcut")
                    .table(CannedReplies::Table)
                    .col(CannedReplies::SiteId)
                    .col(CannedReplies::Shortcut)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CannedReplies::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Sites {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum CannedReplies {
    Table,
    Id,
    SiteId,
    Shortcut,
    Body,
    CreatedAt,
}
