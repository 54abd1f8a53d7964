//! The views of a conversation. [`message`] is the one rendering of a message: the
//! page, the older-messages fragment, the composer's htmx answer and the live fragment
//! all call it, so they cannot drift apart.
use maud::{Markup, PreEscaped, html};

use super::{
    ConversationKind, MessageView, format,
    queries::{HistoryPage, Quote},
    reactions,
};
use crate::{
    live::{
        Presence,
        presence::{online_count, online_users, person_status},
    },
    web::{
        Viewer,
        layout::{self, Page},
    },
};

/// `2026-11-23T03:40:12Z` for a time in milliseconds.
pub fn iso_time(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
            ))
            .ok()
        })
        .unwrap_or_default()
}

/// `03:40 UTC` (the page's script shows it in the reader's time zone).
fn short_time(ms: i64) -> String {
    let iso = iso_time(ms);
    format!("{} UTC", iso.get(11..16).unwrap_or_default())
}

/// How long ago `ms` was, as a person says it ("just now", "5 min ago", "yesterday",
/// "3 Nov"), by the server's clock in UTC; the page's script says it again in the
/// reader's time zone (`assets/js/times.js`).
pub fn time_ago(ms: i64, now_ms: i64) -> String {
    let minutes = (now_ms - ms).max(0) / 60_000;
    let date = |ms: i64| time::OffsetDateTime::from_unix_timestamp(ms / 1000).ok();
    match minutes {
        0 => "just now".to_owned(),
        1..=59 => format!("{minutes} min ago"),
        60..=719 => format!("{} h ago", minutes / 60),
        _ => match (date(ms), date(now_ms)) {
            (Some(then), Some(now)) if now.date().previous_day() == Some(then.date()) => {
                "yesterday".to_owned()
            }
            (Some(then), Some(now)) if then.date() == now.date() => {
                format!("{} h ago", minutes / 60)
            }
            (Some(then), Some(now)) if then.year() == now.year() => {
                format!("{} {}", then.day(), month(then.month()))
            }
            (Some(then), _) => format!("{} {} {}", then.day(), month(then.month()), then.year()),
            _ => String::new(),
        },
    }
}

fn month(m: time::Month) -> &'static str {
    use time::Month::*;
    match m {
        January => "Jan",
        February => "Feb",
        March => "Mar",
        April => "Apr",
        May => "May",
        June => "Jun",
        July => "Jul",
        August => "Aug",
        September => "Sep",
        October => "Oct",
        November => "Nov",
        December => "Dec",
    }
}

/// A time as pages show it: how long ago, with the exact time (UTC) on hover; the
/// page's script says both in the reader's time zone.
pub fn relative_time(ms: i64) -> Markup {
    let iso = iso_time(ms);
    let exact = format!(
        "{} {} UTC",
        iso.get(..10).unwrap_or_default(),
        iso.get(11..16).unwrap_or_default()
    );
    html! { time datetime=(iso) title=(exact) data-relative { (time_ago(ms, crate::db::now_ms())) } }
}

/// One message, exactly as every page and fragment shows it.
pub fn message(m: &MessageView) -> Markup {
    message_article(m, false)
}

/// A changed message, replacing itself where a page shows it.
pub fn replaced(m: &MessageView) -> Markup {
    message_article(m, true)
}

/// The composer's answer to an htmx post: the message as stored, replacing itself where
/// the page already shows it. The socket appends it, in order with everyone else's;
/// this is not a second copy, and does nothing where the socket has not yet brought it.
pub fn refreshed(m: &MessageView) -> Markup {
    let swap = format!("outerHTML target:#message-{} strip:true", m.id);
    html! { div hx-swap-oob=(swap) { (message(m)) } }
}

