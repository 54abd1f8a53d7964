//! Full-text search over message text, indexing the history already stored.
//!
//! - SQLite: `message_search`, an FTS5 table whose content is `messages.body` (external
//!   content: the text is stored once, the table holds only the index), kept in step by
//!   triggers, so every write path (the message writer's own connection, edits and
//!   deletions through the pool) updates it in the same transaction. The `unicode61`
//!   tokenizer with `remove_diacritics 2` finds "café" for "cafe" in any Latin script.
//! - PostgreSQL: `messages.search`, a `tsvector` generated from the body with the
//!   `simple` configuration (no language's stemming: a chat mixes languages), after
//!   [`FOLD_FUNCTION`] has taken accents off, with a GIN index.
//!
//! A deleted message keeps an empty body, so it has nothing left in either index.
use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Accented Latin letters (lower case) and the letters they fold to, one for one:
/// PostgreSQL's `translate` maps the nth character of the one to the nth of the other.
const ACCENTED: &str =
    "àáâãäåāăąçćĉċčďđèéêëēĕėęěĝğġģĥħìíîïĩīĭįıĵķĺļľŀłñńņňòóôõöøōŏőŕŗřśŝşšșţťŧțùúûüũūŭůűųŵýÿŷźżž";
const UNACCENTED: &str =
    "aaaaaaaaacccccddeeeeeeeeegggghhiiiiiiiiijklllllnnnnooooooooorrrsssssttttuuuuuuuuuuwyyyzzz";

/// PostgreSQL: lower case without accents. IMMUTABLE, as a generated column needs; the
/// `unaccent` extension would need an extension installed, and is not immutable.
const FOLD_FUNCTION: &str = "hearth_search_fold";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DatabaseBackend::Sqlite => {
                for statement in [
                    "CREATE VIRTUAL TABLE message_search USING fts5(body, content='messages', \
                     content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
                    // An external-content index forgets a row by being told what it
                    // held: the old body, exactly.
                    "CREATE TRIGGER message_search_insert AFTER INSERT ON messages BEGIN \
                     INSERT INTO message_search (rowid, body) VALUES (new.id, new.body); END",
                    "CREATE TRIGGER message_search_delete AFTER DELETE ON messages BEGIN \
                     INSERT INTO message_search (message_search, rowid, body) \
                     VALUES ('delete', old.id, old.body); END",
                    "CREATE TRIGGER message_search_update AFTER UPDATE OF body ON messages BEGIN \
                     INSERT INTO message_search (message_search, rowid, body) \
                     VALUES ('delete', old.id, old.body); \
                     INSERT INTO message_search (rowid, body) VALUES (new.id, new.body); END",
                    "INSERT INTO message_search (message_search) VALUES ('rebuild')",
                ] {
                    db.execute_unprepared(statement).await?;
                }
            }
            _ => {
                db.execute_unprepared(&format!(
                    "CREATE OR REPLACE FUNCTION {FOLD_FUNCTION}(text) RETURNS text \
                     LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT \
                     AS $fold$ SELECT translate(lower($1), '{ACCENTED}', '{UNACCENTED}') $fold$"
                ))
                .await?;
                // Adding a stored generated column computes it for every existing row.
                db.execute_unprepared(&format!(
                    "ALTER TABLE messages ADD COLUMN search tsvector \
                     GENERATED ALWAYS AS (to_tsvector('simple', {FOLD_FUNCTION}(body))) STORED"
                ))
                .await?;
                db.execute_unprepared(
                    "CREATE INDEX idx_messages_search ON messages USING GIN (search)",
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DatabaseBackend::Sqlite => {
                for statement in [
                    "DROP TRIGGER IF EXISTS message_search_update",
                    "DROP TRIGGER IF EXISTS message_search_delete",
                    "DROP TRIGGER IF EXISTS message_search_insert",
                    "DROP TABLE IF EXISTS message_search",
                ] {
                    db.execute_unprepared(statement).await?;
                }
            }
            _ => {
                db.execute_unprepared("DROP INDEX IF EXISTS idx_messages_search")
                    .await?;
                db.execute_unprepared("ALTER TABLE messages DROP COLUMN IF EXISTS search")
                    .await?;
                db.execute_unprepared(&format!("DROP FUNCTION IF EXISTS {FOLD_FUNCTION}(text)"))
                    .await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_accented_letter_folds_to_one_letter() {
        assert_eq!(ACCENTED.chars().count(), UNACCENTED.chars().count());
    }
}
