//! The checks the fuzz targets share: the properties of tests/properties.rs, made cheap
//! enough to run millions of times (no HTML parser: since every `<` of the input is
//! escaped, each `<` in the output must begin a tag the template wrote).
use hearth::chat::{BodyError, MessageBody, MessageView, views};

const BODY_OPEN: &str = r#"<div class="message-body">"#;
const BODY_CLOSE: &str = "</div></article>";
const ANCHOR_OPEN: &str = r#"<a href=""#;
const ANCHOR_REST: &str = r#"" rel="noopener noreferrer nofollow" target="_blank">"#;
const ANCHOR_CLOSE: &str = "</a>";

fn view(author: &str, body: &str) -> MessageView {
    MessageView {
        id: 1,
        conversation_id: 2,
        author_id: 3,
        author: author.to_owned(),
        body: body.to_owned(),
        created_at: 1_790_000_000_000,
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

    let html = views::message(&view("fuzz", s)).into_string();
    assert!(!html.contains("<script"), "{html}");
    let start = html.find(BODY_OPEN).expect("a message body") + BODY_OPEN.len();
    assert!(html.ends_with(BODY_CLOSE), "{html}");
    let inner = &html[start..html.len() - BODY_CLOSE.len()];
    assert_eq!(
        shown_text(inner),
        s,
        "the body shows other text than it has"
    );
}

/// The text a browser shows for a `.message-body`'s inner HTML, checking that its only
/// markup is the linkifier's anchors.
fn shown_text(mut html: &str) -> String {
    let mut text = String::new();
    while let Some(at) = html.find('<') {
        text.push_str(&unescape(&html[..at]));
        html = &html[at..];
        let Some(after) = html.strip_prefix(ANCHOR_OPEN) else {
            panic!("markup from input: {html:?}");
        };
        let end = after.find('"').expect("a closed href");
        let href = unescape(&after[..end]);
        let scheme = href.get(..8).unwrap_or(&href).to_ascii_lowercase();
        assert!(
            scheme.starts_with("http://") || scheme.starts_with("https://"),
            "an anchor to {href:?}"
        );
        let after = after[end..]
            .strip_prefix(ANCHOR_REST)
            .unwrap_or_else(|| panic!("an anchor of another shape: {html:?}"));
        let close = after.find(ANCHOR_CLOSE).expect("a closed anchor");
        let label = &after[..close];
        assert!(!label.contains('<'), "markup inside an anchor: {html:?}");
        assert_eq!(
            unescape(label),
            href,
            "an anchor whose text is not its href"
        );
        text.push_str(&href);
        html = &after[close + ANCHOR_CLOSE.len()..];
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
        html.contains(&format!(r#"<span class="author">{escaped}</span>"#)),
        "{html}"
    );
    assert_eq!(
        html.matches('<').count(),
        plain.matches('<').count(),
        "markup from an author's name: {html}"
    );
}
