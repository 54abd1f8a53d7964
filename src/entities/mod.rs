//! sea-orm entities: one module per table of `migrations/`. They describe rows and
//! nothing else; queries live with the capability that runs them.
pub mod conversation;
pub mod membership;
pub mod message;
pub mod session;
pub mod user;
