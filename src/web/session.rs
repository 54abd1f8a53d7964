//! Sessions and CSRF, as one poem middleware around the whole app.
//!
//! poem cannot mount tower-sessions' tower layer (its service takes `http::Request<B>`,
//! poem's `tower-compat` wants `poem::Request`), so this middleware does the layer's job
//! with tower-sessions' own [`Session`]: it reads the cookie, hands a lazily loaded
//! `Session` to the handler through the request's extensions, and saves it and sets the
//! cookie afterwards when the handler changed it.
//!
//! Every POST is checked here, before any handler runs, for the session's CSRF token (the
//! `X-CSRF-Token` header that htmx sends, or the `csrf_token` form field), so no handler
//! can forget it. A visitor who is not signed in has no session row: their token lives
//! in a signed cookie of its own ([`CSRF_COOKIE`]) until they log in, so looking at the
//! log-in or sign-up form writes nothing to the database. The cookie is `SameSite=Lax` as well, but Lax alone still lets a
//! top-level cross-site form POST through in some browsers' first two minutes, and a
//! token costs nothing.
use std::sync::Arc;

use poem::{
    Endpoint, FromRequest, IntoResponse, Request, RequestBody, Response,
    http::{Method, StatusCode, header},
    web::{Redirect, cookie::Cookie},
};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use tower_sessions::{Expiry, Session, session::Id};

use super::{session_store::DbSessionStore, signing::Signer};
use crate::error::AppError;

pub const COOKIE_NAME: &str = "hearth_session";
/// The CSRF token of a visitor without a session, signed.
pub const CSRF_COOKIE: &str = "hearth_csrf";
/// Sessions live 30 days from the last visit.
const SESSION_DAYS: i64 = 30;
/// The most a form POST may carry; a message is at most 4000 characters (16 KiB of
/// UTF-8), plus field names and the token.
const MAX_FORM_BYTES: usize = 64 * 1024;

pub(super) const KEY_USER: &str = "user";
/// The browser a session signed in from (its `User-Agent`, shortened), and the address.
const KEY_DEVICE: &str = "device";
const KEY_ADDRESS: &str = "address";
const KEY_CSRF: &str = "csrf";
/// The day (since the epoch) of the last save, so the rolling expiry is pushed out
/// once a day rather than written on every request.
const KEY_DAY: &str = "day";

/// Who is signed in, as stored in the session.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct SignedIn {
    id: i64,
    username: String,
}

/// The signed-in person making this request. Extracting it from an anonymous request
/// answers with a redirect to `/login`.
#[derive(Clone, Debug)]
pub struct Viewer {
    pub id: i64,
    pub username: String,
    pub csrf_token: String,
    pub session: Session,
}

impl Viewer {
    /// The session's id, used by the hub to close this session's sockets at log-out.
    pub fn session_key(&self) -> Option<String> {
        self.session.id().map(|id| id.to_string())
    }
}

/// The session of this request (always present inside the middleware).
pub fn session_of(req: &Request) -> Result<Session, AppError> {
    req.extensions()
        .get::<Session>()
        .cloned()
        .ok_or_else(|| AppError::Internal("session middleware is not installed".into()))
}

/// Who is signed in on the session this request's cookie names, read without the
/// session middleware and without changing the session: the API's event stream,
/// which a page may open with its cookie, is a GET that writes nothing. Answers their
/// id, username and the session's id.
pub async fn signed_in_by_cookie(req: &Request) -> Result<Option<(i64, String, String)>, AppError> {
    let Some(sessions) = req.data::<Arc<Sessions>>() else {
        return Err(AppError::Internal(
            "the session store is not installed".into(),
        ));
    };
    let Some(id) = cookie_session_id(req) else {
        return Ok(None);
    };
    let session = Session::new(Some(id), sessions.store.clone(), None);
    Ok(session
        .get::<SignedIn>(KEY_USER)
        .await?
        .map(|user| (user.id, user.username, id.to_string())))
}

/// Whether session `id` (as [`signed_in_by_cookie`] answered it) is still signed in.
pub async fn is_signed_in(sessions: &Sessions, id: &str) -> Result<bool, AppError> {
    let Ok(id) = id.parse::<Id>() else {
        return Ok(false);
    };
    let session = Session::new(Some(id), sessions.store.clone(), None);
    Ok(session.get::<SignedIn>(KEY_USER).await?.is_some())
}

/// The signed-in viewer, or `None` for an anonymous request.
pub async fn viewer_of(req: &Request) -> Result<Option<Viewer>, AppError> {
    viewer_in(session_of(req)?).await
}

