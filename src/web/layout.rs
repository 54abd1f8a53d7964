//! The page shell every page is rendered in, and the error pages. Views are plain
//! functions returning [`Markup`]; this one wraps a page's content with the head, the
//! top bar, the sidebar and the element that holds the page's WebSocket.
//!
//! Per-viewer differences in live fragments ("this message is mine", "that is me
//! typing") are made here, once per page, as a few CSS rules keyed on the viewer's id,
//! so that one fragment can serve every recipient unchanged.
use maud::{DOCTYPE, Markup, PreEscaped, html};
use poem::{IntoResponse, Response, http::StatusCode};

use crate::{
    assets,
    i18n::{Lang, text},
    web::Viewer,
};

/// The side navigation of a signed-in page, and how much in it is unread (the phone's
/// Menu button shows that total, the sidebar living in a closed drawer there).
pub struct Sidebar {
    pub html: Markup,
    pub unread: i64,
}

/// What a page needs besides its content.
pub struct Page<'a> {
    pub title: &'a str,
    pub viewer: Option<&'a Viewer>,
    /// The WebSocket URL for this page (signed-in pages only).
    pub live_url: Option<String>,
    /// Class of `<main>`, e.g. `conversation`, `lobby`, `auth`.
    pub main_class: &'a str,
    /// On a conversation page: its id and kind, for the page's script.
    pub conversation: Option<(i64, &'a str)>,
    pub sidebar: Option<Sidebar>,
    /// People online on the site; `None` where it is not known (error pages).
    pub site_online: Option<usize>,
    /// On a conversation page: the first message the viewer has not read, marked new.
    pub first_unread: Option<i64>,
}

impl<'a> Page<'a> {
    /// A signed-in page that shows no conversation (the lobby, the directory): it
    /// has the sidebar, and its socket brings counts and the person's own events.
    pub fn signed_in(
        title: &'a str,
        viewer: &'a Viewer,
        main_class: &'a str,
        sidebar: Sidebar,
        site_online: usize,
    ) -> Self {
        Page {
            title,
            viewer: Some(viewer),
            live_url: Some("/ws".to_owned()),
            main_class,
            conversation: None,
            sidebar: Some(sidebar),
            site_online: Some(site_online),
            first_unread: None,
        }
    }
}

fn viewer_style(viewer: Option<&Viewer>, first_unread: Option<i64>) -> String {
    let mut style = match viewer {
        Some(v) => format!(
            ".message[data-author-id=\"{id}\"]{{background:var(--mine-bg)}}\
             main[data-kind=\"direct\"] .message[data-author-id=\"{id}\"] .receipt,\
             main[data-kind=\"support\"] .message[data-author-id=\"{id}\"] .receipt{{display:inline}}\
             #typing [data-except~=\"{id}\"],#typing [data-viewer]:not([data-viewer=\"{id}\"]){{display:none}}\
             .message[data-author-id=\"{id}\"] .own-only{{display:revert}}\
             .reaction[data-users~=\"{id}\"]{{background:var(--accent-soft);border-color:var(--accent)}}\
             .mention[data-user-id=\"{id}\"]{{background:var(--mention-bg);color:var(--mention-text);font-weight:600}}\
             .message:has(.mention[data-user-id=\"{id}\"]):not([data-author-id=\"{id}\"]),\
             .message:has(.mention-all):not([data-author-id=\"{id}\"]){{box-shadow:inset 3px 0 var(--mention-edge);background:var(--mention-row)}}",
            id = v.id
        ),
        None => "#typing [data-viewer]{display:none}".to_owned(),
    };
    if let Some(id) = first_unread {
        style.push_str(&format!(
            "#message-{id}{{margin-top:1.6rem}}#message-{id}::before{{content:\"New\";{NEW_LINE}}}"
        ));
    }
    style
}

/// How the line above the first unread message looks (the rest is in app.css).
const NEW_LINE: &str = "position:absolute;left:0;right:0;top:-1rem;border-top:1px solid var(--danger);\
     color:var(--danger);font-size:.72rem;font-weight:700;text-align:right;padding-right:.5rem;line-height:1.6";

/// The `hx-headers` that make every htmx request carry the CSRF token.
fn csrf_headers(token: &str) -> String {
    serde_json::json!({ "X-CSRF-Token": token }).to_string()
}

pub fn render(page: Page<'_>, content: Markup) -> Markup {
    render_in(page, Lang::En, content)
}

