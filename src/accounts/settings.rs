//! `GET /settings`: a person's own settings. `POST /settings/profile` (`display_name`,
//! `status`), `POST /settings/password` (`current_password`, `new_password`: the
//! current one is needed, and every other session ends), and `POST
//! /settings/sessions/others` ("log out everywhere else"). Each answers 303 back here.
//!
//! Sessions are listed from their rows: each says the browser and address it was
//! signed in from, and its expiry, which rolls forward when it is used (at most once a
//! day), says when it was last used.
use std::sync::Arc;

use maud::{Markup, html};
use poem::{
    IntoResponse, Request, Response, handler,
    http::StatusCode,
    web::{Data, Form, Query, Redirect},
};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};
use serde::Deserialize;

use super::{Password, password};
use crate::{
    api::tokens as api_tokens,
    chat::{Chat, invisible, sidebar, views::relative_time},
    entities::{session, user},
    error::AppError,
    limits::Limits,
    web::{
        Viewer,
        layout::{self, Page},
        session::{Sessions, signed_in_from},
    },
};

/// How long a session lives past its last use (see [`crate::web::session`]).
const SESSION_LIFE_MS: i64 = 30 * 86_400_000;

/// When `user_id` last used hearth, as their sessions tell.
pub async fn last_seen(db: &DatabaseConnection, user_id: i64) -> Result<Option<i64>, DbErr> {
    use sea_orm::QueryOrder;
    Ok(session::Entity::find()
        .filter(session::Column::UserId.eq(user_id))
        .order_by_desc(session::Column::ExpiresAt)
        .one(db)
        .await?
        .map(|s| s.expires_at - SESSION_LIFE_MS))
}

#[derive(Debug, Default, Deserialize)]
pub struct SettingsQuery {
    #[serde(default)]
    done: String,
}

#[handler]
pub async fn show(
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Data(sessions): Data<&Arc<Sessions>>,
    Query(query): Query<SettingsQuery>,
) -> Result<Response, AppError> {
    let notice = match query.done.as_str() {
        "profile" => Some("Saved."),
        "password" => Some("Your password is changed; your other sessions have ended."),
        "sessions" => Some("You are logged out everywhere else."),
        "email" => Some("Your email address is saved."),
        "avatar" => Some("Your avatar is saved."),
        "avatar-removed" => Some("Your avatar is removed."),
        "token-revoked" => Some("The token is revoked: programs using it are refused."),
        _ => None,
    };
    Ok(render(chat, sessions, &viewer, notice, None, None)
        .await?
        .into_response())
}

