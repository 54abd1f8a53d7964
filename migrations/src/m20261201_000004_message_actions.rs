//! What people do with messages: a message keeps its text as rendered once (`body_html`,
//! from the Markdown in `body`), when it was last edited, when it was deleted (a
//! tombstone keeps its place, author and time, and loses its text), and the message it
//! answers (`reply_to`). `reactions` holds who reacted to which message with what.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one column at a time.
        let columns = [
            ColumnDef::new(Messages::BodyHtml).text().null().to_owned(),
            ColumnDef::new(Messages::EditedAt)
                .big_integer()
                .null()
                .to_owned(),
            ColumnDef::new(Messages::DeletedAt)
                .big_integer()
                .null()
                .to_owned(),
            ColumnDef::new(Messages::ReplyTo)
                .big_integer()
                .null()
                .to_owned(),
        ];
        for column in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(Messages::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        // A change to a message changes the quotes of its replies too.
        manager
            .create_index(
                Index::create()
                    .name("idx_messages_reply_to")
                    .table(Messages::Table)
                    .col(Messages::ReplyTo)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Reactions::Table)
                    .col(
                        ColumnDef::new(Reactions::MessageId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Reactions::UserId).big_integer().not_null())
                    .col(ColumnDef::new(Reactions::Emoji).string_len(32).not_null())
                    .col(
                        ColumnDef::new(Reactions::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(Reactions::MessageId)
                            .col(Reactions::UserId)
                            .col(Reactions::Emoji),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Reactions::Table, Reactions::MessageId)
                            .to(Messages::Table, Messages::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Reactions::Table, Reactions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Reactions::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_messages_reply_to")
                    .table(Messages::Table)
                    .to_owned(),
            )
            .await?;
        for column in [
            Messages::ReplyTo,
            Messages::DeletedAt,
            Messages::EditedAt,
            Messages::BodyHtml,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Messages::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    Id,
    BodyHtml,
    EditedAt,
    DeletedAt,
    ReplyTo,
}

#[derive(DeriveIden)]
enum Reactions {
    Table,
    MessageId,
    UserId,
    Emoji,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
