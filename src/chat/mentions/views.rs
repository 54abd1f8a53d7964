//! The `/mentions` page, the line each mention has there (also sent live, inside the
//! members' news of a message), and the composer's `@` suggestions.
use maud::{Markup, html};

use super::queries::MentionOf;
use crate::{
    chat::{ConversationKind, MessageView, room_path, views},
    web::{
        Viewer,
        layout::{self, Page},
    },
};

/// Where a mention was said, as its line names it: `#room`, the private chat's other
/// person (the author, for the one mentioned), or a group chat's members.
pub fn place(
    kind: ConversationKind,
    conversation_id: i64,
    name: &str,
    room_slug: &str,
    author: &str,
) -> (String, String) {
    match kind {
        ConversationKind::Room => (format!("#{name}"), room_path(room_slug)),
        ConversationKind::Direct => (format!("{author}, privately"), format!("/dm/{author}")),
        ConversationKind::Group => (name.to_owned(), crate::chat::group_path(conversation_id)),
        ConversationKind::Support => (name.to_owned(), crate::support::inbox_path(conversation_id)),
    }
}

/// One line of `/mentions`.
pub fn item(message: &MessageView, place: &(String, String)) -> Markup {
    let (label, url) = place;
    html! {
        li.mention-item id={ "mention-" (message.id) } data-message-id=(message.id) {
            p.mention-where {
                a href=(url) dir="auto" { (label) }
                " · "
                a href={ "/messages/" (message.id) } { (views::relative_time(message.created_at)) }
            }
            div.quoted-message { (views::message(message)) }
        }
    }
}

/// `GET /mentions`: the latest messages that mention the viewer, newest first.
pub fn page(
    viewer: &Viewer,
    mentions: &[MentionOf],
    older: Option<i64>,
    site_online: usize,
    sidebar: layout::Sidebar,
) -> Markup {
    let page = Page::signed_in("Mentions", viewer, "page", sidebar, site_online);
    layout::render(
        page,
        html! {
            section.card {
                h1 { "Mentions" }
                p.muted { "Messages that mention you, newest first. New ones appear here as they are written." }
                p.empty.mentions-empty hidden[!mentions.is_empty()] { "Nobody has mentioned you yet." }
                ol #mentions-list.mention-list {
                    @for m in mentions {
                        @let kind = ConversationKind::named(&m.kind);
                        (item(&m.message, &place(kind, m.message.conversation_id, &m.room_name, m.room_slug.as_deref().unwrap_or_default(), &m.message.author)))
                    }
                }
                @if let Some(before) = older {
                    p { a href={ "/mentions?before=" (before) } { "Older mentions" } }
                }
            }
        },
    )
}

/// The people (and a room's groups) an `@` in the composer may mean, as a list box the
/// composer's script moves through; each option carries the name to insert.
pub fn suggestions(people: &[(i64, String, bool)], groups: &[&str]) -> Markup {
    html! {
        @if people.is_empty() && groups.is_empty() {
            p.mention-none role="status" { "Nobody by that name" }
        } @else {
            ul #mention-options.mention-options role="listbox" aria-label="People to mention" {
                @for (i, (id, username, member)) in people.iter().enumerate() {
                    li.mention-option role="option" id={ "mention-option-" (id) } data-username=(username)
                        aria-selected=(if i == 0 { "true" } else { "false" }) {
                        span.mention-name dir="auto" { "@" (username) }
                        @if *member { " " span.muted.mention-member { "in this conversation" } }
                    }
                }
                @for (i, group) in groups.iter().enumerate() {
                    li.mention-option role="option" id={ "mention-option-" (group) } data-username=(group)
                        aria-selected=(if people.is_empty() && i == 0 { "true" } else { "false" }) {
                        span.mention-name { "@" (group) }
                        " " span.muted.mention-member {
                            @if *group == "here" { "everyone online here" } @else { "everyone in this room" }
                        }
                    }
                }
            }
        }
    }
}
