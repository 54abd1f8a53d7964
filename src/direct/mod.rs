//! Private chats: the people directory that leads to them (`/users?q=`) and the chat
//! of two people (`/dm/{username}`), created on first use and the same conversation
//! from either side. Who may see one is decided in [`crate::chat::access`].
pub mod routes;
mod views;
