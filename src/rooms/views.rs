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

/// The create-room form's state: what was typed and what was wrong with it.
#[derive(Default)]
pub struct CreateForm<'a> {
    pub name: &'a str,
    pub error: Option<&'a str>,
}

pub fn lobby(
    viewer: &Viewer,
    rooms: &[RoomEntry],
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
                @if rooms.is_empty() {
                    p.empty { "No rooms yet. Create the first one below." }
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
            }
            section.card {
                h2 { "Create a room" }
                form.inline-form method="post" action="/rooms" {
                    @if let Some(error) = form.error { p.form-error role="alert" { (error) } }
                    label for="room-name" { "Name" }
                    input #room-name name="name" value=(form.name) required maxlength="40" placeholder="e.g. general";
                    input type="hidden" name="csrf_token" value=(viewer.csrf_token);
                    button.primary type="submit" { "Create room" }
                }
            }
        },
    )
}