fn message_article(m: &MessageView, oob: bool) -> Markup {
    let at = iso_time(m.created_at);
    let class = match (m.is_deleted(), m.edited_at.is_some()) {
        (true, _) => "message deleted",
        (false, true) => "message edited",
        (false, false) => "message",
    };
    html! {
        article class=(class) id={ "message-" (m.id) } data-author-id=(m.author_id) data-author=(m.author) data-ts=(at) hx-swap-oob=[oob.then_some("true")] {
            // The letter avatar, drawn by the page's script, stands in where there is none.
            (crate::accounts::avatar::picture(m.author_avatar.as_deref()))
            header.message-meta {
                span.author dir="auto" { (m.author) } " "
                a.permalink href={ "/messages/" (m.id) } { time datetime=(at) { (short_time(m.created_at)) } }
                @if let (Some(edited), false) = (m.edited_at, m.is_deleted()) {
                    " " span.edited-mark title={ "Edited " (iso_time(edited)) } { "(edited)" }
                }
                // Private chats show the author whether the other person has read it.
                span.receipt title="Sent" { "✓" span.tick-read { "✓" } }
            }
            @if let Some(quote) = &m.reply { (reply_quote(quote)) }
            div.message-body dir="auto" {
                @if m.is_deleted() {
                    em.tombstone { "message deleted" }
                } @else {
                    @match &m.body_html {
                        Some(html) => (PreEscaped(html)),
                        None => (PreEscaped(format::render(&m.body))),
                    }
                }
            }
            @if !m.is_deleted() {
                (crate::files::views::list(&m.attachments))
                (reactions::list(m))
                (menu(m.id))
            }
        }
    }
}

/// The one-line quote a reply starts with, linking to what it answers.
fn reply_quote(quote: &Quote) -> Markup {
    html! {
        a.reply-quote href={ "/messages/" (quote.id) } data-message-id=(quote.id) {
            span.quote-author dir="auto" { (quote.author) }
            " "
            @if quote.deleted {
                span.quote-text.quote-deleted { "replied to a deleted message" }
            } @else {
                span.quote-text dir="auto" { (quote.excerpt) }
            }
        }
    }
}

/// A message's actions, as links to pages that do them without script; the page's
/// script does each in place instead (`assets/js/actions.js`). Edit and Delete show
/// only on the viewer's own messages (the page's CSS, keyed on the viewer).
fn menu(id: i64) -> Markup {
    html! {
        details.message-menu {
            summary title="Message actions" { span.visually-hidden { "Message actions" } }
            nav.menu-items {
                a href={ "/messages/" (id) "/react" } { "React" }
                a href={ "/messages/" (id) "/reply" } { "Reply" }
                a href={ "/messages/" (id) } { "Copy link" }
                a.own-only href={ "/messages/" (id) "/edit" } { "Edit" }
                a.own-only href={ "/messages/" (id) "/delete" } { "Delete" }
            }
        }
    }
}

/// Messages one after another, as `#messages` holds them.
fn message_list(messages: &[MessageView]) -> Markup {
    html! { @for m in messages { (message(m)) } }
}

/// The out-of-band fragment that appends messages to `#messages`.
pub fn appended(messages: &[MessageView]) -> Markup {
    html! {
        div hx-swap-oob="beforeend:#messages" {
            (message_list(messages))
        }
    }
}

/// The "load older" control: a plain link without JavaScript, an in-place load with it.
pub fn older_link(base_url: &str, oldest: Option<i64>, has_older: bool) -> Markup {
    html! {
        div #older {
            @if let (true, Some(oldest)) = (has_older, oldest) {
                @let url = format!("{base_url}?before={oldest}");
                a.older-link href=(url) hx-get=(url) hx-target="#older" hx-swap="outerHTML" {
                    "Load older messages"
                }
            }
        }
    }
}

/// The answer to an htmx "load older": the new `#older` and the messages to prepend.
pub fn older_fragment(base_url: &str, messages: &[MessageView], has_older: bool) -> Markup {
    html! {
        (older_link(base_url, messages.first().map(|m| m.id), has_older))
        div hx-swap-oob="afterbegin:#messages" {
            (message_list(messages))
        }
    }
}

/// The composer's error line, empty when there is nothing to say; as an out-of-band
/// fragment when `oob`.
pub fn composer_error(error: Option<&str>, oob: bool) -> Markup {
    layout::request_error(error, oob)
}

