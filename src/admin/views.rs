//! The `/admin` page: people, rooms, the invite link, the sign-up policy and the live
//! figures, each a card; the figures are also a fragment of their own, which the page
//! asks for again every few seconds.
use maud::{Markup, PreEscaped, html};

use super::Role;
use crate::{
    accounts::{invites::Invite, policy::SignupPolicy},
    chat::{Conversation, views::relative_time},
    entities::user,
    rooms::Creators,
    web::{
        Viewer,
        layout::{self, Page},
    },
};

pub struct Person {
    pub user: user::Model,
    pub online: bool,
    pub last_seen: Option<i64>,
}

/// What the server is doing now.
pub struct Figures {
    pub sockets: usize,
    pub online: usize,
    /// Messages in each hour of the last day, oldest first (24 of them).
    pub hourly: Vec<i64>,
    pub database_bytes: Option<i64>,
}

pub struct AdminPage<'a> {
    pub viewer: &'a Viewer,
    pub q: &'a str,
    pub people: &'a [Person],
    pub rooms: &'a [Conversation],
    pub invite: Option<&'a Invite>,
    pub policy: SignupPolicy,
    pub creators: Creators,
    pub figures: &'a Figures,
    pub notice: Option<&'a str>,
}

pub fn page(p: AdminPage<'_>, sidebar: layout::Sidebar) -> Markup {
    let page = Page::signed_in(
        "Administration",
        p.viewer,
        "admin",
        sidebar,
        p.figures.online,
    );
    let token = &p.viewer.csrf_token;
    layout::render(
        page,
        html! {
            section.card #admin {
                h1 { "Administration" }
                p { a href="/admin/bots" { "Bots and incoming webhooks" } }
                @if let Some(notice) = p.notice { p.notice role="status" { (notice) } }
                (figures(p.figures))
            }
            section.card #admin-people {
                h2 { "People" }
                form.inline-form method="get" action="/admin" role="search" {
                    label for="people-q" { "Find someone" }
                    input #people-q type="search" name="q" value=(p.q) maxlength="32";
                    button type="submit" { "Search" }
                }
                table.people {
                    thead { tr { th { "Name" } th { "Role" } th { "Last seen" } th { "" } } }
                    tbody {
                        @for person in p.people { (person_row(person, token)) }
                    }
                }
            }
            section.card #admin-rooms {
                h2 { "Rooms" }
                ul.room-list {
                    @for room in p.rooms {
                        li {
                            a href=(crate::chat::room_path(room.slug.as_deref().unwrap_or_default())) dir="auto" { "#" (room.name) }
                            @if room.visibility == "private" { " " span.badge { "Private" } }
                            " " span.muted { "active " (relative_time(room.last_activity_at)) }
                        }
                    }
                }
            }
            section.card #admin-room-creators {
                h2 { "Who can create rooms" }
                form.stack method="post" action="/admin/rooms" {
                    @for (choice, words) in [(Creators::Everyone, "Everyone"), (Creators::Admins, "Administrators only")] {
                        label.check {
                            input type="radio" name="creators" value=(choice.as_str()) checked[choice == p.creators];
                            " " (words)
                        }
                    }
                    input type="hidden" name="csrf_token" value=(token);
                    button type="submit" { "Save" }
                }
            }
            section.card #admin-signup {
                h2 { "Sign-ups" }
                form.stack method="post" action="/admin/signup" {
                    fieldset {
                        legend { "Who can make an account" }
                        @for policy in SignupPolicy::ALL {
                            label.check {
                                input type="radio" name="policy" value=(policy.as_str()) checked[policy == p.policy];
                                " " (policy.describe())
                            }
                        }
                    }
                    input type="hidden" name="csrf_token" value=(token);
                    button type="submit" { "Save" }
                }
                h3 { "Invite link" }
                @match p.invite {
                    Some(invite) => {
                        p { a #invite-link href=(invite.path()) { (invite.path()) } }
                        p.muted {
                            @if invite.single_use { "Single use. " } @else { "Anyone with it can join. " }
                            @if let Some(at) = invite.expires_at { "Expires " (relative_time(at)) "." }
                        }
                    }
                    None => { p.muted { "No invite link yet." } }
                }
                form #reset-invite.stack method="post" action="/admin/invite" {
                    label.check { input type="checkbox" name="single_use" value="on"; " Single use" }
                    label for="invite-hours" { "Expires after (hours, empty for never)" }
                    input #invite-hours name="expires_hours" inputmode="numeric" pattern="[0-9]*" maxlength="5";
                    input type="hidden" name="csrf_token" value=(token);
                    button type="submit" { @if p.invite.is_some() { "Reset the link" } @else { "Make a link" } }
                }
            }
        },
    )
}

