//! Device cookies (OWASP's "slow down online guessing with device cookies"): a browser
//! that logged in to an account gets a signed cookie naming the account and a nonce of
//! its own. Its later log-ins to that account draw on the browser's own allowance of
//! failures instead of the account's shared one, so guesses from elsewhere, which lock
//! the shared allowance, do not lock out the people who use the account. The limits
//! themselves are [`crate::limits`]'s; this module only issues and reads the cookie.
use base64::Engine;
use poem::{
    Request,
    http::header,
    web::cookie::{Cookie, SameSite},
};
use rand::RngCore;

use crate::web::signing::Signer;

pub const COOKIE_NAME: &str = "hearth_device";
/// A device cookie is good for a year after its last log-in.
const MAX_AGE: std::time::Duration = std::time::Duration::from_secs(365 * 86_400);

/// A device cookie that checked out: the account it is for, and its nonce.
#[derive(Debug, PartialEq, Eq)]
pub struct Device {
    pub account: String,
    pub nonce: String,
}

/// The device cookie `req` carries, if it has one signed by this server.
pub fn presented(req: &Request, signer: &Signer) -> Option<Device> {
    let raw = req
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value)?;
    let value = signer.verify(raw)?;
    let (account, nonce) = value.split_once('.')?;
    Some(Device {
        account: account.to_owned(),
        nonce: nonce.to_owned(),
    })
}

/// The `Set-Cookie` value of a new device cookie for `account` (a username's key,
/// which holds no `.`).
pub fn issue(signer: &Signer, account: &str, secure: bool) -> String {
    let mut nonce = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let nonce = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(nonce);
    let mut cookie = Cookie::new_with_str(COOKIE_NAME, signer.sign(&format!("{account}.{nonce}")));
    cookie.set_http_only(true);
    // Only the log-in form needs it.
    cookie.set_path("/login");
    cookie.set_same_site(SameSite::Strict);
    cookie.set_secure(secure);
    cookie.set_max_age(MAX_AGE);
    cookie.to_string()
}
