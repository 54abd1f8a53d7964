//! # hearth
//!
//! A real-time chat web app: people sign up, talk in public rooms and one-to-one private
//! chats, and watch who is online, live, in pages the server renders.
//!
//! ## Layout
//! - [`startup`] builds the app (routes, middleware, shared state) and runs it on
//!   [`web::serve`], the HTTP server loop with graceful shutdown; [`config`] is what the
//!   binary's flags turn into.
//! - [`db`] connects to SQLite or PostgreSQL and runs the migrations of `migrations/`;
//!   `entities` describes the tables.
//! - [`web`] is what every page shares: the server loop, the session middleware and
//!   store, the CSRF check, the [`web::Viewer`] extractor, the page layout and the error pages.
//! - [`accounts`]: sign up, log in, log out, and the validated [`accounts::Username`].
//! - [`rooms`]: the lobby, creating a room, opening and leaving one.
//! - [`direct`]: private chats of two people, and the people directory.
//! - [`chat`]: what rooms and private chats share: [`chat::MessageBody`], posting,
//!   history, reading and unread counts, the sidebar, and the views of a conversation
//!   and of one message; [`chat::access`] decides who may see a conversation, and
//!   [`chat::writer`] stores new messages, batching commits under load.
//! - [`live`]: the WebSocket endpoint, the [`live::Hub`] that fans events out to sockets,
//!   and the [`live::Bus`] that carries events between processes.
//! - [`limits`]: how fast one person may post, sign up or guess passwords.
//! - [`assets`]: the stylesheet, scripts and vendored htmx, embedded in the binary and
//!   served under content-hash URLs.
pub mod accounts;
pub mod assets;
pub mod chat;
pub mod config;
pub mod db;
pub mod direct;
mod entities;
pub mod error;
pub mod limits;
pub mod live;
pub mod rooms;
pub mod startup;
pub mod telemetry;
pub mod web;

pub use config::Config;
pub use startup::Server;