/// [`render`], with the page's frame (and `lang`, `dir`) in `lang`; the pages that
/// speak the person's language pass it.
pub fn render_in(page: Page<'_>, lang: Lang, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        // `no-js` until the page's first script takes it away (see app.css).
        html.no-js lang=(lang.code()) dir=(lang.dir()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="htmx-config" content=r#"{"ws":{"pauseOnBackground":false}}"#;
                meta name="color-scheme" content="light dark";
                title { (page.title) " · hearth" }
                link rel="stylesheet" href=(assets::url("app.css"));
                link rel="icon" href=(assets::url("favicon.svg")) type="image/svg+xml";
                // Installable as an app (see `push::routes`).
                link rel="manifest" href="/manifest.webmanifest";
                link rel="apple-touch-icon" href=(assets::url("icons/hearth-192.png"));
                meta name="theme-color" content="#d9582b";
                style nonce=[super::security::style_nonce()] { (PreEscaped(viewer_style(page.viewer, page.first_unread))) }
            }
            @match page.viewer {
                Some(viewer) => {
                    body data-user-id=(viewer.id) data-username=(viewer.username)
                        "hx-headers:inherited"=(csrf_headers(&viewer.csrf_token)) {
                        (shell(&page, lang, content))
                    }
                }
                None => { body { (shell(&page, lang, content)) } }
            }
        }
    }
}

fn shell(page: &Page<'_>, lang: Lang, content: Markup) -> Markup {
    let t = |id: &str| text(lang, id);
    html! {
        a.skip-link href="#main" { (t("shell-skip")) }
        header.topbar {
            a.brand href="/" { "hearth" }
            @if let Some(online) = page.site_online {
                span.site-online title=(t("shell-online-title")) {
                    span.dot {} span #site-online-count { (online) } " " (t("shell-online"))
                }
            }
            @if let Some(viewer) = page.viewer {
                // Shown by the page's script, which is what connects; without it, the
                // page says what it cannot do.
                span #connection-status data-state="connecting" role="status" aria-live="polite" hidden { (t("shell-connecting")) }
                @if page.live_url.is_some() {
                    noscript { span.no-live { (t("shell-no-live")) } }
                }
                // `/` focuses it (shortcuts.js); the search page has its own, filled in.
                form.header-search role="search" method="get" action="/search" {
                    input #search-box type="search" name="q" placeholder=(t("shell-search"))
                        aria-label=(t("shell-search-label")) aria-keyshortcuts="/" maxlength="256";
                }
                nav.user-menu aria-label="Account" {
                    a href="/users" { (t("shell-people")) }
                    a.me href="/settings" dir="auto" title=(t("shell-settings")) { (viewer.username) }
                    form.logout method="post" action="/logout" {
                        input type="hidden" name="csrf_token" value=(viewer.csrf_token);
                        button.link-button type="submit" { (t("shell-log-out")) }
                    }
                }
                @if let Some(sidebar) = &page.sidebar {
                    // On a phone the sidebar is a popover this opens (see app.css), and
                    // its badge is all that shows of what is unread in it.
                    button.sidebar-toggle type="button" popovertarget="sidebar" {
                        (t("shell-menu"))
                        span #menu-unread.menu-badge data-count=(sidebar.unread) aria-label={ (sidebar.unread) " unread" } {
                            @if sidebar.unread > 0 { (sidebar.unread) }
                        }
                    }
                }
            } @else {
                nav.user-menu aria-label="Account" {
                    a href="/login" { "Log in" }
                    a href="/signup" { "Sign up" }
                }
            }
        }
        // Filled live while the server cannot reach its database (see `live::hub`).
        div #site-banner.site-banner role="status" aria-live="polite" {}
        div.shell {
            @if let Some(sidebar) = &page.sidebar { (sidebar.html) }
            @match page.conversation {
                Some((id, kind)) => {
                    main #main class=(page.main_class) data-conversation-id=(id) data-kind=(kind) { (content) }
                }
                None => { main #main class=(page.main_class) { (content) } }
            }
        }
        @if page.viewer.is_some() { (switcher_dialog()) (shortcuts_dialog()) }
        @if let Some(url) = &page.live_url {
            div #live "hx-ws:connect"=(url) hidden {}
            // Live events that the page's script consumes (see `live::fragments`).
            div #live-events hidden {}
        }
        // At the end of the body and without `defer`: htmx starts itself on a timer
        // once loaded, and with deferred scripts that timer could fire before the
        // WebSocket extension had registered, leaving the page without its socket.
        script src=(assets::url("vendor/htmx-4.0.1.min.js")) {}
        script src=(assets::url("vendor/hx-ws-4.0.1.min.js")) {}
        // One file per behaviour, `hearth.js` first (see it for the list).
        @for behaviour in BEHAVIOURS {
            script src=(assets::url(behaviour)) {}
        }
    }
}

