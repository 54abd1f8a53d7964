//! Search filters that the index answers itself: `in:` and `from:` become words of the
//! index, and `before:`/`after:` become bounds on message ids.
//!
//! - Each message's index entry gains two tags, its conversation (`c{id}`) and its
//!   author (`u{id}`): a filter is then one more word the index intersects with the
//!   query's, newest first, where checking each match against the table read a hundred
//!   matches for every one a narrow filter kept.
//!   - SQLite: `message_search` gets a `tags` column, so a word of the text can never
//!     be taken for a tag; its external content is the view `message_search_source`.
//!   - PostgreSQL: `messages.search` gets the lexemes `#c{id}` and `#u{id}`, which no
//!     text can produce (the parser never keeps `#`).
//! - `idx_messages_created_at` turns a date into the ids written before or after it;
//!   `idx_messages_author` walks one person's messages newest first when a query has no
//!   word for the index.
use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEXES: [&str; 2] = [
    "CREATE INDEX idx_messages_created_at ON messages (created_at)",
    "CREATE INDEX idx_messages_author ON messages (author_id, id)",
];

/// SQLite: a message's tags, from a row named `row` (`new`, `old` or the table).
fn sqlite_tags(row: &str) -> String {
    format!("'c' || {row}.conversation_id || ' u' || {row}.author_id")
}

/// The triggers that keep an external-content FTS5 table with `columns` in step.
fn sqlite_triggers(columns: &str, new_values: &str, old_values: &str) -> [String; 3] {
    [
        format!(
            "CREATE TRIGGER message_search_insert AFTER INSERT ON messages BEGIN \
             INSERT INTO message_search (rowid, {columns}) VALUES (new.id, {new_values}); END"
        ),
        // An external-content index forgets a row by being told what it held.
        format!(
            "CREATE TRIGGER message_search_delete AFTER DELETE ON messages BEGIN \
             INSERT INTO message_search (message_search, rowid, {columns}) \
             VALUES ('delete', old.id, {old_values}); END"
        ),
        format!(
            "CREATE TRIGGER message_search_update AFTER UPDATE OF body ON messages BEGIN \
             INSERT INTO message_search (message_search, rowid, {columns}) \
             VALUES ('delete', old.id, {old_values}); \
             INSERT INTO message_search (rowid, {columns}) VALUES (new.id, {new_values}); END"
        ),
    ]
}

const SQLITE_DROP: [&str; 5] = [
    "DROP TRIGGER IF EXISTS message_search_update",
    "DROP TRIGGER IF EXISTS message_search_delete",
    "DROP TRIGGER IF EXISTS message_search_insert",
    "DROP TABLE IF EXISTS message_search",
    "DROP VIEW IF EXISTS message_search_source",
];

const TOKENIZER: &str = "tokenize='unicode61 remove_diacritics 2'";

const REBUILD: &str = "INSERT INTO message_search (message_search) VALUES ('rebuild')";

/// SQLite: `statements` as one script, so that one connection runs them all. Another
/// connection of the pool could still hold the schema from before the drops, and
/// SQLite refuses `CREATE TRIGGER` by that stale schema ("already exists").
async fn run_on_one_connection(
    db: &SchemaManagerConnection<'_>,
    statements: &[String],
) -> Result<(), DbErr> {
    db.execute_unprepared(&statements.join(";\n")).await?;
    Ok(())
}

/// PostgreSQL: the `search` column's expression, with or without the tags.
fn postgres_search(tags: bool) -> String {
    let text = "to_tsvector('simple', hearth_search_fold(body))";
    if tags {
        format!(
            "{text} || array_to_tsvector(ARRAY['#c' || conversation_id::text, \
             '#u' || author_id::text])"
        )
    } else {
        text.to_owned()
    }
}

async fn postgres_rebuild(db: &SchemaManagerConnection<'_>, tags: bool) -> Result<(), DbErr> {
    db.execute_unprepared("DROP INDEX IF EXISTS idx_messages_search")
        .await?;
    db.execute_unprepared("ALTER TABLE messages DROP COLUMN IF EXISTS search")
        .await?;
    // Adding a stored generated column computes it for every existing row.
    db.execute_unprepared(&format!(
        "ALTER TABLE messages ADD COLUMN search tsvector GENERATED ALWAYS AS ({}) STORED",
        postgres_search(tags)
    ))
    .await?;
    db.execute_unprepared("CREATE INDEX idx_messages_search ON messages USING GIN (search)")
        .await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DatabaseBackend::Sqlite => {
                let new_values = format!("new.body, {}", sqlite_tags("new"));
                let old_values = format!("old.body, {}", sqlite_tags("old"));
                let mut script: Vec<String> = SQLITE_DROP.map(str::to_owned).into();
                script.push(format!(
                    "CREATE VIEW message_search_source AS \
                     SELECT id, body, {} AS tags FROM messages",
                    sqlite_tags("messages")
                ));
                script.push(format!(
                    "CREATE VIRTUAL TABLE message_search USING fts5(body, tags, \
                     content='message_search_source', content_rowid='id', {TOKENIZER})"
                ));
                script.extend(sqlite_triggers("body, tags", &new_values, &old_values));
                script.push(REBUILD.to_owned());
                run_on_one_connection(db, &script).await?;
            }
            _ => postgres_rebuild(db, true).await?,
        }
        for statement in INDEXES {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX IF EXISTS idx_messages_author")
            .await?;
        db.execute_unprepared("DROP INDEX IF EXISTS idx_messages_created_at")
            .await?;
        match manager.get_database_backend() {
            DatabaseBackend::Sqlite => {
                let mut script: Vec<String> = SQLITE_DROP.map(str::to_owned).into();
                script.push(format!(
                    "CREATE VIRTUAL TABLE message_search USING fts5(body, content='messages', \
                     content_rowid='id', {TOKENIZER})"
                ));
                script.extend(sqlite_triggers("body", "new.body", "old.body"));
                script.push(REBUILD.to_owned());
                run_on_one_connection(db, &script).await?;
            }
            _ => postgres_rebuild(db, false).await?,
        }
        Ok(())
    }
}
