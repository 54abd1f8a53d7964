//! Password reset by email, offered only where hearth can send email (`--smtp-url`):
//! `GET/POST /password/forgot` (`account`: a username or an email address) and
//! `GET/POST /password/reset/{token}` (`new_password`).
//!
//! Why each rule: the answer to a request is the same whether or not the account
//! exists, has an address, or was sent a link, and the mail goes off the request path,
//! so neither the words nor the timing tell who has an account here. Only the SMTP
//! server being unreachable is told (503), and it is asked for every request alike.
//! Requests are limited per client address, and links per account (a few an hour:
//! nobody's inbox can be flooded through hearth). A link works once, for an hour, and
//! only the SHA-256 of its token is stored, so a copy of the database opens nobody's
//! account. Opening the link shows a form; only posting it uses the link (a mail
//! scanner's GET cannot). A new password follows the sign-up rules; setting it ends
//! every session and closes every socket of the person, in every process, uses up
//! their other links, and logs this browser in afresh. Without `--smtp-url` nothing
//! here is routed to (404), and administrators make one-time log-in links instead
//! ([`super::login_links`]).
use std::{net::IpAddr, num::NonZeroU32, sync::Arc, time::Duration};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use maud::{Markup, html};
use poem::{
    IntoResponse, Request, Response, handler,
    http::StatusCode,
    web::{Data, Form, Path, Redirect},
};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};
use serde::Deserialize;

use super::{
    Password, Username,
    email::EmailAddress,
    mail::{MailSettings, Mailer},
    password, views,
};
use crate::{
    db::{self, now_ms},
    entities::user,
    error::AppError,
    limits::Limits,
    live::Hub,
    web::session::{self, Sessions, form_token, session_of},
};

/// How long a link works.
const LASTS_MS: i64 = 3_600_000;
/// Links one account is sent within [`LASTS_MS`], at most.
const LINKS_PER_ACCOUNT: i64 = 3;
/// Requests one client address may make: a burst, then one every twelve minutes.
const REQUESTS_PER_ADDRESS: u32 = 5;

const GONE: &str = "This link does not work: it was used already, it expired (links work for an hour), or it was mistyped. Ask for a new one.";
const SENT: &str = "If an account here has that name or address, and an email address, a link to choose a new password is on its way to it. It works once, for an hour. Nothing arriving? Check your spam folder, or ask an administrator.";
const CANNOT_SEND: &str = "hearth cannot send email right now, so no link was sent. Try again in a few minutes, or ask an administrator for a one-time log-in link.";

/// The mailer, when there is one, and the limit on requests for links.
pub struct Resets {
    mailer: Option<Arc<Mailer>>,
    public_url: Option<String>,
    by_address: DefaultKeyedRateLimiter<IpAddr>,
}

