//! One-time log-in links (`/login/{token}`): what an administrator makes for someone
//! who lost their password (Campfire's "transfer" link), since hearth sends no email.
//! The link works once, for a day; opening it shows a button, and only pressing it
//! logs in (a GET never does, so a chat app's link preview cannot use it up). The
//! person lands on `/settings` to choose a new password.
use maud::html;
use poem::{
    IntoResponse, Request, Response, handler,
    http::StatusCode,
    web::{Data, Path, Redirect},
};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, EntityTrait};

use crate::{
    db::{self, now_ms},
    entities::user,
    error::AppError,
    live::Hub,
    web::{
        layout::{self, Page},
        session::{self, form_token, session_of},
    },
};

/// How long a link works.
const LASTS_MS: i64 = 24 * 3_600_000;

const GONE: &str = "This log-in link does not work: it was used, it expired, or it was mistyped. Ask an administrator for a new one.";

/// Makes a link for `user_id`; answers its path.
pub async fn make(db: &DatabaseConnection, user_id: i64, by: i64) -> Result<String, DbErr> {
    let token = crate::secret_token::random(24);
    db.execute_raw(db::statement(
        db,
        "INSERT INTO login_links (token, user_id, created_by, expires_at) VALUES (?, ?, ?, ?)",
        [
            token.as_str().into(),
            user_id.into(),
            by.into(),
            (now_ms() + LASTS_MS).into(),
        ],
    ))
    .await?;
    Ok(format!("/login/{token}"))
}

/// The active account a usable link `token` is for.
async fn holder(db: &DatabaseConnection, token: &str) -> Result<Option<user::Model>, DbErr> {
    if token.len() > 64 {
        return Ok(None);
    }
    let row = db
        .query_one_raw(db::statement(
            db,
            "SELECT user_id FROM login_links WHERE token = ? AND used_at IS NULL AND expires_at > ?",
            [token.into(), now_ms().into()],
        ))
        .await?;
    let Some(row) = row else { return Ok(None) };
    let user_id: i64 = row.try_get("", "user_id")?;
    Ok(user::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .filter(|u| u.deactivated_at.is_none()))
}

fn gone(site_online: usize) -> Response {
    let page = page(
        site_online,
        html! { p #login-link-gone role="alert" { (GONE) } },
    );
    let mut resp = page.into_response();
    resp.set_status(StatusCode::GONE);
    resp
}

fn page(site_online: usize, content: maud::Markup) -> maud::Markup {
    let page = Page {
        title: "Log in",
        viewer: None,
        live_url: None,
        main_class: "auth",
        conversation: None,
        sidebar: None,
        site_online: Some(site_online),
        first_unread: None,
    };
    layout::render(
        page,
        html! { section.card { h1 { "Log in with a link" } (content) } },
    )
}

#[handler]
pub async fn show(
    req: &Request,
    Data(db): Data<&DatabaseConnection>,
    Data(hub): Data<&Hub>,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let Some(person) = holder(db, &token).await? else {
        return Ok(gone(hub.site_online().await));
    };
    let csrf = form_token(req).await?;
    let action: String = form_urlencoded::byte_serialize(token.as_bytes()).collect();
    Ok(page(
        hub.site_online().await,
        html! {
            p { "This link logs you in as " strong { (person.username) } ", once." }
            form #login-link method="post" action={ "/login/" (action) } {
                input type="hidden" name="csrf_token" value=(csrf);
                button.primary type="submit" { "Log in and choose a new password" }
            }
        },
    )
    .into_response())
}

#[handler]
pub async fn use_link(
    req: &Request,
    Data(db): Data<&DatabaseConnection>,
    Data(hub): Data<&Hub>,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let Some(person) = holder(db, &token).await? else {
        return Ok(gone(hub.site_online().await));
    };
    // Taken once, whoever races for it.
    let taken = db
        .execute_raw(db::statement(
            db,
            "UPDATE login_links SET used_at = ? WHERE token = ? AND used_at IS NULL",
            [now_ms().into(), token.as_str().into()],
        ))
        .await?;
    if taken.rows_affected() != 1 {
        return Ok(gone(hub.site_online().await));
    }
    let session = session_of(req)?;
    session::sign_in(&session, req, person.id, &person.username).await?;
    tracing::info!(user_id = person.id, "logged in with a one-time link");
    Ok(Redirect::see_other("/settings").into_response())
}
