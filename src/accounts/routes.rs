//! `GET/POST /signup`, `GET/POST /login`, `POST /logout`.
use std::sync::Arc;

use poem::{
    IntoResponse, Request, Response, handler,
    http::StatusCode,
    web::{Data, Form, Query, Redirect},
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, SqlErr,
};
use serde::Deserialize;

use super::{Password, Username, password, views};
use crate::{
    db::now_ms,
    entities::user,
    error::AppError,
    limits::Limits,
    live::Hub,
    web::session::{self, Viewer, csrf_token, session_of, viewer_of},
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

#[handler]
pub async fn signup_form(
    req: &Request,
    Data(hub): Data<&Hub>,
    Query(query): Query<NextQuery>,
) -> Result<Response, AppError> {
    let next = landing(&query.next);
    if viewer_of(req).await?.is_some() {
        return Ok(Redirect::see_other(next).into_response());
    }
    let token = csrf_token(&session_of(req)?).await?;
    Ok(views::signup(&token, "", &[], next, hub.site_online().await).into_response())
}

#[handler]
pub async fn signup(
    req: &Request,
    Data(db): Data<&DatabaseConnection>,
    Data(hub): Data<&Hub>,
    Data(limits): Data<&Arc<Limits>>,
    Form(form): Form<Credentials>,
) -> Result<Response, AppError> {
    let session = session_of(req)?;
    let next = landing(&form.next);
    let username = Username::parse_new(&form.username);
    let password = Password::parse(&form.password);
    let (username, password) = match (username, password) {
        (Ok(u), Ok(p)) => (u, p),
        (u, p) => {
            let errors: Vec<&str> = [u.err(), p.err()].into_iter().flatten().collect();
            let token = csrf_token(&session).await?;
            let page = views::signup(
                &token,
                &form.username,
                &errors,
                next,
                hub.site_online().await,
            );
            return Ok(with_status(page, StatusCode::UNPROCESSABLE_ENTITY));
        }
    };

    if let Err(wait) = limits.signup(client_ip(req)) {
        let token = csrf_token(&session).await?;
        let error = format!(
            "Too many sign-ups from your network. Try again in {}.",
            wait.in_words()
        );
        let page = views::signup(
            &token,
            &form.username,
            &[&error],
            next,
            hub.site_online().await,
        );
        return Ok(with_status(page, StatusCode::TOO_MANY_REQUESTS));
    }
    let password_hash = password::hash(password).await?;
    let new_user = user::ActiveModel {
        username: Set(username.as_str().to_owned()),
        username_key: Set(username.key()),
        password_hash: Set(password_hash),
        created_at: Set(now_ms()),
        ..Default::default()
    };
    let id = match user::Entity::insert(new_user).exec(db).await {
        Ok(done) => done.last_insert_id,
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            let token = csrf_token(&session).await?;
            let errors = ["That username is taken. Choose another one."];
            let page = views::signup(
                &token,
                &form.username,
                &errors,
                next,
                hub.site_online().await,
            );
            return Ok(with_status(page, StatusCode::UNPROCESSABLE_ENTITY));
        }
        Err(e) => return Err(e.into()),
    };
    tracing::info!(user_id = id, "account created");
    session::sign_in(&session, id, username.as_str()).await?;
    Ok(Redirect::see_other(next).into_response())
}

#[handler]
pub async fn login_form(
    req: &Request,
    Data(hub): Data<&Hub>,
    Query(query): Query<NextQuery>,
) -> Result<Response, AppError> {
    let next = landing(&query.next);
    if viewer_of(req).await?.is_some() {
        return Ok(Redirect::see_other(next).into_response());
    }
    let token = csrf_token(&session_of(req)?).await?;
    Ok(views::login(&token, "", None, next, hub.site_online().await).into_response())
}

#[handler]
pub async fn login(
    req: &Request,
    Data(db): Data<&DatabaseConnection>,
    Data(hub): Data<&Hub>,
    Data(limits): Data<&Arc<Limits>>,
    Form(form): Form<Credentials>,
) -> Result<Response, AppError> {
    let session = session_of(req)?;
    let next = landing(&form.next);
    let account = form.username.trim().to_ascii_lowercase();
    let address = client_ip(req);
    if let Err(wait) = limits.login_attempt(&account, address) {
        let token = csrf_token(&session).await?;
        let error = format!(
            "Too many failed attempts. Wait {} and try again.",
            wait.in_words()
        );
        let page = views::login(
            &token,
            &form.username,
            Some(&error),
            next,
            hub.site_online().await,
        );
        return Ok(with_status(page, StatusCode::TOO_MANY_REQUESTS));
    }
    // A malformed name cannot belong to anyone, but it still costs one hash, like any
    // other failed log-in.
    let found = match Username::parse(&form.username) {
        Ok(name) => {
            user::Entity::find()
                .filter(user::Column::UsernameKey.eq(name.key()))
                .one(db)
                .await?
        }
        Err(_) => None,
    };
    let stored = found.as_ref().map(|u| u.password_hash.clone());
    let password_ok = if form.password.len() > 4 * Password::MAX {
        false
    } else {
        password::verify(form.password, stored).await?
    };
    match found {
        Some(user) if password_ok => {
            limits.login_succeeded(&account);
            session::sign_in(&session, user.id, &user.username).await?;
            tracing::info!(user_id = user.id, "logged in");
            Ok(Redirect::see_other(next).into_response())
        }
        _ => {
            limits.login_failed(&account, address);
            let token = csrf_token(&session).await?;
            let page = views::login(
                &token,
                &form.username,
                Some("Wrong username or password."),
                next,
                hub.site_online().await,
            );
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
