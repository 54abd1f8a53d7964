//! The visitor's side: `GET /widget.js` (the launcher a site's pages load), the frame
//! `GET /widget/{key}` (framable only by the site's origins), `POST
//! /widget/{key}/start` (the visitor's first message, which makes their
//! conversation), `POST …/resume` (a token kept in the frame's storage, for browsers
//! that block the frame's cookie), `POST …/messages`, `POST …/email`, and the socket
//! `GET …/ws`.
//!
//! Every path but `start` takes the visitor from their [`GuestToken`] and their
//! conversation from the visitor: there is no conversation id to guess. A POST must
//! present the token itself (the `X-Hearth-Guest` header or the `guest` field), not
//! only the cookie, so that a page elsewhere cannot post in the visitor's name; and
//! `start` only from hearth's own origin, which is the frame's.
use std::sync::Arc;

use poem::{
    Body, FromRequest, IntoResponse, Request, RequestBody, Response, handler,
    http::{HeaderValue, StatusCode, header},
    web::{Data, Form, Path, Query, cookie::Cookie},
};
use serde::Deserialize;

use super::{
    GuestToken,
    queries::{self, Site, SupportChat},
    views::{self, Frame, FrameChat},
};
use crate::{
    chat::{Chat, MessageBody, socket as chat_socket, views as chat_views},
    config::Config,
    error::AppError,
    i18n::Lang,
    live::socket::{origin_allowed, refuse},
    web::{is_htmx, layout::error_page, signing::Signer},
};

/// The header a frame's script sends the visitor's token in.
pub const TOKEN_HEADER: &str = "X-Hearth-Guest";

/// The cookie of a site's visitor, one per site (`hearth_guest_{key}`).
fn cookie_name(site: &Site) -> String {
    format!("hearth_guest_{}", site.key)
}

/// Visitors stay known for a year.
const COOKIE_DAYS: i64 = 365;

/// `GET /widget.js`: the launcher, the same for every site (the snippet names the
/// site). Cached briefly, so that a change reaches the sites' pages within minutes.
#[handler]
pub fn script() -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, "text/javascript; charset=utf-8")
        .header(header::CACHE_CONTROL, "public, max-age=300")
        .header("Cross-Origin-Resource-Policy", "cross-origin")
        .body(crate::assets::text("widget.js").unwrap_or_default())
}

#[derive(Debug, Default, Deserialize)]
pub struct FrameQuery {
    /// The origin of the page that frames the widget.
    #[serde(default)]
    host: String,
    /// The page the visitor is on.
    #[serde(default)]
    page: String,
    /// Who the site says its signed-in customer is, and its proof.
    #[serde(default)]
    uid: String,
    #[serde(default)]
    uhash: String,
}

async fn site_named(chat: &Chat, key: &str) -> Result<Site, AppError> {
    queries::site_by_key(&chat.db, key)
        .await?
        .ok_or(AppError::NotFound)
}

/// `host` when it is one of the site's origins.
fn host_of<'a>(site: &Site, host: &'a str) -> Option<&'a str> {
    let host = host.trim();
    site.origins.iter().any(|o| o == host).then_some(host)
}

/// The page the visitor says they are on: a web address of at most 500 characters.
fn page_of(raw: &str) -> String {
    match url::Url::parse(raw.trim()) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => {
            // A URL's serialisation is ASCII, so 500 bytes are 500 characters.
            let mut page = url.to_string();
            page.truncate(500);
            page
        }
        _ => String::new(),
    }
}

/// The customer the site vouches for, when its proof holds.
fn customer_of<'a>(site: &Site, uid: &'a str, uhash: &'a str) -> Option<(&'a str, &'a str)> {
    let uid = uid.trim();
    (!uid.is_empty()
        && uid.len() <= 200
        && super::identity_matches(&site.identity_secret, uid, uhash))
    .then_some((uid, uhash.trim()))
}

/// Whether a conversation kept by this browser may be shown to who the site says is
/// here: a signed-in customer's only to that customer, so that on a shared computer
/// the next person (signed in as someone else, or not at all) does not see it.
fn belongs_to(chat: &SupportChat, customer: Option<(&str, &str)>) -> bool {
    match &chat.external_id {
        Some(owner) => customer.is_some_and(|(uid, _)| uid == owner),
        None => true,
    }
}

