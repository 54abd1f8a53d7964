//! The lobby.
use maud::{Markup, html};

use crate::{
    chat::{Conversation, views::relative_time},
    live::presence::room_online,
    web::{
        Viewer,
        layout::{self, Page},
    },
};

pub struct RoomEntry {
    pub room: Conversation,
    pub online: usize,
}

/// Where the list of rooms is: its filter and page.
pub struct Paging<'a> {
    pub filter: &'a str,
    pub page: u64,
    pub more: bool,
}

impl Paging<'_> {
    /// The lobby's URL for page `page` of this filter.
    fn url(&self, page: u64) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        if !self.filter.is_empty() {
            query.append_pair("q", self.filter);
        }
        if page > 1 {
            query.append_pair("page", &page.to_string());
        }
        let query = query.finish();
        if query.is_empty() {
            "/".to_owned()
        } else {
            format!("/?{query}")
        }
    }
}

/// The create-room form's state: what was typed and what was wrong with it.
#[derive(Default)]
pub struct CreateForm<'a> {
    pub name: &'a str,
    pub error: Option<&'a str>,
    /// Whether the viewer may create rooms (administrators may keep it to themselves).
    pub may_create: bool,
}

pub fn lobby(
    viewer: &Viewer,
    rooms: &[RoomEntry],
    paging: Paging<'_>,
    site_online: usize,
    form: CreateForm<'_>,
    sidebar: layout::Sidebar,
) -> Markup {
    let page = Page::signed_in("Lobby", viewer, "lobby", sidebar, site_online);
    layout::render(
        page,
        html! {
            section.card {
                h1 { "Rooms" }
                form.inline-form method="get" action="/" role="search" {
                    label for="rooms-q" { "Find a room" }
                    input #rooms-q type="search" name="q" value=(paging.filter) maxlength="40" placeholder="Part of its name";
                    button type="submit" { "Search" }
                }
                @if rooms.is_empty() {
                    @if !paging.filter.is_empty() {
                        p.empty { "No room's name contains “" (paging.filter) "”." }
                    } @else if paging.page > 1 {
                        p.empty { "No more rooms." }
                    } @else {
                        p.empty { "No rooms yet. Create the first one below." }
                    }
                }
                ul #rooms.room-list {
                    @for entry in rooms {
                        li.room {
                            a href=(crate::chat::room_path(entry.room.slug.as_deref().unwrap_or_default())) dir="auto" { "#" (entry.room.name) }
                            " "
                            (room_online(entry.room.id, entry.online, false))
                            " "
                            span.room-meta.muted { "active " (relative_time(entry.room.last_activity_at)) }
                        }
                    }
                }
                @if paging.page > 1 || paging.more {
                    nav.pager aria-label="More rooms" {
                        @if paging.page > 1 {
                            a rel="prev" href=(paging.url(paging.page - 1)) { "← Newer" }
                            " "
                        }
                        @if paging.more {
                            a rel="next" href=(paging.url(paging.page + 1)) { "Older →" }
                        }
                    }
                }
            }
            @if !form.may_create {
                section.card {
                    h2 { "Create a room" }
                    p.muted #rooms-by-admins { "Here, administrators create the rooms." }
                }
            } @else {
            section.card {
                h2 { "Create a room" }
                form.inline-form method="post" action="/rooms" {
                    @if let Some(error) = form.error { p.form-error role="alert" { (error) } }
                    label for="room-name" { "Name" }
                    input #room-name name="name" value=(form.name) required maxlength="40" placeholder="e.g. general";
                    label.check {
                        input type="checkbox" name="visibility" value="private";
                        " Private: only the people its members add can find and read it"
                    }
                    input type="hidden" name="csrf_token" value=(viewer.csrf_token);
                    button.primary type="submit" { "Create room" }
                }
            }
            }
        },
    )
}
