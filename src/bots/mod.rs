//! Bots: accounts that administrators make for programs, and incoming webhooks that
//! post as them. A bot cannot log in (its password matches nothing, and no log-in link
//! is made for it); it acts through the API with its tokens, and belongs only to the
//! rooms it is added to: the API lets it read and post nowhere else, public rooms
//! included ([`crate::api::auth`]). An incoming webhook ([`hooks`]) is a secret URL
//! for one room that takes Slack's payload ([`slack`]); an outgoing webhook
//! ([`outgoing`]) is a URL hearth calls when the bot is mentioned or written to.
//!
//! It owns the bot pages ([`routes`], [`views`]) and their rows ([`queries`]); posting
//! is the chat's, and who may read what the chat's access rules with that one limit.
pub mod hooks;
pub mod outgoing;
pub mod queries;
pub mod routes;
mod slack;
mod views;