impl Resets {
    pub fn new(mailer: Option<Mailer>, settings: &MailSettings) -> Self {
        let quota = Quota::with_period(Duration::from_secs(720))
            .unwrap_or_else(|| Quota::per_minute(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(REQUESTS_PER_ADDRESS).unwrap_or(NonZeroU32::MIN));
        Self {
            mailer: mailer.map(Arc::new),
            public_url: settings
                .public_url
                .as_deref()
                .map(|u| u.trim_end_matches('/').to_owned()),
            by_address: RateLimiter::keyed(quota),
        }
    }

    /// Whether hearth can send reset links (the log-in page offers them).
    pub fn can_send(&self) -> bool {
        self.mailer.is_some()
    }

    /// The mailer, for the others who send mail (transcripts of support chats).
    pub fn mailer_if_set(&self) -> Option<&Arc<Mailer>> {
        self.mailer.as_ref()
    }

    fn mailer(&self) -> Result<&Arc<Mailer>, AppError> {
        self.mailer.as_ref().ok_or(AppError::NotFound)
    }

    /// The start of links: the public URL, else the host the request came to.
    fn base(&self, req: &Request, secure: bool) -> String {
        if let Some(url) = &self.public_url {
            return url.clone();
        }
        let host = req
            .headers()
            .get(poem::http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("localhost");
        format!("{}://{host}", if secure { "https" } else { "http" })
    }
}

fn page(title: &str, site_online: usize, content: Markup) -> Markup {
    views::auth_page(
        title,
        site_online,
        html! { section.card { h1 { (title) } (content) } },
    )
}

fn with_status(markup: Markup, status: StatusCode) -> Response {
    let mut resp = markup.into_response();
    resp.set_status(status);
    resp
}

fn forgot_form(csrf: &str, account: &str, error: Option<&str>, site_online: usize) -> Markup {
    page(
        "Forgot your password?",
        site_online,
        html! {
            form #forgot.stack method="post" action="/password/forgot" {
                @if let Some(error) = error { p.form-error role="alert" { (error) } }
                p { "Give your username or your email address: hearth emails you a link to choose a new password." }
                label for="account" { "Username or email" }
                input #account name="account" value=(account) required maxlength="254" autocomplete="username" autofocus;
                input type="hidden" name="csrf_token" value=(csrf);
                button.primary type="submit" { "Email me a link" }
            }
            p.muted { a href="/login" { "Back to log in" } }
        },
    )
}

#[handler]
pub async fn forgot(
    req: &Request,
    Data(hub): Data<&Hub>,
    Data(resets): Data<&Arc<Resets>>,
) -> Result<Response, AppError> {
    resets.mailer()?;
    let csrf = form_token(req).await?;
    Ok(forgot_form(&csrf, "", None, hub.site_online().await).into_response())
}

#[derive(Debug, Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    account: String,
}

#[handler]
pub async fn request_link(
    req: &Request,
    Data(db): Data<&DatabaseConnection>,
    Data(hub): Data<&Hub>,
    Data(resets): Data<&Arc<Resets>>,
    Data(config): Data<&Arc<crate::config::Config>>,
    Form(form): Form<ForgotForm>,
) -> Result<Response, AppError> {
    let mailer = resets.mailer()?.clone();
    let site_online = hub.site_online().await;
    let again = async |status: StatusCode, why: &str| -> Result<Response, AppError> {
        let csrf = form_token(req).await?;
        let page = forgot_form(&csrf, &form.account, Some(why), site_online);
        Ok(with_status(page, status))
    };
    let address = client_ip(req);
    if let Err(not_until) = resets.by_address.check_key(&address) {
        let wait = not_until.wait_time_from(governor::clock::Clock::now(
            &governor::clock::DefaultClock::default(),
        ));
        let why = format!(
            "Too many requests for links from your network. Try again in {}.",
            crate::limits::RetryAfter(wait).in_words()
        );
        return again(StatusCode::TOO_MANY_REQUESTS, &why).await;
    }
    if !mailer.reachable().await {
        tracing::warn!("the SMTP server is unreachable: no reset link sent");
        return again(StatusCode::SERVICE_UNAVAILABLE, CANNOT_SEND).await;
    }
    if let Some(person) = addressee(db, &form.account).await? {
        if let Some(token) = make_link(db, person.id).await? {
            let link = format!(
                "{}/password/reset/{token}",
                resets.base(req, config.secure_cookies)
            );
            let to = person.email.clone().unwrap_or_default();
            let text = format!(
                "Someone, hopefully you, asked to reset the password of {name} on hearth.\n\n\
                 To choose a new password, open this link within an hour:\n\n{link}\n\n\
                 It works once. If you did not ask, ignore this mail: your password stays as it is.\n",
                name = person.username
            );
            let user_id = person.id;
            // Off the request path: the answer does not wait on, nor tell of, the mail.
            tokio::spawn(async move {
                match mailer.send(&to, "Reset your hearth password", text).await {
                    Ok(()) => tracing::info!(user_id, "password reset link sent"),
                    Err(e) => tracing::warn!(user_id, error = %e, "could not send a reset link"),
                }
            });
        }
    }
    Ok(page(
        "Check your email",
        site_online,
        html! {
            p #reset-requested role="status" { (SENT) }
            p.muted { a href="/login" { "Back to log in" } }
        },
    )
    .into_response())
}

