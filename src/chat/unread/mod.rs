//! Unread counts and read receipts, in one place: how far each member has read (the
//! mark, [`queries`]), the badges and receipt marks pages show ([`views`]), the route
//! a page reports reading through ([`routes`]), and what pushes them live ([`push`]):
//! news of a message to members on other pages, a reader's new count, and in a private
//! chat the other person's receipts.
//!
//! Unread means: written by someone else after the last message you read there. The
//! sidebar reads every count in its one query ([`super::sidebar`]).
pub mod push;
pub mod queries;
pub mod routes;
pub mod views;

pub use push::Announcer;
pub use views::{badge, mention_badge, peer_read};
