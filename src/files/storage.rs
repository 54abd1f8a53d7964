//! Where files' bytes live, behind one interface over [`object_store`]: a folder on
//! disk, or any S3-compatible store (`s3://bucket`, configured by the usual `AWS_*`
//! variables, `AWS_ENDPOINT` and `AWS_ALLOW_HTTP` for one that is not AWS, or by the
//! same options in the URL's query: `s3://bucket?endpoint=http://…&allow_http=true`). Blobs are
//! named by the SHA-256 of their content ([`blob_key`]), so putting one twice is
//! harmless. It knows nothing of messages or who may read what.
use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use futures_util::stream::BoxStream;
use object_store::{
    ClientConfigKey, GetOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig,
    WriteMultipart,
    aws::{AmazonS3Builder, AmazonS3ConfigKey},
    local::LocalFileSystem,
    path::Path,
};
use tokio::io::AsyncReadExt;

/// Storage failed: unreachable, refusing, or out of space. Requests answer 503.
#[derive(Debug, thiserror::Error)]
#[error("file storage: {0}")]
pub struct StorageError(String);

impl From<object_store::Error> for StorageError {
    fn from(e: object_store::Error) -> Self {
        Self(e.to_string())
    }
}

impl From<std::io::Error> for StorageError {
    fn from(e: std::io::Error) -> Self {
        Self(e.to_string())
    }
}

/// The key of the blob whose SHA-256 is `hash` (hex).
pub fn blob_key(hash: &str) -> String {
    format!("files/{hash}")
}

/// The key of the thumbnail of that blob.
pub fn thumbnail_key(hash: &str) -> String {
    format!("thumbnails/{hash}")
}

/// How much of a file goes to S3 per part: 5 MiB at least (but the last).
const PART_BYTES: usize = 5 * 1024 * 1024;

pub struct Storage {
    store: Arc<dyn ObjectStore>,
    /// The folder of a store on disk, where a file is copied in by the kernel instead
    /// of a part at a time through memory.
    folder: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Storage({})", self.store)
    }
}

