//! The fragments that carry events to pages: `.live-event`s appended to the page's
//! `#live-events`, which `assets/js/events.js` turns into `hearth:{type}` DOM events.
use maud::{Markup, html};

use super::AppEvent;

/// `events`, in order, as one fragment for every recipient.
pub fn fragment(events: &[AppEvent]) -> Markup {
    html! {
        div hx-swap-oob="beforeend:#live-events" {
            @for event in events {
                div.live-event data-event="app" data-id=(event.id) data-type=(event.kind)
                    data-detail=(event.detail) {}
            }
        }
    }
}

/// Where a page that connected without a cursor starts: after event `latest`.
pub fn cursor(latest: i64) -> Markup {
    html! {
        div hx-swap-oob="beforeend:#live-events" {
            div.live-event data-event="events-cursor" data-id=(latest) {}
        }
    }
}
