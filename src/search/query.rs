//! What a person types into the search box, read the way Slack reads it: words (all of
//! them must be there), `"quoted phrases"`, and filters: `from:@alice`, `in:#general`,
//! `in:@bob` (the private chat with bob), `before:2026-12-01`, `after:2026-12-01`,
//! `has:link`, `has:file`.
//!
//! Nothing typed reaches a full-text engine's syntax: a [`Term`] holds only the words
//! found in it (letters and digits), which the queries quote. So `NEAR(`, `*`, `body:x`
//! or an unbalanced quote are words or nothing, never an operator.
use time::{Date, Month};

use super::words;

/// The longest query taken, in characters.
pub const MAX_CHARS: usize = 256;

/// A parsed query: its terms and filters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SearchQuery {
    pub terms: Vec<Term>,
    /// `from:@name`: the author's name, in lower case.
    pub from: Option<String>,
    pub place: Option<Place>,
    /// `before:`: messages written before this time (ms), the date's midnight UTC.
    pub before: Option<i64>,
    /// `after:`: messages written from this time (ms), the midnight ending the date.
    pub after: Option<i64>,
    pub has_link: bool,
    pub has_file: bool,
}

/// A word or a quoted phrase: what was typed, and the words in it (folded), which
/// must all appear, in this order and next to each other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Term {
    pub typed: String,
    pub words: Vec<String>,
}

impl Term {
    /// Whether the term is in a script written without spaces ([`words::is_spaceless`]):
    /// it is then looked for as it was typed, inside the text, not as a word.
    pub fn is_spaceless(&self) -> bool {
        self.typed.chars().any(words::is_spaceless)
    }

    /// The words of the term as typed (letters, digits and their accents only), for an
    /// index that folds them itself.
    pub fn typed_words(&self) -> Vec<&str> {
        words::spans(&self.typed)
            .into_iter()
            .filter_map(|span| self.typed.get(span))
            .collect()
    }

    /// What a spaceless term looks for: the text typed, without the punctuation and
    /// spaces around it.
    pub fn literal(&self) -> &str {
        self.typed.trim_matches(|c: char| !c.is_alphanumeric())
    }
}

/// `in:`: where to look.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// `in:#slug`: a room, by its slug.
    Room(String),
    /// `in:@name`: the viewer's private chat with this person (name in lower case).
    Private(String),
}

/// Why a query cannot be searched, in words for the person who typed it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("Type a word to search for.")]
    Empty,
    #[error("A search can be at most 256 characters long.")]
    TooLong,
    #[error("There is nothing to search for in that: type a word with letters or numbers.")]
    NoWords,
    #[error("Dates are written like 2026-12-01, as in before:2026-12-01.")]
    BadDate,
    #[error("Only has:link and has:file are known.")]
    UnknownHas,
}

impl SearchQuery {
    /// Reads `text`; a query needs a word or a filter.
    pub fn parse(text: &str) -> Result<Self, QueryError> {
        // Control characters are spaces: a database may refuse some (PostgreSQL, NUL).
        let text: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let text = text.trim();
        if text.is_empty() {
            return Err(QueryError::Empty);
        }
        if text.chars().count() > MAX_CHARS {
            return Err(QueryError::TooLong);
        }
        let mut query = SearchQuery::default();
        let mut filtered = false;
        for piece in pieces(text) {
            match piece {
                Piece::Phrase(phrase) => query.add_term(phrase),
                Piece::Bare(bare) => {
                    if query.filter(bare)? {
                        filtered = true;
                    } else {
                        query.add_term(bare);
                    }
                }
            }
        }
        if query.terms.is_empty() && !filtered {
            return Err(QueryError::NoWords);
        }
        Ok(query)
    }

    /// Every word the terms ask for, folded (the words a snippet marks).
    pub fn words(&self) -> impl Iterator<Item = &str> {
        self.terms
            .iter()
            .filter(|t| !t.is_spaceless())
            .flat_map(|t| t.words.iter().map(String::as_str))
    }

    /// The text of every spaceless term (which a snippet marks wherever it is).
    pub fn literals(&self) -> impl Iterator<Item = &str> {
        self.terms
            .iter()
            .filter(|t| t.is_spaceless())
            .map(Term::literal)
    }

    fn add_term(&mut self, typed: &str) {
        let words = words::folded_words(typed);
        if !words.is_empty() {
            self.terms.push(Term {
                typed: typed.to_owned(),
                words,
            });
        }
    }

