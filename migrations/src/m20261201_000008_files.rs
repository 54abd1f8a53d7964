//! Files people attach to messages. Each row of `attachments` is one file of one
//! message, in the order it was attached: its name as shown (already made safe), the
//! type its content showed (never the client's claim), its size, and the SHA-256 of its
//! bytes, which names the blob in storage. Two messages with the same file share one
//! blob; the blob goes when the last row naming it does. Images also keep their size
//! as shown (orientation applied) and their thumbnail's, when one was made.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Attachments::Table)
                    .col(
                        ColumnDef::new(Attachments::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Attachments::MessageId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Attachments::Position).integer().not_null())
                    .col(ColumnDef::new(Attachments::Hash).string_len(64).not_null())
                    .col(ColumnDef::new(Attachments::Name).text().not_null())
                    .col(ColumnDef::new(Attachments::ContentType).text().not_null())
                    .col(ColumnDef::new(Attachments::Size).big_integer().not_null())
                    .col(ColumnDef::new(Attachments::Width).integer().null())
                    .col(ColumnDef::new(Attachments::Height).integer().null())
                    .col(ColumnDef::new(Attachments::ThumbWidth).integer().null())
                    .col(ColumnDef::new(Attachments::ThumbHeight).integer().null())
                    .col(
                        ColumnDef::new(Attachments::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Attachments::Table, Attachments::MessageId)
                            .to(Messages::Table, Messages::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // A page reads its messages' files; a deletion asks who else uses a blob.
        for (name, column) in [
            ("idx_attachments_message", Attachments::MessageId),
            ("idx_attachments_hash", Attachments::Hash),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Attachments::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Attachments::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Attachments {
    Table,
    Id,
    MessageId,
    Position,
    Hash,
    Name,
    ContentType,
    Size,
    Width,
    Height,
    ThumbWidth,
    ThumbHeight,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    Id,
}
