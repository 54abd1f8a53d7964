//! Accounts: signing up (as the [`policy`] allows, with [`invites`] when it asks for
//! them), logging in and out, a person's own [`settings`], and the rules for usernames
//! and passwords. Sessions themselves belong to [`crate::web::session`]; this module
//! decides who someone is and hands that to it.
pub mod avatar;
pub mod deletion;
pub mod device;
pub mod email;
pub mod invites;
pub mod login_links;
pub mod mail;
pub mod password;
pub mod policy;
pub mod reset;
pub mod routes;
pub mod settings;
mod views;

use std::fmt;

/// A username that follows the rules: 3 to 32 characters of ASCII letters, digits,
/// `_` and `-`. Restricting names to ASCII keeps look-alike characters, bidi controls
/// and zero-width characters out of names by construction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Username(String);

/// Names a mention gives a meaning of its own to.
const RESERVED: [&str; 4] = ["here", "everyone", "channel", "all"];

impl Username {
    pub const MIN: usize = 3;
    pub const MAX: usize = 32;

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let name = raw.trim();
        if name.is_empty() {
            return Err("Choose a username.");
        }
        if name.chars().count() < Self::MIN {
            return Err("Usernames have at least 3 characters.");
        }
        if name.chars().count() > Self::MAX {
            return Err("Usernames have at most 32 characters.");
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err("Usernames may only use letters, digits, _ and -.");
        }
        Ok(Self(name.to_owned()))
    }

    /// A name for a new account: the rules, and none that a mention gives a meaning of
    /// its own (accounts made before keep theirs).
    pub fn parse_new(raw: &str) -> Result<Self, &'static str> {
        let name = Self::parse(raw)?;
        if RESERVED.contains(&name.key().as_str()) {
            return Err("That name means a group in messages (@here, @everyone): choose another.");
        }
        Ok(name)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key uniqueness is decided on: "Alice" and "alice" are the same account.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password that follows the rules (8 to 256 characters), not yet hashed. `Debug`
/// does not print it.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub const MIN: usize = 8;
    pub const MAX: usize = 256;

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let length = raw.chars().count();
        if length < Self::MIN {
            return Err("Passwords have at least 8 characters.");
        }
        if length > Self::MAX {
            return Err("Passwords have at most 256 characters.");
        }
        Ok(Self(raw.to_owned()))
    }

    /// A password for a new account of `username`: within the length rules, not the
    /// username itself, and not one of the commonest passwords (zxcvbn's lowest score:
    /// found within about a thousand guesses, the username's variations among them).
    pub fn choose(raw: &str, username: &str) -> Result<Self, &'static str> {
        let password = Self::parse(raw)?;
        let name = username.trim();
        if !name.is_empty() && raw.trim().eq_ignore_ascii_case(name) {
            return Err("Your password can't be your username.");
        }
        if zxcvbn::zxcvbn(raw, &[name]).score() == zxcvbn::Score::Zero {
            return Err(
                "That password is one of the most common ones. Choose one that is harder to guess.",
            );
        }
        Ok(password)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_the_rules() {
        assert!(Username::parse("al").is_err());
        assert!(Username::parse(&"a".repeat(33)).is_err());
        assert!(Username::parse("al ice").is_err());
        assert!(Username::parse("ålice").is_err());
        assert!(Username::parse("a\u{202e}bc").is_err());
        assert_eq!(
            Username::parse(" Alice_1-x ").map(|u| u.key()),
            Ok("alice_1-x".to_owned())
        );
    }

    #[test]
    fn passwords_have_a_length_range() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse(&"x".repeat(257)).is_err());
        assert!(Password::parse("long enough").is_ok());
    }

    #[test]
    fn the_commonest_passwords_and_the_username_are_refused() {
        for common in ["password", "12345678", "qwertyuiop", "iloveyou"] {
            assert!(Password::choose(common, "alice").is_err(), "{common}");
        }
        assert!(Password::choose("alice_1984", "alice_1984").is_err());
        assert!(Password::choose("ALICE_1984", "alice_1984").is_err());
        assert!(Password::choose("tulip-harbor-42", "alice").is_ok());
        assert!(Password::choose("password123", "alice").is_err());
        assert!(Password::choose("correct horse battery", "alice").is_ok());
    }
}