/// A page of a conversation's messages as every viewer sees it: rendered once and
/// shared by every viewer until the conversation's next event (what differs per
/// viewer, such as one's own messages, is the stylesheet's business).
#[derive(Debug)]
pub struct History {
    /// The messages' `article`s, oldest first.
    pub html: String,
    /// Who wrote each message, by id, oldest first.
    authors: Vec<(i64, i64)>,
    /// The first message shown, where "load older" continues.
    pub oldest: Option<i64>,
    /// The last one, where "newer" continues.
    pub newest: Option<i64>,
    pub has_older: bool,
    pub has_newer: bool,
    /// The conversation's latest event as of this page: the page's cursor.
    pub upto: i64,
}

impl History {
    pub fn new(page: &HistoryPage) -> Self {
        Self {
            html: message_list(&page.messages).into_string(),
            authors: page.messages.iter().map(|m| (m.id, m.author_id)).collect(),
            oldest: page.messages.first().map(|m| m.id),
            newest: page.messages.last().map(|m| m.id),
            has_older: page.has_older,
            has_newer: page.has_newer,
            upto: page.upto,
        }
    }

    /// The first message shown that `viewer_id` has not read (after `read_up_to`, by
    /// someone else).
    pub fn first_unread(&self, read_up_to: i64, viewer_id: i64) -> Option<i64> {
        self.authors
            .iter()
            .find(|(id, author)| *id > read_up_to && *author != viewer_id)
            .map(|(id, _)| *id)
    }
}

/// Everything the conversation page shows.
pub struct ConversationPage<'a> {
    pub viewer: &'a Viewer,
    pub id: i64,
    pub kind: ConversationKind,
    /// `#general` or the other person's name.
    pub heading: String,
    /// The conversation's own URL (`/rooms/general`, `/dm/bob`).
    pub url: String,
    pub history: &'a History,
    /// Whether the page shows the latest messages, and so grows with new ones.
    pub live: bool,
    pub presence: Presence,
    pub site_online: usize,
    /// In a private chat: the other person, and whether they are online.
    pub peer: Option<(i64, bool)>,
    pub composer_error: Option<String>,
    pub draft: String,
    /// The message the composer answers.
    pub reply: Option<&'a MessageView>,
    /// The first message the viewer has not read, marked as new.
    pub first_unread: Option<i64>,
    /// In a private chat: how far the other person has read.
    pub peer_read: Option<i64>,
    /// What notifies the viewer here.
    pub level: super::levels::Level,
    pub sidebar: Option<layout::Sidebar>,
    /// In a private room: its members' names, which the page lists with a form to add
    /// someone and one to leave.
    pub private_members: Option<Vec<String>>,
    /// In a room: its topic, and whether it is archived (read-only).
    pub topic: Option<String>,
    pub archived: bool,
    /// In a private room: whether only administrators add people.
    pub members_added_by_admins: bool,
    /// What else the page shows under its heading.
    pub panel: Option<Markup>,
}

/// A room's topic (any member sets it), name and archiving (its creator or an
/// administrator: the server says so to anyone else).
fn room_settings(url: &str, topic: Option<&str>, archived: bool, csrf_token: &str) -> Markup {
    html! {
        details #room-settings.room-settings {
            summary { "Room settings" }
            form #topic-form.inline-form method="post" action={ (url) "/topic" } {
                label for="room-topic-field" { "Topic" }
                input #room-topic-field name="topic" maxlength="250" dir="auto" value=(topic.unwrap_or_default());
                input type="hidden" name="csrf_token" value=(csrf_token);
                button type="submit" { "Set" }
            }
            p.hint { "Renaming and archiving are for the room's creator and administrators." }
            form #rename-form.inline-form method="post" action={ (url) "/rename" } {
                label for="room-rename-field" { "New name" }
                input #room-rename-field name="name" maxlength="40" required dir="auto";
                input type="hidden" name="csrf_token" value=(csrf_token);
                button type="submit" { "Rename" }
            }
            form method="post" action={ (url) (if archived { "/unarchive" } else { "/archive" }) } {
                input type="hidden" name="csrf_token" value=(csrf_token);
                button type="submit" { @if archived { "Take out of the archive" } @else { "Archive (read-only)" } }
            }
        }
    }
}

