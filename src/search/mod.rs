//! Search: finding any message a person may read by the words in it.
//!
//! - [`query`] reads what was typed (words, quoted phrases, `from:`, `in:`, `before:`,
//!   `after:`, `has:link`, `has:file`) into a [`query::SearchQuery`], refusing what cannot be
//!   searched with a reason; [`words`] is what a word is, for the query and the snippet.
//! - [`queries`] finds the messages, on SQLite's FTS5 index or PostgreSQL's
//!   `tsvector`; the index itself follows every write by the database's own means
//!   (triggers, a generated column: `migrations/`), so no write path has to remember it.
//! - [`snippet`] cuts the text around the first match and marks the words; [`views`]
//!   and [`routes`] are the `/search` page.
//! - [`switcher`]: the quick switcher's rooms and people (`/switcher`, Ctrl+K).
//!
//! Search must not widen what anyone can read: its queries carry the rule of
//! [`crate::chat::access`] in their SQL, and filters only narrow it. It must not hand
//! what was typed to a full-text engine's syntax, nor show the engine's markup.
pub mod queries;
pub mod query;
pub mod routes;
pub mod snippet;
pub mod switcher;
pub mod views;
pub mod words;
