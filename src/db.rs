//! Connecting to the database and migrating it. SQLite gets the settings a server
//! needs (WAL, a busy timeout, foreign keys); PostgreSQL is used as it comes.
//!
//! This module owns connections, not queries: those live with their capability.
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, DbErr,
    sqlx::sqlite::SqliteJournalMode,
};

/// SQLite lets one connection write at a time. A second writer waits in SQLite's busy
/// handler, which sleeps (1, 2, 5, 10, … up to 100 ms a time) rather than queueing, so
/// two writers that meet lose milliseconds neither needed: under load, a storm of
/// log-ins (session writes) held the message writer back by hundreds of ms. hearth's
/// busy writers (the message writer and the session store) take this gate first and
/// queue for it in order instead. PostgreSQL locks rows, not the database: there the
/// gate is always open.
///
/// Messages go first. Everyone else ([`WriteGate::enter_after_messages`]) queues in a
/// line of their own, whose head alone waits at the lock beside the message writer:
/// fifty log-ins at once then hold a message back by one session write, not fifty.
#[derive(Clone, Debug)]
pub struct WriteGate(Option<std::sync::Arc<Gates>>);

#[derive(Debug, Default)]
struct Gates {
    /// SQLite's write lock, as this process takes turns at it.
    lock: tokio::sync::Mutex<()>,
    /// The line of writers other than the message writer.
    others: tokio::sync::Mutex<()>,
    /// Told when a turn ends, so that the WAL is checkpointed soon after writes
    /// ([`WriteGate::turn_ended`]).
    turn_ended: tokio::sync::Notify,
}

/// A writer's turn at the database; it lasts until dropped.
#[must_use = "the turn ends when it is dropped"]
pub struct WriteTurn<'a> {
    _lock: tokio::sync::MutexGuard<'a, ()>,
    _line: Option<tokio::sync::MutexGuard<'a, ()>>,
    turn_ended: &'a tokio::sync::Notify,
}

impl Drop for WriteTurn<'_> {
    fn drop(&mut self) {
        // A permit, kept if nobody waits: the checkpointer finds it when it next looks.
        self.turn_ended.notify_one();
    }
}

impl WriteGate {
    /// The gate for `db`'s writers: one per process and database.
    pub fn for_database(db: &DatabaseConnection) -> Self {
        Self(is_sqlite(db).then(Default::default))
    }

    /// Waits for the message writer's turn, ahead of every other writer but one.
    async fn message_writers_turn(&self) -> Option<WriteTurn<'_>> {
        let gates = self.0.as_deref()?;
        Some(WriteTurn {
            _lock: gates.lock.lock().await,
            _line: None,
            turn_ended: &gates.turn_ended,
        })
    }

    /// Waits for the message writer's turn, ahead of every other writer but one, by
    /// blocking the calling thread: the SQLite message writer runs outside the runtime
    /// (see [`open_sqlite_writer`]).
    pub fn enter_blocking(&self) -> Option<WriteTurn<'_>> {
        futures_executor::block_on(self.message_writers_turn())
    }

    /// Waits for a turn behind the message writer (sessions, housekeeping).
    pub async fn enter_after_messages(&self) -> Option<WriteTurn<'_>> {
        let gates = self.0.as_deref()?;
        let line = gates.others.lock().await;
        Some(WriteTurn {
            _lock: gates.lock.lock().await,
            _line: Some(line),
            turn_ended: &gates.turn_ended,
        })
    }

    /// Waits until a writer's turn has ended since the last call (at once if one
    /// has); on PostgreSQL, where there are no turns, forever.
    pub async fn turn_ended(&self) {
        match self.0.as_deref() {
            Some(gates) => gates.turn_ended.notified().await,
            None => std::future::pending().await,
        }
    }
}