/// A private room's members, the form that adds one by name, and the one to leave.
fn private_room_members(
    url: &str,
    members: &[String],
    by_admins: bool,
    csrf_token: &str,
) -> Markup {
    html! {
        details #room-members.room-members {
            summary { span.badge { "Private" } " " (members.len()) " members" }
            ul #room-member-list {
                @for name in members {
                    li { a href={ "/users/" (name) } { "@" (name) } }
                }
            }
            form #add-member.inline-form method="post" action={ (url) "/members" } {
                label for="add-member-name" { "Add someone" }
                input #add-member-name name="username" required maxlength="32" placeholder="username" autocomplete="off";
                input type="hidden" name="csrf_token" value=(csrf_token);
                button type="submit" { "Add" }
            }
            form #members-policy.inline-form method="post" action={ (url) "/members/policy" } {
                label for="members-policy-by" { "Who adds people" }
                select #members-policy-by name="by" {
                    option value="members" selected[!by_admins] { "Any member" }
                    option value="admins" selected[by_admins] { "Administrators only" }
                }
                input type="hidden" name="csrf_token" value=(csrf_token);
                button type="submit" { "Save" }
            }
            form method="post" action={ (url) "/leave" } {
                input type="hidden" name="csrf_token" value=(csrf_token);
                button.danger type="submit" { "Leave this room" }
            }
        }
    }
}