/// The active account `raw` names by username or email address, if it has an address.
async fn addressee(db: &DatabaseConnection, raw: &str) -> Result<Option<user::Model>, DbErr> {
    let found = if raw.contains('@') {
        match EmailAddress::parse(raw) {
            Ok(address) => {
                user::Entity::find()
                    .filter(user::Column::Email.eq(address.as_str()))
                    .one(db)
                    .await?
            }
            Err(_) => None,
        }
    } else {
        match Username::parse(raw) {
            Ok(name) => {
                user::Entity::find()
                    .filter(user::Column::UsernameKey.eq(name.key()))
                    .one(db)
                    .await?
            }
            Err(_) => None,
        }
    };
    Ok(found.filter(|u| u.deactivated_at.is_none() && u.deleted_at.is_none() && u.email.is_some()))
}

/// A new link's token for `user_id`, unless they were sent their share this hour.
async fn make_link(db: &DatabaseConnection, user_id: i64) -> Result<Option<String>, DbErr> {
    let now = now_ms();
    let recent = db
        .query_one_raw(db::statement(
            db,
            "SELECT COUNT(*) AS n FROM password_resets WHERE user_id = ? AND created_at > ?",
            [user_id.into(), (now - LASTS_MS).into()],
        ))
        .await?
        .map(|row| row.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0);
    if recent >= LINKS_PER_ACCOUNT {
        tracing::info!(user_id, "reset links for this account are at their limit");
        return Ok(None);
    }
    let token = crate::secret_token::random(32);
    db.execute_raw(db::statement(
        db,
        "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) \
         VALUES (?, ?, ?, ?)",
        [
            crate::secret_token::digest(&token).into(),
            user_id.into(),
            now.into(),
            (now + LASTS_MS).into(),
        ],
    ))
    .await?;
    Ok(Some(token))
}

/// The active account a usable link `token` is for.
async fn holder(db: &DatabaseConnection, token: &str) -> Result<Option<user::Model>, DbErr> {
    if token.len() > 64 {
        return Ok(None);
    }
    let row = db
        .query_one_raw(db::statement(
            db,
            "SELECT user_id FROM password_resets \
             WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?",
            [crate::secret_token::digest(token).into(), now_ms().into()],
        ))
        .await?;
    let Some(row) = row else { return Ok(None) };
    let user_id: i64 = row.try_get("", "user_id")?;
    Ok(user::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .filter(|u| u.deactivated_at.is_none() && u.deleted_at.is_none()))
}

fn gone(site_online: usize) -> Response {
    let page = page(
        "Choose a new password",
        site_online,
        html! {
            p #reset-gone role="alert" { (GONE) }
            p.muted { a href="/password/forgot" { "Ask for a new link" } " · " a href="/login" { "Log in" } }
        },
    );
    with_status(page, StatusCode::GONE)
}

fn reset_form(
    token: &str,
    csrf: &str,
    username: &str,
    error: Option<&str>,
    site_online: usize,
) -> Markup {
    let action: String = form_urlencoded::byte_serialize(token.as_bytes()).collect();
    page(
        "Choose a new password",
        site_online,
        html! {
            form #reset.stack method="post" action={ "/password/reset/" (action) } {
                @if let Some(error) = error { p.form-error role="alert" { (error) } }
                p { "A new password for " strong { (username) } ". Setting it logs you out everywhere else." }
                label for="new-password" { "New password" }
                input #new-password type="password" name="new_password" autocomplete="new-password"
                    required minlength="8" maxlength="256" autofocus;
                input type="hidden" name="csrf_token" value=(csrf);
                button.primary type="submit" { "Set password and log in" }
            }
        },
    )
}

