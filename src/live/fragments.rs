//! The out-of-band fragments the hub sends that are not messages: counts, the list of
//! who is online, who is typing. Each is rendered once per change, for everyone.
use maud::{Markup, html};

use super::Presence;
use crate::chat::views;

pub fn site_online(count: usize) -> Markup {
    html! { span #site-online-count hx-swap-oob="true" { (count) } }
}

/// A conversation's count and list, together in one frame.
pub fn conversation_presence(presence: &Presence) -> Markup {
    html! {
        (views::online_count(presence.users.len(), true))
        (views::online_users(presence, true))
    }
}

pub fn room_online(room_id: i64, count: usize) -> Markup {
    crate::rooms::room_online(room_id, count, true)
}

/// "alice is typing…", "alice and bob are typing…", "several people are typing…".
fn typing_phrase(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => format!("{one} is typing…"),
        [one, two] => format!("{one} and {two} are typing…"),
        _ => "several people are typing…".to_owned(),
    }
}

/// Who is typing, for every viewer at once. Those who are not typing see the phrase
/// naming everyone; each typist sees a phrase that leaves them out. The page's CSS
/// (see `web::layout`) shows each viewer the one span meant for them.
pub fn typing(typists: &[(i64, String)]) -> Markup {
    let all: Vec<&str> = typists.iter().map(|(_, name)| name.as_str()).collect();
    let ids = typists
        .iter()
        .map(|(id, _)| id.to_string())
        .collect::<Vec<_>>()
        .join(" ");
    html! {
        div #typing.typing aria-live="polite" hx-swap-oob="true" {
            @if typists.len() > 3 {
                // Every typist also has at least three others typing: one phrase fits all.
                span { (typing_phrase(&all)) }
            } @else if !typists.is_empty() {
                span data-except=(ids) { (typing_phrase(&all)) }
                @for (id, _) in typists {
                    @let others: Vec<&str> = typists.iter().filter(|(other, _)| other != id).map(|(_, n)| n.as_str()).collect();
                    @if !others.is_empty() {
                        span data-viewer=(id) { (typing_phrase(&others)) }
                    }
                }
            }
        }
    }
}

/// News of a message for a member's other pages: the page's script bumps the unread
/// badge, moves the conversation to the top of the sidebar (adding it from the
/// template if it is new there) and, for a private chat in an unfocused window, shows
/// a notification. One fragment serves every member: for a private chat the label and
/// link are the author's, which is what the one recipient needs; the author's own
/// pages only reorder.
pub fn activity(
    conversation: &crate::chat::Conversation,
    message: &crate::chat::MessageView,
) -> Markup {
    use crate::chat::{ConversationKind, sidebar};
    let kind = ConversationKind::of(conversation);
    let (label, url, title) = match kind {
        ConversationKind::Room => {
            let label = format!("#{}", conversation.name);
            let url = format!(
                "/rooms/{}",
                conversation.slug.as_deref().unwrap_or_default()
            );
            let title = format!("{} in {label}", message.author);
            (label, url, title)
        }
        ConversationKind::Direct => (
            message.author.clone(),
            format!("/dm/{}", message.author),
            message.author.clone(),
        ),
    };
    let preview: String = message.body.chars().take(140).collect();
    let entry = sidebar::Entry {
        conversation_id: conversation.id,
        kind,
        label,
        url: url.clone(),
        unread: 1,
    };
    html! {
        div hx-swap-oob="beforeend:#live-events" {
            div.live-event data-event="message" data-conversation-id=(conversation.id) data-kind=(kind.as_str())
                data-message-id=(message.id) data-author-id=(message.author_id)
                data-title=(title) data-body=(preview) data-url=(url) {
                template { (sidebar::entry(&entry, None)) }
            }
        }
    }
}

/// In a private chat: the other person has read up to `up_to`.
pub fn peer_read(conversation_id: i64, up_to: i64) -> Markup {
    html! {
        span.peer-read id={ "peer-read-" (conversation_id) } data-up-to=(up_to) hidden hx-swap-oob="true" {}
    }
}

/// The same mark as the page first shows it.
pub fn peer_read_on_page(conversation_id: i64, up_to: i64) -> Markup {
    html! {
        span.peer-read id={ "peer-read-" (conversation_id) } data-up-to=(up_to) hidden {}
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typing_names_people_and_leaves_each_typist_out_of_their_own_line() {
        let html = typing(&[(1, "alice".into()), (2, "bob".into())]).into_string();
        assert!(html.contains(r#"<span data-except="1 2">alice and bob are typing…</span>"#));
        assert!(html.contains(r#"<span data-viewer="1">bob is typing…</span>"#));
        assert!(html.contains(r#"<span data-viewer="2">alice is typing…</span>"#));
        let crowd: Vec<(i64, String)> = (1..=4).map(|i| (i, format!("u{i}"))).collect();
        assert!(
            typing(&crowd)
                .into_string()
                .contains("<span>several people are typing…</span>")
        );
    }
}
