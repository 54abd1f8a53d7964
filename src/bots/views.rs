//! The `/admin/bots` page: the bots, the rooms each belongs to, their incoming
//! webhooks, and the forms that make them; a token or a webhook's URL just made is
//! shown once, at the top.
use maud::{Markup, html};

use super::{
    outgoing::queries::Target,
    queries::{Bot, Webhook},
};
use crate::{
    chat::views::relative_time,
    web::{
        Viewer,
        layout::{self, Page},
    },
};

pub struct BotsPage<'a> {
    pub viewer: &'a Viewer,
    pub bots: &'a [Bot],
    pub webhooks: &'a [Webhook],
    /// The bots' outgoing webhooks.
    pub targets: &'a [Target],
    /// A token or webhook URL just made, shown this once.
    pub made: Option<Made<'a>>,
    pub error: Option<&'a str>,
}

pub enum Made<'a> {
    Token { bot: &'a str, token: &'a str },
    Webhook { room: &'a str, url: &'a str },
    Secret { bot: &'a str, secret: &'a str },
}

pub fn page(p: BotsPage<'_>, sidebar: layout::Sidebar, online: usize) -> Markup {
    let page = Page::signed_in("Bots", p.viewer, "admin", sidebar, online);
    let csrf = &p.viewer.csrf_token;
    layout::render(
        page,
        html! {
            section.card #bots {
                h1 { "Bots" }
                p.hint {
                    "A bot is an account for a program. It cannot log in; it uses "
                    a href="/api/v1/docs" { "the API" } " with its token, and reads and posts only in the rooms it is added to. "
                    "An incoming webhook lets a tool that speaks Slack's format post to a room as a bot."
                }
                @if let Some(error) = p.error { p.error role="alert" { (error) } }
                @match p.made {
                    Some(Made::Token { bot, token }) => {
                        div.notice role="status" {
                            p { "The token of " strong { (bot) } ". Copy it now: it is not shown again." }
                            code #new-token { (token) }
                        }
                    }
                    Some(Made::Webhook { room, url }) => {
                        div.notice role="status" {
                            p { "The webhook for #" (room) ". Copy its URL now: it is not shown again." }
                            code #new-webhook { (url) }
                        }
                    }
                    Some(Made::Secret { bot, secret }) => {
                        div.notice role="status" {
                            p { "The signing secret of " strong { (bot) } "'s outgoing webhook. Copy it now: it is not shown again." }
                            code #new-signing-secret { (secret) }
                        }
                    }
                    None => {}
                }
                form #make-bot.inline-form method="post" action="/admin/bots" {
                    label for="bot-name" { "New bot's username" }
                    input #bot-name name="username" required maxlength="32" pattern="[A-Za-z0-9_-]+";
                    input type="hidden" name="csrf_token" value=(csrf);
                    button type="submit" { "Make a bot" }
                }
                @if p.bots.is_empty() {
                    p.muted { "No bots yet." }
                } @else {
                    table.people {
                        thead { tr { th { "Bot" } th { "Rooms" } th { "" } } }
                        tbody {
                            @for bot in p.bots {
                                (bot_row(bot, p.targets.iter().find(|t| t.bot_id == bot.id), csrf))
                            }
                        }
                    }
                }
            }
            section.card #webhooks {
                h2 { "Incoming webhooks" }
                @if p.webhooks.is_empty() {
                    p.muted { "None yet: make one for a bot above." }
                } @else {
                    ul.room-list {
                        @for hook in p.webhooks {
                            li #{ "webhook-" (hook.id) } {
                                "#" (hook.room) " as " strong { (hook.bot) } " "
                                span.muted {
                                    "made " (relative_time(hook.created_at))
                                    @if let Some(at) = hook.last_used_at { ", last used " (relative_time(at)) }
                                }
                                form.inline-form method="post" action={ "/admin/webhooks/" (hook.id) "/delete" } {
                                    input type="hidden" name="csrf_token" value=(csrf);
                                    button.danger type="submit" { "Delete" }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

fn bot_row(bot: &Bot, target: Option<&Target>, csrf: &str) -> Markup {
    html! {
        tr #{ "bot-" (bot.username) } {
            td {
                a href={ "/users/" (bot.username) } { (bot.username) } " " span.badge { "Bot" }
                @if bot.deactivated { " " span.badge { "Deactivated" } }
            }
            td.rooms {
                @for (i, (name, slug)) in bot.rooms.iter().enumerate() {
                    @if i > 0 { ", " }
                    a href=(crate::chat::room_path(slug)) dir="auto" { "#" (name) }
                }
            }
            td {
                form.inline-form method="post" action={ "/admin/bots/" (bot.username) "/webhooks" } {
                    label for={ "hook-room-" (bot.id) } { "Webhook to room" }
                    input id={ "hook-room-" (bot.id) } name="room" required placeholder="room-slug" maxlength="64";
                    input type="hidden" name="csrf_token" value=(csrf);
                    button type="submit" { "Make" }
                }
                form.inline-form method="post" action={ "/admin/bots/" (bot.username) "/tokens" } {
                    input type="hidden" name="csrf_token" value=(csrf);
                    button type="submit" { "New token" }
                }
                @if let Some(target) = target {
                    p.outgoing {
                        "Calls " code { (target.url) }
                        @if target.every_message { " for every message in its rooms" } @else { " when mentioned or written to" }
                        @if let Some(since) = target.failing_since {
                            " " span.badge.failing { "Failing" } " "
                            span.muted { "since " (relative_time(since)) ": " (target.last_error.as_deref().unwrap_or("")) }
                        }
                    }
                }
                form.stack method="post" action={ "/admin/bots/" (bot.username) "/outgoing" } {
                    label for={ "outgoing-" (bot.id) } { "Outgoing webhook URL (empty: none)" }
                    input id={ "outgoing-" (bot.id) } type="url" name="url" maxlength="2048" placeholder="https://…" value=[target.map(|t| t.url.as_str())];
                    label.check {
                        input type="checkbox" name="every" value="on" checked[target.is_some_and(|t| t.every_message)];
                        " For every message in its rooms"
                    }
                    input type="hidden" name="csrf_token" value=(csrf);
                    button type="submit" { "Save" }
                }
            }
        }
    }
}
