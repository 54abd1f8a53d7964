//! Canned replies: the answers a site's operators keep ready. `GET /inbox/replies`
//! lists them per site with a form to add one; `POST /inbox/replies` (`site`,
//! `shortcut`, `body`) adds one, `POST /inbox/replies/{id}/delete` removes it, each
//! 303 back. In a visitor's conversation the composer calls them up by typing `/`
//! and the shortcut (`assets/js/canned.js`); without scripts they are listed under
//! it to copy.
//!
//! It must not let anyone but the site's operators read or change a site's replies:
//! every path resolves the site from the operator's own sites.
use std::sync::Arc;

use maud::{Markup, html};
use poem::{
    IntoResponse, Request, Response, handler,
    web::{Data, Form, Path, Redirect},
};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, SqlErr};
use serde::Deserialize;

use super::{Site, queries};
use crate::{
    chat::sidebar,
    db::{now_ms, statement},
    error::AppError,
    i18n::{Lang, text, text_arg},
    web::{
        Viewer,
        layout::{self, Page},
    },
};

/// Replies a site keeps at most, so the list the composer carries stays small.
pub const PER_SITE: usize = 200;
/// The longest reply, in characters.
pub const BODY_MAX: usize = 4000;

/// One reply: `/shortcut` calls up `body`.
#[derive(Clone, Debug)]
pub struct CannedReply {
    pub id: i64,
    pub site_id: i64,
    pub shortcut: String,
    pub body: String,
}

/// The replies of `site_id`, by shortcut.
pub async fn of_site(db: &DatabaseConnection, site_id: i64) -> Result<Vec<CannedReply>, DbErr> {
    let rows = db
        .query_all_raw(statement(
            db,
            "SELECT id, site_id, shortcut, body FROM canned_replies WHERE site_id = ? \
             ORDER BY shortcut LIMIT ?",
            [site_id.into(), (PER_SITE as i64).into()],
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(CannedReply {
                id: r.try_get("", "id")?,
                site_id: r.try_get("", "site_id")?,
                shortcut: r.try_get("", "shortcut")?,
                body: r.try_get("", "body")?,
            })
        })
        .collect()
}

/// A shortcut as typed, when it is one: 1 to 32 letters, digits, `-` or `_`, kept
/// in lower case so that `/Refund` and `/refund` are the same reply.
pub fn shortcut(typed: &str) -> Option<String> {
    let s = typed.trim().trim_start_matches('/').to_ascii_lowercase();
    let fits = (1..=32).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    fits.then_some(s)
}

async fn page(viewer: &Viewer, chat: &crate::chat::Chat, lang: Lang) -> Result<Markup, AppError> {
    let sites = queries::sites_of_operator(&chat.db, viewer.id).await?;
    let mut listed = Vec::with_capacity(sites.len());
    for site in sites {
        let replies = of_site(&chat.db, site.id).await?;
        listed.push((site, replies));
    }
    let sidebar = sidebar::for_user(&chat.db, viewer.id, None).await?;
    let title = text(lang, "canned-title");
    let page = Page::signed_in(
        &title,
        viewer,
        "inbox",
        sidebar,
        chat.hub.site_online().await,
    );
    Ok(layout::render_in(
        page,
        lang,
        replies_view(viewer, &listed, lang),
    ))
}