/// The person signed in on `session`, if any.
pub async fn viewer_in(session: Session) -> Result<Option<Viewer>, AppError> {
    let Some(user) = session.get::<SignedIn>(KEY_USER).await? else {
        return Ok(None);
    };
    let csrf_token = csrf_token(&session).await?;
    let today = time::OffsetDateTime::now_utc().unix_timestamp() / 86_400;
    if session.get::<i64>(KEY_DAY).await? != Some(today) {
        session.insert(KEY_DAY, today).await?;
    }
    Ok(Some(Viewer {
        id: user.id,
        username: user.username,
        csrf_token,
        session,
    }))
}

impl<'a> FromRequest<'a> for Viewer {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        match viewer_of(req).await? {
            Some(viewer) => Ok(viewer),
            None => Err(poem::Error::from_response(
                Redirect::see_other(login_url(req)).into_response(),
            )),
        }
    }
}

/// Where an anonymous request is sent: the log-in page, which brings the person back
/// to the page they asked for (a GET of a page other than the lobby).
fn login_url(req: &Request) -> String {
    let wanted = req.uri().path_and_query().map_or("/", |p| p.as_str());
    if req.method() != Method::GET || wanted == "/" || same_site_path(wanted).is_none() {
        return "/login".to_owned();
    }
    let next: String = form_urlencoded::byte_serialize(wanted.as_bytes()).collect();
    format!("/login?next={next}")
}

/// `path` if it is a path of this site to send someone to after logging in: it starts
/// with one `/` (not `//`, which a browser reads as another host, nor `/\`), and holds
/// no control characters; anything else is `None` (no open redirect).
pub fn same_site_path(path: &str) -> Option<&str> {
    let ok = path.starts_with('/')
        && !path.starts_with("//")
        && !path.starts_with("/\\")
        && path.len() <= 2048
        && !path.chars().any(|c| c.is_control() || c == '\\');
    ok.then_some(path)
}

/// The CSRF token for a form on this request's page: the session's when it has one
/// (signed in), else the anonymous visitor's from their cookie, made on first use. It
/// writes no session.
pub async fn form_token(req: &Request) -> Result<String, AppError> {
    let session = session_of(req)?;
    if let Some(token) = session.get::<String>(KEY_CSRF).await? {
        return Ok(token);
    }
    let anonymous = req
        .extensions()
        .get::<AnonymousToken>()
        .ok_or_else(|| AppError::Internal("session middleware is not installed".into()))?;
    Ok(anonymous.token())
}

/// An anonymous visitor's CSRF token: the one their cookie holds, or one made for this
/// response (the middleware then sets the cookie).
#[derive(Clone)]
struct AnonymousToken {
    presented: Option<String>,
    minted: Arc<std::sync::Mutex<Option<String>>>,
}

impl AnonymousToken {
    /// What the cookie says, when this server signed it.
    fn of(req: &Request, signer: &Signer) -> Self {
        let presented = cookie_value(req, CSRF_COOKIE)
            .and_then(|raw| signer.verify(raw))
            .and_then(|value| value.strip_prefix(CSRF_PURPOSE))
            // A token holds no `.`; every other signed value does.
            .filter(|token| !token.contains('.'))
            .map(str::to_owned);
        Self {
            presented,
            minted: Arc::default(),
        }
    }

    fn token(&self) -> String {
        if let Some(token) = &self.presented {
            return token.clone();
        }
        let mut minted = self.minted.lock().unwrap_or_else(|p| p.into_inner());
        minted.get_or_insert_with(new_token).clone()
    }

