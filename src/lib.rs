//! # hearth
//!
//! A real-time chat web app: people sign up, talk in public rooms and one-to-one private
//! chats, and watch who is online, live, in pages the server renders.
//!
//! ## Layout
//! - [`startup`] builds the server's parts ([`startup::Parts`]: the database, the hub,
//!   the chat's services, the limits, the sessions), wires the routes and middleware,
//!   and runs them on [`web::serve`], the HTTP server loop with graceful shutdown;
//!   [`config`] is what the binary's flags turn into. Handlers take the parts they use.
//! - [`db`] connects to SQLite or PostgreSQL and runs the migrations of `migrations/`;
//!   `entities` describes the tables.
//! - [`web`] is what every page shares: the server loop (with its connection limits
//!   and timeouts), the session middleware and store, the signing key, the CSRF check,
//!   the [`web::Viewer`] extractor, the page layout and the error pages. It knows
//!   nothing of the capabilities above it.
//! - [`accounts`]: sign up, log in (with device cookies), log out, and the validated
//!   [`accounts::Username`] and [`accounts::Password`].
//! - [`rooms`]: the lobby, creating a room (public or private), opening and leaving
//!   one, a private room's members.
//! - [`admin`]: roles, the `/admin` page, deactivating people; the sign-up policy and
//!   invite links are [`accounts`]'.
//! - [`direct`]: private chats of two people, and the people directory.
//! - [`chat`]: what rooms and private chats share ([`chat::Chat`]): messages as
//!   numbered events of their conversation, stored by [`chat::writer`] and caught up on
//!   by [`chat::catchup`]; history, the sidebar, [`chat::unread`] counts and receipts,
//!   [`chat::access`] (who may see a conversation), and the page's socket
//!   ([`chat::socket`]).
//! - [`live`]: the [`live::Hub`] that delivers each conversation's events to this
//!   process's sockets once and in order, presence and typing, the socket's task, and
//!   the [`live::Bus`] to other processes. It knows conversations only through
//!   [`live::Source`], which [`chat`] provides.
//! - [`search`]: `/search`, full-text search over the messages a person may read.
//! - [`push`]: Web Push to people with no page open, and what makes hearth installable
//!   (the service worker, the manifest, the offline page).
//! - [`files`]: files and pictures attached to messages: reading the composer's
//!   multipart form, storage on disk or S3 named by content, thumbnails, and serving
//!   them to the people who may read their conversation.
//! - [`api`]: the JSON API under `/api/v1` for bots and other programs: personal API
//!   tokens, bearer authentication, the OpenAPI document generated from the code, and
//!   the chat's own paths for posting and changing messages.
//! - [`bots`]: accounts administrators make for programs, and incoming webhooks that
//!   post Slack's payloads as them.
//! - [`app_events`]: events programs publish to people's open pages (`hearth:{type}` on
//!   their `window`), stored for pages that reconnect.
//! - [`support`]: the support widget: sites that embed it, their visitors'
//!   conversations with the site's operators, and the operators' `/inbox`.
//! - [`secret_token`]: the random tokens of links, invites and API tokens, and the digest
//!   they are stored as.
//! - [`i18n`]: the words people read in their language (English, Persian), from the
//!   Fluent files of `locales/`.
//! - [`health`]: `/healthz` (alive) and `/readyz` (able to serve, or why not).
//! - [`limits`]: how fast one person may post, create rooms, sign up or guess
//!   passwords, and how many password hashes may be in flight.
//! - [`telemetry`]: the log's format, and the figures `/metrics` serves on the
//!   metrics address; [`backup`]: `hearth backup`, an online copy of a SQLite database.
//! - [`assets`]: the stylesheet, the page's behaviours and vendored htmx, embedded in the
//!   binary and served under content-hash URLs.
pub mod accounts;
pub mod admin;
pub mod api;
pub mod app_events;
pub mod assets;
pub mod backup;
pub mod bots;
pub mod chat;
pub mod config;
pub mod db;
pub mod direct;
mod entities;
pub mod error;
pub mod files;
pub mod health;
pub mod i18n;
pub mod limits;
pub mod live;
pub mod push;
pub mod rooms;
pub mod search;
pub mod secret_token;
pub mod startup;
pub mod support;
pub mod telemetry;
pub mod web;

pub use config::Config;
pub use startup::Server;
