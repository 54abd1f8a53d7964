//! The fragments of unread counts and receipts. Each is rendered once per change and
//! serves every page it goes to.
use maud::{Markup, html};

use crate::chat::{Conversation, ConversationKind, MessageView, mentions, sidebar};

/// A conversation's unread badge in the sidebar.
pub fn badge(conversation_id: i64, count: i64, oob: bool) -> Markup {
    html! {
        span.unread-badge id={ "unread-" (conversation_id) } data-count=(count)
            aria-label={ (count) " unread" } hx-swap-oob=[oob.then_some("true")] {
            @if count > 0 { (count) }
        }
    }
}

/// A conversation's badge of unread messages that mention the viewer.
pub fn mention_badge(conversation_id: i64, count: i64, oob: bool) -> Markup {
    html! {
        span.mention-badge id={ "mentions-" (conversation_id) } data-count=(count)
            aria-label={ (count) " unread " (if count == 1 { "mention" } else { "mentions" }) }
            hx-swap-oob=[oob.then_some("true")] {
            @if count > 0 { "@" (count) }
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
/// badge (and the mention badge of those it mentions), moves the conversation to the
/// top of the sidebar (adding it from the template if it is new there), puts it on
/// `/mentions` if that page is open, and notifies as the member's level there says.
/// One fragment serves every member: for a private chat of two the label and link are the
/// author's, which is what the one recipient needs; the author's own pages only
/// reorder. Whom it mentions is a list of ids the script finds the viewer in (or
/// `all`, for `@everyone`).
pub fn activity(
    conversation: &Conversation,
    message: &MessageView,
    mentioned: &mentions::Mentioned,
) -> Markup {
    let kind = ConversationKind::of(conversation);
    let slug = conversation.slug.as_deref().unwrap_or_default();
    let (label, url, title) = match kind {
        ConversationKind::Room => {
            let label = format!("#{}", conversation.name);
            let url = crate::chat::room_path(slug);
            let title = format!("{} in {label}", message.author);
            (label, url, title)
        }
        ConversationKind::Direct => (
            message.author.clone(),
            format!("/dm/{}", message.author),
            message.author.clone(),
        ),
        // One fragment serves every member, so a group is named by all of its members
        // here (its page and the sidebar leave out the viewer).
        ConversationKind::Group => (
            conversation.name.clone(),
            crate::chat::group_path(conversation.id),
            format!("{} in {}", message.author, conversation.name),
        ),
        ConversationKind::Support => (
            conversation.name.clone(),
            crate::support::inbox_path(conversation.id),
            format!("{} (support)", message.author),
        ),
    };
    let preview = crate::chat::format::excerpt(&message.body, 140);
    let entry = sidebar::Entry {
        conversation_id: conversation.id,
        kind,
        label,
        url: url.clone(),
        unread: 1,
        mentions: 0,
        read_up_to: 0,
        level: crate::chat::levels::Level::default_for(kind),
    };
    let named = if mentioned.everyone {
        "all".to_owned()
    } else {
        mentioned
            .people
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    };
    html! {
        div hx-swap-oob="beforeend:#live-events" {
            div.live-event data-event="message" data-conversation-id=(conversation.id) data-kind=(kind.as_str())
                data-message-id=(message.id) data-author-id=(message.author_id)
                data-title=(title) data-body=(preview) data-url=(url)
                data-mentions=[(!named.is_empty()).then_some(&named)] {
                template.sidebar-entry { (sidebar::entry(&entry, None)) }
                @if !mentioned.is_empty() {
                    template.mention-line {
                        (mentions::views::item(message, &mentions::views::place(kind, conversation.id, &conversation.name, slug, &message.author)))
                    }
                }
            }
        }
    }
}

/// News for someone just added to a private room: their pages add it to the sidebar
/// (the script that reads `.live-event`s does), with nothing unread yet.
pub fn joined(conversation: &Conversation) -> Markup {
    let entry = sidebar::Entry {
        conversation_id: conversation.id,
        kind: ConversationKind::Room,
        label: format!("#{}", conversation.name),
        url: crate::chat::room_path(conversation.slug.as_deref().unwrap_or_default()),
        unread: 0,
        mentions: 0,
        read_up_to: 0,
        level: crate::chat::levels::Level::default_for(ConversationKind::Room),
    };
    html! {
        div hx-swap-oob="beforeend:#live-events" {
            div.live-event data-event="joined" data-conversation-id=(conversation.id) data-kind="room" {
                template.sidebar-entry { (sidebar::entry(&entry, None)) }
            }
        }
    }
}