    fn minted(&self) -> Option<String> {
        self.minted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Signed values of this cookie start so, and hold no `.` after it (a device cookie's
/// do), so that no other signed value passes for one. Cookie-safe, so it is sent back
/// as it was set.
const CSRF_PURPOSE: &str = "csrf-";

/// The session's CSRF token, created on first use.
pub async fn csrf_token(session: &Session) -> Result<String, AppError> {
    if let Some(token) = session.get::<String>(KEY_CSRF).await? {
        return Ok(token);
    }
    let token = new_token();
    session.insert(KEY_CSRF, &token).await?;
    Ok(token)
}

fn new_token() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Signs `user` in on this session, from the browser and address of `req` (which the
/// settings page lists). The session id changes, so an id that was known before log-in
/// (planted, or read off a shared machine) is worthless after it; the CSRF token
/// changes with it.
pub async fn sign_in(
    session: &Session,
    req: &Request,
    id: i64,
    username: &str,
) -> Result<(), AppError> {
    session.cycle_id().await?;
    session.clear().await;
    session
        .insert(
            KEY_USER,
            SignedIn {
                id,
                username: username.to_owned(),
            },
        )
        .await?;
    session.insert(KEY_CSRF, new_token()).await?;
    let device: String = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("an unknown browser")
        .chars()
        .take(160)
        .collect();
    session.insert(KEY_DEVICE, device).await?;
    if let Some(address) = req.remote_addr().as_socket_addr() {
        session
            .insert(KEY_ADDRESS, address.ip().to_string())
            .await?;
    }
    Ok(())
}

/// What a stored session says of where it was signed in: the browser and the address.
pub fn signed_in_from(data: &str) -> (String, String) {
    let value: serde_json::Value = serde_json::from_str(data).unwrap_or_default();
    let text = |key: &str| {
        value
            .get(key)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    (text(KEY_DEVICE), text(KEY_ADDRESS))
}

/// Ends the session: its record is deleted and the cookie removed.
pub async fn sign_out(session: &Session) -> Result<(), AppError> {
    session.flush().await?;
    Ok(())
}

/// Whether the request came from htmx (it wants a fragment, not a page).
pub fn is_htmx(req: &Request) -> bool {
    req.headers().get("HX-Request").is_some_and(|v| v == "true")
}

/// The value of the cookie `name` the request carries.
pub fn cookie_value<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(found, _)| *found == name)
        .map(|(_, value)| value)
}

fn cookie_session_id(req: &Request) -> Option<Id> {
    cookie_value(req, COOKIE_NAME).and_then(|value| value.parse().ok())
}

/// Compares two tokens in time that does not depend on where they differ.
fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Rejects a POST that does not carry this session's CSRF token. The body is read
/// (bounded) and put back for the handler.
async fn check_csrf(
    req: &mut Request,
    session: &Session,
    anonymous: &AnonymousToken,
    body_timeout: std::time::Duration,
) -> Result<(), AppError> {
    // Every POST body is read here, bounded in size and time, whatever carries the
    // token: no handler ever reads an unbounded body, nor waits on a slow one.
    let body = tokio::time::timeout(
        body_timeout,
        req.take_body().into_bytes_limit(MAX_FORM_BYTES),
    )
    .await
    .map_err(|_| AppError::BodyTimedOut)?
    .map_err(|_| AppError::PayloadTooLarge)?;
    let header = req
        .headers()
        .get("X-CSRF-Token")
        .and_then(|v| v.to_str().ok());
    let presented = match header {
        Some(token) => Some(token.to_owned()),
        None => form_urlencoded::parse(&body)
            .find(|(k, _)| k == "csrf_token")
            .map(|(_, v)| v.into_owned()),
    };
    req.set_body(body);
    let expected = match session.get::<String>(KEY_CSRF).await? {
        Some(token) => Some(token),
        None => anonymous.presented.clone(),
    };
    match (expected, presented) {
        (Some(expected), Some(presented)) if same_token(&expected, &presented) => Ok(()),
        _ => Err(AppError::CsrfRejected),
    }
}

/// The paths whose POSTs may stream a `multipart/form-data` body of files: the
/// composer's action and the avatar's. Such a body is too big to read here, so its token is
/// checked by the one reader of it, [`crate::files::upload`], through [`CsrfToCheck`],
/// before anything of it is stored. Every other POST, multipart or not, is checked
/// above.
fn is_streamed_upload(req: &Request) -> bool {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        });
    let composer = req
        .uri()
        .path()
        .strip_prefix("/conversations/")
        .and_then(|rest| rest.strip_suffix("/messages"))
        .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()));
    let avatar = req.uri().path() == "/settings/avatar";
    multipart && (composer || avatar)
}

/// The CSRF check a streamed upload still owes: done already when the request carried
/// the token in `X-CSRF-Token`, else the token its `csrf_token` field must match.
#[derive(Clone, Debug)]
pub enum CsrfToCheck {
    Checked,
    Pending(Option<String>),
}

impl CsrfToCheck {
    /// Whether `presented`, a form's `csrf_token`, is this session's.
    pub fn admits(&self, presented: &str) -> bool {
        match self {
            CsrfToCheck::Checked => true,
            CsrfToCheck::Pending(Some(expected)) => same_token(expected, presented),
            CsrfToCheck::Pending(None) => false,
        }
    }
}

