//! The VAPID key pair push services know this server by: made on first start, kept in
//! `secrets` so that every process and every restart signs with the same key (the
//! browsers' subscriptions are bound to its public half). It owns nothing else.
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use web_push_native::jwt_simple::algorithms::{ECDSAP256PublicKeyLike, ES256KeyPair};

use crate::db;

const NAME: &str = "vapid_private_key";

/// The server's VAPID key pair and its public half as browsers take it.
pub struct VapidKey {
    pub pair: ES256KeyPair,
    /// The uncompressed public point, base64url: `applicationServerKey`.
    pub public: String,
}

/// Reads the key, making and storing it first if there is none. Two processes starting
/// at once store one: the second's insert is ignored and both read the stored key.
pub async fn load_or_create(database: &DatabaseConnection) -> anyhow::Result<VapidKey> {
    let fresh = URL_SAFE_NO_PAD.encode(ES256KeyPair::generate().to_bytes());
    database
        .execute_raw(db::statement(
            database,
            "INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
            [NAME.into(), fresh.into()],
        ))
        .await?;
    let row = database
        .query_one_raw(db::statement(
            database,
            "SELECT value FROM secrets WHERE name = ?",
            [NAME.into()],
        ))
        .await?
        .ok_or_else(|| anyhow::anyhow!("the VAPID key was not stored"))?;
    let stored: String = row.try_get("", "value")?;
    let bytes = URL_SAFE_NO_PAD.decode(stored.trim())?;
    let pair = ES256KeyPair::from_bytes(&bytes)
        .map_err(|e| anyhow::anyhow!("the stored VAPID key is unreadable: {e}"))?;
    let public = URL_SAFE_NO_PAD.encode(pair.public_key().public_key().to_bytes_uncompressed());
    Ok(VapidKey { pair, public })
}
