//! `GET/POST /signup`, `GET/POST /join/{code}` (signing up with an invite link),
//! `GET/POST /login`, `POST /logout`.
use std::sync::Arc;

use poem::{
    IntoResponse, Request, Response, handler,
    http::{HeaderValue, StatusCode, header},
    web::{Data, Form, Path, Query, Redirect},
};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, SqlErr};
use serde::Deserialize;

use super::{
    Password, Username, device, invites, password,
    policy::{self, SignupPolicy},
    reset::Resets,
    views,
};
use crate::{
    config::Config,
    entities::user,
    error::AppError,
    limits::{Limits, RetryAfter},
    live::Hub,
    web::{
        session::{self, Viewer, form_token, session_of, viewer_of},
        signing::Signer,
    },
};

#[derive(Debug, Deserialize)]
pub struct Credentials {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    /// Where to go once in: a path of this site, or the lobby.
    #[serde(default)]
    next: String,
}

/// `?next=` on the log-in and sign-up pages.
#[derive(Debug, Default, Deserialize)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
}

/// Where someone goes once logged in: `next` when it is a path of this site.
fn landing(next: &str) -> &str {
    session::same_site_path(next).unwrap_or("/")
}

fn with_status(markup: maud::Markup, status: StatusCode) -> Response {
    let mut resp = markup.into_response();
    resp.set_status(status);
    resp
}

/// Why `policy` lets nobody in without an invite, in words.
const INVITE_ONLY: &str = "hearth is invite-only here: ask an administrator for the invite link.";
const CLOSED: &str = "Sign-ups are closed here: an administrator makes accounts.";

/// Whether someone may sign up now (with an invite link that works, or without), and
/// if not, why, as a 403 page.
async fn admitted(
    db: &DatabaseConnection,
    hub: &Hub,
    invite: Option<&str>,
) -> Result<Result<(), Response>, AppError> {
    let policy = policy::current(db).await?;
    let refuse = async |status: StatusCode, why: &str| -> Result<Result<(), Response>, AppError> {
        let page = views::no_signup(why, hub.site_online().await);
        Ok(Err(with_status(page, status)))
    };
    match invite {
        _ if policy == SignupPolicy::Closed => refuse(StatusCode::FORBIDDEN, CLOSED).await,
        None if !policy.admits(false) => refuse(StatusCode::FORBIDDEN, INVITE_ONLY).await,
        None => Ok(Ok(())),
        Some(code) => match invites::check(db, code).await? {
            Ok(()) => Ok(Ok(())),
            Err(refusal) => {
                let status = match refusal {
                    invites::Refusal::Unknown => StatusCode::NOT_FOUND,
                    _ => StatusCode::GONE,
                };
                refuse(status, refusal.message()).await
            }
        },
    }
}

#[handler]
pub async fn signup_form(
    req: &Request,
    Data(db): Data<&DatabaseConnection>,
    Data(hub): Data<&Hub>,
    Query(query): Query<NextQuery>,
) -> Result<Response, AppError> {
    signup_page(req, db, hub, &query.next, None).await
}

/// `GET /join/{code}`: the sign-up form of an invite link, or why it does not work.
#[handler]
pub async fn join_form(
    req: &Request,
    Data(db): Data<&DatabaseConnection>,
    Data(hub): Data<&Hub>,
    Path(code): Path<String>,
) -> Result<Response, AppError> {
    signup_page(req, db, hub, "/", Some(&code)).await
}

async fn signup_page(
    req: &Request,
    db: &DatabaseConnection,
    hub: &Hub,
    next: &str,
    invite: Option<&str>,
) -> Result<Response, AppError> {
    let next = landing(next);
    if viewer_of(req).await?.is_some() {
        return Ok(Redirect::see_other(next).into_response());
    }
    if let Err(refusal) = admitted(db, hub, invite).await? {
        return Ok(refusal);
    }
    let token = form_token(req).await?;
    let action = signup_action(invite);
    Ok(views::signup(&action, &token, "", &[], next, hub.site_online().await).into_response())
}

fn signup_action(invite: Option<&str>) -> String {
    match invite {
        Some(code) => {
            let code: String = form_urlencoded::byte_serialize(code.as_bytes()).collect();
            format!("/join/{code}")
        }
        None => "/signup".to_owned(),
    }
}

/// What signing up takes besides the form: the server's parts it uses.
pub struct SignupParts<'a> {
    db: &'a DatabaseConnection,
    hub: &'a Hub,
    limits: &'a Limits,
    signer: &'a Signer,
    config: &'a Config,
}