pub(super) async fn render(
    chat: &Chat,
    sessions: &Sessions,
    viewer: &Viewer,
    notice: Option<&str>,
    error: Option<&str>,
    new_token: Option<&str>,
) -> Result<Markup, AppError> {
    let me = user::Entity::find_by_id(viewer.id)
        .one(&chat.db)
        .await?
        .ok_or(AppError::NotFound)?;
    let mine = sessions.store.sessions_of(viewer.id).await?;
    let tokens = api_tokens::of(&chat.db, viewer.id).await?;
    let admin = crate::admin::Role::of(&me) == crate::admin::Role::Admin;
    let current = viewer.session_key();
    let sidebar = sidebar::for_user(&chat.db, viewer.id, None).await?;
    let page = Page::signed_in(
        "Settings",
        viewer,
        "page",
        sidebar,
        chat.hub.site_online().await,
    );
    let token = &viewer.csrf_token;
    Ok(layout::render(
        page,
        html! {
            section.card #settings {
                h1 { "Settings" }
                p.muted {
                    a href={ "/users/" (me.username) } { "Your profile" }
                    @if admin { " · " a #admin-link href="/admin" { "Administration" } }
                }
                @if let Some(notice) = notice { p.notice role="status" { (notice) } }
                @if let Some(error) = error { p.form-error role="alert" { (error) } }
                h2 { "Profile" }
                form #profile-form.stack method="post" action="/settings/profile" {
                    label for="display-name" { "Display name" }
                    input #display-name name="display_name" maxlength="64" dir="auto"
                        value=(me.display_name.as_deref().unwrap_or_default());
                    label for="status" { "Status" }
                    input #status name="status" maxlength="140" dir="auto" placeholder="e.g. on holiday until Monday"
                        value=(me.status.as_deref().unwrap_or_default());
                    input type="hidden" name="csrf_token" value=(token);
                    button.primary type="submit" { "Save" }
                }
                h2 { "Avatar" }
                div #avatar-setting {
                    @if me.avatar.is_some() {
                        (super::avatar::picture(me.avatar.as_deref()))
                    } @else {
                        p.muted #no-avatar { "You have no avatar: pages show the first letter of your name." }
                    }
                    form #avatar-form.stack method="post" action="/settings/avatar" enctype="multipart/form-data" {
                        input type="hidden" name="csrf_token" value=(token);
                        label for="avatar-file" { "A picture (PNG, JPEG, WebP or GIF, at most 5 MB)" }
                        input #avatar-file type="file" name="file" accept="image/png,image/jpeg,image/webp,image/gif" required;
                        button.primary type="submit" { "Upload avatar" }
                    }
                    @if me.avatar.is_some() {
                        form #avatar-remove method="post" action="/settings/avatar/remove" {
                            input type="hidden" name="csrf_token" value=(token);
                            button type="submit" { "Remove avatar" }
                        }
                    }
                }
                h2 { "Email" }
                form #email-form.stack method="post" action="/settings/email" {
                    label for="email" { "Email address" }
                    input #email type="email" name="email" maxlength="254" autocomplete="email"
                        value=(me.email.as_deref().unwrap_or_default());
                    p.hint { "Only for resetting a forgotten password; leave it empty to remove it." }
                    input type="hidden" name="csrf_token" value=(token);
                    button.primary type="submit" { "Save email" }
                }
                h2 { "Password" }
                form #password-form.stack method="post" action="/settings/password" {
                    label for="current-password" { "Current password" }
                    input #current-password type="password" name="current_password" autocomplete="current-password" required;
                    label for="new-password" { "New password" }
                    input #new-password type="password" name="new_password" autocomplete="new-password" required minlength="8" maxlength="256";
                    p.hint { "Changing it logs you out everywhere else." }
                    input type="hidden" name="csrf_token" value=(token);
                    button.primary type="submit" { "Change password" }
                }
                h2 { "Where you are logged in" }
                ul #sessions {
                    @for s in &mine {
                        @let (device, address) = signed_in_from(&s.data);
                        li.session.current[current.as_deref() == Some(s.id.as_str())] {
                            span.device { (if device.is_empty() { "A browser" } else { device.as_str() }) }
                            @if !address.is_empty() { " · " span.address { (address) } }
                            " · last used " (relative_time(s.expires_at - SESSION_LIFE_MS))
                            @if current.as_deref() == Some(s.id.as_str()) { " " span.badge { "This browser" } }
                        }
                    }
                }
                form #logout-others method="post" action="/settings/sessions/others" {
                    input type="hidden" name="csrf_token" value=(token);
                    button type="submit" { "Log out everywhere else" }
                }
                (tokens_section(&tokens, new_token, token))
                h2 { "Delete your account" }
                form #delete-account.stack method="post" action="/settings/delete" {
                    p.hint { "Your messages stay, shown as by \"Deleted user\"; everything else of your account goes, and your name is free for anyone to take. This cannot be undone." }
                    label for="delete-password" { "Your password" }
                    input #delete-password type="password" name="current_password" autocomplete="current-password" required;
                    input type="hidden" name="csrf_token" value=(token);
                    button.danger type="submit" { "Delete my account" }
                }
            }
        },
    ))
}

#[derive(Debug, Deserialize)]
pub struct ProfileForm {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    status: String,
}

/// `raw` as a short line of text: invisible characters out, runs of spaces one, at
/// most `max` characters; `None` when nothing is left.
fn line(raw: &str, max: usize) -> Result<Option<String>, ()> {
    let visible = invisible::strip(raw);
    let text = visible
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>();
    if text.chars().count() > max {
        return Err(());
    }
    Ok((!text.is_empty()).then_some(text))
}

