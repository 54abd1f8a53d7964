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

pub struct Storage {
    store: Arc<dyn ObjectStore>,
    /// How much of a file is sent per part: S3 wants 5 MiB at least (but the last);
    /// a folder takes any, and small parts keep a big upload's memory flat.
    part_bytes: usize,
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
                part_bytes: 5 * 1024 * 1024,
            });
        }
        let folder = url.strip_prefix("file://").unwrap_or(url);
        std::fs::create_dir_all(folder)?;
        let store = LocalFileSystem::new_with_prefix(folder)?;
        Ok(Self {
            store: Arc::new(store),
            part_bytes: 256 * 1024,
        })
    }

    /// Puts the whole of `file` (read from its start) under `key`, a part at a time.
    pub async fn put_file(
        &self,
        key: &str,
        file: &mut tokio::fs::File,
    ) -> Result<(), StorageError> {
        use tokio::io::AsyncSeekExt;
        file.seek(std::io::SeekFrom::Start(0)).await?;
        let upload = self.store.put_multipart(&Path::from(key)).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, self.part_bytes);
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

    /// Removes `key`; one that is not there is already removed.
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        match self.store.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
