//! The VAPID key pair push services know this server by: made on first start, kept in
//! `secrets` so that every process and every restart signs with the same key (the
//! browsers' subscriptions are bound to its public half). It owns nothing else.
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sea_orm::DatabaseConnection;
use web_push_native::jwt_simple::algorithms::{ECDSAP256PublicKeyLike, ES256KeyPair};

use crate::db;

const NAME: &str = "vapid_private_key";

/// The server's VAPID key pair and its public half as browsers take it.
pub struct VapidKey {
    pub pair: ES256KeyPair,
    /// The uncompressed public point, base64url: `applicationServerKey`.
    pub public: String,
}

/// Reads the key, making and storing it first if there is none.
pub async fn load_or_create(database: &DatabaseConnection) -> anyhow::Result<VapidKey> {
    let fresh = URL_SAFE_NO_PAD.encode(ES256KeyPair::generate().to_bytes());
    let stored = db::kept_secret(database, NAME, fresh).await?;
    let bytes = URL_SAFE_NO_PAD.decode(stored.trim())?;
    let pair = ES256KeyPair::from_bytes(&bytes)
        .map_err(|e| anyhow::anyhow!("the stored VAPID key is unreadable: {e}"))?;
    let public = URL_SAFE_NO_PAD.encode(pair.public_key().public_key().to_bytes_uncompressed());
    Ok(VapidKey { pair, public })
}
