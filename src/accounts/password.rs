//! Password hashing with argon2id at OWASP's parameters (19 MiB, 2 passes, 1 lane).
//! Hashing takes tens of milliseconds of CPU, so it runs on tokio's blocking pool and
//! never on the async workers, where it would stall every socket on that thread.
use std::sync::LazyLock;

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version,
    password_hash::SaltString,
};

use super::Password;
use crate::error::AppError;

fn hasher() -> Argon2<'static> {
    // The parameters are constants within argon2's limits, so this cannot fail.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A hash of a password nobody knows. Logging in as a user that does not exist checks
/// against it, so that a missing user costs one hash like a wrong password does and the
/// answer's timing does not tell who has an account.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    hasher()
        .hash_password(b"not a real password, for timing only", &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
});

pub async fn hash(password: Password) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        hasher()
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AppError::Internal(format!("hashing failed: {e}")))
    })
    .await
    .map_err(|e| AppError::Internal(format!("hashing task failed: {e}")))?
}

/// Checks `password` against `stored`, or against a dummy hash when there is no user,
/// taking about the same time either way.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || {
        let (hash, real) = match stored {
            Some(hash) => (hash, true),
            None => (DUMMY_HASH.clone(), false),
        };
        let Ok(parsed) = PasswordHash::new(&hash) else {
            return false;
        };
        let matches = hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        matches && real
    })
    .await
    .map_err(|e| AppError::Internal(format!("verify task failed: {e}")))
}

/// Computes the dummy hash now, so the first log-in for a missing user is not the one
/// request that pays for it.
pub fn warm_up() {
    LazyLock::force(&DUMMY_HASH);
}
