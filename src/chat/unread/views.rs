//! The fragments of unread counts and receipts. Each is rendered once per change and
//! serves every page it goes to.
use maud::{Markup, html};

use crate::chat::{Conversation, ConversationKind, MessageView, sidebar};

/// A conversation's unread badge in the sidebar.
pub fn badge(conversation_id: i64, count: i64, oob: bool) -> Markup {
    html! {
        span.unread-badge id={ "unread-" (conversation_id) } data-count=(count)
            aria-label={ (count) " unread" } hx-swap-oob=[oob.then_some("true")] {
            @if count > 0 { (count) }
        }
    }
}

/// In a private chat: how far the other person has read (the page's script ticks the
/// viewer's messages up to it).
pub fn peer_read(conversation_id: i64, up_to: i64, oob: bool) -> Markup {
    html! {
        span.peer-read id={ "peer-read-" (conversation_id) } data-up-to=(up_to) hidden
            hx-swap-oob=[oob.then_some("true")] {}
    }
}

/// News of a message for a member's other pages: the page's script bumps the unread
/// badge, moves the conversation to the top of the sidebar (adding it from the
/// template if it is new there) and, for a private chat in an unfocused window, shows
/// a notification. One fragment serves every member: for a private chat the label and
/// link are the author's, which is what the one recipient needs; the author's own
/// pages only reorder.
pub fn activity(conversation: &Conversation, message: &MessageView) -> Markup {
    let kind = ConversationKind::of(conversation);
    let (label, url, title) = match kind {
        ConversationKind::Room => {
            let label = format!("#{}", conversation.name);
            let url = crate::chat::room_path(conversation.slug.as_deref().unwrap_or_default());
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
        read_up_to: 0,
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
