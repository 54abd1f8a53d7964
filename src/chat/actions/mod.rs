//! What a person does with a message after it is posted: edit it, delete it, react to
//! it, answer it, link to it. Each change is an event of the message's conversation,
//! stored with the conversation's next number in one transaction ([`store`]) and then
//! handed to the hub rendered once, as a new message is: every open page replaces the
//! message in place, and a page that reconnects catches up on it.
//!
//! Every action works as a plain form (the pages of [`views`]), and in place with
//! script. Who may do what is checked here, on the server: someone else's message is
//! 403, a message of a conversation the viewer cannot read is 404, a deleted one 409.
pub mod routes;
pub mod store;
pub mod views;
