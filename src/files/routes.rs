//! `GET /messages/{id}/files/{n}` and `…/thumbnail`: a message's file, to the people
//! who may read its conversation, and a 404 to everyone else, whatever they guess (a
//! 403 would tell that the file exists).
//!
//! Why each header: the type is the one its content showed at upload
//! ([`super::kind`]), and `nosniff` keeps the browser from guessing another; only
//! pictures, video and sound are shown in place, everything else is an attachment;
//! the CSP `sandbox` makes even a file opened by hand a page without script, origin
//! or forms; `Cross-Origin-Resource-Policy` keeps other sites from embedding it; the
//! cache is private (a browser's own, never a shared proxy's), and long, because the
//! bytes at a URL never change (a deleted message's files are gone, not changed).
use std::sync::Arc;

use futures_util::{StreamExt, TryStreamExt};
use poem::{
    Body, Request, Response, handler,
    http::{HeaderValue, StatusCode, header},
    web::{Data, Path},
};

use super::{FileName, Files, kind::Shown, queries, storage};
use crate::{chat::Chat, error::AppError, web::session::viewer_of};

const SANDBOX: &str =
    "sandbox; default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'";

/// The file itself.
#[handler]
pub async fn original(
    req: &Request,
    Data(chat): Data<&Arc<Chat>>,
    Data(files): Data<&Arc<Files>>,
    Path((id, position)): Path<(i64, i32)>,
) -> Result<Response, AppError> {
    serve(req, chat, files, id, position, false).await
}

/// The thumbnail of a picture.
#[handler]
pub async fn thumbnail(
    req: &Request,
    Data(chat): Data<&Arc<Chat>>,
    Data(files): Data<&Arc<Files>>,
    Path((id, position)): Path<(i64, i32)>,
) -> Result<Response, AppError> {
    serve(req, chat, files, id, position, true).await
}

async fn serve(
    req: &Request,
    chat: &Chat,
    files: &Files,
    id: i64,
    position: i32,
    small: bool,
) -> Result<Response, AppError> {
    let viewer = viewer_of(req).await?.ok_or(AppError::NotFound)?;
    let (attachment, conversation_id) = queries::find(&chat.db, id, position)
        .await?
        .ok_or(AppError::NotFound)?;
    crate::chat::access::open(&chat.db, &viewer, conversation_id).await?;
    if small && attachment.thumbnail.is_none() {
        return Err(AppError::NotFound);
    }
    let key = match small {
        true => storage::thumbnail_key(&attachment.hash),
        false => storage::blob_key(&attachment.hash),
    };
    let etag = format!(
        "\"{}{}\"",
        attachment.hash.get(..32).unwrap_or(&attachment.hash),
        if small { "-t" } else { "" }
    );
    let mut resp = Response::builder();
    if req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        resp = resp.status(StatusCode::NOT_MODIFIED);
        return Ok(with_headers(resp.finish(), &etag));
    }
    // Video and sound seek by byte ranges; one range is served, anything else whole.
    let total = u64::try_from(attachment.size).unwrap_or(0);
    let range = match (small, requested_range(req)) {
        (false, Some(spec)) => match byte_range(&spec, total) {
            Some(range) => Some(range),
            None => {
                let mut resp = Response::builder()
                    .status(StatusCode::RANGE_NOT_SATISFIABLE)
                    .header(header::CONTENT_RANGE, format!("bytes */{total}"))
                    .finish();
                resp = with_headers(resp, &etag);
                return Ok(resp);
            }
        },
        _ => None,
    };
    let Some((size, mut stream)) = files.storage.get(&key, range.clone()).await? else {
        tracing::warn!(%key, "a file's blob is missing from storage");
        return Err(AppError::NotFound);
    };
    // A thumbnail is JPEG, or PNG where the picture has transparency: its first
    // bytes say which.
    let first = match small {
        true => stream
            .next()
            .await
            .transpose()
            .map_err(storage::StorageError::from)?,
        false => None,
    };
    let content_type = match &first {
        Some(head) if head.starts_with(b"\x89PNG") => "image/png".to_owned(),
        Some(_) => "image/jpeg".to_owned(),
        None => attachment.content_type.clone(),
    };
    let stream = futures_util::stream::iter(first.map(Ok)).chain(stream);
    let shown = Shown::of(&content_type);
    let name = FileName::parse(&attachment.name);
    let mut resp = Response::builder();
    if let Some(range) = &range {
        resp = resp.status(StatusCode::PARTIAL_CONTENT).header(
            header::CONTENT_RANGE,
            format!("bytes {}-{}/{total}", range.start, range.end - 1),
        );
    }
    let mut resp = resp
        .header(header::ACCEPT_RANGES, "bytes")
        .content_type(content_type)
        .header(header::CONTENT_LENGTH, size)
        .header(
            header::CONTENT_DISPOSITION,
            name.disposition(shown.inline()),
        )
        .body(Body::from_bytes_stream(
            stream
                .map_err(|e| std::io::Error::other(e.to_string()))
                .boxed(),
        ));
    resp = with_headers(resp, &etag);
    Ok(resp)
}

fn with_headers(resp: Response, etag: &str) -> Response {
    private_immutable(resp, etag, SANDBOX)
}

/// The headers of a stored file's answer: never sniffed as another type, sandboxed by
/// `csp`, kept by the browser only (never a shared cache: the reader was checked) for
/// as long as it likes, since the bytes at a content-hashed URL never change.
pub(crate) fn private_immutable(mut resp: Response, etag: &str, csp: &'static str) -> Response {
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        "Cross-Origin-Resource-Policy",
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, value);
    }
    resp
}

/// The `Range` header of a request, if it asks for bytes.
fn requested_range(req: &Request) -> Option<String> {
    let value = req.headers().get(header::RANGE)?.to_str().ok()?;
    value.strip_prefix("bytes=").map(str::to_owned)
}

/// The bytes one range of a `Range: bytes=…` header asks for in a file of `total`
/// bytes (`a-b`, `a-`, `-n`); `None` when it cannot be served (past the end, or
/// several ranges, which no player needs).
fn byte_range(spec: &str, total: u64) -> Option<std::ops::Range<u64>> {
    if spec.contains(',') || total == 0 {
        return None;
    }
    let (start, end) = spec.trim().split_once('-')?;
    let (start, end) = match (start.trim(), end.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().ok()?;
            (total.saturating_sub(n), total - 1)
        }
        (start, "") => (start.parse().ok()?, total - 1),
        (start, end) => (start.parse().ok()?, end.parse::<u64>().ok()?.min(total - 1)),
    };
    (start <= end && start < total).then_some(start..end + 1)
}

#[cfg(test)]
mod tests {
    use super::byte_range;

    #[test]
    fn one_byte_range_is_served_and_others_are_refused() {
        assert_eq!(byte_range("0-99", 1000), Some(0..100));
        assert_eq!(byte_range("900-", 1000), Some(900..1000));
        assert_eq!(byte_range("-100", 1000), Some(900..1000));
        assert_eq!(byte_range("990-2000", 1000), Some(990..1000));
        assert_eq!(byte_range("1000-", 1000), None);
        assert_eq!(byte_range("5-2", 1000), None);
        assert_eq!(byte_range("0-1,5-6", 1000), None);
        assert_eq!(byte_range("x-", 1000), None);
    }
}
