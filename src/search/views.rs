//! The `/search` page: the search form, and the results of a query, newest first, each
//! with where and by whom it was written, when, and its snippet with the words marked.
use maud::{Markup, html};

use super::{queries::Hit, snippet};
use crate::{
    chat::{ConversationKind, format, room_path, views::relative_time},
    web::{
        Viewer,
        layout::{self, Page},
    },
};

/// What the page answers to its query.
pub enum Answer<'a> {
    /// Nothing was asked yet.
    Ask,
    /// The query cannot be searched; why, in words.
    Refused(String),
    /// The hits of one page, the folded words and the literal text to mark, and the
    /// URL of the next page, when there is one.
    Found {
        hits: &'a [Hit],
        words: Vec<&'a str>,
        literals: Vec<&'a str>,
        more: Option<String>,
    },
}

/// `GET /search`; `relevant` when best matches come first.
pub fn page(
    viewer: &Viewer,
    typed: &str,
    relevant: bool,
    answer: &Answer<'_>,
    site_online: usize,
    sidebar: layout::Sidebar,
) -> Markup {
    let page = Page::signed_in("Search", viewer, "page search", sidebar, site_online);
    layout::render(
        page,
        html! {
            section.card {
                h1 { "Search" }
                form #search-form.search-form role="search" method="get" action="/search" {
                    label for="search-q" { "Search messages" }
                    input #search-q type="search" name="q" value=(typed) maxlength="256" dir="auto";
                    button type="submit" { "Search" }
                }
                p.muted.search-help {
                    "All the words must be there. Filters: " code { "\"a phrase\"" } ", "
                    code { "from:@name" } ", " code { "in:#room" } ", " code { "in:@name" } ", "
                    code { "before:2026-12-01" } ", " code { "after:2026-12-01" } ", "
                    code { "has:link" } ", " code { "has:file" } "."
                }
                @match answer {
                    Answer::Ask => {}
                    Answer::Refused(why) => {
                        p.search-refused role="alert" { (why) }
                        ol #search-results.search-results {}
                    }
                    Answer::Found { hits, words, literals, more } => {
                        p.search-order {
                            @if relevant {
                                a href={ "/search?q=" (encoded(typed)) } { "Newest first" }
                                " · " strong aria-current="true" { "Best match first" }
                            } @else {
                                strong aria-current="true" { "Newest first" }
                                " · " a href={ "/search?q=" (encoded(typed)) "&sort=relevance" } { "Best match first" }
                            }
                        }
                        @if hits.is_empty() {
                            p.empty role="status" { "No messages you can read match that." }
                        }
                        ol #search-results.search-results {
                            @for hit in hits.iter() { (result(hit, words, literals)) }
                        }
                        @if let Some(url) = more {
                            p { a.more-results href=(url) { "More results" } }
                        }
                    }
                }
            }
        },
    )
}

/// One hit: where, who, when (the permalink), and the snippet.
fn result(hit: &Hit, words: &[&str], literals: &[&str]) -> Markup {
    let (label, url) = match hit.kind {
        ConversationKind::Room => (
            format!("#{}", hit.place_name),
            room_path(hit.room_slug.as_deref().unwrap_or_default()),
        ),
        ConversationKind::Direct => (
            format!("@{}, privately", hit.place_name),
            format!("/dm/{}", hit.place_name),
        ),
        ConversationKind::Group => (
            hit.place_name.clone(),
            crate::chat::group_path(hit.conversation_id),
        ),
        ConversationKind::Support => (
            hit.place_name.clone(),
            crate::support::inbox_path(hit.conversation_id),
        ),
    };
    // What the message says, as a reader sees it: the words, not the Markdown marks.
    let snippet = snippet::of(&format::plain_text(&hit.body), words, literals);
    html! {
        li.search-result id={ "result-" (hit.id) } data-message-id=(hit.id) {
            p.search-where {
                a href=(url) dir="auto" { (label) }
                " · "
                span.search-author dir="auto" { (hit.author) }
                " · "
                a href={ "/messages/" (hit.id) } { (relative_time(hit.created_at)) }
            }
            p.search-snippet dir="auto" {
                @if snippet.cut_before { "… " }
                @for part in &snippet.parts {
                    @if part.marked { mark { (part.text) } } @else { (part.text) }
                }
                @if snippet.cut_after { " …" }
            }
        }
    }
}

/// `typed` as the value of `q` in a URL.
pub fn encoded(typed: &str) -> String {
    form_urlencoded::byte_serialize(typed.as_bytes()).collect()
}