/// Opens a pool on `url` (`sqlite://…` or `postgres://…`).
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .acquire_timeout(Duration::from_secs(5));
    if url.starts_with("sqlite:") {
        // One writer at a time is SQLite's rule; WAL lets readers run beside it, and the
        // busy timeout makes a second writer wait instead of failing with SQLITE_BUSY.
        // Checkpoints are left to `checkpoint` (see there); a committing connection
        // checkpoints for itself only if the WAL has grown far past that.
        options
            .max_connections(8)
            .min_connections(1)
            // A pooled SQLite connection is a file handle in this process: nothing
            // between here and the file can drop it, so it is handed out without a
            // ping (each ping is a round trip to the connection's thread).
            .test_before_acquire(false)
            .map_sqlx_sqlite_opts(|o| {
                SQLITE_CONNECTION_PRAGMAS.iter().fold(
                    o.journal_mode(SqliteJournalMode::Wal)
                        .busy_timeout(SQLITE_BUSY_TIMEOUT),
                    |o, (name, value)| o.pragma(*name, *value),
                )
            });
    } else {
        options.max_connections(20).min_connections(1);
    }
    let db = match Database::connect(options).await {
        Ok(db) => db,
        Err(e) if url.starts_with("sqlite:") => return Err(explain_sqlite_open(url, e)),
        Err(e) => return Err(e),
    };
    if let Err(e) = ensure_writable(&db).await {
        return Err(match sqlite_directory(url) {
            Some(dir) if url.starts_with("sqlite:") && !directory_writable(&dir) => {
                read_only_directory(&dir, url)
            }
            _ => e,
        });
    }
    Ok(db)
}

/// `error` from opening the SQLite database at `url`, in words a person can act on
/// when its cause is the file's directory: SQLite says only "unable to open database
/// file" (14) or gives a read-only code (8, or 1544 for a read-only directory).
fn explain_sqlite_open(url: &str, error: DbErr) -> DbErr {
    let code = sqlite_code(&error);
    if !code.is_some_and(|c| c == 14 || c & 0xff == 8) {
        return error;
    }
    let Some(dir) = sqlite_directory(url) else {
        return error;
    };
    if !dir.is_dir() {
        return DbErr::Custom(format!(
            "the directory {} does not exist, so the database {} cannot be created \
             there (create the directory, or point --database-url elsewhere)",
            dir.display(),
            sqlite_path(url)
        ));
    }
    if !directory_writable(&dir) {
        return read_only_directory(&dir, url);
    }
    let path = sqlite_path(url);
    DbErr::Custom(format!(
        "cannot open the database file {path}: check that this user may read and \
         write it ({error})"
    ))
}

/// The file a `sqlite://` URL names.
fn sqlite_path(url: &str) -> &str {
    url.trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default()
}

/// The file of a `sqlite://` URL (`None` for an in-memory database).
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let path = sqlite_path(url);
    let in_memory = path.is_empty() || path.starts_with(':') || url.contains("mode=memory");
    (url.starts_with("sqlite:") && !in_memory).then(|| std::path::PathBuf::from(path))
}

/// The directory the file of a `sqlite://` URL is in (`None` for an in-memory one).
fn sqlite_directory(url: &str) -> Option<std::path::PathBuf> {
    let path = sqlite_path(url);
    if path.is_empty() || path.starts_with(':') || url.contains("mode=memory") {
        return None;
    }
    let dir = match std::path::Path::new(path).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    Some(std::fs::canonicalize(&dir).unwrap_or(dir))
}

fn read_only_directory(dir: &std::path::Path, url: &str) -> DbErr {
    DbErr::Custom(format!(
        "the directory {} is read-only, and hearth needs to write there: the database \
         {} and the -wal and -shm files SQLite keeps beside it (run hearth in a writable \
         directory, or point --database-url at one)",
        dir.display(),
        sqlite_path(url)
    ))
}

/// SQLite's extended result code in `error`, if it carries one.
fn sqlite_code(error: &DbErr) -> Option<i32> {
    use sea_orm::RuntimeErr;
    let (DbErr::Conn(RuntimeErr::SqlxError(e))
    | DbErr::Exec(RuntimeErr::SqlxError(e))
    | DbErr::Query(RuntimeErr::SqlxError(e))) = error
    else {
        return None;
    };
    e.as_database_error()?.code()?.parse().ok()
}

/// Whether a file can be created in `dir` (permissions alone do not say: a read-only
/// mount refuses even root).
fn directory_writable(dir: &std::path::Path) -> bool {
    let probe = dir.join(format!(".hearth-write-probe-{}", std::process::id()));
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .is_ok();
    if created {
        let _ = std::fs::remove_file(&probe);
    }
    created
}

