//! The support widget: visitors of other websites talk to a team through hearth.
//!
//! An administrator registers a **site** (`/admin/sites`): its key, the origins that
//! may embed it, how the widget looks and what it says. The site's page loads
//! `/widget.js`, which adds a launcher and, when opened, an iframe of
//! `/widget/{key}` ([`widget`]): a page of hearth's own, so hearth's CSP, cookies
//! and checks stay hearth's, framable only by the site's origins. A visitor is an
//! account of its own ([`Guest`], `users.is_guest`) that cannot log in and belongs to
//! one conversation, of kind `support`, with the site's **operators**, who answer it
//! from `/inbox` ([`inbox`]).
//!
//! The conversation is an ordinary one underneath: messages, typing, catch-up and
//! the hub are the chat's. What this module adds is who may read it
//! ([`may_operate`]), how a visitor proves who they are ([`GuestToken`]), and the
//! inbox's live list ([`live`]).
//!
//! It must not let a visitor reach anything but their own conversation: every
//! widget path resolves the visitor from their token first and the conversation
//! from the visitor, never from an id in the request.
pub mod admin;
pub mod analytics;
pub mod canned;
pub mod inbox;
pub mod live;
pub mod queries;
pub mod views;
pub mod widget;

use crate::web::signing::Signer;

pub use queries::{Site, SupportChat};

/// What a visitor's browser holds to prove it is that visitor of that site: their
/// account and the site, signed with the server's key. It is kept in an HttpOnly
/// cookie of the iframe and, for browsers that block third-party cookies, in the
/// iframe's storage, from where the page sends it as a header or form field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuestToken {
    pub guest_id: i64,
    pub site_id: i64,
}

impl GuestToken {
    const PREFIX: &'static str = "guest";

    pub fn sign(self, signer: &Signer) -> String {
        signer.sign(&format!(
            "{}-{}-{}",
            Self::PREFIX,
            self.guest_id,
            self.site_id
        ))
    }

    /// The token `signed` stands for, when it is this server's and names `site_id`.
    pub fn verify(signer: &Signer, signed: &str, site_id: i64) -> Option<Self> {
        let value = signer.verify(signed.trim())?;
        let mut parts = value.split('-');
        if parts.next()? != Self::PREFIX {
            return None;
        }
        let guest_id = parts.next()?.parse().ok()?;
        let site = parts.next()?.parse().ok()?;
        if parts.next().is_some() || site != site_id {
            return None;
        }
        Some(Self {
            guest_id,
            site_id: site,
        })
    }
}

/// Whether `user_id` answers the visitors of the site a support conversation
/// belongs to.
pub async fn may_operate(
    db: &sea_orm::DatabaseConnection,
    conversation_id: i64,
    user_id: i64,
) -> Result<bool, sea_orm::DbErr> {
    queries::operates_conversation(db, conversation_id, user_id).await
}

/// The path of a support conversation as its operators see it.
pub fn inbox_path(conversation_id: i64) -> String {
    format!("/inbox/{conversation_id}")
}

/// `text` to save as `filename` (made here, plain ASCII), private to whoever asked.
pub(crate) fn download(text: String, content_type: &'static str, filename: &str) -> poem::Response {
    use poem::http::header;
    poem::Response::builder()
        .content_type(content_type)
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        )
        .header(header::CACHE_CONTROL, "private, no-store")
        .body(text)
}

/// The HMAC-SHA256 (hex) a site computes of its customer's id with the site's
/// identity secret, so that hearth can trust the id the site's page passes on.
pub fn identity_hash(secret: &str, external_id: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(external_id.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `hash` is [`identity_hash`] of `external_id`, compared in constant time.
pub fn identity_matches(secret: &str, external_id: &str, hash: &str) -> bool {
    use hmac::{Hmac, Mac};
    let Ok(tag) = hex::decode(hash.trim()) else {
        return false;
    };
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(external_id.as_bytes());
    mac.verify_slice(&tag).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guest_token_names_one_visitor_of_one_site() {
        let signer = Signer::random();
        let token = GuestToken {
            guest_id: 7,
            site_id: 3,
        };
        let signed = token.sign(&signer);
        assert_eq!(GuestToken::verify(&signer, &signed, 3), Some(token));
        assert_eq!(
            GuestToken::verify(&signer, &signed, 4),
            None,
            "another site"
        );
        let forged = signed.replacen("guest-7", "guest-8", 1);
        assert_eq!(GuestToken::verify(&signer, &forged, 3), None);
    }

    #[test]
    fn an_identity_hash_checks_only_for_its_id_and_secret() {
        let hash = identity_hash("s3cret", "customer-42");
        assert!(identity_matches("s3cret", "customer-42", &hash));
        assert!(!identity_matches("s3cret", "customer-43", &hash));
        assert!(!identity_matches("other", "customer-42", &hash));
        assert!(!identity_matches("s3cret", "customer-42", "not hex"));
    }
}