#[handler]
pub async fn show(
    req: &Request,
    viewer: Viewer,
    Data(chat): Data<&Arc<crate::chat::Chat>>,
) -> Result<Response, AppError> {
    let lang = super::inbox::viewer_lang(req);
    Ok(page(&viewer, chat, lang).await?.into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct NewReply {
    #[serde(default)]
    site: String,
    #[serde(default)]
    shortcut: String,
    #[serde(default)]
    body: String,
}

/// The site keyed `key`, when `viewer` answers for it; 404 otherwise.
async fn operated_site(
    chat: &crate::chat::Chat,
    viewer: &Viewer,
    key: &str,
) -> Result<Site, AppError> {
    queries::sites_of_operator(&chat.db, viewer.id)
        .await?
        .into_iter()
        .find(|s| s.key == key)
        .ok_or(AppError::NotFound)
}

#[handler]
pub async fn create(
    viewer: Viewer,
    Data(chat): Data<&Arc<crate::chat::Chat>>,
    Form(form): Form<NewReply>,
) -> Result<Response, AppError> {
    let site = operated_site(chat, &viewer, form.site.trim()).await?;
    let shortcut = shortcut(&form.shortcut).ok_or(AppError::Refused(
        "A shortcut is 1 to 32 letters, digits, - or _.",
    ))?;
    let body = crate::chat::invisible::strip(&form.body);
    let body = body.trim();
    if body.is_empty() || body.chars().count() > BODY_MAX {
        return Err(AppError::Refused(
            "A canned reply says something, in at most 4,000 characters.",
        ));
    }
    if of_site(&chat.db, site.id).await?.len() >= PER_SITE {
        return Err(AppError::Refused(
            "A site keeps at most 200 canned replies.",
        ));
    }
    let db = &chat.db;
    let inserted = db
        .execute_raw(statement(
            db,
            "INSERT INTO canned_replies (site_id, shortcut, body, created_at) VALUES (?, ?, ?, ?)",
            [
                site.id.into(),
                shortcut.into(),
                body.into(),
                now_ms().into(),
            ],
        ))
        .await;
    match inserted {
        Ok(_) => Ok(Redirect::see_other("/inbox/replies").into_response()),
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => Err(
            AppError::Conflict("That shortcut is already a reply of this site."),
        ),
        Err(e) => Err(e.into()),
    }
}

#[handler]
pub async fn delete(
    viewer: Viewer,
    Data(chat): Data<&Arc<crate::chat::Chat>>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    let db = &chat.db;
    // Only a reply of a site the viewer answers for goes; anything else is unknown.
    let removed = db
        .execute_raw(statement(
            db,
            "DELETE FROM canned_replies WHERE id = ? AND site_id IN \
             (SELECT site_id FROM site_operators WHERE user_id = ?)",
            [id.into(), viewer.id.into()],
        ))
        .await?;
    if removed.rows_affected() == 0 {
        return Err(AppError::NotFound);
    }
    Ok(Redirect::see_other("/inbox/replies").into_response())
}

fn replies_view(viewer: &Viewer, listed: &[(Site, Vec<CannedReply>)], lang: Lang) -> Markup {
    let t = |id: &str| text(lang, id);
    html! {
        section.card #canned-replies-admin {
            h1 { (t("canned-title")) }
            p { a href="/inbox" { (t("inbox-back")) } }
            @if listed.is_empty() {
                p { (t("inbox-no-site")) }
            } @else {
                p.hint { (t("canned-hint")) }
                form #canned-new method="post" action="/inbox/replies" {
                    input type="hidden" name="csrf_token" value=(viewer.csrf_token);
                    label for="canned-site" { (t("canned-site")) }
                    select #canned-site name="site" {
                        @for (site, _) in listed { option value=(site.key) { (site.name) } }
                    }
                    label for="canned-shortcut" { (t("canned-shortcut")) }
                    input #canned-shortcut name="shortcut" required maxlength="33" pattern="/?[A-Za-z0-9_-]{1,32}" placeholder="refund";
                    label for="canned-body" { (t("canned-reply")) }
                    textarea #canned-body name="body" rows="3" required maxlength=(BODY_MAX) dir="auto" {}
                    button.primary type="submit" { (t("canned-add")) }
                }
            }
            @for (site, replies) in listed {
                h2 { (site.name) }
                @if replies.is_empty() { p.hint { (t("canned-none")) } }
                ul.canned-list {
                    @for reply in replies {
                        li #{ "canned-" (reply.id) } {
                            code dir="ltr" { "/" (reply.shortcut) } " "
                            span dir="auto" { (reply.body) }
                            form.inline-form method="post" action={ "/inbox/replies/" (reply.id) "/delete" } {
                                input type="hidden" name="csrf_token" value=(viewer.csrf_token);
                                button type="submit" aria-label=(text_arg(lang, "canned-delete-named", "shortcut", reply.shortcut.clone())) { (t("canned-delete")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The replies a conversation's composer can call up: listed to copy without
/// scripts, read by `canned.js` (one of every page's scripts) from their data
/// attributes with them.
pub fn picker(replies: &[CannedReply], lang: Lang) -> Markup {
    html! {
        details #canned-replies.canned-replies lang=(lang.code()) dir=(lang.dir()) {
            summary { (text_arg(lang, "canned-picker", "count", replies.len().to_string())) }
            @if replies.is_empty() {
                p.hint { (text(lang, "canned-picker-none")) " " a href="/inbox/replies" { (text(lang, "canned-picker-add")) } "." }
            }
            ul.canned-list {
                @for reply in replies {
                    li.canned-reply data-shortcut=(reply.shortcut) data-body=(reply.body) {
                        code dir="ltr" { "/" (reply.shortcut) } " " span dir="auto" { (reply.body) }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::shortcut;

    #[test]
    fn a_shortcut_is_a_short_plain_word() {
        assert_eq!(shortcut("/Refund").as_deref(), Some("refund"));
        assert_eq!(shortcut(" hours_2 ").as_deref(), Some("hours_2"));
        assert_eq!(shortcut(""), None);
        assert_eq!(shortcut("/"), None);
        assert_eq!(shortcut("two words"), None);
        assert_eq!(shortcut(&"x".repeat(33)), None);
    }
}
