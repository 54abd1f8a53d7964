//! The administrators' bot pages: `GET /admin/bots`; `POST /admin/bots` (`username`)
//! makes a bot and shows its first API token once; `POST /admin/bots/{name}/tokens`
//! shows another; `POST /admin/bots/{name}/webhooks` (`room`: a slug) adds the bot to
//! the room and shows a new incoming webhook's URL once; `POST
//! /admin/webhooks/{id}/delete` stops one; `POST /admin/bots/{name}/outgoing` (`url`,
//! `every=on`) sets the bot's outgoing webhook and shows its signing secret once (an
//! empty `url` removes it). Each takes [`Admin`]: 404 for anyone else.
use std::sync::Arc;

use poem::{
    IntoResponse, Request, Response, handler,
    http::{HeaderValue, StatusCode, header},
    web::{Data, Form, Path, Redirect},
};
use serde::Deserialize;

use super::{
    queries,
    views::{self, BotsPage, Made},
};
use crate::{
    accounts::Username,
    admin::Admin,
    api::tokens as api_tokens,
    chat::{self, Chat, sidebar},
    config::Config,
    error::AppError,
    rooms::Directory,
    web::Viewer,
};

/// The page, with what was just made or why it was not.
async fn render(
    chat: &Chat,
    viewer: &Viewer,
    made: Option<Made<'_>>,
    error: Option<&str>,
) -> Result<Response, AppError> {
    let bots = queries::list(&chat.db).await?;
    let webhooks = queries::webhooks(&chat.db).await?;
    let targets = super::outgoing::queries::targets(&chat.db).await?;
    let sidebar = sidebar::for_user(&chat.db, viewer.id, None).await?;
    let shows_secret = made.is_some();
    let page = views::page(
        BotsPage {
            viewer,
            bots: &bots,
            webhooks: &webhooks,
            targets: &targets,
            made,
            error,
        },
        sidebar,
        chat.hub.site_online().await,
    );
    let mut resp = page.into_response();
    if error.is_some() {
        resp.set_status(StatusCode::UNPROCESSABLE_ENTITY);
    }
    if shows_secret {
        // The secret is in this page alone: no cache may keep it.
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(resp)
}

#[handler]
pub async fn show(
    Admin(viewer): Admin,
    Data(chat): Data<&Arc<Chat>>,
) -> Result<Response, AppError> {
    render(chat, &viewer, None, None).await
}

#[derive(Debug, Deserialize)]
pub struct BotForm {
    #[serde(default)]
    username: String,
}

#[handler]
pub async fn create(
    Admin(viewer): Admin,
    Data(chat): Data<&Arc<Chat>>,
    Form(form): Form<BotForm>,
) -> Result<Response, AppError> {
    let name = match Username::parse_new(form.username.trim()) {
        Ok(name) => name,
        Err(why) => return render(chat, &viewer, None, Some(why)).await,
    };
    if crate::admin::people::named(&chat.db, name.as_str())
        .await?
        .is_some()
    {
        let taken = "That username is taken; choose another.";
        return render(chat, &viewer, None, Some(taken)).await;
    }
    let bot_id = queries::make(&chat.db, &name).await?;
    let token = made_token(chat, bot_id).await?;
    tracing::info!(by = viewer.id, bot_id, "bot made");
    let made = Made::Token {
        bot: name.as_str(),
        token: &token,
    };
    render(chat, &viewer, Some(made), None).await
}

async fn made_token(chat: &Chat, bot_id: i64) -> Result<String, AppError> {
    match api_tokens::make(&chat.db, bot_id, "bot").await {
        Ok(token) => Ok(token),
        Err(api_tokens::MakeError::TooMany) => Err(AppError::Refused(
            "This bot has as many tokens as an account may hold.",
        )),
        Err(api_tokens::MakeError::Db(e)) => Err(e.into()),
    }
}

/// The bot called `name`, or 404.
async fn bot_named(chat: &Chat, name: &str) -> Result<(i64, Username), AppError> {
    let name = Username::parse(name).map_err(|_| AppError::NotFound)?;
    let id = queries::named(&chat.db, &name)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((id, name))
}

#[handler]
pub async fn new_token(
    Admin(viewer): Admin,
    Data(chat): Data<&Arc<Chat>>,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    let (bot_id, name) = bot_named(chat, &name).await?;
    let token = made_token(chat, bot_id).await?;
    tracing::info!(by = viewer.id, bot_id, "bot token made");
    let made = Made::Token {
        bot: name.as_str(),
        token: &token,
    };
    render(chat, &viewer, Some(made), None).await
}

#[derive(Debug, Deserialize)]
pub struct WebhookForm {
    #[serde(default)]
    room: String,
}

#[handler]
pub async fn make_webhook(
    req: &Request,
    Admin(viewer): Admin,
    Data(chat): Data<&Arc<Chat>>,
    Data(rooms): Data<&Arc<Directory>>,
    Data(config): Data<&Arc<Config>>,
    Path(name): Path<String>,
    Form(form): Form<WebhookForm>,
) -> Result<Response, AppError> {
    let (bot_id, _) = bot_named(chat, &name).await?;
    let slug = form.room.trim().trim_start_matches('#');
    let Some(room) = rooms.find(&chat.db, slug).await? else {
        let why = "There is no room with that name: give its slug, as in /rooms/{slug}.";
        return render(chat, &viewer, None, Some(why)).await;
    };
    if chat::queries::join(&chat.db, room.id, bot_id).await? {
        chat.membership_changed(room.id);
    }
    let secret = queries::make_webhook(&chat.db, bot_id, room.id).await?;
    tracing::info!(
        by = viewer.id,
        bot_id,
        room = room.id,
        "incoming webhook made"
    );
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let scheme = if config.secure_cookies {
        "https"
    } else {
        "http"
    };
    let url = format!("{scheme}://{host}{}", super::hooks::path(&secret));
    let made = Made::Webhook {
        room: &room.name,
        url: &url,
    };
    render(chat, &viewer, Some(made), None).await
}

#[handler]
pub async fn delete_webhook(
    Admin(viewer): Admin,
    Data(chat): Data<&Arc<Chat>>,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    if !queries::delete_webhook(&chat.db, id).await? {
        return Err(AppError::NotFound);
    }
    tracing::info!(by = viewer.id, webhook = id, "incoming webhook deleted");
    Ok(Redirect::see_other("/admin/bots").into_response())
}

#[derive(Debug, Deserialize)]
pub struct OutgoingForm {
    #[serde(default)]
    url: String,
    #[serde(default)]
    every: String,
}

#[handler]
pub async fn set_outgoing(
    Admin(viewer): Admin,
    Data(chat): Data<&Arc<Chat>>,
    Data(config): Data<&Arc<Config>>,
    Path(name): Path<String>,
    Form(form): Form<OutgoingForm>,
) -> Result<Response, AppError> {
    let (bot_id, name) = bot_named(chat, &name).await?;
    let url = form.url.trim();
    if url.is_empty() {
        super::outgoing::queries::remove(&chat.db, bot_id).await?;
        return Ok(Redirect::see_other("/admin/bots").into_response());
    }
    let allow_private = config.webhooks.allow_private_targets;
    if let Err(why) = crate::push::endpoint::check(url, allow_private).await {
        let why = if why.contains("private") {
            "hearth does not call addresses on private networks: give a public https:// URL."
        } else {
            "Give the outgoing webhook a public https:// URL, without a user name or password."
        };
        return render(chat, &viewer, None, Some(why)).await;
    }
    let every = form.every == "on";
    let secret = super::outgoing::queries::set(&chat.db, bot_id, url, every).await?;
    tracing::info!(by = viewer.id, bot_id, "outgoing webhook set");
    let made = Made::Secret {
        bot: name.as_str(),
        secret: &secret,
    };
    render(chat, &viewer, Some(made), None).await
}