/// Checks the header of a streamed upload now, or leaves the form's field to its
/// reader; the body is not touched.
async fn defer_csrf(
    req: &mut Request,
    session: &Session,
    anonymous: &AnonymousToken,
) -> Result<(), AppError> {
    let expected = match session.get::<String>(KEY_CSRF).await? {
        Some(token) => Some(token),
        None => anonymous.presented.clone(),
    };
    let header = req
        .headers()
        .get("X-CSRF-Token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let check = match (header, expected) {
        (None, expected) => CsrfToCheck::Pending(expected),
        (Some(presented), Some(expected)) if same_token(&expected, &presented) => {
            CsrfToCheck::Checked
        }
        (Some(_), _) => return Err(AppError::CsrfRejected),
    };
    req.extensions_mut().insert(check);
    Ok(())
}

fn session_cookie(value: String, max_age: time::Duration, secure: bool) -> String {
    let mut cookie = Cookie::new_with_str(COOKIE_NAME, value);
    cookie.set_http_only(true);
    cookie.set_path("/");
    cookie.set_same_site(poem::web::cookie::SameSite::Lax);
    cookie.set_secure(secure);
    cookie.set_max_age(std::time::Duration::from_secs(
        max_age.whole_seconds().max(0) as u64,
    ));
    cookie.to_string()
}

/// The anonymous CSRF cookie: for this browsing session only, like the form it serves.
fn csrf_cookie(value: String, secure: bool) -> String {
    let mut cookie = Cookie::new_with_str(CSRF_COOKIE, value);
    cookie.set_http_only(true);
    cookie.set_path("/");
    cookie.set_same_site(poem::web::cookie::SameSite::Lax);
    cookie.set_secure(secure);
    cookie.to_string()
}

/// Where sessions are kept and how their cookie is set: the middleware's data.
pub struct Sessions {
    pub store: Arc<DbSessionStore>,
    /// Mark the cookie `Secure` (served over HTTPS).
    pub secure_cookies: bool,
    /// How long a POST's body may take to arrive: past it, 408.
    pub body_timeout: std::time::Duration,
    /// Signs anonymous visitors' CSRF cookies.
    pub signer: Arc<Signer>,
}

/// The middleware: `Route::new()…around(session::middleware)`, with [`Sessions`] in the
/// request's data.
pub async fn middleware<E: Endpoint>(next: Arc<E>, mut req: Request) -> poem::Result<Response> {
    let Some(sessions) = req.data::<Arc<Sessions>>().cloned() else {
        return Err(AppError::Internal("the session store is not installed".into()).into());
    };
    let had_cookie = cookie_session_id(&req);
    let session = Session::new(
        had_cookie,
        sessions.store.clone(),
        Some(Expiry::OnInactivity(time::Duration::days(SESSION_DAYS))),
    );
    req.extensions_mut().insert(session.clone());
    let anonymous = AnonymousToken::of(&req, &sessions.signer);
    req.extensions_mut().insert(anonymous.clone());

    if req.method() == Method::POST {
        let checked = if is_streamed_upload(&req) {
            defer_csrf(&mut req, &session, &anonymous).await
        } else {
            check_csrf(&mut req, &session, &anonymous, sessions.body_timeout).await
        };
        if let Err(e) = checked {
            let htmx = is_htmx(&req);
            return Ok(super::errors::present(e.into_response(), htmx, Some(session)).await);
        }
    }

    let mut resp = match next.call(req).await {
        Ok(resp) => resp.into_response(),
        Err(e) => e.into_response(),
    };

    if let Some(token) = anonymous.minted() {
        let signed = sessions.signer.sign(&format!("{CSRF_PURPOSE}{token}"));
        append_cookie(&mut resp, csrf_cookie(signed, sessions.secure_cookies));
    }
    if session.is_modified() {
        if session.is_empty().await {
            if had_cookie.is_some() {
                let gone =
                    session_cookie(String::new(), time::Duration::ZERO, sessions.secure_cookies);
                append_cookie(&mut resp, gone);
            }
        } else if let Err(e) = session.save().await {
            tracing::error!(error = %e, "could not save the session");
            return Ok(AppError::Session(e).into_response());
        } else if let Some(id) = session.id() {
            let cookie = session_cookie(
                id.to_string(),
                session.expiry_age(),
                sessions.secure_cookies,
            );
            append_cookie(&mut resp, cookie);
        }
    }
    Ok(resp)
}

fn append_cookie(resp: &mut Response, cookie: String) {
    match header::HeaderValue::from_str(&cookie) {
        Ok(value) => {
            resp.headers_mut().append(header::SET_COOKIE, value);
        }
        Err(_) => resp.set_status(StatusCode::INTERNAL_SERVER_ERROR),
    }
}
