//! Reading the composer's `multipart/form-data`: its text fields, and each `file`
//! streamed into a temporary file of its own while it is hashed and counted, so that
//! no file is ever held whole in memory and a form over a limit is refused before
//! anything reaches storage. The temporary files have no name on disk and vanish
//! when dropped, whatever happens to the request.
//!
//! The body goes to `multer` as the connection's own chunks, and each part's chunk is
//! written and let go before the next is asked for: the parser's buffer is then free
//! to be reused, so a file passes through the same few buffers from its first byte to
//! its last instead of through a new allocation per chunk.
//!
//! The session middleware leaves the CSRF check of such a form to this reader
//! ([`CsrfToCheck`]). A wrong `csrf_token` field is refused where it is met (the
//! composer sends it first, so before any file); a form without one is refused once
//! it has been read, before anything of it is stored: files only ever reach this
//! reader's temporary files, so a forged form changes nothing, wherever its token is.
use std::time::Duration;

use poem::{Body, Request, http::StatusCode};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::{
    FileName, FileSettings,
    images::{self, ImageError, ImageInfo},
    kind::{self, Shown},
};
use crate::web::session::CsrfToCheck;

/// Room for a form's text fields and multipart framing beside its files.
const FORM_SLACK: u64 = 1024 * 1024;
/// The most a text field (the body, the reply) may hold.
const TEXT_FIELD_BYTES: u64 = 64 * 1024;
/// Fields a form may have, files included.
const MAX_FIELDS: usize = 64;

/// One file of the form, in its temporary file.
#[derive(Debug)]
pub struct Received {
    pub name: FileName,
    /// SHA-256 of its bytes, in hex: its name in storage.
    pub hash: String,
    pub size: u64,
    /// From its content ([`kind::sniff`]).
    pub content_type: String,
    pub image: Option<ImageInfo>,
    pub file: tokio::fs::File,
}

/// The composer's form: its text as sent, and its files.
#[derive(Debug, Default)]
pub struct Composed {
    pub body: String,
    pub reply_to: String,
    pub files: Vec<Received>,
}

/// Why a form was refused; each is one answer.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// 413: over a size limit.
    #[error("{0}")]
    TooLarge(String),
    /// 422: a file that cannot be taken as it is.
    #[error("{0}")]
    Refused(String),
    /// 403: no CSRF token before the files.
    #[error("the form has expired or did not come from this site")]
    Csrf,
    /// 408: the body stopped arriving.
    #[error("the upload stopped arriving")]
    TimedOut,
    /// 422: not a form that can be read (broken framing, a header with control
    /// characters).
    #[error("the form could not be read: {0}")]
    Malformed(String),
    /// 500: the server could not keep the upload while reading it.
    #[error("the upload could not be kept: {0}")]
    Io(#[from] std::io::Error),
}

