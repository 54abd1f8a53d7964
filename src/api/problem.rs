//! The API's errors, as `application/problem+json` (RFC 9457): a `status`, a `title`
//! from the status, a machine-readable `code` and a `detail` in words for the person
//! writing the program. [`ApiError`] is what operations answer; [`middleware`] turns
//! everything else that ends an API request (a malformed body, a missing token, an
//! unknown path, a body over its limit, a method the path does not take) into the same
//! shape, with the status it names, so a client never has to parse an HTML error page.
use std::sync::Arc;

use poem::{
    Endpoint, IntoResponse, Request, Response,
    http::{HeaderValue, StatusCode, header},
};
use poem_openapi::{ApiResponse, Object, payload::Json};

use crate::error::AppError;

/// The media type of every error the API answers.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The most a request body may hold: a message is at most 4000 characters (16 KiB of
/// UTF-8), and JSON escapes can triple that.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What went wrong with a request.
#[derive(Clone, Debug, Object)]
#[oai(rename = "Problem")]
pub struct Problem {
    /// The kind of problem; `about:blank`, since `code` says it.
    #[oai(rename = "type")]
    pub kind: String,
    /// The HTTP status's words.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// A stable, machine-readable name of the problem, such as `not_found`,
    /// `malformed_json` or `body_too_long`.
    pub code: String,
    /// What went wrong, in words for a person.
    pub detail: String,
}

impl Problem {
    fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: "about:blank".to_owned(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            code: code.to_owned(),
            detail: detail.into(),
        }
    }
}

/// An operation's refusal: one status each, every one a [`Problem`].
#[derive(Debug, ApiResponse)]
pub enum ApiError {
    /// The request could not be read (malformed JSON, a bad parameter).
    #[oai(status = 400, content_type = "application/problem+json")]
    BadRequest(Json<Problem>),
    /// No token, or one that is unknown or revoked.
    #[oai(status = 401, content_type = "application/problem+json")]
    Unauthorized(Json<Problem>),
    /// The token's owner may not do this (someone else's message).
    #[oai(status = 403, content_type = "application/problem+json")]
    Forbidden(Json<Problem>),
    /// There is no such thing, or the token's owner may not see it.
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<Problem>),
    /// The request body took longer to arrive than the server waits; nothing was done.
    #[oai(status = 408, content_type = "application/problem+json")]
    RequestTimeout(Json<Problem>),
    /// The thing is in a state that rules this out (a deleted message, an archived room,
    /// an `Idempotency-Key` whose first request is still running).
    #[oai(status = 409, content_type = "application/problem+json")]
    Conflict(Json<Problem>),
    /// The request body is over its limit.
    #[oai(status = 413, content_type = "application/problem+json")]
    PayloadTooLarge(Json<Problem>),
    /// The request body is missing or is not `application/json`.
    #[oai(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Json<Problem>),
    /// The request was read but cannot be done as asked (an empty or too long body).
    #[oai(status = 422, content_type = "application/problem+json")]
    Unprocessable(Json<Problem>),
    /// Over the poster's rate limit: try again after `Retry-After` seconds.
    #[oai(status = 429, content_type = "application/problem+json")]
    TooManyRequests(Json<Problem>, #[oai(header = "Retry-After")] u64),
    /// Something failed on the server's side.
    #[oai(status = 500, content_type = "application/problem+json")]
    Internal(Json<Problem>),
    /// The server cannot do this right now (its database or storage is unreachable).
    #[oai(status = 503, content_type = "application/problem+json")]
    Unavailable(Json<Problem>, #[oai(header = "Retry-After")] u64),
}

impl ApiError {
    /// The refusal with `status`, `code` and `detail`. A status no variant declares is
    /// answered as a 500 (operations only answer the statuses above).
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        Self::declared(status, Problem::new(status, code, detail))
            .unwrap_or_else(|problem| Self::Internal(Json(problem)))
    }

    /// The variant for `problem`'s `status`, or the problem back when none declares it.
    fn declared(status: StatusCode, problem: Problem) -> Result<Self, Problem> {
        let problem = Json(problem);
        Ok(match status.as_u16() {
            400 => Self::BadRequest(problem),
            401 => Self::Unauthorized(problem),
            403 => Self::Forbidden(problem),
            404 => Self::NotFound(problem),
            408 => Self::RequestTimeout(problem),
            409 => Self::Conflict(problem),
            413 => Self::PayloadTooLarge(problem),
            415 => Self::UnsupportedMediaType(problem),
            422 => Self::Unprocessable(problem),
            429 => Self::TooManyRequests(problem, 1),
            500 => Self::Internal(problem),
            503 => Self::Unavailable(problem, 5),
            _ => return Err(problem.0),
        })
    }

    pub fn bad_request(code: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    pub fn unprocessable(code: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Send a personal API token as `Authorization: Bearer hearth_…`; this one is \
             missing, unknown or revoked.",
        )
    }

    pub fn not_found() -> Self {
        Self::from(AppError::NotFound)
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        use poem::error::ResponseError;
        let status = e.status();
        if status.is_server_error() {
            tracing::error!(error = %e, "an API request failed");
        }
        let code = match &e {
            AppError::NotFound => "not_found",
            AppError::Refused(_) => "refused",
            AppError::Forbidden(_) => "forbidden",
            AppError::Conflict(_) => "conflict",
            AppError::PayloadTooLarge => "payload_too_large",
            AppError::BodyTimedOut => "body_timed_out",
            AppError::TooManyRequests(_) => "rate_limited",
            _ if status == StatusCode::SERVICE_UNAVAILABLE => "unavailable",
            _ => "internal",
        };
        let mut error = Self::new(status, code, e.message());
        if let (AppError::TooManyRequests(wait), Self::TooManyRequests(_, after)) = (&e, &mut error)
        {
            *after = wait.seconds();
        }
        error
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::from(AppError::Db(e))
    }
}

