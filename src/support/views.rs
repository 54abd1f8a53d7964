//! The support widget's pages: the administrators' `/admin/sites`, the visitor's
//! frame (`/widget/{key}`, before and after the conversation starts), and the
//! operators' `/inbox` with its rows, which the page and the live updates share.
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::queries::{InboxView, Site, SupportChat};
use crate::{
    assets,
    chat::views::relative_time,
    i18n::{Lang, text, text_arg},
    web::{
        Viewer,
        layout::{self, Page},
    },
};

/// A site with its operators, as the administrators' page lists it.
pub struct ListedSite {
    pub site: Site,
    pub operators: Vec<(i64, String)>,
}

/// A site just made: its key and the snippet, shown at the top of the page.
pub struct Made<'a> {
    pub site: &'a Site,
    pub snippet: String,
}

/// The snippet a site's pages include: the contract's line, with the launcher's
/// colour and side, which the launcher shows before it has asked hearth anything.
pub fn snippet(origin: &str, site: &Site) -> String {
    format!(
        r#"<script src="{origin}/widget.js" data-site="{}" data-color="{}" data-position="{}" async></script>"#,
        site.key, site.color, site.position
    )
}

pub fn sites_page(
    viewer: &Viewer,
    sites: &[ListedSite],
    made: Option<Made<'_>>,
    error: Option<&str>,
    sidebar: layout::Sidebar,
    online: usize,
) -> Markup {
    let page = Page::signed_in("Support sites", viewer, "admin", sidebar, online);
    let csrf = &viewer.csrf_token;
    layout::render(
        page,
        html! {
            section.card #sites {
                h1 { "Support sites" }
                p.hint {
                    "A site puts a chat button on its pages; its visitors write to the site's operators, who answer from "
                    a href="/inbox" { "the inbox" } "."
                }
                @if let Some(error) = error { p.error role="alert" { (error) } }
                @if let Some(made) = &made {
                    div.notice role="status" {
                        p { "The site " strong { (made.site.name) } " is ready. Its key:" }
                        code #site-key { (made.site.key) }
                        p { "Put this line in the pages of " (made.site.origins.join(", ")) ":" }
                        pre #site-snippet { code { (made.snippet) } }
                        p.hint {
                            "To recognise your signed-in customers, add "
                            code { "data-user-id" } " and " code { "data-user-hash" }
                            " (the HMAC-SHA256, in hex, of the id with this secret) to the script: "
                        }
                        code #site-identity-secret { (made.site.identity_secret) }
                    }
                }
                form #new-site.stacked-form method="post" action="/admin/sites" {
                    input type="hidden" name="csrf_token" value=(csrf);
                    label for="site-name" { "Name" }
                    input #site-name name="name" required maxlength="80";
                    label for="site-origins" { "Origins it may be embedded on, one a line" }
                    textarea #site-origins name="origins" required rows="3" placeholder="https://shop.example" {}
                    label for="site-title" { "Title of the chat" }
                    input #site-title name="title" maxlength="80" placeholder="Chat with us";
                    label for="site-color" { "Colour" }
                    input #site-color name="color" type="color" value="#d9582b";
                    label for="site-position" { "Position" }
                    select #site-position name="position" {
                        option value="right" { "Right" }
                        option value="left" { "Left" }
                    }
                    label for="site-theme" { "Theme" }
                    select #site-theme name="theme" {
                        option value="auto" { "As the visitor's system" }
                        option value="light" { "Light" }
                        option value="dark" { "Dark" }
                    }
                    label for="site-language" { "Language" }
                    select #site-language name="language" {
                        option value="auto" { "The visitor's" }
                        option value="en" { "English" }
                        option value="fa" { "فارسی" }
                    }
                    label.checkbox { input type="checkbox" name="guests" value="on" checked; " Anonymous visitors may write" }
                    label for="site-greeting" { "Greeting" }
                    textarea #site-greeting name="greeting" rows="2" maxlength="500" { "Hi! How can we help?" }
                    label for="site-away" { "Away message" }
                    textarea #site-away name="away_message" rows="2" maxlength="500" {
                        "Nobody is online right now. Leave your email and we will write back."
                    }
                    button.primary type="submit" { "Create the site" }
                }
            }
            @for listed in sites {
                section.card.site id={ "site-" (listed.site.key) } {
                    h2 { (listed.site.name) }
                    p { "Key " code { (listed.site.key) } " · on " (listed.site.origins.join(", ")) }
                    p { "Operators: "
                        @if listed.operators.is_empty() { "nobody yet" }
                        @for (i, (_, name)) in listed.operators.iter().enumerate() {
                            @if i > 0 { ", " }
                            a href={ "/users/" (name) } { "@" (name) }
                        }
                    }
                    form.inline-form method="post" action={ "/admin/sites/" (listed.site.key) "/operators" } {
                        input type="hidden" name="csrf_token" value=(csrf);
                        label for={ "operator-" (listed.site.key) } { "Add an operator" }
                        input id={ "operator-" (listed.site.key) } name="username" required maxlength="32" placeholder="username";
                        button type="submit" { "Add" }
                    }
                }
            }
        },
    )
}