impl Storage {
    /// Opens the store `url` names: `s3://bucket`, or a folder (`file://` optional),
    /// created if missing.
    pub fn open(url: &str) -> Result<Self, StorageError> {
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, options) = rest.split_once('?').unwrap_or((rest, ""));
            let bucket = bucket.trim_end_matches('/');
            // A dead endpoint must answer a person within seconds (503), not after
            // object_store's default of minutes of retries.
            let retry = RetryConfig {
                max_retries: 2,
                retry_timeout: Duration::from_secs(10),
                ..RetryConfig::default()
            };
            let mut builder = AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_config(
                    AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout),
                    "3s",
                )
                .with_config(AmazonS3ConfigKey::Client(ClientConfigKey::Timeout), "60s")
                .with_retry(retry);
            // `?endpoint=…&allow_http=true&region=…`: object_store's own option names,
            // over what the environment says.
            for (key, value) in form_urlencoded::parse(options.as_bytes()) {
                let key: AmazonS3ConfigKey = key
                    .parse()
                    .map_err(|_| StorageError(format!("unknown S3 option {key:?}")))?;
                builder = builder.with_config(key, value);
            }
            let store = builder.build()?;
            return Ok(Self {
                store: Arc::new(store),
                folder: None,
            });
        }
        let folder = url.strip_prefix("file://").unwrap_or(url);
        std::fs::create_dir_all(folder)?;
        let store = LocalFileSystem::new_with_prefix(folder)?;
        Ok(Self {
            store: Arc::new(store),
            folder: Some(std::fs::canonicalize(folder)?),
        })
    }

    /// Puts the whole of `file` (read from its start) under `key`: copied by the kernel
    /// into a folder ([`copy_into`]), sent to S3 a part at a time.
    pub async fn put_file(
        &self,
        key: &str,
        file: &mut tokio::fs::File,
    ) -> Result<(), StorageError> {
        if let Some(folder) = &self.folder {
            let source = file.try_clone().await?.into_std().await;
            let target = folder.join(key);
            return tokio::task::spawn_blocking(move || copy_into(source, &target))
                .await
                .map_err(|e| StorageError(e.to_string()))?;
        }
        use tokio::io::AsyncSeekExt;
        file.seek(std::io::SeekFrom::Start(0)).await?;
        let upload = self.store.put_multipart(&Path::from(key)).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
        let mut buffer = vec![0u8; 64 * 1024];
        let written = async {
            loop {
                let read = file.read(&mut buffer).await?;
                if read == 0 {
                    break;
                }
                // At most two parts in flight: memory stays a few parts, whatever the size.
                writer.wait_for_capacity(2).await?;
                writer.write(&buffer[..read]);
            }
            Ok::<(), StorageError>(())
        }
        .await;
        match written {
            Ok(()) => {
                writer.finish().await?;
                Ok(())
            }
            Err(e) => {
                let _ = writer.abort().await;
                Err(e)
            }
        }
    }

    pub async fn put_bytes(&self, key: &str, bytes: Bytes) -> Result<(), StorageError> {
        self.store
            .put(&Path::from(key), PutPayload::from_bytes(bytes))
            .await?;
        Ok(())
    }

    /// The object under `key` (only `range` of it, when given) as a stream, with the
    /// stream's length; `None` if there is none.
    pub async fn get(
        &self,
        key: &str,
        range: Option<std::ops::Range<u64>>,
    ) -> Result<Option<(u64, BoxStream<'static, object_store::Result<Bytes>>)>, StorageError> {
        let options = GetOptions::default().with_range(range);
        match self.store.get_opts(&Path::from(key), options).await {
            Ok(got) => Ok(Some((got.range.end - got.range.start, got.into_stream()))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The hashes of the blobs last written before `cutoff_ms` (milliseconds since the
    /// epoch).
    pub async fn blobs_before(&self, cutoff_ms: i64) -> Result<Vec<String>, StorageError> {
        use futures_util::TryStreamExt;
        let mut listing = self.store.list(Some(&Path::from("files")));
        let mut hashes = Vec::new();
        while let Some(meta) = listing.try_next().await? {
            if meta.last_modified.timestamp_millis() >= cutoff_ms {
                continue;
            }
            if let Some(hash) = meta.location.filename() {
                hashes.push(hash.to_owned());
            }
        }
        Ok(hashes)
    }

    /// Removes the copies a stopped process left staged in a folder (see [`copy_into`])
    /// before `cutoff_ms`; answers how many went. A store that is not a folder has none.
    pub async fn sweep_staged(&self, cutoff_ms: i64) -> Result<usize, StorageError> {
        let Some(folder) = self.folder.clone() else {
            return Ok(0);
        };
        let cutoff =
            std::time::UNIX_EPOCH + Duration::from_millis(u64::try_from(cutoff_ms).unwrap_or(0));
        tokio::task::spawn_blocking(move || {
            let entries = match std::fs::read_dir(folder.join("files")) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
                Err(e) => return Err(StorageError::from(e)),
            };
            let mut removed = 0;
            for entry in entries.flatten() {
                let staged = entry.file_name().to_str().is_some_and(|n| n.contains('#'));
                let old = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|at| at < cutoff);
                if staged && old && std::fs::remove_file(entry.path()).is_ok() {
                    removed += 1;
                }
            }
            Ok(removed)
        })
        .await
        .map_err(|e| StorageError(e.to_string()))?
    }

    /// Removes `key`; one that is not there is already removed.
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        match self.store.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// Copies the whole of `source` to `target` on disk: staged beside it under a name the
/// store's listing skips (`#` and digits, as object_store stages its own), then renamed
/// into place, so a reader never sees half a file. On Linux `io::copy` between files
/// is done by the kernel (`copy_file_range`): no buffer of the process holds the bytes.
fn copy_into(mut source: std::fs::File, target: &std::path::Path) -> Result<(), StorageError> {
    use std::io::{Seek, SeekFrom};
    source.seek(SeekFrom::Start(0))?;
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut staged = target.as_os_str().to_owned();
    staged.push(format!("#{}", rand::random::<u32>()));
    let staged = std::path::PathBuf::from(staged);
    let copied = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&staged)
        .and_then(|mut out| std::io::copy(&mut source, &mut out))
        .and_then(|_| std::fs::rename(&staged, target));
    if copied.is_err() {
        let _ = std::fs::remove_file(&staged);
    }
    copied?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn a_file_put_in_a_folder_is_whole_in_its_place_and_nothing_else_is_left() {
        let folder = tempfile::tempdir().expect("a folder");
        let storage = Storage::open(&folder.path().display().to_string()).expect("a store");
        let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let mut file = tokio::fs::File::from_std(tempfile::tempfile().expect("a temp file"));
        file.write_all(&bytes).await.expect("written");
        file.flush().await.expect("flushed");

        storage
            .put_file(&blob_key("abc"), &mut file)
            .await
            .expect("put");
        let (length, stream) = storage
            .get(&blob_key("abc"), None)
            .await
            .expect("got")
            .expect("there");
        use futures_util::TryStreamExt;
        let read: Vec<Bytes> = stream.try_collect().await.expect("read");
        assert_eq!(length, bytes.len() as u64);
        assert_eq!(read.concat(), bytes);
        let names: Vec<String> = std::fs::read_dir(folder.path().join("files"))
            .expect("the files folder")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        assert_eq!(names, vec!["abc".to_owned()], "no staged copy is left");

        // A copy a stopped process left staged is no blob.
        std::fs::write(folder.path().join("files/def#123"), b"half").expect("a stray");
        let blobs = storage.blobs_before(i64::MAX).await.expect("listed");
        assert_eq!(blobs, vec!["abc".to_owned()]);
        assert_eq!(storage.sweep_staged(0).await.expect("swept"), 0, "too new");
        assert_eq!(storage.sweep_staged(i64::MAX).await.expect("swept"), 1);
        assert!(!folder.path().join("files/def#123").exists());
        assert!(folder.path().join("files/abc").exists(), "blobs stay");
    }
}
