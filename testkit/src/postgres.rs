//! A PostgreSQL database of one test's or run's own, on the server the tests use.
use sea_orm::{ConnectionTrait, Database};

/// The PostgreSQL server the tests use (`HEARTH_TEST_POSTGRES_URL`, without a
/// database name; default `postgres://postgres@127.0.0.1:5432`).
pub fn postgres_server() -> String {
    std::env::var("HEARTH_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
        .trim_end_matches('/')
        .to_owned()
}

/// An empty database, dropped when this is dropped (or by [`ScratchDatabase::drop_now`]).
pub struct ScratchDatabase {
    /// `postgres://…/hearth_…`.
    pub url: String,
    server: String,
    name: String,
    dropped: bool,
}

impl ScratchDatabase {
    /// Creates `hearth_{tag}_{random}` on `server` (`postgres://user@host:port`).
    pub async fn create(server: &str, tag: &str) -> Result<ScratchDatabase, String> {
        let server = server.trim_end_matches('/').to_owned();
        let tag: String = tag
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let name = format!("hearth_{tag}_{:016x}", random());
        let admin = Database::connect(format!("{server}/postgres"))
            .await
            .map_err(|e| format!("cannot reach PostgreSQL at {server}: {e}"))?;
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .map_err(|e| format!("cannot create the database {name}: {e}"))?;
        let _ = admin.close().await;
        Ok(ScratchDatabase {
            url: format!("{server}/{name}"),
            server,
            name,
            dropped: false,
        })
    }

    /// Drops the database now (after its servers have stopped).
    pub async fn drop_now(mut self) {
        self.dropped = true;
        drop_database(&self.server, &self.name).await;
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let (server, name) = (self.server.clone(), self.name.clone());
        // Drop may run inside a runtime; the clean-up needs one of its own.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(drop_database(&server, &name));
        })
        .join();
    }
}

async fn drop_database(server: &str, name: &str) {
    if let Ok(admin) = Database::connect(format!("{server}/postgres")).await {
        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        let _ = admin.execute_unprepared(&sql).await;
        let _ = admin.close().await;
    }
}

fn random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.write_u32(std::process::id());
    hasher.finish()
}