/// What the visitor's frame shows.
pub struct Frame<'a> {
    pub site: &'a Site,
    /// The origin of the page that frames the widget (where its events go).
    pub host: &'a str,
    /// Where on the site the visitor is.
    pub page_url: &'a str,
    /// Whether an operator is online now.
    pub staffed: bool,
    pub conversation: Option<FrameChat<'a>>,
    pub error: Option<&'a str>,
    /// Who the site says the visitor is (identity verification), passed on to start.
    pub customer: Option<(&'a str, &'a str)>,
    /// The language the frame speaks.
    pub lang: Lang,
}

/// The visitor's conversation, once started.
pub struct FrameChat<'a> {
    pub chat: &'a SupportChat,
    pub token: &'a str,
    pub history: &'a crate::chat::views::History,
    /// How far the team has read: the visitor's messages up to it show as seen.
    pub team_read: i64,
}

fn frame_style(site: &Site, guest_id: Option<i64>) -> String {
    // Only a colour validated as `#rrggbb` is stored, so it can stand in a rule.
    let mut style = format!(":root{{--widget-accent:{}}}", site.color);
    if let Some(id) = guest_id {
        style.push_str(&format!(
            ".message[data-author-id=\"{id}\"]{{background:var(--widget-accent);color:#fff}}\
             .message[data-author-id=\"{id}\"] .receipt{{display:inline}}\
             #typing [data-except~=\"{id}\"],#typing [data-viewer]:not([data-viewer=\"{id}\"]){{display:none}}"
        ));
    }
    style
}

