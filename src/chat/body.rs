//! [`MessageBody`]: the only way text becomes a message. Parse, don't validate: once a
//! `MessageBody` exists, it is trimmed, free of control characters and within limits,
//! and nothing downstream checks again.
use std::fmt;

/// The text of a message: 1 to 4000 characters after trimming, with control characters
/// other than newline and tab removed, and the invisible ones that disguise text
/// ([`super::invisible`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageBody(String);

/// Why a body was refused, in words for the person who wrote it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("Write something before sending.")]
    Empty,
    #[error("Messages can be at most 4000 characters; this one has {0}.")]
    TooLong(usize),
}

impl MessageBody {
    pub const MAX_CHARS: usize = 4000;

    pub fn parse(raw: &str) -> Result<Self, BodyError> {
        // Counting while filtering keeps a huge input from being copied twice; the
        // request size limits bound `raw` before it gets here.
        let cleaned: String = raw.chars().filter(|&c| is_kept(c)).collect();
        let cleaned = if super::invisible::has_any(&cleaned) {
            super::invisible::strip(&cleaned)
        } else {
            cleaned
        };
        let trimmed = cleaned.trim();
        let length = trimmed.chars().count();
        if length == 0 {
            return Err(BodyError::Empty);
        }
        if length > Self::MAX_CHARS {
            return Err(BodyError::TooLong(length));
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// [`MessageBody::parse`] for a message that has files, whose text may be empty.
    pub fn parse_beside_files(raw: &str) -> Result<Self, BodyError> {
        match Self::parse(raw) {
            Err(BodyError::Empty) => Ok(Self(String::new())),
            parsed => parsed,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// Newlines and tabs stay; other control characters go, and so do the bidi embedding,
/// override and isolate controls, which can make text read differently from what it
/// is (a link or a name shown backwards).
fn is_kept(c: char) -> bool {
    match c {
        '\n' | '\t' => true,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => false,
        c => !c.is_control(),
    }
}

impl fmt::Display for MessageBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_trimmed_and_stripped_of_control_characters() {
        let body =
            MessageBody::parse("  hi\u{7}\u{0} there\r\n\tok\u{202E}  ").map(|b| b.into_string());
        assert_eq!(body, Ok("hi there\n\tok".to_owned()));
    }

    #[test]
    fn empty_and_overlong_bodies_are_refused() {
        assert_eq!(MessageBody::parse(" \n\u{1} "), Err(BodyError::Empty));
        assert_eq!(
            MessageBody::parse(&"é".repeat(4001)),
            Err(BodyError::TooLong(4001))
        );
        assert!(MessageBody::parse(&"é".repeat(4000)).is_ok());
    }
}
