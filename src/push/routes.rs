//! The push URLs a page uses (`GET /push/key`, `POST /push/subscriptions`,
//! `POST /push/subscriptions/delete`) and what makes hearth an installable app: the
//! service worker at `/sw.js` (its scope is the whole site, so it is served from the
//! root), `/manifest.webmanifest` and the `/offline` page the worker shows when the
//! network is gone.
use std::sync::Arc;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use maud::html;
use poem::{
    IntoResponse, Request, Response, handler,
    http::{StatusCode, header},
    web::Data,
};
use serde::Deserialize;
use web_push_native::p256::PublicKey;

use super::{Pusher, endpoint, queries};
use crate::{
    assets,
    config::Config,
    error::AppError,
    web::{Viewer, layout},
};

/// `GET /push/key`: the public key browsers subscribe with.
#[handler]
pub fn key(Data(pusher): Data<&Pusher>) -> Response {
    Response::builder()
        .content_type("text/plain; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(pusher.public_key().to_owned())
}

/// A browser's subscription as `PushSubscription.toJSON()` gives it, or as form fields.
#[derive(Debug, Default, Deserialize)]
pub struct SubscriptionForm {
    #[serde(default)]
    endpoint: String,
    #[serde(default)]
    keys: Option<Keys>,
    #[serde(default)]
    p256dh: String,
    #[serde(default)]
    auth: String,
}

#[derive(Debug, Default, Deserialize)]
struct Keys {
    #[serde(default)]
    p256dh: String,
    #[serde(default)]
    auth: String,
}

async fn read_form(req: &Request, body: poem::Body) -> Result<SubscriptionForm, AppError> {
    let body = body
        .into_bytes_limit(8 * 1024)
        .await
        .map_err(|_| AppError::PayloadTooLarge)?;
    let is_json = req
        .header(header::CONTENT_TYPE)
        .is_some_and(|t| t.starts_with("application/json"));
    let mut form: SubscriptionForm = if is_json {
        serde_json::from_slice(&body)
            .map_err(|_| AppError::Refused("The subscription is not JSON a browser gives."))?
    } else {
        form_fields(&body)
    };
    if let Some(keys) = form.keys.take() {
        form.p256dh = keys.p256dh;
        form.auth = keys.auth;
    }
    Ok(form)
}

fn form_fields(body: &[u8]) -> SubscriptionForm {
    let mut form = SubscriptionForm::default();
    for (k, v) in form_urlencoded::parse(body) {
        match &*k {
            "endpoint" => form.endpoint = v.into_owned(),
            "p256dh" => form.p256dh = v.into_owned(),
            "auth" => form.auth = v.into_owned(),
            _ => {}
        }
    }
    form
}

/// `POST /push/subscriptions`: this browser takes the viewer's pushes. 201 when stored,
/// 422 with why for an endpoint that is not public HTTPS or keys that are not a
/// browser's.
#[handler]
pub async fn subscribe(
    req: &Request,
    body: poem::Body,
    viewer: Viewer,
    Data(pusher): Data<&Pusher>,
    Data(config): Data<&Arc<Config>>,
    Data(db): Data<&sea_orm::DatabaseConnection>,
) -> Result<Response, AppError> {
    let form = read_form(req, body).await?;
    let allow_private = config.push.allow_private_endpoints;
    let endpoint = endpoint::check(form.endpoint.trim(), allow_private)
        .await
        .map_err(AppError::Refused)?;
    let p256dh = form.p256dh.trim();
    let auth = form.auth.trim();
    let public_ok = URL_SAFE_NO_PAD
        .decode(p256dh)
        .ok()
        .is_some_and(|raw| raw.len() == 65 && PublicKey::from_sec1_bytes(&raw).is_ok());
    if !public_ok {
        return Err(AppError::Refused(
            "The subscription's p256dh key is not a P-256 public key.",
        ));
    }
    if URL_SAFE_NO_PAD.decode(auth).map(|a| a.len()).ok() != Some(16) {
        return Err(AppError::Refused(
            "The subscription's auth secret is not 16 bytes.",
        ));
    }
    queries::store(db, viewer.id, endpoint.as_str(), p256dh, auth).await?;
    pusher.subscribed();
    Ok(StatusCode::CREATED.into_response())
}

/// `POST /push/subscriptions/delete` (`endpoint`): this browser no longer takes pushes.
#[handler]
pub async fn unsubscribe(
    req: &Request,
    body: poem::Body,
    viewer: Viewer,
    Data(db): Data<&sea_orm::DatabaseConnection>,
) -> Result<Response, AppError> {
    let form = read_form(req, body).await?;
    queries::forget(db, viewer.id, form.endpoint.trim()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /sw.js`: the service worker, with the offline page's stylesheet named so it can
/// be kept for when the network is gone.
#[handler]
pub fn service_worker() -> Response {
    let script = assets::text("sw.js")
        .unwrap_or_default()
        .replace("__APP_CSS__", &assets::url("app.css"))
        .replace("__ICON__", &assets::url("icons/hearth-192.png"));
    Response::builder()
        .content_type("text/javascript; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(script)
}

/// `GET /manifest.webmanifest`: what an installed hearth is called and looks like.
#[handler]
pub fn manifest() -> Response {
    let manifest = serde_json::json!({
        "name": "hearth",
        "short_name": "hearth",
        "description": "Rooms and private chats, live.",
        "id": "/",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "background_color": "#fffaf5",
        "theme_color": "#d9582b",
        "icons": [
            { "src": assets::url("icons/hearth-192.png"), "sizes": "192x192", "type": "image/png" },
            { "src": assets::url("icons/hearth-512.png"), "sizes": "512x512", "type": "image/png" },
            { "src": assets::url("icons/hearth-maskable-512.png"), "sizes": "512x512", "type": "image/png", "purpose": "maskable" },
            { "src": assets::url("favicon.svg"), "sizes": "any", "type": "image/svg+xml" }
        ]
    });
    Response::builder()
        .content_type("application/manifest+json")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(manifest.to_string())
}

/// `GET /offline`: what the service worker shows for a page when the network is gone.
#[handler]
pub fn offline() -> impl IntoResponse {
    let page = layout::Page {
        title: "Offline",
        viewer: None,
        live_url: None,
        main_class: "error-page",
        conversation: None,
        sidebar: None,
        site_online: None,
        first_unread: None,
    };
    layout::render(
        page,
        html! {
            section.card #offline {
                h1 { "You are offline" }
                p { "hearth cannot be reached from here right now. Messages sent to you meanwhile are kept; they show up as soon as you are back." }
                p.error-ways { a href="/" { "Try again" } }
            }
        },
    )
}
