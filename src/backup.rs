//! `hearth backup FILE`: a consistent copy of a SQLite database, taken while a server
//! is serving it. It only reads the database and writes the new file; it never
//! overwrites a file that exists, and it has nothing to do with PostgreSQL (whose own
//! `pg_dump` is the tool there).
//!
//! The copy is SQLite's `VACUUM INTO`, not the online backup API. `VACUUM INTO` reads
//! the whole database inside one read transaction: in WAL mode writers go on beside
//! it, and the copy is the database as of that transaction's start, with the WAL's
//! committed pages folded in and free pages left out, as one file with nothing beside
//! it. The backup API copies pages in steps and starts over whenever another
//! connection writes between two steps, so under steady posting a stepped copy may
//! never end (and a copy in one step is the same read transaction, without the
//! compaction).
//!
//! The copy is written to a temporary file beside FILE, synced (SQLite does not sync
//! what `VACUUM INTO` writes), checked, and only then linked to FILE, so FILE is either
//! absent or a whole copy: an interrupted backup leaves no half-written file under
//! that name.
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use rusqlite::OpenFlags;

/// How long the copy waits for a lock SQLite's own recovery may hold.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What a backup wrote.
#[derive(Debug)]
pub struct Copied {
    pub source: PathBuf,
    pub bytes: u64,
}

/// Copies the database at `database_url` to `target`, which must not exist.
pub fn copy(database_url: &str, target: &Path) -> anyhow::Result<Copied> {
    if database_url.starts_with("postgres:") || database_url.starts_with("postgresql:") {
        bail!(
            "hearth backup copies SQLite databases; for PostgreSQL use pg_dump \
             (e.g. `pg_dump --format=custom --file=FILE DATABASE_URL`)"
        );
    }
    let Some(source) = crate::db::sqlite_file(database_url) else {
        bail!("{database_url} is not a SQLite database file that can be copied");
    };
    if !source.is_file() {
        bail!("there is no database at {}", source.display());
    }
    if target.exists() {
        bail!(
            "{} already exists: hearth backup never overwrites a file (remove it, or \
             choose another name)",
            target.display()
        );
    }
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    // Empty, as `VACUUM INTO` wants its file; removed again unless it is kept.
    let partial = tempfile::Builder::new()
        .prefix(".hearth-backup-")
        .suffix(".partial")
        .tempfile_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    let conn = rusqlite::Connection::open_with_flags(
        &source,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("cannot open the database at {}", source.display()))?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let into = partial.path().to_string_lossy().into_owned();
    conn.execute("VACUUM INTO ?1", [&into])
        .with_context(|| format!("cannot copy the database at {}", source.display()))?;
    drop(conn);
    partial
        .as_file()
        .sync_all()
        .context("cannot sync the copy to disk")?;
    check(partial.path())?;
    let bytes = partial.as_file().metadata()?.len();
    partial.persist_noclobber(target).map_err(|e| {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow::anyhow!(
                "{} appeared while the copy was taken: hearth backup never overwrites a file",
                target.display()
            )
        } else {
            anyhow::Error::new(e.error).context(format!("cannot write {}", target.display()))
        }
    })?;
    Ok(Copied { source, bytes })
}

/// SQLite's quick check of the copy: a copy that does not read back is no backup.
fn check(copy: &Path) -> anyhow::Result<()> {
    let conn = rusqlite::Connection::open_with_flags(copy, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .context("cannot open the copy to check it")?;
    let verdict: String = conn
        .query_row("PRAGMA quick_check", [], |row| row.get(0))
        .context("cannot check the copy")?;
    if verdict != "ok" {
        bail!("the copy does not pass SQLite's check: {verdict}");
    }
    Ok(())
}
