//! The administrators' sites: `GET /admin/sites`; `POST /admin/sites` (`name`,
//! `origins` one a line, and how the widget looks and speaks) makes a site and shows
//! its key (`id="site-key"`) and snippet; `POST /admin/sites/{key}/operators`
//! (`username`) makes someone an operator. Each takes [`Admin`]: 404 for anyone else.
use std::sync::Arc;

use poem::{
    IntoResponse, Request, Response, handler,
    http::{HeaderValue, StatusCode, header},
    web::{Data, Form, Path, Redirect},
};
use serde::Deserialize;

use super::{
    queries::{self, Site},
    views::{self, ListedSite, Made},
};
use crate::{
    accounts::Username,
    admin::Admin,
    chat::{Chat, sidebar},
    config::Config,
    error::AppError,
    web::Viewer,
};

/// Origins one site may list at most.
const ORIGINS: usize = 20;

async fn render(
    chat: &Chat,
    viewer: &Viewer,
    made: Option<Made<'_>>,
    error: Option<&str>,
) -> Result<Response, AppError> {
    let mut listed = Vec::new();
    for site in queries::sites(&chat.db).await? {
        let operators = queries::operators(&chat.db, site.id).await?;
        listed.push(ListedSite { site, operators });
    }
    let sidebar = sidebar::for_user(&chat.db, viewer.id, None).await?;
    let shows_secret = made.is_some();
    let page = views::sites_page(
        viewer,
        &listed,
        made,
        error,
        sidebar,
        chat.hub.site_online().await,
    );
    let mut resp = page.into_response();
    if error.is_some() {
        resp.set_status(StatusCode::UNPROCESSABLE_ENTITY);
    }
    if shows_secret {
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

#[derive(Debug, Default, Deserialize)]
pub struct SiteForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    origins: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    color: String,
    #[serde(default)]
    position: String,
    #[serde(default)]
    theme: String,
    #[serde(default)]
    language: String,
    #[serde(default)]
    guests: String,
    #[serde(default)]
    greeting: String,
    #[serde(default)]
    away_message: String,
}

/// `raw` as an origin (`scheme://host[:port]`, lower case), or why not.
pub fn parse_origin(raw: &str) -> Result<String, &'static str> {
    let url = url::Url::parse(raw.trim())
        .map_err(|_| "Each origin is a web address such as https://shop.example.")?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("Each origin is a web address such as https://shop.example.");
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err("An origin has no path: https://shop.example, not https://shop.example/page.");
    }
    Ok(url.origin().ascii_serialization())
}

/// The form as a site, or what is wrong with it.
fn site_of(form: &SiteForm) -> Result<Site, &'static str> {
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return Err("Give the site a name of at most 80 characters.");
    }
    let mut origins = Vec::new();
    for line in form.origins.lines().filter(|l| !l.trim().is_empty()) {
        let origin = parse_origin(line)?;
        if !origins.contains(&origin) {
            origins.push(origin);
        }
    }
    if origins.is_empty() {
        return Err("List at least one origin the site's pages are on.");
    }
    if origins.len() > ORIGINS {
        return Err("A site lists at most 20 origins.");
    }
    let color = form.color.trim();
    let color = match color.is_empty() {
        true => "#d9582b".to_owned(),
        false
            if color.len() == 7
                && color.starts_with('#')
                && color[1..].chars().all(|c| c.is_ascii_hexdigit()) =>
        {
            color.to_ascii_lowercase()
        }
        false => return Err("The colour is #rrggbb."),
    };
    let pick = |raw: &str, allowed: &[&'static str]| -> &'static str {
        allowed
            .iter()
            .find(|a| **a == raw.trim())
            .copied()
            .unwrap_or(allowed[0])
    };
    let text = |raw: &str, fallback: &str| -> String {
        let clean = crate::chat::invisible::strip(raw.trim());
        let clean: String = clean.chars().take(500).collect();
        match clean.is_empty() {
            true => fallback.to_owned(),
            false => clean,
        }
    };
    Ok(Site {
        id: 0,
        key: crate::secret_token::random(16),
        name: name.to_owned(),
        origins,
        title: text(&form.title, "Chat with us"),
        color,
        position: pick(&form.position, &["right", "left"]).to_owned(),
        theme: pick(&form.theme, &["auto", "light", "dark"]).to_owned(),
        guests_allowed: form.guests == "on",
        greeting: text(&form.greeting, "Hi! How can we help?"),
        away_message: text(
            &form.away_message,
            "Nobody is online right now. Leave your email and we will write back.",
        ),
        language: pick(&form.language, &["auto", "en", "fa"]).to_owned(),
        identity_secret: crate::secret_token::random(16),
        created_at: 0,
    })
}

/// This server's own origin, as the request names it.
pub fn own_origin(req: &Request, config: &Config) -> String {
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
    format!("{scheme}://{host}")
}

#[handler]
pub async fn create(
    req: &Request,
    Admin(viewer): Admin,
    Data(chat): Data<&Arc<Chat>>,
    Data(config): Data<&Arc<Config>>,
    Form(form): Form<SiteForm>,
) -> Result<Response, AppError> {
    let site = match site_of(&form) {
        Ok(site) => site,
        Err(why) => return render(chat, &viewer, None, Some(why)).await,
    };
    let site = queries::create_site(&chat.db, &site).await?;
    tracing::info!(by = viewer.id, site = site.id, "support site made");
    let made = Made {
        snippet: views::snippet(&own_origin(req, config), &site),
        site: &site,
    };
    render(chat, &viewer, Some(made), None).await
}

#[derive(Debug, Deserialize)]
pub struct OperatorForm {
    #[serde(default)]
    username: String,
}

#[handler]
pub async fn add_operator(
    Admin(viewer): Admin,
    Data(chat): Data<&Arc<Chat>>,
    Path(key): Path<String>,
    Form(form): Form<OperatorForm>,
) -> Result<Response, AppError> {
    let site = queries::site_by_key(&chat.db, &key)
        .await?
        .ok_or(AppError::NotFound)?;
    let person = match Username::parse(&form.username) {
        Ok(name) => crate::admin::people::named(&chat.db, name.as_str()).await?,
        Err(_) => None,
    };
    let Some(person) = person.filter(|p| !p.is_bot && !p.is_guest && p.deactivated_at.is_none())
    else {
        return render(
            chat,
            &viewer,
            None,
            Some("There is nobody with that name on hearth."),
        )
        .await;
    };
    queries::add_operator(&chat.db, site.id, person.id).await?;
    tracing::info!(
        by = viewer.id,
        site = site.id,
        operator = person.id,
        "operator added"
    );
    Ok(Redirect::see_other("/admin/sites").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_origin_is_a_scheme_and_a_host_and_nothing_more() {
        assert_eq!(
            parse_origin("https://Shop.Example").as_deref(),
            Ok("https://shop.example")
        );
        assert_eq!(
            parse_origin("http://127.0.0.1:8081/").as_deref(),
            Ok("http://127.0.0.1:8081")
        );
        assert!(parse_origin("https://shop.example/page").is_err());
        assert!(parse_origin("javascript:alert(1)").is_err());
        assert!(parse_origin("shop.example").is_err());
    }
}
