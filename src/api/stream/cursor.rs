//! Where an event stream stands: the latest app event it carried and, for each of its
//! conversations, the latest event of that conversation it carried. Every streamed
//! event's SSE `id` is the whole cursor, so the `Last-Event-ID` a client sends back
//! on reconnecting says exactly where each conversation resumes; nothing is kept on
//! the server between connections.
//!
//! Written as `e{event}` followed by `.{conversation}-{seq}` for each conversation, in
//! the order of their ids: `e12.3-57.5-9`.
use std::collections::BTreeMap;

/// The most conversations one stream follows.
pub const MAX_CONVERSATIONS: usize = 100;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    /// The latest app event carried.
    pub event: i64,
    /// Each followed conversation's latest event carried.
    pub conversations: BTreeMap<i64, i64>,
}

impl Cursor {
    /// Reads a `Last-Event-ID`; `None` when it is not one this server wrote.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split('.');
        let event = parts.next()?.strip_prefix('e')?.parse().ok()?;
        let mut conversations = BTreeMap::new();
        for part in parts {
            let (id, seq) = part.split_once('-')?;
            let (id, seq): (i64, i64) = (id.parse().ok()?, seq.parse().ok()?);
            if id <= 0 || seq < 0 || conversations.insert(id, seq).is_some() {
                return None;
            }
            if conversations.len() > MAX_CONVERSATIONS {
                return None;
            }
        }
        (event >= 0).then_some(Self {
            event,
            conversations,
        })
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "e{}", self.event)?;
        for (id, seq) in &self.conversations {
            write!(f, ".{id}-{seq}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_as_written() {
        let cursor = Cursor {
            event: 12,
            conversations: BTreeMap::from([(3, 57), (5, 0), (40, 9)]),
        };
        let text = cursor.to_string();
        assert_eq!(text, "e12.3-57.5-0.40-9");
        assert_eq!(Cursor::parse(&text), Some(cursor));
        assert_eq!(Cursor::parse("e0"), Some(Cursor::default()));
    }

    #[test]
    fn anything_else_is_not_a_cursor() {
        let many: String = (1..=101).map(|i| format!(".{i}-1")).collect();
        for bad in [
            "",
            "12",
            "e",
            "e-1",
            "ex",
            "e1.",
            "e1.3",
            "e1.3-",
            "e1.3-x",
            "e1.0-4",
            "e1.3--1",
            "e1.3-4.3-5",
            "e1 .3-4",
        ] {
            assert_eq!(Cursor::parse(bad), None, "{bad:?}");
        }
        assert_eq!(Cursor::parse(&format!("e1{many}")), None);
    }
}
