//! Secret tokens put in links and given to programs: random, URL-safe, and stored as
//! their digest wherever a database leak must not hand them out. Owns only making and
//! digesting them; what a token opens belongs to its capability.
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// `bytes` random bytes from the system's generator, in unpadded base64url.
pub fn random(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buffer);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buffer)
}

/// The stored form of `token`: its SHA-256, in hex.
pub fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_url_safe_unique_and_digested_to_hex() {
        let (a, b) = (random(32), random(32));
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_eq!(digest("x").len(), 64);
        assert_eq!(digest("x"), digest("x"));
    }
}