/// What a request that ended in `e` before any operation answered is told, as a
/// problem: the error's own words for a body that could not be read (serde's, which
/// say where it broke), a fixed sentence for everything else.
fn problem_of(e: &poem::Error) -> (StatusCode, &'static str, String) {
    use poem_openapi::error::{
        AuthorizationError, ContentTypeError, ParseParamError, ParseRequestPayloadError,
    };
    let status = e.status();
    if let Some(payload) = e.downcast_ref::<ParseRequestPayloadError>() {
        return (
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!(
                "The request body is not the JSON this operation takes: {}",
                payload.reason
            ),
        );
    }
    if let Some(param) = e.downcast_ref::<ParseParamError>() {
        return (
            StatusCode::BAD_REQUEST,
            "bad_parameter",
            format!(
                "The parameter `{}` could not be read: {}",
                param.name, param.reason
            ),
        );
    }
    if e.is::<ContentTypeError>() {
        return (
            status,
            "unsupported_content_type",
            "Send the request body as `Content-Type: application/json`.".to_owned(),
        );
    }
    if e.is::<AuthorizationError>() {
        return (
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Send a personal API token as `Authorization: Bearer hearth_…`.".to_owned(),
        );
    }
    let (code, detail) = match status {
        StatusCode::NOT_FOUND => ("not_found", "There is no such operation in the API."),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "This path does not take that method; see /api/v1/docs.",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload_too_large",
            "The request body is over the 64 KiB the API accepts.",
        ),
        StatusCode::REQUEST_TIMEOUT => (
            "body_timed_out",
            "The request body took too long to arrive; nothing was done.",
        ),
        s if s.is_server_error() => (
            "internal",
            "Something went wrong on hearth's side. It has been logged; try again in a moment.",
        ),
        _ => ("bad_request", "The request could not be read."),
    };
    (status, code, detail.to_owned())
}

/// Whether `resp` is already a problem (an operation's [`ApiError`]).
fn is_problem(resp: &Response) -> bool {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()))
}

/// Which methods each of the API's paths takes, read off its OpenAPI document, so that
/// a 405 can name them in `Allow` (RFC 9110 requires it).
#[derive(Clone, Debug, Default)]
pub struct Methods(Vec<(Vec<String>, String)>);

