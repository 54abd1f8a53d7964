//! Characters that show nothing and mean nothing to the scripts people write, which
//! disguise text instead: zero-width spaces and word joiners, the byte-order mark, soft
//! hyphens, Hangul fillers (letters that draw blank), invisible math operators, and tag
//! characters outside the emoji flags that need them (🏴 followed by tags, as in the
//! flags of England, Scotland and Wales). The joiners scripts and emoji need (ZWJ,
//! ZWNJ), variation selectors and the direction marks stay. Messages and room names
//! lose these characters before they are checked.

/// The black flag that starts an emoji tag sequence.
const BLACK_FLAG: char = '\u{1F3F4}';

fn is_tag(c: char) -> bool {
    matches!(c, '\u{E0000}'..='\u{E007F}')
}

/// Whether `c` is invisible and needed by no script (tags are decided in context).
fn is_disguise(c: char) -> bool {
    matches!(
        c,
        '\u{200B}' | '\u{2060}'
            ..='\u{2064}'
                | '\u{FEFF}'
                | '\u{00AD}'
                | '\u{180E}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{3164}'
                | '\u{FFA0}'
    )
}

/// `text` without its disguising characters.
pub fn strip(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // Whether the last kept character began or continues a flag's tag sequence.
    let mut in_flag = false;
    for c in text.chars() {
        if is_tag(c) {
            if in_flag {
                out.push(c);
                // U+E007F, CANCEL TAG, ends the sequence.
                in_flag = c != '\u{E007F}';
            }
            continue;
        }
        if is_disguise(c) {
            continue;
        }
        in_flag = c == BLACK_FLAG;
        out.push(c);
    }
    out
}

/// Whether `text` holds a character [`strip`] would take out.
pub fn has_any(text: &str) -> bool {
    text.chars().any(|c| is_disguise(c) || is_tag(c))
}

#[cfg(test)]
mod tests {
    use super::strip;

    #[test]
    fn disguises_go_and_what_scripts_and_emoji_need_stays() {
        assert_eq!(strip("pay\u{200B}pal\u{FEFF}"), "paypal");
        assert_eq!(strip("hi\u{E0041}\u{E0042}"), "hi", "stray tags");
        assert_eq!(strip("\u{3164}\u{3164}"), "", "Hangul fillers");
        let england = "\u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}";
        assert_eq!(strip(england), england, "a flag keeps its tags");
        assert_eq!(
            strip(&format!("{england}\u{E0041}")),
            england,
            "but only its own"
        );
        let family = "👩\u{200D}👩\u{200D}👧";
        assert_eq!(strip(family), family);
        assert_eq!(
            strip("می\u{200C}خواهم"),
            "می\u{200C}خواهم",
            "ZWNJ in Persian"
        );
        assert_eq!(strip("a\u{200F}b"), "a\u{200F}b", "direction marks stay");
    }
}
