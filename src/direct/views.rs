//! The people directory and a person's profile.
use maud::{Markup, html};

use crate::{
    live::presence::person_status,
    web::{
        Viewer,
        layout::{self, Page},
    },
};

pub struct Person {
    pub id: i64,
    pub username: String,
    pub online: bool,
}

/// The form that starts a group chat: what was typed, and why it was refused.
#[derive(Debug, Default)]
pub struct GroupForm {
    pub typed: String,
    pub error: Option<String>,
}

pub fn directory(
    viewer: &Viewer,
    q: &str,
    people: &[Person],
    group: &GroupForm,
    site_online: usize,
    sidebar: layout::Sidebar,
) -> Markup {
    let mut page = Page::signed_in("People", viewer, "page", sidebar, site_online);
    // The page's socket brings each listed person's comings and goings.
    let watched: Vec<String> = people.iter().map(|p| p.id.to_string()).collect();
    page.live_url = Some(format!("/ws?watch={}", watched.join(",")));
    layout::render(
        page,
        html! {
            section.card {
                h1 { "People" }
                form.inline-form method="get" action="/users" role="search" {
                    label for="people-q" { "Find someone" }
                    input #people-q type="search" name="q" value=(q) maxlength="32" placeholder="Start of a username" autofocus;
                    button.primary type="submit" { "Search" }
                }
                @if people.is_empty() {
                    p.empty { @if q.is_empty() { "Nobody else is here yet." } @else { "Nobody's name starts with “" (q) "”." } }
                } @else {
                    ul #people.people-list {
                        @for person in people {
                            li.person data-user-id=(person.id) {
                                (person_status(person.id, person.online, false))
                                a href={ "/dm/" (person.username) } dir="auto" { (person.username) }
                            }
                        }
                    }
                    @if people.len() >= super::routes::DIRECTORY_LIMIT {
                        p.muted { "Showing the first " (people.len()) ". Type more of a name to narrow it down." }
                    }
                }
            }
            (group_form(viewer, group))
        },
    )
}

/// The form that starts a private chat of three to eight people.
fn group_form(viewer: &Viewer, group: &GroupForm) -> Markup {
    html! {
        section.card #group-chat {
            h2 { "Start a group chat" }
            p.muted {
                "A private chat of " (super::groups::SMALLEST) " to " (super::groups::LARGEST)
                " people, only for them. The same people always find the same chat."
            }
            form #new-group.inline-form method="post" action="/dm" {
                label for="new-group-names" { "With" }
                input #new-group-names name="username" required value=(group.typed)
                    placeholder="bob, carol" autocomplete="off"
                    aria-describedby=[group.error.is_some().then_some("new-group-error")];
                input type="hidden" name="csrf_token" value=(viewer.csrf_token);
                button.primary type="submit" { "Start" }
            }
            @if let Some(error) = &group.error {
                p #new-group-error.form-error role="alert" { (error) }
            }
        }
    }
}

/// A person's page: their name, whether they are online (live), since when they are on
/// hearth, and a way to message them.
pub fn profile(
    viewer: &Viewer,
    person: &Person,
    account: &crate::entities::user::Model,
    last_seen: Option<i64>,
    site_online: usize,
    sidebar: layout::Sidebar,
) -> Markup {
    let mut page = Page::signed_in(&person.username, viewer, "page", sidebar, site_online);
    page.live_url = Some(format!("/ws?watch={}", person.id));
    let display = account.display_name.as_deref().filter(|d| !d.is_empty());
    layout::render(
        page,
        html! {
            section.card.profile #profile data-user-id=(person.id) {
                @if account.avatar.is_some() {
                    (crate::accounts::avatar::picture(account.avatar.as_deref()))
                } @else {
                    span.avatar aria-hidden="true" { (initial(display.unwrap_or(&person.username))) }
                }
                h1 dir="auto" {
                    @if let Some(display) = display {
                        span #profile-display-name { (display) } " "
                        span.muted { "@" (person.username) }
                    } @else {
                        (person.username)
                    }
                }
                @if account.deactivated_at.is_some() {
                    p #profile-deactivated.badge { "Deactivated" }
                }
                @if let Some(status) = account.status.as_deref().filter(|s| !s.is_empty()) {
                    p #profile-status-line dir="auto" { (status) }
                }
                p.profile-status { (person_status(person.id, person.online, false)) }
                @if let (false, Some(at)) = (person.online, last_seen) {
                    p.muted #profile-last-seen { "Last seen " (crate::chat::views::relative_time(at)) }
                }
                p.muted { "On hearth since " (crate::chat::views::relative_time(account.created_at)) }
                @if person.id != viewer.id {
                    @if account.deactivated_at.is_none() {
                        p { a #message-them.button.primary href={ "/dm/" (person.username) } { "Send a message" } }
                    }
                } @else {
                    p.muted { "This is you. " a href="/settings" { "Your settings" } }
                }
            }
        },
    )
}

/// The letter a person's avatar shows.
fn initial(name: &str) -> String {
    name.chars()
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default()
}