/// The frame's whole page: the start form, or the conversation.
pub fn frame(f: Frame<'_>) -> Markup {
    let site = f.site;
    let guest = f.conversation.as_ref().map(|c| c.chat.guest_id);
    let token = f.conversation.as_ref().map(|c| c.token);
    let headers = token.map(|t| serde_json::json!({ "X-Hearth-Guest": t }).to_string());
    let base = format!("/widget/{}", site.key);
    let lang = f.lang;
    let t = |id: &str| text(lang, id);
    html! {
        (DOCTYPE)
        html.no-js lang=(lang.code()) dir=(lang.dir()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="htmx-config" content=r#"{"ws":{"pauseOnBackground":false}}"#;
                meta name="color-scheme" content=(match site.theme.as_str() { "light" => "light", "dark" => "dark", _ => "light dark" });
                title { (site.title) }
                link rel="stylesheet" href=(assets::url("app.css"));
                style nonce=[crate::web::security::style_nonce()] { (PreEscaped(frame_style(site, guest))) }
            }
            body.widget-frame data-theme=(site.theme) data-site=(site.key) data-host-origin=(f.host)
                data-user-id=[guest] data-guest-token=[token] "hx-headers:inherited"=[headers]
            data-read-url=[token.map(|_| format!("{base}/read"))] {
                header.widget-header {
                    h1 dir="auto" { (site.title) }
                    p #widget-staffed.widget-staffed data-staffed=(f.staffed) {
                        @if f.staffed { span.dot {} " " (t("widget-online")) } @else { (t("widget-away")) }
                    }
                    span #connection-status data-state="connecting" role="status" aria-live="polite" hidden { (t("widget-connecting")) }
                }
                @if let Some(error) = f.error { p.error role="alert" { (error) } }
                @match &f.conversation {
                    None => {
                        main #main.widget-start {
                            p.widget-greeting dir="auto" { (site.greeting) }
                            @if !f.staffed { p.widget-away dir="auto" { (site.away_message) } }
                            @if site.guests_allowed || f.customer.is_some() {
                                form #widget-start method="post" action={ (base) "/start" } {
                                    input type="hidden" name="page" value=(f.page_url);
                                    input type="hidden" name="host" value=(f.host);
                                    @if let Some((id, hash)) = f.customer {
                                        input type="hidden" name="uid" value=(id);
                                        input type="hidden" name="uhash" value=(hash);
                                    }
                                    label for="widget-first" { (t("widget-your-message")) }
                                    textarea #widget-first name="body" rows="3" required maxlength="16000" dir="auto" {}
                                    label for="widget-start-email" { (t("widget-your-email")) }
                                    input #widget-start-email type="email" name="email" maxlength="254";
                                    button.primary type="submit" { (t("widget-start")) }
                                }
                            } @else {
                                p { (t("widget-sign-in")) }
                            }
                        }
                    }
                    Some(c) => {
                        main #main.conversation.widget-chat data-conversation-id=(c.chat.conversation_id) data-kind="support" {
                            div #history.history {
                                div.history-inner {
                                    p.widget-greeting dir="auto" { (site.greeting) }
                                    div #messages role="log" aria-live="polite" aria-label="Messages" {
                                        (PreEscaped(&c.history.html))
                                    }
                                    span #cursor data-seq=(c.history.upto) hidden {}
                                }
                            }
                            div #typing.typing aria-live="polite" {}
                            (crate::chat::unread::peer_read(c.chat.conversation_id, c.team_read, false))
                            @if !f.staffed && c.chat.email.is_none() {
                                form #widget-email.inline-form method="post" action={ (base) "/email" } {
                                    p.widget-away dir="auto" { (site.away_message) }
                                    input type="hidden" name="guest" value=(c.token);
                                    label for="widget-email-field" { (t("widget-email")) }
                                    input #widget-email-field type="email" name="email" required maxlength="254";
                                    button type="submit" { (t("widget-save")) }
                                }
                            }
                            form #composer.composer method="post" action={ (base) "/messages" } hx-post={ (base) "/messages" } hx-swap="none" {
                                input type="hidden" name="guest" value=(c.token);
                                label.visually-hidden for="composer-body" { (t("widget-message")) }
                                textarea #composer-body name="body" rows="1" maxlength="16000" placeholder=(t("widget-write")) dir="auto" {}
                                button.primary type="submit" { (t("widget-send")) }
                                (crate::chat::views::composer_error(None, false))
                            }
                        }
                        div #live "hx-ws:connect"={ (base) "/ws?guest=" (c.token) } hidden {}
                        div #live-events hidden {}
                    }
                }
                @if f.conversation.is_some() {
                    script src=(assets::url("vendor/htmx-4.0.1.min.js")) {}
                    script src=(assets::url("vendor/hx-ws-4.0.1.min.js")) {}
                    script src=(assets::url("js/hearth.js")) {}
                    script src=(assets::url("js/connection.js")) {}
                    script src=(assets::url("js/times.js")) {}
                    script src=(assets::url("js/composer.js")) {}
                    script src=(assets::url("js/receipts.js")) {}
                } @else {
                    script src=(assets::url("js/hearth.js")) {}
                }
                script src=(assets::url("js/widget-frame.js")) {}
            }
        }
    }
}