#[handler]
pub async fn save_profile(
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Data(sessions): Data<&Arc<Sessions>>,
    Form(form): Form<ProfileForm>,
) -> Result<Response, AppError> {
    let (Ok(display_name), Ok(status)) = (line(&form.display_name, 64), line(&form.status, 140))
    else {
        let why = "A display name has at most 64 characters, a status 140.";
        let page = render(chat, sessions, &viewer, None, Some(why), None).await?;
        return Ok(with_status(page, StatusCode::UNPROCESSABLE_ENTITY));
    };
    user::Entity::update_many()
        .col_expr(user::Column::DisplayName, display_name.into())
        .col_expr(user::Column::Status, status.into())
        .filter(user::Column::Id.eq(viewer.id))
        .exec(&chat.db)
        .await?;
    Ok(Redirect::see_other("/settings?done=profile").into_response())
}

pub(super) fn with_status(markup: Markup, status: StatusCode) -> Response {
    let mut resp = markup.into_response();
    resp.set_status(status);
    resp
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

#[handler]
pub async fn change_password(
    req: &Request,
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Data(sessions): Data<&Arc<Sessions>>,
    Data(limits): Data<&Arc<Limits>>,
    Form(form): Form<PasswordForm>,
) -> Result<Response, AppError> {
    let refuse = async |status: StatusCode, why: &str| -> Result<Response, AppError> {
        let page = render(chat, sessions, &viewer, None, Some(why), None).await?;
        Ok(with_status(page, status))
    };
    let chosen = match Password::choose(&form.new_password, &viewer.username) {
        Ok(chosen) => chosen,
        Err(why) => return refuse(StatusCode::UNPROCESSABLE_ENTITY, why).await,
    };
    if let Err((status, why)) =
        confirm_password(req, &viewer, chat, limits, &form.current_password).await?
    {
        return refuse(status, why).await;
    }
    let address = client_address(req);
    let turn = limits
        .hashing_turn(address)
        .map_err(AppError::TooManyRequests)?;
    let hash = password::hash(chosen, turn).await?;
    user::Entity::update_many()
        .col_expr(user::Column::PasswordHash, hash.into())
        .filter(user::Column::Id.eq(viewer.id))
        .exec(&chat.db)
        .await?;
    end_other_sessions(chat, sessions, &viewer).await?;
    tracing::info!(user_id = viewer.id, "password changed");
    Ok(Redirect::see_other("/settings?done=password").into_response())
}

fn client_address(req: &Request) -> std::net::IpAddr {
    req.remote_addr()
        .as_socket_addr()
        .map_or(std::net::Ipv4Addr::UNSPECIFIED.into(), |a| a.ip())
}

/// Whether `presented` is the viewer's current password, as changing the password and
/// deleting the account need; a refusal comes with its status and words.
pub(super) async fn confirm_password(
    req: &Request,
    viewer: &Viewer,
    chat: &Chat,
    limits: &Limits,
    presented: &str,
) -> Result<Result<(), (StatusCode, &'static str)>, AppError> {
    let address = client_address(req);
    // Guessing the current password here is guessing a password: the same limits as
    // logging in.
    let account = viewer.username.to_ascii_lowercase();
    let attempt = match limits.login_attempt(&account, None, address) {
        Ok(attempt) => attempt,
        Err(_) => {
            let why = "Too many wrong passwords. Wait a while and try again.";
            return Ok(Err((StatusCode::TOO_MANY_REQUESTS, why)));
        }
    };
    let me = user::Entity::find_by_id(viewer.id)
        .one(&chat.db)
        .await?
        .ok_or(AppError::NotFound)?;
    let turn = limits
        .hashing_turn(address)
        .map_err(AppError::TooManyRequests)?;
    let right =
        password::verify(presented.to_owned(), Some(me.password_hash.clone()), turn).await?;
    if !right {
        limits.login_failed(attempt);
        let why = "That is not your current password.";
        return Ok(Err((StatusCode::UNPROCESSABLE_ENTITY, why)));
    }
    limits.login_succeeded(attempt);
    Ok(Ok(()))
}

/// Ends every session of the viewer but this one, and closes their sockets.
async fn end_other_sessions(
    chat: &Chat,
    sessions: &Sessions,
    viewer: &Viewer,
) -> Result<(), AppError> {
    let current = viewer.session_key();
    let ended = sessions
        .store
        .end_sessions_of(viewer.id, current.as_deref())
        .await?;
    for session in &ended {
        chat.hub.close_session(session);
    }
    Ok(())
}

#[handler]
pub async fn log_out_others(
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Data(sessions): Data<&Arc<Sessions>>,
) -> Result<Response, AppError> {
    end_other_sessions(chat, sessions, &viewer).await?;
    Ok(Redirect::see_other("/settings?done=sessions").into_response())
}

/// The API tokens part of the page: a just-made token, shown this once; the person's
/// tokens, each with a button that revokes it; the form that makes one.
fn tokens_section(tokens: &[api_tokens::Listed], new_token: Option<&str>, csrf: &str) -> Markup {
    html! {
        h2 #api-tokens { "API tokens" }
        p.hint {
            "A token lets a program (a bot, a script) use hearth as you, through "
            a href="/api/v1/docs" { "the API" } ". It can do what you can, no more."
        }
        @if let Some(new_token) = new_token {
            div.notice role="status" {
                p { "Your new token. Copy it now: it will not be shown again." }
                code #new-token { (new_token) }
            }
        }
        @if tokens.is_empty() {
            p.muted #no-tokens { "You have no API tokens." }
        } @else {
            ul #tokens {
                @for t in tokens {
                    li.token #{ "token-" (t.id) } {
                        span.name { (t.name) }
                        " · made " (relative_time(t.created_at))
                        " · "
                        @match t.last_used_at {
                            Some(at) => { "last used " (relative_time(at)) }
                            None => { "never used" }
                        }
                        form.inline method="post" action={ "/settings/tokens/" (t.id) "/revoke" } {
                            input type="hidden" name="csrf_token" value=(csrf);
                            button type="submit" { "Revoke" }
                        }
                    }
                }
            }
        }
        form #token-form.stack method="post" action="/settings/tokens" {
            label for="token-name" { "Name" }
            input #token-name name="name" maxlength="64" dir="auto" required placeholder="e.g. deploy bot";
            input type="hidden" name="csrf_token" value=(csrf);
            button.primary type="submit" { "Make a token" }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    name: String,
}

