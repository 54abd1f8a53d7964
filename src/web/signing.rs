//! The server's signing key, kept in the database's `secrets` table so that every
//! process on the database and every restart signs alike. It signs short values a
//! browser holds for the server (the log-in device cookie, an anonymous visitor's CSRF
//! token) and checks them when they come back; what the values mean is their owner's
//! business.
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sea_orm::{DatabaseConnection, DbErr};
use sha2::Sha256;

use crate::db;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Signs and checks values with an HMAC-SHA256 key.
pub struct Signer {
    key: Vec<u8>,
}

impl Signer {
    /// The key named `purpose`, made and stored by the first process that asks.
    pub async fn load(db: &DatabaseConnection, purpose: &str) -> Result<Self, DbErr> {
        let mut fresh = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut fresh);
        let value = db::kept_secret(db, purpose, B64.encode(fresh)).await?;
        let key = B64
            .decode(value.as_bytes())
            .map_err(|e| DbErr::Custom(format!("the secret {purpose} is not base64: {e}")))?;
        Ok(Self { key })
    }

    /// A key of its own, for tests and tools.
    pub fn random() -> Self {
        let mut key = vec![0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Self { key }
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes keys of any length, so this cannot fail.
        <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
    }

    /// `value` with its signature appended after a `.`.
    pub fn sign(&self, value: &str) -> String {
        let mut mac = self.mac();
        mac.update(value.as_bytes());
        let tag = B64.encode(mac.finalize().into_bytes());
        format!("{value}.{tag}")
    }

    /// The value of `signed` when its signature is this key's; `None` otherwise.
    pub fn verify<'a>(&self, signed: &'a str) -> Option<&'a str> {
        let (value, tag) = signed.rsplit_once('.')?;
        let tag = B64.decode(tag.as_bytes()).ok()?;
        let mut mac = self.mac();
        mac.update(value.as_bytes());
        // `verify_slice` compares in constant time.
        mac.verify_slice(&tag).ok()?;
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::Signer;

    #[test]
    fn a_signed_value_checks_and_a_changed_one_does_not() {
        let signer = Signer::random();
        let signed = signer.sign("alice.n0nce");
        assert_eq!(signer.verify(&signed), Some("alice.n0nce"));
        let forged = signed.replacen("alice", "mallory", 1);
        assert_eq!(signer.verify(&forged), None);
        assert_eq!(Signer::random().verify(&signed), None, "another key");
        assert_eq!(signer.verify("no-signature"), None);
    }
}
