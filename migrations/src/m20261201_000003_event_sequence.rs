//! Every change to a conversation is an event with a number of its own: `seq`, counted
//! per conversation and handed out in the transaction that stores the change.
//! `conversations.last_seq` is the conversation's latest event; each message keeps the
//! event that created it (`seq`) and the event that last changed it (`updated_seq`), so
//! "everything since event N" is one range scan of `(conversation_id, updated_seq)`.
//!
//! Existing history is numbered in the order of message ids, which is the order in
//! which messages committed within a conversation.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one column at a time.
        let add = |table: DynIden, column: DynIden| {
            Table::alter()
                .table(table)
                .add_column(ColumnDef::new(column).big_integer().not_null().default(0))
                .to_owned()
        };
        manager
            .alter_table(add(
                Conversations::Table.into_iden(),
                Conversations::LastSeq.into_iden(),
            ))
            .await?;
        manager
            .alter_table(add(Messages::Table.into_iden(), Messages::Seq.into_iden()))
            .await?;
        manager
            .alter_table(add(
                Messages::Table.into_iden(),
                Messages::UpdatedSeq.into_iden(),
            ))
            .await?;

        let db = manager.get_connection();
        db.execute_unprepared(
            "UPDATE messages SET seq = numbered.n, updated_seq = numbered.n \
             FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY conversation_id ORDER BY id) AS n \
                   FROM messages) AS numbered \
             WHERE messages.id = numbered.id",
        )
        .await?;
        db.execute_unprepared(
            "UPDATE conversations SET last_seq = COALESCE((SELECT MAX(m.seq) FROM messages m \
             WHERE m.conversation_id = conversations.id), 0)",
        )
        .await?;

        // Catch-up and the hub's gap filling read "what changed after event N".
        manager
            .create_index(
                Index::create()
                    .name("idx_messages_conversation_updated_seq")
                    .table(Messages::Table)
                    .col(Messages::ConversationId)
                    .col(Messages::UpdatedSeq)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_messages_conversation_updated_seq")
                    .table(Messages::Table)
                    .to_owned(),
            )
            .await?;
        for (table, column) in [
            (
                Messages::Table.into_iden(),
                Messages::UpdatedSeq.into_iden(),
            ),
            (Messages::Table.into_iden(), Messages::Seq.into_iden()),
            (
                Conversations::Table.into_iden(),
                Conversations::LastSeq.into_iden(),
            ),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Conversations {
    Table,
    LastSeq,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    ConversationId,
    Seq,
    UpdatedSeq,
}
