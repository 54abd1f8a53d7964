//! hearth's database schema, as sea-orm migrations that run the same on SQLite and
//! PostgreSQL. The server runs them on start and with `hearth migrate`.
//!
//! This crate owns table and index definitions only; it must not hold queries the app
//! runs (those live next to the capability that needs them in `hearth`).
pub use sea_orm_migration::prelude::*;

mod m20261123_000001_initial;
mod m20261123_000002_presence;
mod m20261201_000003_event_sequence;
mod m20261201_000004_message_actions;
mod m20261201_000005_secrets;
mod m20261201_000006_notifications;
mod m20261201_000007_search;
mod m20261201_000008_files;
mod m20261201_000009_people;
mod m20261201_000010_account_self_service;
mod m20261201_000013_search_filters;
mod m20261201_000014_api_tokens;
mod m20261201_000015_app_events;
mod m20261201_000016_bots;
mod m20261202_000017_support;
mod m20261202_000018_canned_replies;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_initial::Migration),
            Box::new(m20261123_000002_presence::Migration),
            Box::new(m20261201_000003_event_sequence::Migration),
            Box::new(m20261201_000004_message_actions::Migration),
            Box::new(m20261201_000005_secrets::Migration),
            Box::new(m20261201_000006_notifications::Migration),
            Box::new(m20261201_000007_search::Migration),
            Box::new(m20261201_000008_files::Migration),
            Box::new(m20261201_000009_people::Migration),
            Box::new(m20261201_000010_account_self_service::Migration),
            Box::new(m20261201_000013_search_filters::Migration),
            Box::new(m20261201_000014_api_tokens::Migration),
            Box::new(m20261201_000015_app_events::Migration),
            Box::new(m20261201_000016_bots::Migration),
            Box::new(m20261202_000017_support::Migration),
            Box::new(m20261202_000018_canned_replies::Migration),
        ]
    }
}