/// The inbox's rows, each saying who is typing in it (`typing`, by conversation);
/// `oob` for a live update, each put first in the list (the page's script drops the
/// row it replaces).
pub fn inbox_rows(
    chats: &[SupportChat],
    typing: &std::collections::HashMap<i64, Vec<String>>,
    oob: bool,
) -> Markup {
    let row = |chat: &SupportChat| {
        inbox_row(
            chat,
            typing.get(&chat.conversation_id).map_or(&[], Vec::as_slice),
        )
    };
    html! {
        @if oob {
            div hx-swap-oob="afterbegin:#inbox-list" {
                @for chat in chats { (row(chat)) }
            }
        } @else {
            @for chat in chats { (row(chat)) }
        }
    }
}

/// One conversation in the inbox, the same for every operator, in its site's
/// language (English for `auto`): what differs per operator (whether it is theirs)
/// is read from `data-assignee` by the page.
pub fn inbox_row(chat: &SupportChat, typing: &[String]) -> Markup {
    let lang = Lang::choose(&chat.site_language, None);
    let t = |id: &str| text(lang, id);
    let with = |id: &str, name: &str, value: String| text_arg(lang, id, name, value);
    html! {
        li.inbox-row id={ "inbox-" (chat.conversation_id) } data-conversation-id=(chat.conversation_id)
            data-status=(chat.status) data-assignee=[chat.assigned_to] data-waiting=(chat.waiting)
            lang=(lang.code()) dir=(lang.dir()) {
            a.inbox-link href=(super::inbox_path(chat.conversation_id)) {
                strong dir="auto" { (chat.guest_name) }
                @if chat.waiting > 0 {
                    span.badge.inbox-waiting aria-label=(with("inbox-waiting", "count", chat.waiting.to_string())) { (chat.waiting) }
                }
            }
            @if let Some(last) = &chat.last_message { p.inbox-last dir="auto" { (last) } }
            @match typing {
                [] => {}
                [one] => { p.inbox-typing { (with("inbox-typing", "name", one.clone())) } }
                [one, two] => {
                    p.inbox-typing {
                        (crate::i18n::text_with(lang, "inbox-typing-two", Some(&two_names(one, two))))
                    }
                }
                _ => { p.inbox-typing { (t("inbox-typing-many")) } }
            }
            p.inbox-meta {
                span.inbox-page dir="ltr" { (chat.page_url) }
                " · " (t("inbox-first-seen")) " " (relative_time(chat.first_seen_at))
                " · " (t("inbox-last-seen")) " " (relative_time(chat.last_seen_at))
                " · "
                @match &chat.assignee {
                    Some(name) => { span.inbox-assignee { (with("inbox-assigned-to", "name", name.clone())) } }
                    None => { span.inbox-assignee { (t("inbox-unassigned")) } }
                }
                @if chat.status == "closed" { " · " span.badge { (t("inbox-closed")) } }
            }
        }
    }
}

fn two_names(first: &str, second: &str) -> fluent_bundle::FluentArgs<'static> {
    let mut args = fluent_bundle::FluentArgs::new();
    args.set("first", first.to_owned());
    args.set("second", second.to_owned());
    args
}