pub fn conversation_page(p: ConversationPage<'_>) -> Markup {
    let action = format!("/conversations/{}/messages", p.id);
    let placeholder = format!("Message {}", p.heading);
    // A page of older (or around) messages hears the conversation's counts and the
    // person's news, not its new messages: it does not end at the latest.
    let mut live_url = match p.live {
        true => format!("/ws?conversation={}", p.id),
        false => "/ws?".to_owned(),
    };
    if let Some((peer, _)) = p.peer {
        live_url.push_str(&format!("&watch={peer}"));
    }
    let page = Page {
        title: &p.heading,
        viewer: Some(p.viewer),
        live_url: Some(live_url),
        main_class: "conversation",
        conversation: Some((p.id, p.kind.as_str())),
        sidebar: p.sidebar,
        site_online: Some(p.site_online),
        first_unread: p.first_unread,
    };
    layout::render(
        page,
        html! {
                header.conversation-header {
                    h1 dir="auto" title=(p.heading) { (p.heading) }
                    @match p.peer {
                        // A private chat says whether the other person is around.
                        Some((peer, online)) => {
                            p.presence.peer-status { (person_status(peer, online, false)) }
                            div.visually-hidden {
                                (online_count(p.presence.users.len(), false)) " here"
                                (online_users(&p.presence, false))
                            }
                        }
                        None => {
                            p.presence { span.dot {} (online_count(p.presence.users.len(), false)) " here" }
                            (online_users(&p.presence, false))
                        }
                    }
                    (super::levels::control(p.id, p.level, &p.viewer.csrf_token, false))
                    @if let Some(members) = &p.private_members {
                        (private_room_members(&p.url, members, p.members_added_by_admins, &p.viewer.csrf_token))
                    }
                    @if p.kind == ConversationKind::Room {
                        (room_settings(&p.url, p.topic.as_deref(), p.archived, &p.viewer.csrf_token))
                    }
                }
                @if let Some(panel) = &p.panel { (panel) }
                @if let Some(topic) = &p.topic {
                    p #room-topic.room-topic dir="auto" { (topic) }
                }
                @if p.archived {
                    p #room-archived.notice role="status" { (super::ARCHIVED) }
                }
                div #history.history data-first-unread=[p.first_unread] {
                    // One box inside the scroller: without script, the page's CSS opens it
                    // at its end, the latest message (see app.css).
                    div.history-inner {
                        (older_link(&p.url, p.history.oldest, p.history.has_older))
                        div #messages role="log" aria-live="polite" aria-label="Messages" {
                            (PreEscaped(&p.history.html))
                        }
                        @if p.live {
                            // Where the page's socket picks up (moved by every frame of events).
                            span #cursor data-seq=(p.history.upto) hidden {}
                        } @else {
                            nav.newer-links {
                                @if let (true, Some(newest)) = (p.history.has_newer, p.history.newest) {
                                    a.older-link href={ (p.url) "?after=" (newest) } { "Newer messages" }
                                }
                                a.older-link href=(p.url) { "Jump to the latest" }
                            }
                        }
                        @if p.history.oldest.is_none() && !p.history.has_older {
                            p.empty-history { "No messages yet. Say hello!" }
                        }
                    }
                }
                div #typing.typing aria-live="polite" {}
                @if let Some(up_to) = p.peer_read { (super::unread::peer_read(p.id, up_to, false)) }
                // The CSRF token for the buttons inside messages (reactions), which are
                // shared by every viewer and so cannot carry it themselves.
                form #message-actions method="post" hidden {
                    input type="hidden" name="csrf_token" value=(p.viewer.csrf_token);
                }
                // Multipart, so that files go with the text without script; the token comes
                // first, before any file (see `files::upload`).
                form #composer.composer method="post" action=(action) enctype="multipart/form-data" hx-post=(action) hx-swap="none" {
                    input type="hidden" name="csrf_token" value=(p.viewer.csrf_token);
                    div #composer-reply.composer-reply {
                        @if let Some(reply) = p.reply {
                            span { "Replying to " strong dir="auto" { (reply.author) } } " "
                            span.quote-text dir="auto" { (format::excerpt(&reply.body, super::queries::QUOTE_CHARS)) }
                            " " a.composer-reply-cancel href=(p.url) { "Cancel" }
                        }
                    }
                    input #composer-reply-to type="hidden" name="reply_to" value=[p.reply.map(|r| r.id)];
                    label.visually-hidden for="composer-body" { "Message" }
                    // Characters are counted as the server counts them by the page's script;
                    // this bound only keeps a page without it from sending a book.
                    // Not `required`: a message of files alone has no text (the server says
                    // when a message is empty).
                    textarea #composer-body name="body" rows="1" maxlength="16000" placeholder=(placeholder) dir="auto" { (p.draft) }
                    // Without script, the file input itself; with it, the label is its button.
                    input #composer-files.composer-files type="file" name="file" multiple;
                    label.attach-button for="composer-files" title="Attach files" {
                        // A paperclip, drawn: an emoji needs a font that has it.
                        svg.attach-icon viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false" {
                            path d="M16.5 6.5v10a4.5 4.5 0 0 1-9 0V5a3 3 0 0 1 6 0v10.5a1.5 1.5 0 0 1-3 0V6.5" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" {}
                        }
                        span.visually-hidden { "Attach files" }
                    }
                    button.primary type="submit" { "Send" }
                    div #composer-uploads.composer-uploads aria-live="polite" {}
                    (composer_error(p.composer_error.as_deref(), false))
                }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(body: &str) -> MessageView {
        MessageView {
            id: 7,
            conversation_id: 1,
            author_id: 2,
            author: "<b>al</b>".into(),
            author_avatar: None,
            body: body.into(),
            created_at: 0,
            seq: 1,
            updated_seq: 1,
            body_html: None,
            edited_at: None,
            deleted_at: None,
            reply: None,
            reactions: Vec::new(),
            attachments: Vec::new(),
        }
    }

    #[test]
    fn message_text_is_escaped_and_only_web_links_become_anchors() {
        let html = message(&view(
            "see <script>x</script> https://a.example/p?q=1 javascript:alert(1)",
        ))
        .into_string();
        assert!(html.contains("&lt;script&gt;"));
        assert!(!html.contains("<script>"));
        assert!(
            html.contains(
                r#"<a href="https://a.example/p?q=1" rel="noopener noreferrer nofollow""#
            )
        );
        assert!(!html.contains(r#"href="javascript"#));
        assert!(html.contains("&lt;b&gt;al&lt;/b&gt;"));
    }
}
