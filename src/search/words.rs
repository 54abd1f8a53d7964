//! Words as search sees them: runs of letters and digits (with their accents), compared
//! in lower case without accents. The same rule as SQLite's `unicode61` tokenizer with
//! `remove_diacritics 2`, so that the words a query asks for are the words the index
//! holds, and the words a snippet marks are the ones that matched.
use std::ops::Range;

use unicode_normalization::{UnicodeNormalization, char::is_combining_mark};

/// Whether `c` belongs to a word (anything else separates words).
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || is_combining_mark(c)
}

/// Whether `c` is of a script written without spaces between words (Chinese, Japanese,
/// Thai, Lao, Khmer, Burmese), where a run of letters is a sentence rather than a word
/// and the index cannot find the words inside it.
pub fn is_spaceless(c: char) -> bool {
    matches!(c as u32,
        0x0E00..=0x0EFF // Thai, Lao
        | 0x1000..=0x109F // Myanmar
        | 0x1780..=0x17FF // Khmer
        | 0x3040..=0x30FF // Hiragana, Katakana
        | 0x31F0..=0x31FF
        | 0x3400..=0x4DBF // Han
        | 0x4E00..=0x9FFF
        | 0xF900..=0xFAFF
        | 0xFF66..=0xFF9F // half-width Katakana
        | 0x20000..=0x2FA1F)
}

/// Where each word of `text` is, in order.
pub fn spans(text: &str) -> Vec<Range<usize>> {
    let mut spans = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (is_word_char(c), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                spans.push(s..i);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        spans.push(s..text.len());
    }
    spans
}

/// `word` as it is compared: lower case, accents taken off.
pub fn fold(word: &str) -> String {
    word.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The words of `text`, folded.
pub fn folded_words(text: &str) -> Vec<String> {
    spans(text)
        .into_iter()
        .filter_map(|span| text.get(span))
        .map(fold)
        .filter(|w| !w.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_letters_and_digits_in_any_script() {
        assert_eq!(
            folded_words("Café au lait, **s'il** vous-plaît! 42 Ωμέγα"),
            [
                "cafe",
                "au",
                "lait",
                "s",
                "il",
                "vous",
                "plait",
                "42",
                "ωμεγα"
            ]
        );
    }

    #[test]
    fn a_decomposed_accent_stays_inside_its_word() {
        assert_eq!(folded_words("cafe\u{301} noir"), ["cafe", "noir"]);
    }

    #[test]
    fn chinese_japanese_and_thai_are_written_without_spaces() {
        for text in ["东京", "とうきょう", "トウキョウ", "ภาษาไทย"] {
            assert!(text.chars().all(is_spaceless), "{text}");
        }
        assert!(!"Ωμέγα café москва".chars().any(is_spaceless));
    }

    #[test]
    fn punctuation_alone_has_no_words() {
        assert!(folded_words("* \" () : -").is_empty());
    }
}