/// `/inbox`: the operator's sites' conversations in `view`, in `lang`.
pub fn inbox_page(
    viewer: &Viewer,
    lang: Lang,
    view: InboxView,
    sites: &[Site],
    chats: &[SupportChat],
    sidebar: layout::Sidebar,
    online: usize,
) -> Markup {
    let t = |id: &str| text(lang, id);
    let title = t("inbox-title");
    let page = Page::signed_in(&title, viewer, "inbox", sidebar, online);
    let names = sites
        .iter()
        .map(|s| s.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    layout::render_in(
        page,
        lang,
        html! {
            section.card #inbox {
                h1 { (title) }
                @if sites.is_empty() {
                    p { (t("inbox-no-site")) " " a href="/admin/sites" { (t("inbox-sites-page")) } }
                } @else {
                    p.hint { (text_arg(lang, "inbox-visitors-of", "sites", names)) " "
                        a href="/inbox/replies" { (t("inbox-canned")) } " · " a href="/inbox/analytics" { (t("inbox-analytics")) } }
                }
                nav.inbox-views aria-label=(t("inbox-views")) {
                    @for v in InboxView::ALL {
                        a href={ "/inbox?view=" (v.as_str()) } aria-current=[(v == view).then_some("page")] {
                            (t(match v {
                                InboxView::Open => "inbox-view-open",
                                InboxView::Mine => "inbox-view-mine",
                                InboxView::Unassigned => "inbox-view-unassigned",
                                InboxView::Closed => "inbox-view-closed",
                            }))
                        }
                    }
                }
                ul #inbox-list.inbox-list data-view=(view.as_str()) {
                    (inbox_rows(chats, &Default::default(), false))
                }
                @if chats.is_empty() { p.empty-history #inbox-empty { (t("inbox-nothing")) } }
            }
            script src=(assets::url("js/inbox.js")) {}
        },
    )
}

/// What an operator sees above a visitor's conversation: who and where they are, and
/// the conversation's actions.
/// Whether a transcript can be mailed (hearth has a mail server), and whether one
/// just was.
#[derive(Clone, Copy, Debug, Default)]
pub struct Mail {
    pub possible: bool,
    pub sent: bool,
}

pub fn operator_panel(
    chat: &SupportChat,
    operators: &[(i64, String)],
    csrf: &str,
    mail: Mail,
    lang: Lang,
) -> Markup {
    let base = super::inbox_path(chat.conversation_id);
    let t = |id: &str| text(lang, id);
    let with = |id: &str, name: &str, value: String| text_arg(lang, id, name, value);
    html! {
        section #support-panel.support-panel lang=(lang.code()) dir=(lang.dir()) {
            p {
                a href="/inbox" { (t("inbox-back")) } " · " (t("inbox-on")) " " span.inbox-page dir="ltr" { (chat.page_url) }
                " · " (t("inbox-first-seen")) " " (relative_time(chat.first_seen_at))
                @if let Some(email) = &chat.email { " · " a href={ "mailto:" (email) } { (email) } }
            }
            p #support-status data-status=(chat.status) {
                @if chat.status == "closed" { (t("inbox-status-closed")) } @else { (t("inbox-status-open")) }
                " · "
                @match &chat.assignee {
                    Some(name) => { (with("inbox-assigned-to", "name", name.clone())) }
                    None => { (t("inbox-unassigned")) }
                }
            }
            form.inline-form method="post" action={ (base) "/assign" } {
                input type="hidden" name="csrf_token" value=(csrf);
                label for="support-assignee" { (t("inbox-assign-to")) }
                select #support-assignee name="username" {
                    option value="" { (t("inbox-nobody")) }
                    @for (id, name) in operators {
                        option value=(name) selected[chat.assigned_to == Some(*id)] { "@" (name) }
                    }
                }
                button type="submit" { (t("inbox-assign")) }
            }
            form.inline-form method="post" action={ (base) (if chat.status == "closed" { "/reopen" } else { "/close" }) } {
                input type="hidden" name="csrf_token" value=(csrf);
                button type="submit" { @if chat.status == "closed" { (t("inbox-reopen")) } @else { (t("inbox-close")) } }
            }
            a href={ (base) "/transcript" } download { (t("inbox-transcript")) }
            @if let (true, Some(email)) = (mail.possible, &chat.email) {
                form.inline-form #transcript-email method="post" action={ (base) "/transcript/email" } {
                    input type="hidden" name="csrf_token" value=(csrf);
                    button type="submit" { (with("inbox-mail-transcript", "email", email.clone())) }
                }
            }
            @if mail.sent { p.notice #transcript-sent role="status" { (t("inbox-mail-sent")) } }
        }
    }
}
