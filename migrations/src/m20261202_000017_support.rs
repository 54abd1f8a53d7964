//! The support widget: `sites` are the websites that embed it (their key, the origins
//! that may frame it, how it looks and what it says); `site_operators` the people who
//! answer a site's visitors; `support_chats` one conversation of a visitor with a
//! site's team (its state, who it is assigned to, where the visitor was). A visitor is
//! an account of its own, marked `users.is_guest`: it cannot log in, and it belongs
//! only to its own conversation.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn id(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .big_integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

fn big(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).big_integer().not_null().to_owned()
}

fn text(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).text().not_null().to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(
                        ColumnDef::new(Users::IsGuest)
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
                    .table(Sites::Table)
                    .col(id(Sites::Id))
                    .col(
                        ColumnDef::new(Sites::SiteKey)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(text(Sites::Name))
                    .col(text(Sites::Origins))
                    .col(text(Sites::Title))
                    .col(text(Sites::Color))
                    .col(text(Sites::Position))
                    .col(text(Sites::Theme))
                    .col(
                        ColumnDef::new(Sites::GuestsAllowed)
                            .boolean()
                            .not_null()
                            .default(true),
                    )
                    .col(text(Sites::Greeting))
                    .col(text(Sites::AwayMessage))
                    .col(text(Sites::Language))
                    .col(text(Sites::IdentitySecret))
                    .col(big(Sites::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SiteOperators::Table)
                    .col(big(SiteOperators::SiteId))
                    .col(big(SiteOperators::UserId))
                    .primary_key(
                        Index::create()
                            .col(SiteOperators::SiteId)
                            .col(SiteOperators::UserId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(SiteOperators::Table, SiteOperators::SiteId)
                            .to(Sites::Table, Sites::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(SiteOperators::Table, SiteOperators::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SupportChats::Table)
                    .col(
                        ColumnDef::new(SupportChats::ConversationId)
                            .big_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(big(SupportChats::SiteId))
                    .col(big(SupportChats::GuestId))
                    .col(
                        ColumnDef::new(SupportChats::Status)
                            .string_len(16)
                            .not_null()
                            .default("open"),
                    )
                    .col(
                        ColumnDef::new(SupportChats::AssignedTo)
                            .big_integer()
                            .null(),
                    )
                    .col(text(SupportChats::PageUrl))
                    .col(ColumnDef::new(SupportChats::Email).text().null())
                    .col(ColumnDef::new(SupportChats::ExternalId).text().null())
                    .col(big(SupportChats::FirstSeenAt))
                    .col(big(SupportChats::LastSeenAt))
                    .col(
                        ColumnDef::new(SupportChats::FirstReplyAt)
                            .big_integer()
                            .null(),
                    )
                    .col(ColumnDef::new(SupportChats::ClosedAt).big_integer().null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(SupportChats::Table, SupportChats::ConversationId)
                            .to(Conversations::Table, Conversations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(SupportChats::Table, SupportChats::SiteId)
                            .to(Sites::Table, Sites::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(SupportChats::Table, SupportChats::GuestId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The inbox lists a site's chats by their last activity; a verified customer's
        // chat is found by the id their site gave them.
        manager
            .create_index(
                Index::create()
                    .name("support_chats_site_seen")
                    .table(SupportChats::Table)
                    .col(SupportChats::SiteId)
                    .col(SupportChats::LastSeenAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("support_chats_site_external")
                    .table(SupportChats::Table)
                    .col(SupportChats::SiteId)
                    .col(SupportChats::ExternalId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("support_chats_guest")
                    .table(SupportChats::Table)
                    .col(SupportChats::GuestId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            SupportChats::Table.into_iden(),
            SiteOperators::Table.into_iden(),
            Sites::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Users::IsGuest)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    IsGuest,
}

#[derive(DeriveIden)]
enum Conversations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Sites {
    Table,
    Id,
    SiteKey,
    Name,
    Origins,
    Title,
    Color,
    Position,
    Theme,
    GuestsAllowed,
    Greeting,
    AwayMessage,
    Language,
    IdentitySecret,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SiteOperators {
    Table,
    SiteId,
    UserId,
}

#[derive(DeriveIden)]
enum SupportChats {
    Table,
    ConversationId,
    SiteId,
    GuestId,
    Status,
    AssignedTo,
    PageUrl,
    Email,
    ExternalId,
    FirstSeenAt,
    LastSeenAt,
    FirstReplyAt,
    ClosedAt,
}