impl<'a> poem::FromRequest<'a> for SignupParts<'a> {
    async fn from_request(req: &'a Request, _body: &mut poem::RequestBody) -> poem::Result<Self> {
        let missing = || AppError::Internal("a part of the server is not installed".into());
        Ok(SignupParts {
            db: req.data::<DatabaseConnection>().ok_or_else(missing)?,
            hub: req.data::<Hub>().ok_or_else(missing)?,
            limits: req.data::<Arc<Limits>>().ok_or_else(missing)?,
            signer: req.data::<Arc<Signer>>().ok_or_else(missing)?,
            config: req.data::<Arc<Config>>().ok_or_else(missing)?,
        })
    }
}

#[handler]
pub async fn signup(
    req: &Request,
    parts: SignupParts<'_>,
    Form(form): Form<Credentials>,
) -> Result<Response, AppError> {
    create_account(req, &parts, &form, None).await
}

/// `POST /join/{code}`: signing up through an invite link.
#[handler]
pub async fn join(
    req: &Request,
    parts: SignupParts<'_>,
    Path(code): Path<String>,
    Form(form): Form<Credentials>,
) -> Result<Response, AppError> {
    create_account(req, &parts, &form, Some(&code)).await
}

async fn create_account(
    req: &Request,
    parts: &SignupParts<'_>,
    form: &Credentials,
    invite: Option<&str>,
) -> Result<Response, AppError> {
    let SignupParts {
        db,
        hub,
        limits,
        signer,
        config,
    } = *parts;
    let session = session_of(req)?;
    let next = landing(&form.next);
    if let Err(refusal) = admitted(db, hub, invite).await? {
        return Ok(refusal);
    }
    let action = signup_action(invite);
    let form_with = async |errors: &[&str]| -> Result<maud::Markup, AppError> {
        let token = form_token(req).await?;
        Ok(views::signup(
            &action,
            &token,
            &form.username,
            errors,
            next,
            hub.site_online().await,
        ))
    };
    let username = Username::parse_new(&form.username);
    let password = Password::choose(&form.password, &form.username);
    let (username, password) = match (username, password) {
        (Ok(u), Ok(p)) => (u, p),
        (u, p) => {
            let errors: Vec<&str> = [u.err(), p.err()].into_iter().flatten().collect();
            let page = form_with(&errors).await?;
            return Ok(with_status(page, StatusCode::UNPROCESSABLE_ENTITY));
        }
    };

    let address = client_ip(req);
    let turn = limits.hashing_turn(address).and_then(|turn| {
        limits.signup(address)?;
        Ok(turn)
    });
    let turn = match turn {
        Ok(turn) => turn,
        Err(wait) => {
            let error = format!(
                "Too many sign-ups from your network. Try again in {}.",
                wait.in_words()
            );
            let page = form_with(&[&error]).await?;
            return Ok(too_many(page, wait));
        }
    };
    let password_hash = password::hash(password, turn).await?;
    // A single-use link is taken before the account is made, so two people racing
    // for it cannot both get in; it is given back if the account is not made.
    if let Some(code) = invite {
        if let Err(refusal) = invites::take(db, code).await? {
            let page = views::no_signup(refusal.message(), hub.site_online().await);
            return Ok(with_status(page, StatusCode::GONE));
        }
    }
    let id = match crate::admin::people::insert_account(db, &username, password_hash).await {
        Ok(id) => id,
        Err(e) => {
            if let Some(code) = invite {
                invites::give_back(db, code).await?;
            }
            if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
                let page = form_with(&["That username is taken. Choose another one."]).await?;
                return Ok(with_status(page, StatusCode::UNPROCESSABLE_ENTITY));
            }
            return Err(e.into());
        }
    };
    tracing::info!(user_id = id, invited = invite.is_some(), "account created");
    session::sign_in(&session, req, id, username.as_str()).await?;
    let mut resp = Redirect::see_other(next).into_response();
    remember_device(&mut resp, signer, &username.key(), config.secure_cookies);
    Ok(resp)
}

/// Gives the browser a device cookie for `account` (see [`device`]): its next log-ins
/// draw on an allowance of their own.
fn remember_device(resp: &mut Response, signer: &Signer, account: &str, secure: bool) {
    let cookie = device::issue(signer, account, secure);
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().append(header::SET_COOKIE, value);
    }
}

