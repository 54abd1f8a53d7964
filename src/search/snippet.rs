//! The snippet a search result shows: the part of a message's text around its first
//! matching word, with every matching word marked. Built here from the stored text
//! rather than taken from the index's own snippet function, whose markup would have to
//! be trusted: the parts are plain text, which the view escapes.
use std::ops::Range;

use super::words;

/// Characters shown before the first match, at most.
const LEAD: usize = 60;
/// Characters a snippet holds, about (a word at either end is kept whole).
const LENGTH: usize = 220;

/// A snippet: whether text was left out before and after, and its parts in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snippet {
    pub cut_before: bool,
    pub cut_after: bool,
    pub parts: Vec<Part>,
}

/// A piece of a snippet's text, marked when it is a word that was searched for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    pub text: String,
    pub marked: bool,
}

/// The snippet of `body` for the folded words `wanted` and the `literals` of scripts
/// without spaces (marked wherever they are, inside a run of letters too).
pub fn of(body: &str, wanted: &[&str], literals: &[&str]) -> Snippet {
    let spans = words::spans(body);
    let mut marked: Vec<Range<usize>> = spans
        .iter()
        .filter(|span| {
            body.get((*span).clone())
                .is_some_and(|w| wanted.contains(&words::fold(w).as_str()))
        })
        .cloned()
        .collect();
    for literal in literals.iter().filter(|l| !l.is_empty()) {
        marked.extend(
            body.match_indices(literal)
                .map(|(at, text)| at..at + text.len()),
        );
    }
    marked.sort_by_key(|r| (r.start, std::cmp::Reverse(r.end)));
    let mut end_of_last = 0;
    marked.retain(|r| {
        let apart = r.start >= end_of_last;
        if apart {
            end_of_last = r.end;
        }
        apart
    });
    let first = marked.first().map_or(0, |r| r.start);
    let start = whole_word(&spans, back(body, first, LEAD), |s| s.start);
    let end = whole_word(&spans, forward(body, start, LENGTH), |s| s.end);

    let mut parts = Vec::new();
    let mut cursor = start;
    for span in marked
        .iter()
        .filter(|span| span.start >= start && span.end <= end)
    {
        push(&mut parts, body.get(cursor..span.start), false);
        push(&mut parts, body.get(span.clone()), true);
        cursor = span.end;
    }
    push(&mut parts, body.get(cursor..end), false);
    Snippet {
        cut_before: start > 0,
        cut_after: end < body.len(),
        parts,
    }
}

fn push(parts: &mut Vec<Part>, text: Option<&str>, marked: bool) {
    if let Some(text) = text.filter(|t| !t.is_empty()) {
        parts.push(Part {
            text: text.to_owned(),
            marked,
        });
    }
}

/// The byte offset `chars` characters before `at` (or the start).
fn back(text: &str, at: usize, chars: usize) -> usize {
    text.get(..at)
        .and_then(|head| head.char_indices().rev().nth(chars.saturating_sub(1)))
        .map_or(0, |(i, _)| i)
}

/// The byte offset `chars` characters after `at` (or the end).
fn forward(text: &str, at: usize, chars: usize) -> usize {
    text.get(at..)
        .and_then(|tail| tail.char_indices().nth(chars))
        .map_or(text.len(), |(i, _)| at + i)
}

/// `at`, moved to the edge (`edge`) of the word it falls inside, if any.
fn whole_word(spans: &[Range<usize>], at: usize, edge: impl Fn(&Range<usize>) -> usize) -> usize {
    spans
        .iter()
        .find(|s| s.start < at && at < s.end)
        .map_or(at, edge)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(snippet: &Snippet) -> String {
        let mut out = String::new();
        if snippet.cut_before {
            out.push('…');
        }
        for part in &snippet.parts {
            if part.marked {
                out.push_str(&format!("[{}]", part.text));
            } else {
                out.push_str(&part.text);
            }
        }
        if snippet.cut_after {
            out.push('…');
        }
        out
    }

    #[test]
    fn matching_words_are_marked_whatever_their_case_and_accents() {
        let snippet = of(
            "Lunch at the CAFÉ? Café or cafe, <b>cafés</b>",
            &["cafe"],
            &[],
        );
        assert_eq!(
            shown(&snippet),
            "Lunch at the [CAFÉ]? [Café] or [cafe], <b>cafés</b>"
        );
    }

    #[test]
    fn a_long_text_is_cut_around_the_first_match_at_whole_words() {
        let body = format!("{} needle {}", "hay ".repeat(100), "straw ".repeat(100));
        let text = shown(&of(&body, &["needle"], &[]));
        assert!(text.starts_with("…"), "{text}");
        assert!(text.ends_with("…"), "{text}");
        assert!(text.contains("[needle]"));
        assert!(!text.contains("ha…") && !text.contains(" st…"), "{text}");
        assert!(text.chars().count() < LENGTH + 20);
    }

    #[test]
    fn text_without_spaces_is_marked_inside_its_run_of_letters() {
        assert_eq!(
            shown(&of("明日は東京タワーに行く、東京!", &["tokyo"], &["東京"])),
            "明日は[東京]タワーに行く、[東京]!"
        );
    }

    #[test]
    fn a_text_without_a_match_shows_its_start() {
        assert_eq!(shown(&of("ab c", &["zz"], &[])), "ab c");
        assert_eq!(shown(&of("", &["zz"], &[])), "");
    }
}