/// The token this request presents: the header, then `field`, then (when
/// `cookie_ok`) the site's cookie.
fn presented(req: &Request, site: &Site, field: Option<&str>, cookie_ok: bool) -> Option<String> {
    let header = req
        .headers()
        .get(TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty());
    if let Some(token) = header.or(field.filter(|f| !f.is_empty())) {
        return Some(token.to_owned());
    }
    if cookie_ok {
        return crate::web::session::cookie_value(req, &cookie_name(site)).map(str::to_owned);
    }
    None
}

/// The visitor's conversation, when `token` is a visitor's of `site`.
async fn chat_of(
    chat: &Chat,
    signer: &Signer,
    site: &Site,
    token: Option<&str>,
) -> Result<Option<SupportChat>, AppError> {
    let Some(token) = token.and_then(|t| GuestToken::verify(signer, t, site.id)) else {
        return Ok(None);
    };
    Ok(queries::chat_of_guest(&chat.db, site.id, token.guest_id).await?)
}

/// The cookie that keeps the visitor known in this frame. Across sites a frame's
/// cookie needs `SameSite=None`, which browsers take only with `Secure`; over plain
/// HTTP (a server on one's own machine) it is `Lax`, and the frame's storage carries
/// the token instead.
fn guest_cookie(site: &Site, token: &str, secure: bool) -> HeaderValue {
    let mut cookie = Cookie::new_with_str(cookie_name(site), token);
    cookie.set_http_only(true);
    cookie.set_path(format!("/widget/{}", site.key));
    cookie.set_max_age(std::time::Duration::from_secs(
        (COOKIE_DAYS * 86_400) as u64,
    ));
    let mut value = cookie.to_string();
    if secure {
        value.push_str("; Secure; SameSite=None; Partitioned");
    } else {
        value.push_str("; SameSite=Lax");
    }
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Whether an operator of `site` is online.
async fn staffed(chat: &Chat, site: &Site) -> Result<bool, AppError> {
    let operators: Vec<i64> = queries::operators(&chat.db, site.id)
        .await?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    Ok(!chat.hub.online_among(&operators).await.is_empty())
}

/// The language of the site's setting, or for `auto`, of the visitor's browser.
fn lang_of(req: &Request, site: &Site) -> Lang {
    let accepted = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    Lang::choose(&site.language, accepted)
}

/// The frame's policy: hearth's own, framable by the site's origins alone.
fn frame_policy(site: &Site) -> String {
    let nonce = crate::web::security::style_nonce().unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self' 'nonce-{nonce}'; img-src 'self' data:; \
         connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors {}",
        site.origins.join(" ")
    )
}

/// What a frame page answers: the page, its policy, and the cookie when `token` is
/// to be kept.
struct FramePage<'a> {
    site: &'a Site,
    host: &'a str,
    page_url: &'a str,
    chat: Option<(&'a SupportChat, String)>,
    error: Option<&'a str>,
    customer: Option<(&'a str, &'a str)>,
    status: StatusCode,
    set_cookie: bool,
    lang: Lang,
}

async fn answer(chat: &Chat, config: &Config, f: FramePage<'_>) -> Result<Response, AppError> {
    let staffed = staffed(chat, f.site).await?;
    let history = match &f.chat {
        Some((c, _)) => Some(chat.histories.latest(&chat.db, c.conversation_id).await?),
        None => None,
    };
    let team_read = match &f.chat {
        Some((c, _)) => queries::read_marks(&chat.db, c.conversation_id).await?.team,
        None => 0,
    };
    let conversation = match (&f.chat, &history) {
        (Some((c, token)), Some(history)) => Some(FrameChat {
            chat: c,
            token,
            history,
            team_read,
        }),
        _ => None,
    };
    let markup = views::frame(Frame {
        lang: f.lang,
        site: f.site,
        host: f.host,
        page_url: f.page_url,
        staffed,
        conversation,
        error: f.error,
        customer: f.customer,
    });
    let mut resp = markup.into_response();
    resp.set_status(f.status);
    let headers = resp.headers_mut();
    if let Ok(policy) = HeaderValue::from_str(&frame_policy(f.site)) {
        headers.insert("Content-Security-Policy", policy);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let (true, Some((_, token))) = (f.set_cookie, &f.chat) {
        headers.append(
            header::SET_COOKIE,
            guest_cookie(f.site, token, config.secure_cookies),
        );
    }
    Ok(resp)
}

fn not_here() -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        "This chat may only be shown on its own site's pages.",
    )
}