impl Methods {
    /// The methods of every path of the OpenAPI document `spec` (JSON), whose paths are
    /// relative to the API's prefix.
    pub fn of(spec: &str) -> Self {
        let spec: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
        let mut methods = Self::default();
        if let Some(paths) = spec.get("paths").and_then(serde_json::Value::as_object) {
            for (path, operations) in paths {
                if let Some(operations) = operations.as_object() {
                    let names: Vec<String> =
                        operations.keys().map(|m| m.to_ascii_uppercase()).collect();
                    methods = methods.with(path, &names.join(", "));
                }
            }
        }
        methods
    }

    /// Adds `path` (a template: `{name}` stands for any one segment) taking `allow`.
    pub fn with(mut self, path: &str, allow: &str) -> Self {
        self.0.push((segments(path), allow.to_owned()));
        self
    }

    /// The `Allow` of the path that `path` (a request's, relative to the prefix) is.
    fn allowed(&self, path: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(template, _)| {
                let mut asked = path.split('/').filter(|s| !s.is_empty());
                template.iter().all(|t| {
                    asked
                        .next()
                        .is_some_and(|a| t == a || (t.starts_with('{') && t.ends_with('}')))
                }) && asked.next().is_none()
            })
            .map(|(_, allow)| allow.as_str())
    }
}

fn segments(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The middleware around the API: bounds the request body ([`MAX_BODY_BYTES`], in the
/// server's body timeout), and answers every error as a problem; a 401 also names the
/// scheme (`WWW-Authenticate: Bearer`), a 405 the methods the path takes (`Allow`, from
/// `methods`).
pub async fn middleware<E: Endpoint>(
    next: Arc<E>,
    mut req: Request,
    methods: Arc<Methods>,
) -> poem::Result<Response> {
    let path = req.uri().path();
    let allow = methods.allowed(path.strip_prefix(super::PREFIX).unwrap_or(path));
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Ok(answer(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "The request body is over the 64 KiB the API accepts.",
        )));
    }
    let timeout = req
        .data::<Arc<crate::config::Config>>()
        .map_or(std::time::Duration::from_secs(30), |c| c.http.body_timeout);
    let body = tokio::time::timeout(timeout, req.take_body().into_bytes_limit(MAX_BODY_BYTES))
        .await
        .map_err(|_| AppError::BodyTimedOut);
    match body {
        Ok(Ok(bytes)) => req.set_body(bytes),
        Ok(Err(_)) => return Ok(answer(ApiError::from(AppError::PayloadTooLarge))),
        Err(e) => return Ok(answer(ApiError::from(e))),
    }
    let resp = match next.call(req).await {
        Ok(resp) => resp.into_response(),
        Err(e) => {
            let (status, code, detail) = problem_of(&e);
            let resp = e.into_response();
            if is_problem(&resp) {
                resp
            } else {
                if status.is_server_error() {
                    tracing::error!(%status, "an API request failed");
                }
                problem_response(status, code, detail)
            }
        }
    };
    let mut resp = with_challenge(resp);
    if let (StatusCode::METHOD_NOT_ALLOWED, Some(allow)) = (resp.status(), allow) {
        if let Ok(allow) = HeaderValue::from_str(allow) {
            resp.headers_mut().insert(header::ALLOW, allow);
        }
    }
    Ok(resp)
}

/// A problem with its own status: an operation's refusal where one declares it, else
/// (a 405, which answers a method no operation takes) the problem as it is.
pub fn problem_response(status: StatusCode, code: &str, detail: String) -> Response {
    use poem_openapi::types::ToJSON;
    match ApiError::declared(status, Problem::new(status, code, detail)) {
        Ok(error) => error.into_response(),
        Err(problem) => Response::builder()
            .status(status)
            .content_type(PROBLEM_JSON)
            .body(problem.to_json_string()),
    }
}

fn answer(error: ApiError) -> Response {
    with_challenge(error.into_response())
}

/// `resp`, naming the authentication scheme when it is a 401.
pub fn with_challenge(mut resp: Response) -> Response {
    if resp.status() == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"hearth\""),
        );
    }
    resp
}