/// The quick switcher (Ctrl+K, `switcher.js`): a box that finds rooms and people as
/// one types, its list filled from `/switcher`. Without script it is never opened, and
/// `/switcher` is a page of its own.
fn switcher_dialog() -> Markup {
    html! {
        dialog #switcher.switcher aria-label="Jump to a room or a person" {
            form method="get" action="/switcher" {
                input #switcher-q type="search" name="q" autocomplete="off" maxlength="64"
                    placeholder="Jump to a room or a person…" aria-label="Room or person"
                    role="combobox" aria-controls="switcher-results" aria-autocomplete="list"
                    aria-expanded="true";
            }
            div #switcher-results {}
            p.muted.switcher-hint { "↑ ↓ to choose · Enter to open · Esc to close" }
        }
    }
}

/// The keyboard shortcuts, listed on the overlay `?` opens (`shortcuts.js`).
fn shortcuts_dialog() -> Markup {
    const SHORTCUTS: [(&str, &str); 7] = [
        ("/", "Search messages"),
        ("Ctrl K", "Jump to a room or a person (⌘ K on a Mac)"),
        ("Alt ↑  Alt ↓", "Previous or next conversation"),
        (
            "Alt Shift ↑  Alt Shift ↓",
            "Previous or next conversation with unread messages",
        ),
        ("↑", "In an empty composer: edit your last message"),
        ("?", "Show these shortcuts"),
        (
            "Esc",
            "Close a box like this one; else mark the conversation read",
        ),
    ];
    html! {
        dialog #shortcuts-help.shortcuts-help aria-labelledby="shortcuts-title" {
            h2 #shortcuts-title { "Keyboard shortcuts" }
            dl {
                @for (keys, what) in SHORTCUTS {
                    dt { kbd { (keys) } } dd { (what) }
                }
            }
            form method="dialog" { button type="submit" { "Close" } }
        }
    }
}

/// The page's scripts, in the order they load.
const BEHAVIOURS: [&str; 16] = [
    "js/hearth.js",
    "js/connection.js",
    // Beside the connection: it keeps the published events' cursor.
    "js/events.js",
    "js/times.js",
    "js/history.js",
    // Before the composer: while its suggestions are open, Enter picks a name.
    "js/mentions.js",
    // Before the composer too: Enter picks a canned reply while the list is open.
    "js/canned.js",
    // Before the composer: a message with files is posted there, not by htmx.
    "js/uploads.js",
    "js/composer.js",
    "js/lightbox.js",
    "js/actions.js",
    "js/sidebar.js",
    "js/notifications.js",
    "js/receipts.js",
    "js/shortcuts.js",
    "js/switcher.js",
];

/// What an error response is about, kept on the response so that the error-page
/// middleware ([`super::errors`]) can show it in the person's own layout.
#[derive(Clone, Debug)]
pub struct ErrorPage {
    pub status: StatusCode,
    pub message: String,
}

/// A whole error page in the site's design, with `status`; the error-page middleware
/// shows it with the person's own header when they are signed in.
pub fn error_page(status: StatusCode, message: &str) -> Response {
    let error = ErrorPage {
        status,
        message: message.to_owned(),
    };
    let mut resp = error_page_for(&error, None).into_response();
    resp.set_status(status);
    resp.extensions_mut().insert(error);
    resp
}

/// The title of an error page, in words a person reads.
fn error_title(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "That did not make sense",
        401 => "Please log in",
        403 => "Not allowed",
        404 => "Not found",
        405 => "Nothing to see at this address",
        409 => "That changed meanwhile",
        413 => "That is too big",
        422 => "That did not work",
        429 => "Slow down a little",
        503 => "Back in a moment",
        507 => "Out of space",
        _ if status.is_server_error() => "Something went wrong",
        _ => "That did not work",
    }
}

/// The page of `error`, for `viewer` (their header and sidebar link) or for anyone.
pub fn error_page_for(error: &ErrorPage, viewer: Option<&Viewer>) -> Markup {
    let title = error_title(error.status);
    let page = Page {
        title,
        viewer,
        live_url: None,
        main_class: "error-page",
        conversation: None,
        sidebar: None,
        site_online: None,
        first_unread: None,
    };
    render(
        page,
        html! {
            section.card {
                p.status { (error.status.as_u16()) }
                h1 { (title) }
                p { (error.message) }
                p.error-ways {
                    a href="/" { "Back to the lobby" }
                    @if viewer.is_none() { " · " a href="/login" { "Log in" } }
                }
            }
        },
    )
}

/// The line where a form says why a request failed (the composer's, for htmx), empty
/// when there is nothing to say; out of band when `oob`.
pub fn request_error(error: Option<&str>, oob: bool) -> Markup {
    html! {
        p #composer-error.form-error role="alert" aria-live="assertive" hx-swap-oob=[oob.then_some("true")] {
            @if let Some(error) = error { (error) }
        }
    }
}
