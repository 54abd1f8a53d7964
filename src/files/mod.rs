//! Files and images attached to messages: taking them in with the composer's form,
//! keeping them in storage named by their content, showing them in messages and
//! serving them to the people who may read their conversation.
//!
//! It owns the bytes of files (in [`storage`]), the `attachments` rows that tie them to
//! messages ([`queries`]), what their content is ([`kind`]), thumbnails ([`images`]),
//! and `GET /files/…` ([`routes`]). It does not post messages: a message's files travel
//! with it through [`crate::chat::Chat::post_with_files`] and the one event path, so a
//! message and its `attachments` rows commit together or not at all.
//!
//! The order of writes keeps storage free of orphans: a form is read whole into
//! temporary files first (a refusal stores nothing), then each blob is put under its
//! SHA-256 (the same file twice is one blob), then the message commits with its rows.
//! When that commit fails, or when a message is deleted, [`Files::release`] removes
//! the blobs no row names any more; blobs a stopped process left between the two are
//! swept at the next start ([`Files::sweep`]).
pub mod images;
pub mod kind;
pub mod name;
pub mod queries;
pub mod routes;
pub mod storage;
pub mod upload;
pub mod views;

pub use name::FileName;
pub use queries::Attachment;
pub use storage::{Storage, StorageError};

use sea_orm::DatabaseConnection;

/// What an operator decides about files.
#[derive(Clone, Debug)]
pub struct FileSettings {
    /// A folder, `file://…`, or `s3://bucket`; `None`: `hearth-files/` beside a SQLite
    /// database, else in the working directory.
    pub url: Option<String>,
    /// The largest file.
    pub max_file_bytes: u64,
    /// All files of one message together.
    pub max_message_bytes: u64,
    /// Files one message may carry.
    pub max_files: usize,
}

impl Default for FileSettings {
    fn default() -> Self {
        Self {
            url: None,
            max_file_bytes: 25 * 1024 * 1024,
            max_message_bytes: 100 * 1024 * 1024,
            max_files: 10,
        }
    }
}

impl FileSettings {
    /// Where files go for a server on `database_url`.
    pub fn storage_url(&self, database_url: &str) -> String {
        if let Some(url) = &self.url {
            return url.clone();
        }
        let beside = database_url
            .strip_prefix("sqlite://")
            .map(|rest| rest.split('?').next().unwrap_or_default())
            .filter(|path| !path.is_empty() && !path.starts_with(':'))
            .and_then(|path| std::path::Path::new(path).parent().map(|p| p.to_owned()));
        match beside {
            Some(dir) => dir.join("hearth-files").display().to_string(),
            None => "hearth-files".to_owned(),
        }
    }
}

/// Storage and the rules for files, shared by the composer, the message actions and
/// the file routes.
pub struct Files {
    pub storage: Storage,
    pub settings: FileSettings,
}

impl Files {
    /// Puts each received file (and its thumbnail) in storage under its hash. On a
    /// failure, what this call put and no message uses is removed again.
    pub async fn keep(
        &self,
        db: &DatabaseConnection,
        received: &mut [upload::Received],
    ) -> Result<(), StorageError> {
        let mut put: Vec<String> = Vec::new();
        for file in received.iter_mut() {
            let stored = async {
                self.storage
                    .put_file(&storage::blob_key(&file.hash), &mut file.file)
                    .await?;
                if let Some(thumbnail) = &file.image.as_ref().and_then(|i| i.thumbnail.clone()) {
                    self.storage
                        .put_bytes(&storage::thumbnail_key(&file.hash), thumbnail.bytes.clone())
                        .await?;
                }
                Ok::<(), StorageError>(())
            }
            .await;
            put.push(file.hash.clone());
            if let Err(e) = stored {
                self.release(db, put).await;
                return Err(e);
            }
        }
        Ok(())
    }

    /// Removes the blobs that no attachment names and that are older than an hour:
    /// those a process left when it stopped between putting a file and committing its
    /// message (and copies it left half made). The hour keeps it clear of uploads in
    /// flight. Answers how many went.
    pub async fn sweep(&self, db: &DatabaseConnection) -> Result<usize, StorageError> {
        const ORPHAN_AGE_MS: i64 = 60 * 60 * 1000;
        let old = self
            .storage
            .blobs_before(crate::db::now_ms() - ORPHAN_AGE_MS)
            .await?;
        let mut unused = Vec::new();
        for hash in old {
            match queries::is_used(db, &hash).await {
                Ok(false) => unused.push(hash),
                Ok(true) => {}
                Err(e) => tracing::warn!(error = %e, "could not tell whether a file is used"),
            }
        }
        let swept = unused.len();
        self.release(db, unused).await;
        let staged = self
            .storage
            .sweep_staged(crate::db::now_ms() - ORPHAN_AGE_MS)
            .await?;
        Ok(swept + staged)
    }

    /// Removes the blobs of `hashes` that no attachment names any more: after a
    /// message with them failed to commit, or was deleted. A failure is logged and
    /// leaves the blob behind, never a row without its blob.
    ///
    /// A known limit: a blob released while another message with the same file is
    /// being posted (put, not yet committed) can be removed under it; the window is
    /// the length of one commit.
    pub async fn release(&self, db: &DatabaseConnection, mut hashes: Vec<String>) {
        hashes.sort_unstable();
        hashes.dedup();
        for hash in hashes {
            match queries::is_used(db, &hash).await {
                Ok(false) => {
                    for key in [storage::blob_key(&hash), storage::thumbnail_key(&hash)] {
                        if let Err(e) = self.storage.delete(&key).await {
                            tracing::warn!(error = %e, %key, "could not remove an unused file");
                        }
                    }
                }
                Ok(true) => {}
                Err(e) => {
                    tracing::warn!(error = %e, %hash, "could not tell whether a file is used")
                }
            }
        }
    }
}