fn person_row(person: &Person, token: &str) -> Markup {
    let user = &person.user;
    let base = format!("/admin/users/{}", user.username);
    let admin = Role::of(user) == Role::Admin;
    html! {
        tr id={ "person-" (user.username) } class=[user.deactivated_at.map(|_| "deactivated")] {
            td {
                a href={ "/users/" (user.username) } { "@" (user.username) }
                @if person.online { " " span.dot.online title="online" {} }
                @if user.deactivated_at.is_some() { " " span.badge { "Deactivated" } }
            }
            td.role { @if admin { "Administrator" } @else { "Member" } }
            td { @match person.last_seen { Some(at) => (relative_time(at)), None => "never" } }
            td.actions {
                form method="post" action={ (base) "/role" } {
                    input type="hidden" name="role" value=(if admin { "member" } else { "admin" });
                    input type="hidden" name="csrf_token" value=(token);
                    button type="submit" { @if admin { "Remove admin" } @else { "Make admin" } }
                }
                @if user.deactivated_at.is_none() {
                    form method="post" action={ (base) "/login-link" } {
                        input type="hidden" name="csrf_token" value=(token);
                        button type="submit" title="For someone who lost their password" { "Log-in link" }
                    }
                }
                @if user.deactivated_at.is_some() {
                    form method="post" action={ (base) "/reactivate" } {
                        input type="hidden" name="csrf_token" value=(token);
                        button type="submit" { "Reactivate" }
                    }
                } @else {
                    form method="post" action={ (base) "/deactivate" } {
                        input type="hidden" name="csrf_token" value=(token);
                        button.danger type="submit" { "Deactivate" }
                    }
                }
            }
        }
    }
}

/// The live figures, refreshed in place every ten seconds.
pub fn figures(f: &Figures) -> Markup {
    html! {
        div #admin-figures hx-get="/admin/figures" hx-trigger="every 10s" hx-swap="outerHTML" {
            dl.figures {
                dt { "Sockets open" } dd #figure-sockets { (f.sockets) }
                dt { "People online" } dd #figure-online { (f.online) }
                dt { "Messages, last 24 hours" } dd #figure-messages { (f.hourly.iter().sum::<i64>()) }
                dt { "Database size" } dd #figure-database {
                    @match f.database_bytes { Some(bytes) => (size_in_words(bytes)), None => "unknown" }
                }
            }
            (chart(&f.hourly))
        }
    }
}

fn size_in_words(bytes: i64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    let bytes = bytes.max(0) as f64;
    if bytes >= MIB {
        format!("{:.1} MiB", bytes / MIB)
    } else {
        format!("{:.0} KiB", bytes / 1024.0)
    }
}

/// Messages per minute in each hour of the last day, as bars drawn here in SVG.
fn chart(hourly: &[i64]) -> Markup {
    const WIDTH: f64 = 480.0;
    const HEIGHT: f64 = 80.0;
    let per_minute: Vec<f64> = hourly.iter().map(|&n| n as f64 / 60.0).collect();
    let top = per_minute.iter().copied().fold(0.0_f64, f64::max);
    let bar = WIDTH / per_minute.len().max(1) as f64;
    let mut bars = String::new();
    for (i, rate) in per_minute.iter().enumerate() {
        let h = if top > 0.0 { rate / top * HEIGHT } else { 0.0 };
        bars.push_str(&format!(
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\"><title>{:.2} a minute</title></rect>",
            i as f64 * bar + 1.0,
            HEIGHT - h,
            (bar - 2.0).max(1.0),
            h,
            rate
        ));
    }
    html! {
        figure.chart {
            svg #messages-chart viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } width="100%" height="80" preserveAspectRatio="none"
                role="img" aria-label={ "Messages per minute, each hour of the last day; at most " (format!("{top:.2}")) } {
                (PreEscaped(bars))
            }
            figcaption.muted { "Messages per minute, each hour of the last 24 (newest right); the highest is " (format!("{top:.2}")) }
        }
    }
}

/// A one-time log-in link, shown once to the administrator who made it.
pub fn login_link(
    viewer: &Viewer,
    username: &str,
    path: &str,
    sidebar: layout::Sidebar,
    site_online: usize,
) -> Markup {
    let page = Page::signed_in("Log-in link", viewer, "page", sidebar, site_online);
    layout::render(
        page,
        html! {
            section.card {
                h1 { "A log-in link for " (username) }
                p { "Send them this link. It works once, for a day, and takes them to their settings to choose a new password." }
                p { a #login-link-made href=(path) { (path) } }
                p { a href="/admin" { "Back to administration" } }
            }
        },
    )
}
