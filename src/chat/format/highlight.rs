//! Fenced code blocks, highlighted on the server by `syntect` with CSS classes (`hl-…`,
//! styled for light and dark in `assets/app.css`), so that a page carries no
//! highlighter and a message's colours follow the reader's theme.
//!
//! The language is the fence's first word (```` ```rust ````), looked up among
//! syntect's default syntaxes by name or extension; an unknown one, or none, is plain
//! text. syntect escapes the text it wraps in spans.
use std::sync::LazyLock;

use syntect::{
    html::{ClassStyle, ClassedHTMLGenerator},
    parsing::SyntaxSet,
    util::LinesWithEndings,
};

use super::escape;

static SYNTAXES: LazyLock<SyntaxSet> = LazyLock::new(SyntaxSet::load_defaults_newlines);

/// Loads the syntaxes now, off the async workers, so that the first code block posted
/// does not wait for them.
pub fn warm_up() {
    std::thread::spawn(|| LazyLock::force(&SYNTAXES));
}

/// Writes one code block: `<pre tabindex="0"><code class="language-…">…</code></pre>`
/// (a block wider than the message scrolls, and so takes the keyboard's focus).
pub fn code_block(language: Option<&str>, code: &str, out: &mut String) {
    let syntaxes = &*SYNTAXES;
    let syntax = language.and_then(|l| syntaxes.find_syntax_by_token(l));
    out.push_str("<pre tabindex=\"0\"><code");
    if let (Some(language), Some(_)) = (language, syntax) {
        out.push_str(" class=\"language-");
        // The class says which syntax was used, in characters a class name may hold.
        escape(
            &language
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '#' | '-' | '_'))
                .collect::<String>(),
            out,
        );
        out.push('"');
    }
    out.push('>');
    match syntax.and_then(|syntax| highlighted(syntax, syntaxes, code)) {
        Some(html) => out.push_str(&html),
        None => escape(code, out),
    }
    out.push_str("</code></pre>");
}

fn highlighted(
    syntax: &syntect::parsing::SyntaxReference,
    syntaxes: &SyntaxSet,
    code: &str,
) -> Option<String> {
    let mut html = ClassedHTMLGenerator::new_with_class_style(
        syntax,
        syntaxes,
        ClassStyle::SpacedPrefixed { prefix: "hl-" },
    );
    for line in LinesWithEndings::from(code) {
        html.parse_html_for_line_which_includes_newline(line).ok()?;
    }
    Some(html.finalize())
}

#[cfg(test)]
mod tests {
    use super::code_block;

    #[test]
    fn a_known_language_is_highlighted_and_its_text_escaped() {
        let mut out = String::new();
        code_block(Some("rust"), "let s = \"<b>\";\n", &mut out);
        assert!(
            out.starts_with(r#"<pre tabindex="0"><code class="language-rust">"#),
            "{out}"
        );
        assert!(out.contains("<span class=\"hl-"), "{out}");
        assert!(out.contains("&lt;b&gt;") && !out.contains("<b>"), "{out}");
    }

    #[test]
    fn an_unknown_language_is_plain_escaped_text() {
        let mut out = String::new();
        code_block(Some("\"><script>"), "<i>x</i>", &mut out);
        assert_eq!(
            out,
            r#"<pre tabindex="0"><code>&lt;i&gt;x&lt;/i&gt;</code></pre>"#
        );
    }
}