#[handler]
pub async fn show(
    req: &Request,
    Data(db): Data<&DatabaseConnection>,
    Data(hub): Data<&Hub>,
    Data(resets): Data<&Arc<Resets>>,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    resets.mailer()?;
    let Some(person) = holder(db, &token).await? else {
        return Ok(gone(hub.site_online().await));
    };
    let csrf = form_token(req).await?;
    Ok(reset_form(
        &token,
        &csrf,
        &person.username,
        None,
        hub.site_online().await,
    )
    .into_response())
}

#[derive(Debug, Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    new_password: String,
}

/// What setting a new password takes besides the form.
pub struct ResetParts<'a> {
    db: &'a DatabaseConnection,
    hub: &'a Hub,
    limits: &'a Limits,
    sessions: &'a Sessions,
    resets: &'a Resets,
}

impl<'a> poem::FromRequest<'a> for ResetParts<'a> {
    async fn from_request(req: &'a Request, _body: &mut poem::RequestBody) -> poem::Result<Self> {
        let missing = || AppError::Internal("a part of the server is not installed".into());
        Ok(ResetParts {
            db: req.data::<DatabaseConnection>().ok_or_else(missing)?,
            hub: req.data::<Hub>().ok_or_else(missing)?,
            limits: req.data::<Arc<Limits>>().ok_or_else(missing)?,
            sessions: req.data::<Arc<Sessions>>().ok_or_else(missing)?,
            resets: req.data::<Arc<Resets>>().ok_or_else(missing)?,
        })
    }
}

#[handler]
pub async fn reset(
    req: &Request,
    parts: ResetParts<'_>,
    Path(token): Path<String>,
    Form(form): Form<ResetForm>,
) -> Result<Response, AppError> {
    let ResetParts {
        db,
        hub,
        limits,
        sessions,
        resets,
    } = parts;
    resets.mailer()?;
    let site_online = hub.site_online().await;
    let Some(person) = holder(db, &token).await? else {
        return Ok(gone(site_online));
    };
    let again = async |status: StatusCode, why: &str| -> Result<Response, AppError> {
        let csrf = form_token(req).await?;
        let page = reset_form(&token, &csrf, &person.username, Some(why), site_online);
        Ok(with_status(page, status))
    };
    let chosen = match Password::choose(&form.new_password, &person.username) {
        Ok(chosen) => chosen,
        Err(why) => return again(StatusCode::UNPROCESSABLE_ENTITY, why).await,
    };
    let turn = match limits.hashing_turn(client_ip(req)) {
        Ok(turn) => turn,
        Err(_) => {
            let why = "hearth is busy: try again in a moment.";
            return again(StatusCode::TOO_MANY_REQUESTS, why).await;
        }
    };
    let hash = password::hash(chosen, turn).await?;
    // Taken once, whoever races for it; the password changes only for the one who took it.
    let now = now_ms();
    let taken = db
        .execute_raw(db::statement(
            db,
            "UPDATE password_resets SET used_at = ? \
             WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?",
            [
                now.into(),
                crate::secret_token::digest(&token).into(),
                now.into(),
            ],
        ))
        .await?;
    if taken.rows_affected() != 1 {
        return Ok(gone(site_online));
    }
    user::Entity::update_many()
        .col_expr(user::Column::PasswordHash, hash.into())
        .filter(user::Column::Id.eq(person.id))
        .exec(db)
        .await?;
    db.execute_raw(db::statement(
        db,
        "UPDATE password_resets SET used_at = ? WHERE user_id = ? AND used_at IS NULL",
        [now.into(), person.id.into()],
    ))
    .await?;
    let ended = sessions.store.end_sessions_of(person.id, None).await?;
    for session in &ended {
        hub.close_session(session);
    }
    hub.end_access(person.id, None);
    let session = session_of(req)?;
    session::sign_in(&session, req, person.id, &person.username).await?;
    tracing::info!(
        user_id = person.id,
        sessions = ended.len(),
        "password reset by email"
    );
    Ok(Redirect::see_other("/").into_response())
}

fn client_ip(req: &Request) -> IpAddr {
    req.remote_addr()
        .as_socket_addr()
        .map_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |a| a.ip())
}