/// `POST /settings/tokens` (`name`): makes a token and shows it, once, on this page
/// (200, not a redirect: a page reached again later must not show it).
#[handler]
pub async fn make_token(
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Data(sessions): Data<&Arc<Sessions>>,
    Form(form): Form<TokenForm>,
) -> Result<Response, AppError> {
    let name = match line(&form.name, 64) {
        Ok(Some(name)) => name,
        _ => {
            let why = "Name the token (at most 64 characters), so you know later what uses it.";
            let page = render(chat, sessions, &viewer, None, Some(why), None).await?;
            return Ok(with_status(page, StatusCode::UNPROCESSABLE_ENTITY));
        }
    };
    let made = match api_tokens::make(&chat.db, viewer.id, &name).await {
        Ok(made) => made,
        Err(api_tokens::MakeError::TooMany) => {
            let why = "You have as many API tokens as one person may hold; revoke one first.";
            let page = render(chat, sessions, &viewer, None, Some(why), None).await?;
            return Ok(with_status(page, StatusCode::UNPROCESSABLE_ENTITY));
        }
        Err(api_tokens::MakeError::Db(e)) => return Err(e.into()),
    };
    tracing::info!(user_id = viewer.id, "API token made");
    let page = render(chat, sessions, &viewer, None, None, Some(&made)).await?;
    let mut resp = page.into_response();
    // The token is in this page alone: no cache may keep it.
    resp.headers_mut().insert(
        poem::http::header::CACHE_CONTROL,
        poem::http::HeaderValue::from_static("no-store"),
    );
    Ok(resp)
}

/// `POST /settings/tokens/{id}/revoke`: the token stops working at once. Someone
/// else's token, or one already revoked: 404.
#[handler]
pub async fn revoke_token(
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    poem::web::Path(id): poem::web::Path<i64>,
) -> Result<Response, AppError> {
    if !api_tokens::revoke(&chat.db, viewer.id, id).await? {
        return Err(AppError::NotFound);
    }
    tracing::info!(user_id = viewer.id, token_id = id, "API token revoked");
    Ok(Redirect::see_other("/settings?done=token-revoked#api-tokens").into_response())
}
