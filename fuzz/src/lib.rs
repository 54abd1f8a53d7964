//! The checks the fuzz targets share: the properties of tests/properties.rs, made cheap
//! enough to run millions of times (no HTML parser: since every `<` of the input is
//! escaped, each `<` in the output must begin a tag the renderer wrote, and each must
//! be one of the Markdown dialect's, in one of the shapes it writes).
use hearth::chat::{BodyError, MessageBody, MessageView, format, views};

const ANCHOR_OPEN: &str = r#"<a href=""#;
const ANCHOR_REST: &str = r#"" rel="noopener noreferrer nofollow" target="_blank">"#;

/// Tags the renderer writes as they are.
const PLAIN_TAGS: &[&str] = &[
    "<p>", "</p>", "<br>", "<strong>", "</strong>", "<em>", "</em>", "<del>", "</del>",
    "<code>", "</code>", "<pre tabindex=\"0\">", "</pre>", "<blockquote>", "</blockquote>", "<ul>", "</ul>",
    "<ol>", "</ol>", "<li>", "</li>", "</a>", "</span>",
];

fn view(author: &str, body: &str) -> MessageView {
    MessageView {
        id: 1,
        conversation_id: 2,
        author_id: 3,
        author: author.to_owned(),
        author_avatar: None,
        body: body.to_owned(),
        body_html: Some(format::render(body)),
        created_at: 1_790_000_000_000,
        seq: 1,
        updated_seq: 1,
        edited_at: None,
        deleted_at: None,
        reply: None,
        reactions: Vec::new(),
        attachments: Vec::new(),
    }
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// maud's escaping, for comparing.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let (entity, c) = [
            ("&amp;", '&'),
            ("&lt;", '<'),
            ("&gt;", '>'),
            ("&quot;", '"'),
            ("&#39;", '\''),
        ]
        .into_iter()
        .find(|(e, _)| rest.starts_with(e))
        .unwrap_or_else(|| panic!("a bare & in rendered text: {rest:?}"));
        out.push(c);
        rest = &rest[entity.len()..];
    }
    out.push_str(rest);
    out
}

/// `raw` as a message: refused with a true reason, or accepted as a body with every
/// property, which renders to no markup but the linkifier's anchors and shows exactly.
pub fn check_message_text(raw: &str) {
    match MessageBody::parse(raw) {
        Ok(body) => check_body(&body),
        Err(BodyError::Empty) => assert!(
            raw.chars()
                .all(|c| c.is_whitespace() || c.is_control() || is_bidi_control(c)),
            "refused as empty: {raw:?}"
        ),
        Err(BodyError::TooLong(n)) => {
            assert!(n > MessageBody::MAX_CHARS && n <= raw.chars().count())
        }
    }
}

fn check_body(body: &MessageBody) {
    let s = body.as_str();
    let length = s.chars().count();
    assert!(
        (1..=MessageBody::MAX_CHARS).contains(&length),
        "{length} chars"
    );
    assert!(
        s.chars()
            .all(|c| (!c.is_control() || c == '\n' || c == '\t') && !is_bidi_control(c)),
        "a control character kept: {s:?}"
    );
    assert_eq!(s.trim(), s, "whitespace kept at an end");
    assert_eq!(
        MessageBody::parse(s).as_ref(),
        Ok(body),
        "parse is not idempotent"
    );

    check_rendered(s);
    let html = views::message(&view("fuzz", s)).into_string();
    assert!(!html.contains("<script"), "{html}");
}

/// `text` rendered: only the dialect's tags, anchors only to the web, text escaped,
/// and every character shown one that was typed (entities aside).
pub fn check_rendered(text: &str) {
    let html = format::render(text);
    let shown = shown_text(&html);
    if !text.contains('&') {
        for c in shown.chars() {
            assert!(text.contains(c), "{c:?} shown but not typed in {text:?}");
        }
    }
}

/// The text a browser shows for rendered message text, checking that its only markup
/// is the dialect's.
fn shown_text(mut html: &str) -> String {
    let mut text = String::new();
    while let Some(at) = html.find('<') {
        text.push_str(&unescape(&html[..at]));
        html = &html[at..];
        if let Some(tag) = PLAIN_TAGS.iter().find(|t| html.starts_with(**t)) {
            html = &html[tag.len()..];
            continue;
        }
        let close = html.find('>').unwrap_or_else(|| panic!("an unclosed tag: {html:?}"));
        let tag = &html[..=close];
        if let Some(after) = tag.strip_prefix(ANCHOR_OPEN) {
            let end = after.find('"').expect("a closed href");
            let href = unescape(&after[..end]);
            let scheme = href.get(..8).unwrap_or(&href).to_ascii_lowercase();
            assert!(
                scheme.starts_with("http://") || scheme.starts_with("https://"),
                "an anchor to {href:?}"
            );
            assert_eq!(&after[end..], ANCHOR_REST, "an anchor of another shape: {tag:?}");
        } else if let Some(class) = tag
            .strip_prefix("<span class=\"")
            .and_then(|t| t.strip_suffix("\">"))
        {
            assert!(class.split(' ').all(|c| c.starts_with("hl-")), "{tag:?}");
        } else if let Some(class) = tag
            .strip_prefix("<code class=\"language-")
            .and_then(|t| t.strip_suffix("\">"))
        {
            assert!(
                class.chars().all(|c| c.is_ascii_alphanumeric() || "+#-_".contains(c)),
                "{tag:?}"
            );
        } else if let Some(start) = tag.strip_prefix("<ol start=\"").and_then(|t| t.strip_suffix("\">")) {
            assert!(start.parse::<u64>().is_ok(), "{tag:?}");
        } else {
            panic!("markup from input: {tag:?}");
        }
        html = &html[close + 1..];
    }
    text.push_str(&unescape(html));
    text
}

/// `raw` as an author's name stays inside its attribute and its span.
pub fn check_author(raw: &str) {
    let html = views::message(&view(raw, "hello")).into_string();
    let plain = views::message(&view("a", "hello")).into_string();
    let escaped = escape(raw);
    assert!(
        html.contains(&format!(r#" data-author="{escaped}" data-ts=""#)),
        "{html}"
    );
    assert!(
        html.contains(&format!(r#"<span class="author" dir="auto">{escaped}</span>"#)),
        "{html}"
    );
    assert_eq!(
        html.matches('<').count(),
        plain.matches('<').count(),
        "markup from an author's name: {html}"
    );
}