/// `GET /widget/{key}`: the frame, with the visitor's conversation when their cookie
/// (or, for a customer the site vouches for, the site's proof) names one.
#[handler]
pub async fn frame(
    req: &Request,
    Data(chat): Data<&Arc<Chat>>,
    Data(config): Data<&Arc<Config>>,
    Data(signer): Data<&Arc<Signer>>,
    Path(key): Path<String>,
    Query(query): Query<FrameQuery>,
) -> Result<Response, AppError> {
    let site = site_named(chat, &key).await?;
    let Some(host) = host_of(&site, &query.host) else {
        return Ok(not_here());
    };
    let page_url = page_of(&query.page);
    let customer = customer_of(&site, &query.uid, &query.uhash);
    let kept = chat_of(
        chat,
        signer,
        &site,
        presented(req, &site, None, true).as_deref(),
    )
    .await?;
    let mut found = kept.filter(|c| belongs_to(c, customer));
    let mut set_cookie = false;
    if let Some((uid, _)) = customer {
        if found
            .as_ref()
            .is_none_or(|c| c.external_id.as_deref() != Some(uid))
        {
            if let Some(theirs) = queries::chat_of_customer(&chat.db, site.id, uid).await? {
                found = Some(theirs);
                set_cookie = true;
            }
        }
    }
    let with_token = match &found {
        Some(c) => {
            queries::seen(
                &chat.db,
                c.conversation_id,
                (!page_url.is_empty()).then_some(&page_url),
            )
            .await?;
            chat.support.changed(&chat.hub, c.conversation_id);
            let token = GuestToken {
                guest_id: c.guest_id,
                site_id: site.id,
            }
            .sign(signer);
            Some((c, token))
        }
        None => None,
    };
    answer(
        chat,
        config,
        FramePage {
            site: &site,
            host,
            page_url: &page_url,
            chat: with_token,
            error: None,
            customer,
            status: StatusCode::OK,
            set_cookie,
            lang: lang_of(req, &site),
        },
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
pub struct StartForm {
    #[serde(default)]
    body: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    page: String,
    #[serde(default)]
    host: String,
    #[serde(default)]
    uid: String,
    #[serde(default)]
    uhash: String,
}

/// An email address as a visitor types it, or why not.
fn email_of(raw: &str) -> Result<Option<String>, &'static str> {
    let email = raw.trim();
    if email.is_empty() {
        return Ok(None);
    }
    match email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email
            .split_once('@')
            .is_some_and(|(a, b)| !a.is_empty() && b.contains('.'))
    {
        true => Ok(Some(email.to_ascii_lowercase())),
        false => Err("That does not look like an email address."),
    }
}

/// A visitor's name: never a valid username (it has a space), so nobody can sign up
/// as one, or be mistaken for one in a mention.
fn guest_name() -> String {
    // 48 random bits: names stay unique (the column is) for as many visitors as come.
    let bytes: [u8; 6] = rand::random();
    format!("Visitor {}", hex::encode(bytes))
}

fn client_ip(req: &Request) -> std::net::IpAddr {
    req.remote_addr()
        .as_socket_addr()
        .map(|a| a.ip())
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

/// `POST /widget/{key}/start`: the visitor's first message, which makes their
/// account and conversation; answers the frame with the conversation, its token in
/// the page (for the frame's storage) and in the cookie.
#[handler]
pub async fn start(
    req: &Request,
    Data(chat): Data<&Arc<Chat>>,
    Data(config): Data<&Arc<Config>>,
    Data(signer): Data<&Arc<Signer>>,
    Path(key): Path<String>,
    Form(form): Form<StartForm>,
) -> Result<Response, AppError> {
    let site = site_named(chat, &key).await?;
    let Some(host) = host_of(&site, &form.host) else {
        return Ok(not_here());
    };
    if !origin_allowed(req, &config.allowed_origins, config.secure_cookies) {
        return Ok(not_here());
    }
    let page_url = page_of(&form.page);
    let customer = customer_of(&site, &form.uid, &form.uhash);
    let refuse = async |status: StatusCode, why: &str| {
        answer(
            chat,
            config,
            FramePage {
                site: &site,
                host,
                page_url: &page_url,
                chat: None,
                error: Some(why),
                customer,
                status,
                set_cookie: false,
                lang: lang_of(req, &site),
            },
        )
        .await
    };
    if !site.guests_allowed && customer.is_none() {
        return refuse(
            StatusCode::FORBIDDEN,
            "Sign in on this site to chat with us.",
        )
        .await;
    }
    let body = match MessageBody::parse(&form.body) {
        Ok(body) => body,
        Err(why) => return refuse(StatusCode::UNPROCESSABLE_ENTITY, &why.to_string()).await,
    };
    let email = match email_of(&form.email) {
        Ok(email) => email,
        Err(why) => return refuse(StatusCode::UNPROCESSABLE_ENTITY, why).await,
    };
    let existing = match customer {
        Some((uid, _)) => queries::chat_of_customer(&chat.db, site.id, uid).await?,
        None => None,
    };
    let support_chat = match existing {
        Some(found) => found,
        None => {
            if let Err(wait) = chat.limits.guest(client_ip(req)) {
                let mut resp = refuse(
                    StatusCode::TOO_MANY_REQUESTS,
                    &AppError::TooManyRequests(wait).message(),
                )
                .await?;
                if let Ok(value) = HeaderValue::from_str(&wait.seconds().to_string()) {
                    resp.headers_mut().insert(header::RETRY_AFTER, value);
                }
                return Ok(resp);
            }
            let (_, conversation_id) = queries::start_chat(
                &chat.db,
                queries::NewChat {
                    site: &site,
                    page_url: &page_url,
                    email: email.as_deref(),
                    external_id: customer.map(|(uid, _)| uid),
                    guest_name: guest_name(),
                },
            )
            .await?;
            tracing::info!(
                site = site.id,
                conversation_id,
                "visitor's conversation started"
            );
            queries::chat(&chat.db, conversation_id)
                .await?
                .ok_or(AppError::NotFound)?
        }
    };
    post_as_guest(chat, &support_chat, body).await?;
    let token = GuestToken {
        guest_id: support_chat.guest_id,
        site_id: site.id,
    }
    .sign(signer);
    answer(
        chat,
        config,
        FramePage {
            site: &site,
            host,
            page_url: &page_url,
            chat: Some((&support_chat, token)),
            error: None,
            customer,
            status: StatusCode::OK,
            set_cookie: true,
            lang: lang_of(req, &site),
        },
    )
    .await
}

/// Posts `body` to the visitor's conversation as the visitor, reopening it if it was
/// closed (a visitor who writes again has something to ask).
async fn post_as_guest(
    chat: &Chat,
    support_chat: &SupportChat,
    body: MessageBody,
) -> Result<crate::chat::Posted, AppError> {
    let conversation =
        crate::chat::queries::conversation_by_id(&chat.db, support_chat.conversation_id)
            .await?
            .ok_or(AppError::NotFound)?;
    let posted = chat
        .post(
            &conversation,
            support_chat.guest_id,
            &support_chat.guest_name,
            body,
            None,
        )
        .await?;
    let reopened = support_chat.status == "closed";
    if reopened {
        queries::set_open(&chat.db, support_chat.conversation_id, true).await?;
    }
    queries::seen(&chat.db, support_chat.conversation_id, None).await?;
    if reopened {
        chat.support
            .changed(&chat.hub, support_chat.conversation_id);
    } else {
        // The message itself tells the other processes.
        chat.support.changed_here(support_chat.conversation_id);
    }
    Ok(posted)
}

#[derive(Debug, Default, Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    guest: String,
    #[serde(default)]
    host: String,
    #[serde(default)]
    page: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    uid: String,
    #[serde(default)]
    uhash: String,
    /// How far the visitor has read (`/read`).
    #[serde(default)]
    up_to: i64,
}

/// `POST /widget/{key}/resume` (`guest`, `host`, `page`): the frame again, for a
/// visitor whose browser kept the token in the frame's storage but not the cookie.
/// A token that is not a visitor's of this site answers the start form, and the
/// frame's script forgets it.
#[handler]
pub async fn resume(
    req: &Request,
    Data(chat): Data<&Arc<Chat>>,
    Data(config): Data<&Arc<Config>>,
    Data(signer): Data<&Arc<Signer>>,
    Path(key): Path<String>,
    Form(form): Form<TokenForm>,
) -> Result<Response, AppError> {
    let site = site_named(chat, &key).await?;
    let Some(host) = host_of(&site, &form.host) else {
        return Ok(not_here());
    };
    let page_url = page_of(&form.page);
    let customer = customer_of(&site, &form.uid, &form.uhash);
    let found = chat_of(chat, signer, &site, Some(&form.guest))
        .await?
        .filter(|c| belongs_to(c, customer));
    if let Some(c) = &found {
        queries::seen(
            &chat.db,
            c.conversation_id,
            (!page_url.is_empty()).then_some(&page_url),
        )
        .await?;
        chat.support.changed(&chat.hub, c.conversation_id);
    }
    let with_token = found.as_ref().map(|c| (c, form.guest.trim().to_owned()));
    answer(
        chat,
        config,
        FramePage {
            site: &site,
            host,
            page_url: &page_url,
            chat: with_token,
            error: None,
            customer,
            status: StatusCode::OK,
            set_cookie: true,
            lang: lang_of(req, &site),
        },
    )
    .await
}

/// The visitor presenting their token in this POST, and their conversation; 404
/// (as for any conversation one may not see) without one.
async fn poster(
    req: &Request,
    chat: &Chat,
    signer: &Signer,
    site: &Site,
    form: &TokenForm,
) -> Result<SupportChat, AppError> {
    let token = presented(req, site, Some(&form.guest), false);
    chat_of(chat, signer, site, token.as_deref())
        .await?
        .ok_or(AppError::NotFound)
}

/// Back to the frame, for a plain form post.
fn back(site: &Site, form: &TokenForm) -> Response {
    let to = format!(
        "/widget/{}?host={}&page={}",
        site.key,
        percent_encoding::utf8_percent_encode(form.host.trim(), percent_encoding::NON_ALPHANUMERIC),
        percent_encoding::utf8_percent_encode(form.page.trim(), percent_encoding::NON_ALPHANUMERIC),
    );
    poem::web::Redirect::see_other(to).into_response()
}

/// `POST /widget/{key}/messages` (`body`): the visitor writes. htmx gets the
/// composer's answer (the socket brings the message); a plain form, 303 back.
#[handler]
pub async fn post_message(
    req: &Request,
    Data(chat): Data<&Arc<Chat>>,
    Data(signer): Data<&Arc<Signer>>,
    Path(key): Path<String>,
    body: Body,
) -> Result<Response, AppError> {
    let site = site_named(chat, &key).await?;
    let Form(form) = Form::<TokenForm>::from_request(req, &mut RequestBody::new(body))
        .await
        .map_err(|_| AppError::Refused("That form could not be read."))?;
    let support_chat = poster(req, chat, signer, &site, &form).await?;
    let htmx = is_htmx(req);
    let refusal = |status: StatusCode, why: String| {
        let mut resp = chat_views::composer_error(Some(&why), true).into_response();
        resp.set_status(status);
        resp
    };
    let body = match MessageBody::parse(&form.body) {
        Ok(body) => body,
        Err(why) => return Ok(refusal(StatusCode::UNPROCESSABLE_ENTITY, why.to_string())),
    };
    match post_as_guest(chat, &support_chat, body).await {
        Ok(posted) if htmx => Ok(maud::html! {
            (chat_views::refreshed(&posted.message))
            (chat_views::composer_error(None, true))
        }
        .into_response()),
        Ok(_) => Ok(back(&site, &form)),
        Err(e @ AppError::TooManyRequests(_)) => {
            Ok(refusal(StatusCode::TOO_MANY_REQUESTS, e.message()))
        }
        Err(e) => Err(e),
    }
}

/// `POST /widget/{key}/email` (`email`): where the team may write back.
#[handler]
pub async fn save_email(
    req: &Request,
    Data(chat): Data<&Arc<Chat>>,
    Data(signer): Data<&Arc<Signer>>,
    Path(key): Path<String>,
    Form(form): Form<TokenForm>,
) -> Result<Response, AppError> {
    let site = site_named(chat, &key).await?;
    let support_chat = poster(req, chat, signer, &site, &form).await?;
    let email = match email_of(&form.email) {
        Ok(Some(email)) => email,
        Ok(None) => return Err(AppError::Refused("Give an email address.")),
        Err(why) => return Err(AppError::Refused(why)),
    };
    queries::set_email(&chat.db, support_chat.conversation_id, &email).await?;
    chat.support
        .changed(&chat.hub, support_chat.conversation_id);
    if is_htmx(req) {
        let thanks = crate::i18n::text_arg(
            lang_of(req, &site),
            "widget-email-saved",
            "email",
            email.clone(),
        );
        return Ok(maud::html! {
            div #widget-email hx-swap-oob="true" { p.notice { (thanks) } }
        }
        .into_response());
    }
    Ok(back(&site, &form))
}

/// `POST /widget/{key}/read` (`up_to`): how far the visitor has read; the team's
/// pages tick their messages, here and in every process.
#[handler]
pub async fn mark_read(
    req: &Request,
    Data(chat): Data<&Arc<Chat>>,
    Data(signer): Data<&Arc<Signer>>,
    Path(key): Path<String>,
    Form(form): Form<TokenForm>,
) -> Result<StatusCode, AppError> {
    let site = site_named(chat, &key).await?;
    let support_chat = poster(req, chat, signer, &site, &form).await?;
    let conversation =
        crate::chat::queries::conversation_by_id(&chat.db, support_chat.conversation_id)
            .await?
            .ok_or(AppError::NotFound)?;
    let guest = support_chat.guest_id;
    if let Some(up_to) =
        crate::chat::unread::queries::mark_read(&chat.db, &conversation, guest, form.up_to).await?
    {
        let visitor = Ok(Some(guest));
        crate::chat::unread::push::read(
            &chat.db,
            &chat.hub,
            conversation.id,
            guest,
            up_to,
            visitor,
        )
        .await;
        chat.hub.publish(crate::live::Event::Read {
            conversation_id: conversation.id,
            user_id: guest,
            up_to,
        });
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize)]
pub struct GuestSocketQuery {
    #[serde(default)]
    guest: String,
    since: Option<i64>,
    after: Option<i64>,
}

/// `GET /widget/{key}/ws[?guest=…][&since=…|&after=…]`: the visitor's socket, on their
/// own conversation (the token names the visitor; the visitor names the
/// conversation). Only hearth's own pages, which the frame is, may open it.
#[handler]
pub async fn connect(
    req: &Request,
    Data(chat): Data<&Arc<Chat>>,
    Data(config): Data<&Arc<Config>>,
    Data(signer): Data<&Arc<Signer>>,
    Path(key): Path<String>,
    Query(query): Query<GuestSocketQuery>,
) -> Result<Response, AppError> {
    if !origin_allowed(req, &config.allowed_origins, config.secure_cookies) {
        return Ok(refuse(
            StatusCode::FORBIDDEN,
            "This socket may only be opened from hearth's own pages.",
        ));
    }
    let site = site_named(chat, &key).await?;
    let token = presented(req, &site, Some(&query.guest), true);
    let Some(support_chat) = chat_of(chat, signer, &site, token.as_deref()).await? else {
        return Ok(refuse(
            StatusCode::UNAUTHORIZED,
            "Start a conversation first.",
        ));
    };
    let conversation =
        crate::chat::queries::conversation_by_id(&chat.db, support_chat.conversation_id)
            .await?
            .ok_or(AppError::NotFound)?;
    let reader = chat_socket::Reader {
        id: support_chat.guest_id,
        name: support_chat.guest_name.clone(),
        session: None,
        visitor: true,
    };
    let cursor = chat_socket::SocketQuery::at(conversation.id, query.since, query.after);
    chat_socket::accept(req, chat, config, reader, Some(conversation), cursor).await
}