/// Fails, with a message a person can act on, when the database will not take writes.
/// Both SQLite (a read-only file or directory, or `mode=ro`) and PostgreSQL (a standby,
/// or `default_transaction_read_only`) open such a database without complaint and
/// refuse each write later, which would leave a server that serves pages and fails
/// every sign-up and message.
async fn ensure_writable(db: &DatabaseConnection) -> Result<(), DbErr> {
    const READ_ONLY: &str = "the database is read-only, and hearth needs to write to it";
    if is_sqlite(db) {
        let mut conn = db
            .get_sqlite_connection_pool()
            .acquire()
            .await
            .map_err(|e| DbErr::Custom(format!("cannot use the database: {e}")))?;
        // A write that is rolled back: setting the schema's user version to what it is.
        // (Taking the write lock alone is not enough: in WAL mode SQLite grants it to a
        // read-only connection, and refuses only the first real write.)
        let version: i64 = sea_orm::sqlx::query_scalar("PRAGMA user_version")
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| DbErr::Custom(format!("cannot read the database: {e}")))?;
        let probe = async {
            sea_orm::sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut *conn)
                .await?;
            sea_orm::sqlx::query(sea_orm::sqlx::AssertSqlSafe(format!(
                "PRAGMA user_version = {version}"
            )))
            .execute(&mut *conn)
            .await
        };
        let probed = probe.await;
        let _ = sea_orm::sqlx::query("ROLLBACK").execute(&mut *conn).await;
        match probed {
            Ok(_) => Ok(()),
            Err(e) => {
                let code = e
                    .as_database_error()
                    .and_then(|d| d.code())
                    .and_then(|c| c.parse::<i32>().ok());
                if code.is_some_and(|c| c & 0xff == 8) {
                    Err(DbErr::Custom(format!(
                        "{READ_ONLY} (check that this user may write the file and its \
                         directory, and that the URL does not say mode=ro)"
                    )))
                } else {
                    Err(DbErr::Custom(format!("cannot write to the database: {e}")))
                }
            }
        }
    } else {
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                DatabaseBackend::Postgres,
                "SELECT current_setting('transaction_read_only') AS read_only",
            ))
            .await?;
        let read_only = row
            .and_then(|r| r.try_get::<String>("", "read_only").ok())
            .is_some_and(|v| v == "on");
        if read_only {
            return Err(DbErr::Custom(format!(
                "{READ_ONLY} (it is a standby, or default_transaction_read_only is on)"
            )));
        }
        Ok(())
    }
}

/// Brings the schema up to date; safe to run on every start, also by several
/// processes starting at once on one PostgreSQL database: they take turns under an
/// advisory lock, and the later ones find nothing left to do.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    if is_sqlite(db) {
        return Migrator::up(db, None).await;
    }
    // The lock belongs to one connection: hold that connection for the duration.
    let mut holder = db
        .get_postgres_connection_pool()
        .acquire()
        .await
        .map_err(|e| DbErr::Custom(format!("cannot take the migration lock: {e}")))?;
    sea_orm::sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *holder)
        .await
        .map_err(|e| DbErr::Custom(format!("cannot take the migration lock: {e}")))?;
    let migrated = Migrator::up(db, None).await;
    let _ = sea_orm::sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *holder)
        .await;
    migrated
}

/// How long a SQLite writer waits for another's write lock before failing.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The settings that belong to each SQLite connection (WAL belongs to the file), for
/// the pool's connections and the message writer's own alike, so the two cannot
/// drift apart. The busy timeout is set apart: both drivers take it as a duration.
const SQLITE_CONNECTION_PRAGMAS: [(&str, &str); 3] = [
    ("synchronous", "NORMAL"),
    ("foreign_keys", "ON"),
    ("wal_autocheckpoint", WAL_SELF_CHECKPOINT_PAGES),
];

/// The advisory lock key that serialises migrations ("hearth" in ASCII).
const MIGRATION_LOCK: i64 = 0x6865_6172_7468;

/// The shortest time between two checkpoints while writes go on. A checkpoint follows
/// the end of a write turn, or else a second of silence (for writers outside the gate).
///
/// Small checkpoints often, not large ones rarely: each checkpoint syncs the WAL and
/// the database file, the message writer's WAL writes wait while such syncs run, and
/// the more a sync has to write, the longer they wait. 50 ms gave the shortest tail of
/// the intervals tried (`bench/RESULTS.md`). (SQLite syncs with `fdatasync`, which
/// spares the journal commits `fsync` makes: see `.cargo/config.toml`.) The WAL still
/// restarts from its beginning only when the writer checkpoints it itself, at
/// [`WAL_SELF_CHECKPOINT_PAGES`]: a restart needs a checkpoint to catch up between two
/// of the writer's commits.
pub const CHECKPOINT_GAP: Duration = Duration::from_millis(50);

/// WAL pages (4 KiB each) past which a committing connection checkpoints the WAL
/// itself, as SQLite does by default at 1,000. `checkpoint` copies the WAL back as it
/// grows, so there is little left to copy here; but under steady writes this is
/// where the WAL restarts (see [`CHECKPOINT_GAP`]), so this bounds its size.
const WAL_SELF_CHECKPOINT_PAGES: &str = "16384";