    /// Takes `bare` as a filter if it is one; `false` when it is plain text (an
    /// unknown `key:`, or a filter with nothing after the colon).
    fn filter(&mut self, bare: &str) -> Result<bool, QueryError> {
        let Some((key, value)) = bare.split_once(':') else {
            return Ok(false);
        };
        if value.is_empty() {
            return Ok(false);
        }
        match key.to_lowercase().as_str() {
            "from" => self.from = Some(value.trim_start_matches('@').to_lowercase()),
            "in" => {
                self.place = Some(match value.strip_prefix('@') {
                    Some(person) => Place::Private(person.to_lowercase()),
                    None => Place::Room(value.trim_start_matches('#').to_lowercase()),
                })
            }
            "before" => self.before = Some(midnight(value, 0)?),
            "after" => self.after = Some(midnight(value, 1)?),
            "has" => match value.to_lowercase().as_str() {
                "link" => self.has_link = true,
                "file" => self.has_file = true,
                _ => return Err(QueryError::UnknownHas),
            },
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// The midnight (UTC, in ms) `days_later` days after the start of the date `text`
/// (`2026-12-01`).
fn midnight(text: &str, days_later: i64) -> Result<i64, QueryError> {
    let mut parts = text.splitn(3, '-').map(str::parse::<u16>);
    let (Some(Ok(year)), Some(Ok(month)), Some(Ok(day))) =
        (parts.next(), parts.next(), parts.next())
    else {
        return Err(QueryError::BadDate);
    };
    let month = u8::try_from(month)
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .ok_or(QueryError::BadDate)?;
    let day = u8::try_from(day).map_err(|_| QueryError::BadDate)?;
    let date =
        Date::from_calendar_date(i32::from(year), month, day).map_err(|_| QueryError::BadDate)?;
    let seconds = date.midnight().assume_utc().unix_timestamp() + days_later * 86_400;
    Ok(seconds * 1000)
}

/// A piece of the query: a quoted phrase, or a run of text without spaces.
#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    Phrase(&'a str),
    Bare(&'a str),
}

/// The pieces of `text`. A quote left open runs to the end.
fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut pieces = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return pieces;
        }
        if let Some(after) = rest.strip_prefix('"') {
            let (phrase, next) = after.split_once('"').unwrap_or((after, ""));
            pieces.push(Piece::Phrase(phrase));
            rest = next;
        } else {
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '"')
                .unwrap_or(rest.len());
            let (bare, next) = rest.split_at(end);
            pieces.push(Piece::Bare(bare));
            rest = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words_of(query: &SearchQuery) -> Vec<Vec<&str>> {
        query
            .terms
            .iter()
            .map(|t| t.words.iter().map(String::as_str).collect())
            .collect()
    }

    #[test]
    fn words_and_phrases_are_terms() {
        let q = SearchQuery::parse(r#"lunch "Café Noir" today"#).expect("a query");
        assert_eq!(
            words_of(&q),
            [vec!["lunch"], vec!["cafe", "noir"], vec!["today"]]
        );
    }

    #[test]
    fn filters_are_read_and_taken_out_of_the_words() {
        let q = SearchQuery::parse(
            "from:@Alice in:#General deploy before:2026-12-01 after:2026-11-01 has:link",
        )
        .expect("a query");
        assert_eq!(q.from.as_deref(), Some("alice"));
        assert_eq!(q.place, Some(Place::Room("general".into())));
        assert_eq!(words_of(&q), [vec!["deploy"]]);
        assert_eq!(q.before, Some(1_796_083_200_000));
        assert_eq!(q.after, Some(1_793_491_200_000 + 86_400_000));
        assert!(q.has_link);
        let q = SearchQuery::parse("in:@Bob").expect("a filter alone");
        assert_eq!(q.place, Some(Place::Private("bob".into())));
        assert!(q.terms.is_empty());
    }

    #[test]
    fn full_text_syntax_is_only_words() {
        for (typed, words) in [
            ("NEAR(", vec![vec!["near"]]),
            ("body:x", vec![vec!["body", "x"]]),
            ("\"unbalanced", vec![vec!["unbalanced"]]),
            ("a* OR -b", vec![vec!["a"], vec!["or"], vec!["b"]]),
            ("from:", vec![vec!["from"]]),
        ] {
            let q = SearchQuery::parse(typed).expect("a query");
            assert_eq!(words_of(&q), words, "{typed}");
        }
    }

    #[test]
    fn queries_with_nothing_to_search_are_refused_with_a_reason() {
        assert_eq!(SearchQuery::parse("  "), Err(QueryError::Empty));
        assert_eq!(SearchQuery::parse("\""), Err(QueryError::NoWords));
        assert_eq!(SearchQuery::parse("* ( )"), Err(QueryError::NoWords));
        assert_eq!(
            SearchQuery::parse(&"a".repeat(MAX_CHARS + 1)),
            Err(QueryError::TooLong)
        );
        assert!(SearchQuery::parse(&"é".repeat(MAX_CHARS)).is_ok());
        assert_eq!(
            SearchQuery::parse("x before:yesterday"),
            Err(QueryError::BadDate)
        );
        assert_eq!(
            SearchQuery::parse("x before:2026-02-30"),
            Err(QueryError::BadDate)
        );
        assert_eq!(SearchQuery::parse("has:gif"), Err(QueryError::UnknownHas));
        assert!(SearchQuery::parse("has:file").is_ok_and(|q| q.has_file));
        assert_eq!(SearchQuery::parse("\0\u{7}\n"), Err(QueryError::Empty));
        let q = SearchQuery::parse("from:@a\0b x").expect("a query");
        assert_eq!(q.from.as_deref(), Some("a"));
    }
}
