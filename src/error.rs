//! The errors a request can end in, each mapped to one HTTP answer a person can read.
//! Validation failures are not here: a form with a mistake is re-rendered by its handler
//! with status 422, because the person needs the form back, not an error page.
use std::time::Duration;

use poem::{IntoResponse, Response, error::ResponseError, http::StatusCode};
use sea_orm::{DbErr, RuntimeErr};

use crate::web::layout;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    /// The request cannot be done as asked: 422, with why.
    #[error("refused: {0}")]
    Refused(&'static str),
    /// It is someone else's to do: 403, with why.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// The thing changed in a way that rules this out (a deleted message): 409.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// A POST without the session's CSRF token, or with another one.
    #[error("the form has expired or did not come from this site")]
    CsrfRejected,
    #[error("request body too large")]
    PayloadTooLarge,
    /// The request's body did not arrive in time: 408.
    #[error("request body timed out")]
    BodyTimedOut,
    /// Over a rate limit: try again after this long.
    #[error("too many requests")]
    TooManyRequests(crate::limits::RetryAfter),
    /// Past the socket limits: 429 for one person's, 503 for the server's.
    #[error("too many sockets for one person")]
    TooManySockets,
    #[error("the server is at its socket limit")]
    ServerFull,
    /// Too many sockets are being set up at this moment: 503, briefly.
    #[error("too many sockets are being set up at once")]
    SocketsBusy,
    /// Something hearth relies on (the mail server) did not do its part: 503, with
    /// what did not happen.
    #[error("unavailable: {0}")]
    Unavailable(&'static str),
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    #[error("session error: {0}")]
    Session(#[from] tower_sessions::session::Error),
    /// File storage is unreachable or refusing: 503, and nothing was saved.
    #[error("{0}")]
    Storage(#[from] crate::files::StorageError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    /// Whether the database, not the request, is at fault and may come back by itself.
    fn is_unavailable(&self) -> bool {
        matches!(
            self,
            AppError::Db(DbErr::Conn(_) | DbErr::ConnectionAcquire(_)) | AppError::Session(_)
        )
    }
}

/// Why the database cannot do what serving needs, when that is the database's state
/// and not the request: it will not take writes, or part of its schema is gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unservable {
    ReadOnly,
    SchemaMissing,
}

impl AppError {
    fn database_error(&self) -> Option<&dyn sea_orm::sqlx::error::DatabaseError> {
        let AppError::Db(
            DbErr::Exec(RuntimeErr::SqlxError(e))
            | DbErr::Query(RuntimeErr::SqlxError(e))
            | DbErr::Conn(RuntimeErr::SqlxError(e)),
        ) = self
        else {
            return None;
        };
        e.as_database_error()
    }

    /// SQLite's read-only family (8, with its extended codes: a read-only file or
    /// directory, a moved database); PostgreSQL's read-only transaction (25006) and
    /// missing privilege (42501); a missing table (PostgreSQL's 42P01, SQLite's plain
    /// error with its words).
    fn unservable(&self) -> Option<Unservable> {
        let error = self.database_error()?;
        let code = error.code()?;
        if let Ok(sqlite) = code.parse::<i32>() {
            if sqlite & 0xff == 8 {
                return Some(Unservable::ReadOnly);
            }
            if sqlite == 1 && error.message().starts_with("no such table") {
                return Some(Unservable::SchemaMissing);
            }
            return None;
        }
        match &*code {
            "25006" | "42501" => Some(Unservable::ReadOnly),
            "42P01" => Some(Unservable::SchemaMissing),
            _ => None,
        }
    }
}

impl AppError {
    /// Whether the database refused a write because its disk is full: SQLite's
    /// `SQLITE_FULL` (13), PostgreSQL's `disk_full` (53100).
    fn is_storage_full(&self) -> bool {
        self.database_error()
            .and_then(|d| d.code())
            .is_some_and(|code| code == "13" || code == "53100")
    }
}

impl AppError {
    /// What went wrong, in words for the person who asked.
    pub fn message(&self) -> String {
        let text = match self {
            AppError::TooManyRequests(wait) => {
                return format!(
                    "You're going too fast. Wait {} and try again.",
                    wait.in_words()
                );
            }
            AppError::TooManySockets => {
                "You have too many hearth pages open. Close some tabs and reload this one."
            }
            AppError::ServerFull => "hearth is full right now. Try again in a minute.",
            AppError::SocketsBusy => {
                "hearth is connecting many pages at once. This one will try again in a moment."
            }
            AppError::NotFound => {
                "There is nothing here. It may have been removed, or you may not be allowed to see it."
            }
            AppError::Refused(why)
            | AppError::Forbidden(why)
            | AppError::Conflict(why)
            | AppError::Unavailable(why) => why,
            AppError::CsrfRejected => {
                "This form has expired or did not come from hearth. Go back, reload the page and try again."
            }
            AppError::PayloadTooLarge => "That was more than hearth accepts in one request.",
            AppError::Storage(_) => {
                "hearth cannot reach its file storage right now, so nothing was saved. Try again in a moment."
            }
            AppError::BodyTimedOut => {
                "That took too long to arrive, so hearth stopped waiting: nothing was saved. Try again."
            }
            e if e.unservable() == Some(Unservable::ReadOnly) => {
                "hearth's database is not taking writes right now, so nothing was saved. The people who run hearth have been told; try again later."
            }
            e if e.unservable() == Some(Unservable::SchemaMissing) => {
                "hearth's database is missing part of what it needs, so this cannot be done right now and nothing was saved. The people who run hearth have been told; try again later."
            }
            e if e.is_storage_full() => {
                "hearth is out of storage space, so it cannot save anything right now: nothing was saved. Try again later."
            }
            e if e.is_unavailable() => {
                "hearth cannot reach its database right now. It will be back shortly: try again in a moment."
            }
            _ => "Something went wrong on our side. It has been logged; try again in a moment.",
        };
        text.to_owned()
    }
}

impl ResponseError for AppError {
    fn status(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Refused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::CsrfRejected => StatusCode::FORBIDDEN,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::BodyTimedOut => StatusCode::REQUEST_TIMEOUT,
            AppError::TooManyRequests(_) | AppError::TooManySockets => {
                StatusCode::TOO_MANY_REQUESTS
            }
            AppError::ServerFull
            | AppError::SocketsBusy
            | AppError::Storage(_)
            | AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            e if e.is_storage_full() => StatusCode::INSUFFICIENT_STORAGE,
            e if e.unservable().is_some() => StatusCode::SERVICE_UNAVAILABLE,
            e if e.is_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn as_response(&self) -> Response
    where
        Self: std::error::Error + Send + Sync + 'static,
    {
        let status = self.status();
        match self {
            // A full or busy server refuses by design, a burst at a time: not a failure.
            AppError::ServerFull | AppError::SocketsBusy => {
                tracing::debug!(error = %self, "request refused");
            }
            _ if status.is_server_error() => tracing::error!(error = %self, "request failed"),
            _ => {}
        }
        let mut resp = layout::error_page(status, &self.message());
        let wait = match self {
            AppError::TooManyRequests(wait) => Some(*wait),
            // Pages retry by themselves; these are the waits a person would try again after.
            AppError::TooManySockets => Some(crate::limits::RetryAfter(Duration::from_secs(10))),
            _ if status == StatusCode::SERVICE_UNAVAILABLE => {
                Some(crate::limits::RetryAfter(Duration::from_secs(5)))
            }
            _ => None,
        };
        if let Some(wait) = wait {
            if let Ok(value) = poem::http::HeaderValue::from_str(&wait.seconds().to_string()) {
                resp.headers_mut()
                    .insert(poem::http::header::RETRY_AFTER, value);
            }
        }
        resp
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.as_response()
    }
}