impl UploadError {
    pub fn status(&self) -> StatusCode {
        match self {
            UploadError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            UploadError::Refused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            UploadError::Csrf => StatusCode::FORBIDDEN,
            UploadError::TimedOut => StatusCode::REQUEST_TIMEOUT,
            UploadError::Malformed(_) => StatusCode::UNPROCESSABLE_ENTITY,
            UploadError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the person is told.
    pub fn message(&self) -> String {
        match self {
            UploadError::TooLarge(why) | UploadError::Refused(why) => why.clone(),
            UploadError::Csrf => "This form has expired or did not come from hearth. Reload the page and try again.".to_owned(),
            UploadError::TimedOut => "The upload stopped arriving, so hearth stopped waiting: nothing was saved. Try again.".to_owned(),
            UploadError::Malformed(_) => "hearth could not read that form. Reload the page and try again.".to_owned(),
            UploadError::Io(_) => "hearth could not keep that upload. Nothing was saved; try again in a moment.".to_owned(),
        }
    }
}

/// Whether `req` carries a `multipart/form-data` body.
pub fn is_multipart(req: &Request) -> bool {
    req.content_type().is_some_and(|t| {
        t.trim_start()
            .to_ascii_lowercase()
            .starts_with("multipart/form-data")
    })
}

fn in_mib(bytes: u64) -> String {
    let mib = bytes as f64 / (1024.0 * 1024.0);
    if mib >= 10.0 || mib.fract() == 0.0 {
        format!("{mib:.0} MB")
    } else {
        format!("{mib:.1} MB")
    }
}

/// Reads the whole form. A declared `Content-Length` over the message's limit is
/// refused before a byte of the body is read; one that lies is stopped at the limit.
/// Each read waits `patience` at most (a slow upload is fine, a stalled one is not).
pub async fn read(
    req: &Request,
    body: Body,
    settings: &FileSettings,
    patience: Duration,
) -> Result<Composed, UploadError> {
    let check = req.extensions().get::<CsrfToCheck>().cloned();
    read_checked(req, body, settings, patience, check).await
}

/// [`read`], with the form's CSRF check as given: [`CsrfToCheck::Checked`] for a request
/// that no cookie authenticates (the API's, by bearer token).
pub async fn read_checked(
    req: &Request,
    body: Body,
    settings: &FileSettings,
    patience: Duration,
    check: Option<CsrfToCheck>,
) -> Result<Composed, UploadError> {
    let too_large_message = || {
        UploadError::TooLarge(format!(
            "A message's files can be at most {} together.",
            in_mib(settings.max_message_bytes)
        ))
    };
    let declared = req
        .headers()
        .get(poem::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > settings.max_message_bytes.saturating_add(FORM_SLACK)) {
        return Err(too_large_message());
    }
    let mut csrf_ok = matches!(check, Some(CsrfToCheck::Checked));
    let boundary = multer::parse_boundary(req.content_type().unwrap_or_default())
        .map_err(|e| UploadError::Malformed(e.to_string()))?;
    let mut form = multer::Multipart::new(OneChunkAPoll::new(body.into_bytes_stream()), boundary);
    let mut composed = Composed::default();
    let mut total: u64 = 0;
    let mut fields = 0;
    loop {
        let next = tokio::time::timeout(patience, form.next_field())
            .await
            .map_err(|_| UploadError::TimedOut)?
            .map_err(|e| UploadError::Malformed(e.to_string()))?;
        let Some(field) = next else { break };
        fields += 1;
        if fields > MAX_FIELDS {
            return Err(UploadError::Refused(format!(
                "A message can have at most {} files.",
                settings.max_files
            )));
        }
        let name = field.name().unwrap_or_default().to_owned();
        if name != "file" {
            let text = read_text(field, patience).await?;
            match name.as_str() {
                "csrf_token" => {
                    if !check.as_ref().is_some_and(|c| c.admits(text.trim())) {
                        return Err(UploadError::Csrf);
                    }
                    csrf_ok = true;
                }
                "body" => composed.body = text,
                "reply_to" => composed.reply_to = text,
                _ => {}
            }
            continue;
        }
        let claimed = field.file_name().unwrap_or_default().to_owned();
        let per_file = settings.max_file_bytes;
        let left = settings.max_message_bytes.saturating_sub(total);
        let file = receive(field, per_file.min(left), patience).await;
        let (file, size, hash, head) = match file {
            Ok(Some(got)) => got,
            Ok(None) if left < per_file => return Err(too_large_message()),
            Ok(None) => {
                return Err(UploadError::TooLarge(format!(
                    "Files can be at most {} each; {} is bigger.",
                    in_mib(per_file),
                    FileName::parse(&claimed).as_str()
                )));
            }
            Err(e) => return Err(e),
        };
        // A file input with nothing chosen still sends an empty, nameless part.
        if size == 0 && claimed.is_empty() {
            continue;
        }
        let name = FileName::parse(&claimed);
        if size == 0 {
            return Err(UploadError::Refused(format!("{} is empty.", name.as_str())));
        }
        if composed.files.len() == settings.max_files {
            return Err(UploadError::Refused(format!(
                "A message can have at most {} files.",
                settings.max_files
            )));
        }
        total += size;
        let mut content_type = kind::sniff(&head);
        let image = match Shown::of(&content_type) {
            Shown::Image | Shown::Animation => match measure(&file, &content_type).await? {
                Ok(info) => Some(info),
                Err(ImageError::TooBig(w, h)) => {
                    return Err(UploadError::Refused(format!(
                        "{} is {w}×{h} pixels: pictures can be at most {} megapixels.",
                        name.as_str(),
                        images::MAX_PIXELS / 1_000_000
                    )));
                }
                // Looks like a picture, is not one: a file to download.
                Err(ImageError::Unreadable(why)) => {
                    tracing::debug!(%why, "an upload that looked like a picture is not one");
                    content_type = "application/octet-stream".to_owned();
                    None
                }
            },
            _ => None,
        };
        composed.files.push(Received {
            name,
            hash,
            size,
            content_type,
            image,
            file,
        });
    }
    if !csrf_ok {
        return Err(UploadError::Csrf);
    }
    Ok(composed)
}

/// A body that hands the multipart reader one chunk per poll. That reader takes every
/// chunk that is ready before it parses any, so a sender faster than the disk would
/// otherwise have the body pile up in memory instead of waiting in the socket.
struct OneChunkAPoll<S> {
    inner: std::pin::Pin<Box<S>>,
    just_gave: bool,
}

impl<S> OneChunkAPoll<S> {
    fn new(inner: S) -> Self {
        Self {
            inner: Box::pin(inner),
            just_gave: false,
        }
    }
}

impl<S: futures_util::Stream> futures_util::Stream for OneChunkAPoll<S> {
    type Item = S::Item;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<S::Item>> {
        if std::mem::take(&mut self.just_gave) {
            // Ready again at once: this only ends the reader's greedy loop.
            cx.waker().wake_by_ref();
            return std::task::Poll::Pending;
        }
        let next = self.inner.as_mut().poll_next(cx);
        self.just_gave = matches!(next, std::task::Poll::Ready(Some(_)));
        next
    }
}

/// A text field, bounded.
async fn read_text(
    mut field: multer::Field<'_>,
    patience: Duration,
) -> Result<String, UploadError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = next_chunk(&mut field, patience).await? {
        if (bytes.len() + chunk.len()) as u64 > TEXT_FIELD_BYTES {
            return Err(UploadError::TooLarge(
                "That message is far longer than hearth accepts.".to_owned(),
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The field's next chunk, waiting `patience` at most.
async fn next_chunk(
    field: &mut multer::Field<'_>,
    patience: Duration,
) -> Result<Option<bytes::Bytes>, UploadError> {
    tokio::time::timeout(patience, field.chunk())
        .await
        .map_err(|_| UploadError::TimedOut)?
        .map_err(|e| UploadError::Malformed(e.to_string()))
}

/// Streams a file field into a temporary file, hashing it; `None` when it is over
/// `limit` bytes (the rest is not read).
async fn receive(
    mut field: multer::Field<'_>,
    limit: u64,
    patience: Duration,
) -> Result<Option<(tokio::fs::File, u64, String, Vec<u8>)>, UploadError> {
    let mut file = tokio::fs::File::from_std(tempfile::tempfile()?);
    let mut hasher = Sha256::new();
    let mut head = Vec::with_capacity(kind::SNIFF_BYTES);
    let mut size: u64 = 0;
    while let Some(chunk) = next_chunk(&mut field, patience).await? {
        size += chunk.len() as u64;
        if size > limit {
            return Ok(None);
        }
        if head.len() < kind::SNIFF_BYTES {
            let room = kind::SNIFF_BYTES - head.len();
            head.extend_from_slice(&chunk[..room.min(chunk.len())]);
        }
        hasher.update(&chunk);
        // Copied into the file's own buffer: the chunk is let go before the next.
        file.write_all(&chunk).await?;
    }
    file.flush().await?;
    Ok(Some((file, size, hex::encode(hasher.finalize()), head)))
}

/// [`images::examine`] off the async workers.
async fn measure(
    file: &tokio::fs::File,
    content_type: &str,
) -> Result<Result<ImageInfo, ImageError>, UploadError> {
    let copy = file.try_clone().await?.into_std().await;
    let content_type = content_type.to_owned();
    tokio::task::spawn_blocking(move || images::examine(copy, &content_type))
        .await
        .map_err(|e| UploadError::Io(std::io::Error::other(e.to_string())))
}
