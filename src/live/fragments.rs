//! The one fragment the hub sends every page that is not about a conversation.
use maud::{Markup, html};

/// The site-wide banner: empty, or saying the database is out of reach.
pub fn site_banner(database_reachable: bool) -> Markup {
    html! {
        div #site-banner.site-banner role="status" aria-live="polite" hx-swap-oob="true" {
            @if !database_reachable {
                "hearth cannot reach its database right now. Messages can't be sent or loaded; this clears by itself when it is back."
            }
        }
    }
}