/// Copies SQLite's WAL back into the database file, without waiting for readers or
/// writers (a passive checkpoint); on PostgreSQL, does nothing.
///
/// Why hearth does this itself: by default the connection whose commit takes the WAL
/// past 1,000 pages runs the checkpoint inside that commit, and the checkpoint's
/// fsyncs make that commit tens of times slower; on the message writer, that holds up
/// every message behind it. Run from a task of its own, on a pool connection
/// the writer is not using, a checkpoint takes no lock the writer needs; how often it
/// runs is [`CHECKPOINT_GAP`]'s concern.
pub async fn checkpoint(db: &DatabaseConnection) -> Result<(), DbErr> {
    if is_sqlite(db) {
        db.execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)")
            .await?;
    }
    Ok(())
}

/// Opens the SQLite message writer's own connection: the pool's file, with the pool's
/// per-connection settings, but driven directly, in this process, by the thread that
/// calls. sqlx runs each SQLite connection on a thread of its own and every statement
/// is a hand-off to it and back; on two busy cores each hand-off waits for a core.
/// Statements here are plain function calls, which halved the store's time
/// (`bench/RESULTS.md`).
///
/// sqlx names a `sqlite::memory:` database `file:sqlx-in-memory-N` in shared-cache
/// mode; that name opened the same way reaches the same database.
pub fn open_sqlite_writer(db: &DatabaseConnection) -> rusqlite::Result<rusqlite::Connection> {
    use rusqlite::OpenFlags;
    let options = db.get_sqlite_connection_pool().connect_options();
    let name = options.get_filename().to_string_lossy().into_owned();
    let (name, extra) = if name.starts_with("file:") {
        (
            format!("{name}?mode=memory&cache=shared"),
            OpenFlags::SQLITE_OPEN_URI,
        )
    } else {
        (name, OpenFlags::empty())
    };
    let conn = rusqlite::Connection::open_with_flags(
        name,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | extra,
    )?;
    conn.busy_timeout(SQLITE_BUSY_TIMEOUT)?;
    for (name, value) in SQLITE_CONNECTION_PRAGMAS {
        conn.pragma_update(None, name, value)?;
    }
    Ok(conn)
}

/// A SQLite error from the writer's own connection, as sqlx would have given it: the
/// same code (so a full disk, 13, still reads as one; see `AppError`) and message.
pub fn from_sqlite(e: rusqlite::Error) -> DbErr {
    use sea_orm::{RuntimeErr, sqlx};
    let error = match e {
        rusqlite::Error::SqliteFailure(failure, message) => {
            sqlx::Error::Database(Box::new(SqliteFailure {
                message: message.unwrap_or_else(|| failure.to_string()),
                failure,
            }))
        }
        other => sqlx::Error::Protocol(other.to_string()),
    };
    DbErr::Exec(RuntimeErr::SqlxError(std::sync::Arc::new(error)))
}

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
struct SqliteFailure {
    failure: rusqlite::ffi::Error,
    message: String,
}

