//! Private chats: the people directory that leads to them (`/users?q=`) and the chat
//! of two people (`/dm/{username}`), created on first use and the same conversation
//! from either side; [`groups`], the private chats of three to eight people. Who may
//! see one is decided in [`crate::chat::access`].
pub mod groups;
pub mod routes;
mod store;
mod views;
