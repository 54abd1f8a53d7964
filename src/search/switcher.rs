//! The quick switcher (`GET /switcher?q=`): the rooms and people whose names hold what
//! was typed, as a list box that `switcher.js` shows in its dialog (Ctrl+K) and walks
//! with the arrow keys; a plain load is a page of the same links.
//!
//! It offers only places the viewer may open: every public room and the private rooms they are in, and a
//! private chat with anyone.
use maud::{Markup, html};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};

use crate::{
    accounts::Username,
    chat::room_path,
    db,
    web::{
        Viewer,
        layout::{self, Page},
    },
};

/// Rooms, and people, one list offers at most.
const OFFERED: i64 = 8;
/// The longest name looked for (room names and usernames are shorter).
const MAX_TYPED: usize = 64;

/// A place to go: what it is called and where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    pub label: String,
    pub url: String,
    pub kind: &'static str,
}

/// The rooms whose name or slug holds `q` (the most active first) and the people whose
/// names start with it, the viewer left out. With nothing typed, the rooms alone.
pub async fn destinations(
    db: &DatabaseConnection,
    viewer_id: i64,
    q: &str,
) -> Result<Vec<Destination>, DbErr> {
    let q = q.trim().trim_start_matches(['#', '@']).to_lowercase();
    // No name holds a control character (and PostgreSQL refuses NUL in text).
    if q.chars().count() > MAX_TYPED || q.chars().any(char::is_control) {
        return Ok(Vec::new());
    }
    let escaped = q
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    let rows = db
        .query_all_raw(db::statement(
            db,
            "SELECT name, slug FROM conversations c WHERE kind = 'room' \
               AND (visibility <> 'private' OR EXISTS (SELECT 1 FROM memberships m \
                    WHERE m.conversation_id = c.id AND m.user_id = ?)) \
               AND (LOWER(name) LIKE ? ESCAPE '\\' OR slug LIKE ? ESCAPE '\\') \
             ORDER BY last_activity_at DESC, id DESC LIMIT ?",
            [
                viewer_id.into(),
                format!("%{escaped}%").into(),
                format!("%{escaped}%").into(),
                OFFERED.into(),
            ],
        ))
        .await?;
    let mut found = Vec::with_capacity(rows.len());
    for row in &rows {
        let slug: Option<String> = row.try_get("", "slug")?;
        found.push(Destination {
            label: format!("#{}", row.try_get::<String>("", "name")?),
            url: room_path(slug.as_deref().unwrap_or_default()),
            kind: "room",
        });
    }
    // Only what a username can hold can start one: anything else finds nobody, unasked.
    let person = !q.is_empty()
        && q.len() <= Username::MAX
        && q.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if person {
        let rows = db
            .query_all_raw(db::statement(
                db,
                "SELECT username FROM users WHERE username_key LIKE ? ESCAPE '\\' AND id <> ? \
                 AND NOT is_guest ORDER BY username_key LIMIT ?",
                [
                    format!("{escaped}%").into(),
                    viewer_id.into(),
                    OFFERED.into(),
                ],
            ))
            .await?;
        for row in &rows {
            let name: String = row.try_get("", "username")?;
            found.push(Destination {
                label: format!("@{name}"),
                url: format!("/dm/{name}"),
                kind: "person",
            });
        }
    }
    Ok(found)
}

/// The list box of `found`, its first option chosen.
pub fn options(found: &[Destination]) -> Markup {
    html! {
        @if found.is_empty() {
            p #switcher-none.switcher-none role="status" { "No room or person by that name" }
        } @else {
            ul #switcher-options.switcher-options role="listbox" aria-label="Rooms and people" {
                @for (i, place) in found.iter().enumerate() {
                    li role="option" id={ "switcher-option-" (i) } data-kind=(place.kind)
                        aria-selected=(if i == 0 { "true" } else { "false" }) {
                        a href=(place.url) dir="auto" tabindex="-1" { (place.label) }
                    }
                }
            }
        }
    }
}

/// `GET /switcher` loaded as a page: the form and the list.
pub fn page(
    viewer: &Viewer,
    q: &str,
    found: &[Destination],
    site_online: usize,
    sidebar: layout::Sidebar,
) -> Markup {
    let page = Page::signed_in("Jump to", viewer, "page", sidebar, site_online);
    layout::render(
        page,
        html! {
            section.card {
                h1 { "Jump to a room or a person" }
                form.search-form method="get" action="/switcher" {
                    label for="switcher-page-q" { "Name" }
                    input #switcher-page-q type="search" name="q" value=(q) maxlength="64" dir="auto";
                    button type="submit" { "Find" }
                }
                (options(found))
            }
        },
    )
}