impl sea_orm::sqlx::error::DatabaseError for SqliteFailure {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
        Some(self.failure.extended_code.to_string().into())
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> sea_orm::sqlx::error::ErrorKind {
        use rusqlite::ffi;
        use sea_orm::sqlx::error::ErrorKind;
        match self.failure.extended_code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                ErrorKind::UniqueViolation
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => ErrorKind::ForeignKeyViolation,
            ffi::SQLITE_CONSTRAINT_NOTNULL => ErrorKind::NotNullViolation,
            ffi::SQLITE_CONSTRAINT_CHECK => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

/// Answers whether the database is reachable right now.
pub async fn ping(db: &DatabaseConnection) -> bool {
    db.execute_unprepared("SELECT 1").await.is_ok()
}

pub fn is_sqlite(db: &DatabaseConnection) -> bool {
    db.get_database_backend() == DatabaseBackend::Sqlite
}

/// Whether this process is the database's only writer, so that a cache may trust what
/// the process wrote instead of reading it back: on SQLite one server owns the file;
/// on PostgreSQL other processes may write too.
pub fn only_writer(db: &DatabaseConnection) -> bool {
    is_sqlite(db)
}

/// Milliseconds since the Unix epoch: how every time is stored.
pub fn now_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    (now.unix_timestamp_nanos() / 1_000_000) as i64
}

/// A statement from SQL written with `?` placeholders, numbered `$1, $2, …` for
/// PostgreSQL. For the few queries sea-query would make harder to read than SQL.
pub fn statement(
    db: &DatabaseConnection,
    sql: &str,
    values: impl IntoIterator<Item = sea_orm::Value>,
) -> sea_orm::Statement {
    statement_for(db.get_database_backend(), sql, values)
}

/// The secret named `name` in `secrets`, storing `fresh` first if there is none. Two
/// processes asking at once keep one: the second's insert is ignored and both read
/// what was stored.
pub async fn kept_secret(
    db: &DatabaseConnection,
    name: &str,
    fresh: String,
) -> Result<String, DbErr> {
    db.execute_raw(statement(
        db,
        "INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
        [name.into(), fresh.into()],
    ))
    .await?;
    let row = db
        .query_one_raw(statement(
            db,
            "SELECT value FROM secrets WHERE name = ?",
            [name.into()],
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("the secret {name}")))?;
    row.try_get("", "value")
}

/// [`statement`] for a backend (in a transaction, say).
pub fn statement_for(
    backend: DatabaseBackend,
    sql: &str,
    values: impl IntoIterator<Item = sea_orm::Value>,
) -> sea_orm::Statement {
    let sql = if backend == DatabaseBackend::Postgres {
        let mut numbered = String::with_capacity(sql.len() + 8);
        let mut n = 0;
        for c in sql.chars() {
            if c == '?' {
                n += 1;
                numbered.push('$');
                numbered.push_str(&n.to_string());
            } else {
                numbered.push(c);
            }
        }
        numbered
    } else {
        sql.to_owned()
    };
    sea_orm::Statement::from_sql_and_values(backend, sql, values)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[tokio::test]
    async fn the_pool_and_the_message_writer_open_sqlite_with_the_same_settings() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = connect(&url).await.expect("connect");
        let writer = open_sqlite_writer(&db).expect("writer connection");
        for (name, _) in SQLITE_CONNECTION_PRAGMAS {
            let pooled: i64 =
                sea_orm::sqlx::query_scalar(sea_orm::sqlx::AssertSqlSafe(format!("PRAGMA {name}")))
                    .fetch_one(db.get_sqlite_connection_pool())
                    .await
                    .expect("pool pragma");
            let own: i64 = writer
                .pragma_query_value(None, name, |row| row.get(0))
                .expect("writer pragma");
            assert_eq!(own, pooled, "PRAGMA {name}");
        }
        let journal: String = writer
            .pragma_query_value(None, "journal_mode", |row| row.get(0))
            .expect("journal mode");
        assert_eq!(journal, "wal");
        let synchronous: i64 = writer
            .pragma_query_value(None, "synchronous", |row| row.get(0))
            .expect("synchronous");
        assert_eq!(synchronous, 1, "NORMAL");
    }

    #[tokio::test]
    async fn the_message_writer_goes_before_a_queue_of_other_writers() {
        let gate = WriteGate(Some(Arc::default()));
        let order = Arc::new(Mutex::new(Vec::new()));
        let holder = gate.enter_after_messages().await;

        // Two writes of the session store queue up first, then the message writer. On this
        // single-threaded runtime each yield lets the spawned tasks run until they wait.
        let mut waiting = Vec::new();
        for who in ["sessions A", "sessions B", "messages"] {
            let (gate, order) = (gate.clone(), order.clone());
            waiting.push(tokio::spawn(async move {
                let _turn = if who == "messages" {
                    gate.message_writers_turn().await
                } else {
                    gate.enter_after_messages().await
                };
                order.lock().map(|mut o| o.push(who)).ok();
            }));
            tokio::task::yield_now().await;
        }
        drop(holder);
        for task in waiting {
            task.await.ok();
        }
        let order = order.lock().map(|o| o.clone()).unwrap_or_default();
        assert_eq!(order, ["messages", "sessions A", "sessions B"]);
    }

    /// The WAL checkpointer waits on this: a write must wake it, an idle gate must not.
    #[tokio::test]
    async fn the_end_of_a_write_turn_wakes_the_checkpointer() {
        let gate = WriteGate(Some(Arc::default()));
        let checkpointer = tokio::spawn({
            let gate = gate.clone();
            async move { gate.turn_ended().await }
        });
        tokio::task::yield_now().await;
        assert!(!checkpointer.is_finished(), "woken with no write");
        drop(gate.enter_after_messages().await);
        tokio::time::timeout(Duration::from_secs(10), checkpointer)
            .await
            .expect("a write turn ended and the checkpointer was not woken")
            .expect("the checkpointer's task failed");
    }
}