#[handler]
pub async fn login_form(
    req: &Request,
    Data(hub): Data<&Hub>,
    Data(resets): Data<&Arc<Resets>>,
    Query(query): Query<NextQuery>,
) -> Result<Response, AppError> {
    let next = landing(&query.next);
    if viewer_of(req).await?.is_some() {
        return Ok(Redirect::see_other(next).into_response());
    }
    let token = form_token(req).await?;
    let forgot = resets.can_send();
    Ok(views::login(&token, "", None, next, hub.site_online().await, forgot).into_response())
}

/// A 429 that says when to come back, in words and in `Retry-After`.
fn too_many(page: maud::Markup, wait: RetryAfter) -> Response {
    let mut resp = with_status(page, StatusCode::TOO_MANY_REQUESTS);
    if let Ok(value) = HeaderValue::from_str(&wait.seconds().to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, value);
    }
    resp
}

#[handler]
pub async fn login(
    req: &Request,
    Data(db): Data<&DatabaseConnection>,
    Data(hub): Data<&Hub>,
    Data(limits): Data<&Arc<Limits>>,
    Data(signer): Data<&Arc<Signer>>,
    Data(config): Data<&Arc<Config>>,
    Form(form): Form<Credentials>,
) -> Result<Response, AppError> {
    let session = session_of(req)?;
    let forgot = req.data::<Arc<Resets>>().is_some_and(|r| r.can_send());
    let next = landing(&form.next);
    let address = client_ip(req);
    let form_with = async |error: &str| -> Result<maud::Markup, AppError> {
        let token = form_token(req).await?;
        Ok(views::login(
            &token,
            &form.username,
            Some(error),
            next,
            hub.site_online().await,
            forgot,
        ))
    };
    // The limits come before any hashing, and the name is checked before it becomes
    // one of their keys.
    let turn = match limits.hashing_turn(address) {
        Ok(turn) => turn,
        Err(wait) => {
            let error = "Too many log-ins from your network at once. Try again in a moment.";
            let page = form_with(error).await?;
            return Ok(too_many(page, wait));
        }
    };
    let name = Username::parse(&form.username).ok();
    let attempt = match &name {
        Some(name) => {
            let account = name.key();
            let device = device::presented(req, signer).filter(|d| d.account == account);
            limits.login_attempt(&account, device.as_ref().map(|d| d.nonce.as_str()), address)
        }
        None => limits.login_attempt_without_account(address),
    };
    let attempt = match attempt {
        Ok(attempt) => attempt,
        Err(wait) => {
            let error = format!(
                "Too many failed attempts. Wait {} and try again.",
                wait.in_words()
            );
            let page = form_with(&error).await?;
            return Ok(too_many(page, wait));
        }
    };
    let found = match &name {
        Some(name) => {
            user::Entity::find()
                .filter(user::Column::UsernameKey.eq(name.key()))
                .one(db)
                .await?
        }
        None => None,
    };
    // A malformed name cannot belong to anyone, and says so by its form alone: it
    // costs no hash. A valid name costs one whether or not it has an account, so the
    // answer's timing does not tell who has one.
    let password_ok = if name.is_none() || form.password.len() > 4 * Password::MAX {
        false
    } else {
        let stored = found.as_ref().map(|u| u.password_hash.clone());
        password::verify(form.password.clone(), stored, turn).await?
    };
    match found {
        // Told only to whoever knows the password: a deactivated account is not
        // revealed to someone guessing.
        Some(user) if password_ok && user.deactivated_at.is_some() => {
            limits.login_succeeded(attempt);
            let page = form_with("This account has been deactivated by an administrator.").await?;
            Ok(with_status(page, StatusCode::FORBIDDEN))
        }
        Some(user) if password_ok => {
            limits.login_succeeded(attempt);
            session::sign_in(&session, req, user.id, &user.username).await?;
            tracing::info!(user_id = user.id, "logged in");
            let mut resp = Redirect::see_other(next).into_response();
            remember_device(&mut resp, signer, &user.username_key, config.secure_cookies);
            Ok(resp)
        }
        _ => {
            limits.login_failed(attempt);
            let page = form_with("Wrong username or password.").await?;
            Ok(with_status(page, StatusCode::UNAUTHORIZED))
        }
    }
}

#[handler]
pub async fn logout(viewer: Viewer, Data(hub): Data<&Hub>) -> Result<Response, AppError> {
    if let Some(key) = viewer.session_key() {
        hub.close_session(&key);
    }
    session::sign_out(&viewer.session).await?;
    Ok(Redirect::see_other("/login").into_response())
}

/// The address the request came from (the peer; behind a proxy, the proxy).
fn client_ip(req: &Request) -> std::net::IpAddr {
    req.remote_addr()
        .as_socket_addr()
        .map_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |a| {
            a.ip()
        })
}
