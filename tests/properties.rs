//! Properties of the message sanitiser ([`MessageBody::parse`]), of the Markdown
//! renderer ([`format::render`]), of the one rendering of a message
//! ([`views::message`], [`views::appended`]) and of search's query parser and snippets
//! ([`SearchQuery::parse`], [`search::snippet::of`]), tried on generated input that is
//! as nasty as we can make it: combining marks, right-to-left text and bidi controls, emoji ZWJ
//! sequences, characters next to the surrogate range, NUL and other controls, strings
//! near the 4000-character limit, and fragments of HTML, Markdown and URLs.
//!
//! The rendered HTML is read back with a real HTML parser (scraper), the way a browser
//! would read it, rather than searched for substrings.
//!
//! `PROPTEST_CASES=5000 cargo test --test properties` tries harder than the default 256.
use hearth::chat::{BodyError, MessageBody, MessageView, format, views};
use hearth::live::socket::{Command, parse_frame};
use hearth::search::{
    self,
    query::{QueryError, SearchQuery},
};
use proptest::prelude::*;
use scraper::{ElementRef, Html, Selector};

// ---------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------

/// Single characters chosen for trouble.
const NASTY_CHARS: &[char] = &[
    '\0',
    '\u{1}',
    '\u{7}',
    '\u{8}',
    '\u{b}',
    '\u{c}',
    '\r',
    '\n',
    '\t',
    '\u{1b}',
    '\u{7f}',
    '\u{80}',
    '\u{85}',
    '\u{9f}', // C1 controls; U+0085 is also whitespace
    '\u{a0}',
    '\u{1680}',
    '\u{2000}',
    '\u{200a}',
    '\u{2028}',
    '\u{2029}',
    '\u{202f}',
    '\u{205f}',
    '\u{3000}', // whitespace that is not ASCII
    '\u{200b}',
    '\u{200c}',
    '\u{200d}',
    '\u{2060}',
    '\u{feff}', // zero-width
    '\u{200e}',
    '\u{200f}',
    '\u{61c}', // bidi marks
    '\u{202a}',
    '\u{202b}',
    '\u{202c}',
    '\u{202d}',
    '\u{202e}', // embeddings, overrides
    '\u{2066}',
    '\u{2067}',
    '\u{2068}',
    '\u{2069}', // isolates
    '\u{300}',
    '\u{301}',
    '\u{36f}',
    '\u{20dd}',
    '\u{fe0f}', // combining, variation
    '\u{5d0}',
    '\u{5ea}',
    '\u{627}',
    '\u{644}',
    '\u{6dd}', // Hebrew, Arabic
    '\u{d7ff}',
    '\u{e000}',
    '\u{fffd}',
    '\u{fffe}',
    '\u{ffff}', // around the surrogates
    '\u{10000}',
    '\u{10ffff}',
    '\u{e0001}',
    '\u{e007f}', // planes' edges, tags
    '<',
    '>',
    '"',
    '\'',
    '&',
    '`',
    '=',
    '/',
    ';',
    '#',
    ':',
];

/// Strings chosen for trouble: markup, attribute breaks, entities, URLs of every scheme.
const FRAGMENTS: &[&str] = &[
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "**",
    "*",
    "_",
    "~~",
    "`",
    "```",
    "```rust\n",
    "```\"><script>\n",
    "\n> ",
    "\n- ",
    "\n1. ",
    "\n7) ",
    "\n# ",
    "\n---\n",
    "\\",
    "[x](",
    "[link](javascript:alert(1))",
    "[link](https://a.example/\"onclick=\"x)",
    "![a](https://a.example/y.png)",
    "<https://a.example/",
    "|a|b|\n|-|-|",
    "[^1]",
    "    indented code",
    "<svg/onload=alert(1)>",
    "<iframe srcdoc=\"<script>alert(1)</script>\">",
    "\"><script>alert(1)</script>",
    "'><b>bold</b>",
    "\" onmouseover=\"alert(1)",
    "' autofocus onfocus='alert(1)",
    "</div></article><p>",
    "<a href=\"javascript:alert(1)\">x</a>",
    "<!--",
    "-->",
    "<![CDATA[",
    "]]>",
    "<!DOCTYPE html>",
    "<?xml?>",
    "<style>*{}</style>",
    "<textarea>",
    "<plaintext>",
    "&amp;",
    "&lt;script&gt;",
    "&#60;",
    "&#x3c;",
    "&quot;",
    "&",
    "&#",
    "&notin;",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(document.cookie)",
    "javascript://%0aalert(1)",
    "java\tscript:alert(1)",
    "vbscript:msgbox(1)",
    "data:text/html,<script>alert(1)</script>",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "https://a.example/p?q=1&r=2#frag",
    "http://a.example/\"onmouseover=\"alert(1)",
    "https://a.example/<script>",
    "https://a.example/'x'",
    "HTTPS://A.EXAMPLE/UPPER",
    "HtTp://mixed.example",
    "http://",
    "https://",
    "http://[::1]:8080/x",
    "https://user:pass@a.example:443/p",
    "https://例え.テスト/パス",
    "https://xn--r8jz45g.xn--zckzah/",
    "https://a.example/\u{202e}gpj.exe",
    "ftp://a.example/file",
    "file:///etc/passwd",
    "mailto:a@b.example",
    "www.a.example",
    "a.example",
    "(https://a.example/in-parens)",
    "<https://a.example/in-angles>",
    "\"https://a.example/in-quotes\"",
    "https://a.example/trailing.",
    "👩\u{200d}👩\u{200d}👧\u{200d}👦",
    "🏳\u{fe0f}\u{200d}🌈",
    "👨🏽\u{200d}💻",
    "🇺🇳",
    "e\u{301}\u{302}\u{303}\u{304}\u{305}\u{306}",
    "\u{5e9}\u{5dc}\u{5d5}\u{5dd} עולם",
    "مرحبا بالعالم",
    "\u{202e}moc.elpmaxe//:sptth",
    "\u{2067}abc\u{2069}",
    "\r\n",
    "  \t\n  ",
    "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇",
];

fn nasty_char() -> impl Strategy<Value = char> {
    use proptest::char::range;
    prop_oneof![
        4 => any::<char>(),
        4 => prop::sample::select(NASTY_CHARS),
        2 => range('\0', '\u{a0}'),            // ASCII, C0 and C1 controls
        1 => range('\u{300}', '\u{36f}'),      // combining marks
        1 => range('\u{590}', '\u{6ff}'),      // Hebrew and Arabic
        1 => range('\u{2000}', '\u{206f}'),    // spaces, zero-widths, bidi controls
        1 => range('\u{d700}', '\u{d7ff}'),    // just below the surrogates
        1 => range('\u{e000}', '\u{e0ff}'),    // just above them (private use)
        1 => range('\u{fff0}', '\u{ffff}'),    // specials and noncharacters
        1 => range('\u{1f300}', '\u{1faff}'),  // emoji
        1 => range('\u{e0000}', '\u{e007f}'),  // tags
        1 => range('\u{10fff0}', '\u{10ffff}'), // the very last code points
    ]
}

/// An emoji ZWJ sequence of a few emoji, some with skin tones or a variation selector.
fn zwj_sequence() -> impl Strategy<Value = String> {
    let emoji = (
        proptest::char::range('\u{1f466}', '\u{1f469}'),
        prop::option::of(proptest::char::range('\u{1f3fb}', '\u{1f3ff}')),
        any::<bool>(),
    )
        .prop_map(|(e, tone, vs)| {
            let mut s = e.to_string();
            s.extend(tone);
            if vs {
                s.push('\u{fe0f}');
            }
            s
        });
    prop::collection::vec(emoji, 1..5).prop_map(|parts| parts.join("\u{200d}"))
}

fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(FRAGMENTS).prop_map(str::to_owned),
        4 => prop::collection::vec(nasty_char(), 1..8).prop_map(String::from_iter),
        3 => "[a-zA-Z0-9 .,!?/:]{1,12}",
        1 => zwj_sequence(),
    ]
}

/// Input as a person (or an attacker) might type it, up to a few hundred characters.
fn short_text() -> impl Strategy<Value = String> {
    prop::collection::vec(piece(), 0..24).prop_map(|pieces| pieces.concat())
}

/// Input near the 4000-character limit: a short text repeated to a length on either side.
fn long_text() -> impl Strategy<Value = String> {
    (short_text(), 3_900usize..4_100).prop_map(|(text, n)| {
        if text.is_empty() {
            "x".repeat(n)
        } else {
            text.chars().cycle().take(n).collect()
        }
    })
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![4 => short_text(), 1 => long_text()]
}

/// Characters that `parse` drops wherever they are (controls and bidi controls), and
/// whitespace, which it trims from the ends.
const DROPPED_ANYWHERE: &[char] = &[
    '\0', '\u{1}', '\r', '\u{1b}', '\u{7f}', '\u{85}', '\u{9f}', '\u{202a}', '\u{202e}',
    '\u{2066}', '\u{2069}',
];
const TRIMMED_AT_THE_ENDS: &[char] = &[
    ' ', '\n', '\t', '\u{a0}', '\u{2028}', '\u{3000}', '\0', '\r', '\u{85}', '\u{202e}',
];

// ---------------------------------------------------------------------------------------
// Checking rendered HTML
// ---------------------------------------------------------------------------------------

/// The bidi embedding, override and isolate controls.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

const ANCHOR_REL: &str = "noopener noreferrer nofollow";

fn view(author: &str, body: &str) -> MessageView {
    MessageView {
        id: 42,
        conversation_id: 7,
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

fn selector(css: &str) -> Selector {
    Selector::parse(css).expect("a valid selector")
}

/// The elements inside `root`, not counting `root` itself.
fn elements_within(root: ElementRef<'_>) -> Vec<ElementRef<'_>> {
    root.descendants()
        .skip(1)
        .filter_map(ElementRef::wrap)
        .collect()
}

/// What an HTML parser does to text before anything else: CR LF and CR become LF.
fn preprocessed(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\r', "\n")
}

/// The elements the Markdown dialect makes, and the attributes each may carry.
const DIALECT: &[(&str, &[&str])] = &[
    ("p", &[]),
    ("br", &[]),
    ("strong", &[]),
    ("em", &[]),
    ("del", &[]),
    ("code", &["class"]),
    ("pre", &["tabindex"]),
    ("blockquote", &[]),
    ("ul", &[]),
    ("ol", &["start"]),
    ("li", &[]),
    ("a", &["href", "rel", "target"]),
    ("span", &["class"]),
];

/// Checks that rendered message text holds nothing but the dialect's elements with
/// their attributes (anchors only to the web, with the site's rel and target; classes
/// only the highlighter's), and returns its text content.
fn body_text(body: ElementRef<'_>) -> Result<String, TestCaseError> {
    for element in elements_within(body) {
        let el = element.value();
        let allowed = DIALECT.iter().find(|(name, _)| *name == el.name());
        prop_assert!(allowed.is_some(), "a tag from input: {}", element.html());
        let allowed = allowed.map(|(_, attrs)| *attrs).unwrap_or_default();
        for (name, value) in el.attrs() {
            prop_assert!(
                allowed.contains(&name),
                "an attribute from input: {}",
                element.html()
            );
            if name == "class" {
                let ok = match el.name() {
                    "code" => value.starts_with("language-"),
                    _ => value.split(' ').all(|c| c.starts_with("hl-")),
                };
                prop_assert!(ok, "a class from input: {}", element.html());
            }
            if name == "tabindex" {
                prop_assert_eq!(value, "0", "{}", element.html());
            }
            if name == "start" {
                prop_assert!(value.parse::<u64>().is_ok(), "{}", element.html());
            }
        }
        if el.name() == "a" {
            let href = el.attr("href").unwrap_or_default();
            let scheme = href.get(..8).unwrap_or(href).to_ascii_lowercase();
            prop_assert!(
                scheme.starts_with("http://") || scheme.starts_with("https://"),
                "an anchor to a non-web URL: {}",
                element.html()
            );
            prop_assert_eq!(el.attr("rel"), Some(ANCHOR_REL));
            prop_assert_eq!(el.attr("target"), Some("_blank"));
            prop_assert!(
                elements_within(element)
                    .iter()
                    .all(|e| e.value().name() != "a"),
                "a link inside a link: {}",
                element.html()
            );
        }
    }
    Ok(body.text().collect())
}

/// What a message shows around its text.
const CHROME: &[&str] = &[
    "header", "span", "a", "time", "div", "ul", "li", "button", "details", "summary", "nav",
];

/// The one `article.message` of a rendered message, with nothing but the message's own
/// elements outside its body.
fn the_article(fragment: &Html) -> Result<ElementRef<'_>, TestCaseError> {
    let articles: Vec<_> = fragment.select(&selector("article")).collect();
    prop_assert_eq!(articles.len(), 1, "{}", fragment.html());
    let article = articles[0];
    let outside_body: Vec<&str> = elements_within(article)
        .into_iter()
        .filter(|e| {
            !e.ancestors()
                .filter_map(ElementRef::wrap)
                .any(|a| a.value().classes().any(|c| c == "message-body"))
        })
        .map(|e| e.value().name())
        .collect();
    prop_assert!(
        outside_body.iter().all(|name| CHROME.contains(name)),
        "{:?} in {}",
        outside_body,
        fragment.html()
    );
    Ok(article)
}

/// Renders `author`'s message `body` with [`views::message`], parses it back, checks its
/// shape, and returns the body's text content.
fn rendered_body_text(author: &str, body: &str) -> Result<String, TestCaseError> {
    let html = views::message(&view(author, body)).into_string();
    prop_assert!(!html.to_ascii_lowercase().contains("<script"), "{html}");
    let fragment = Html::parse_fragment(&html);
    let article = the_article(&fragment)?;
    let bodies: Vec<_> = article.select(&selector("div.message-body")).collect();
    prop_assert_eq!(bodies.len(), 1, "{}", html);
    body_text(bodies[0])
}

/// Text with nothing Markdown reads as a mark: words and the punctuation of sentences.
fn plain_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        "[a-zA-Z0-9\\u{e0}-\\u{ff}\\u{5d0}-\\u{5ea}\\u{4e00}-\\u{4e20}]{1,12}[,!?]?",
        1..30,
    )
    .prop_map(|words| words.join(" "))
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

proptest! {
    #[test]
    fn parsing_an_accepted_body_again_gives_the_same_body(raw in text()) {
        if let Ok(body) = MessageBody::parse(&raw) {
            prop_assert_eq!(MessageBody::parse(body.as_str()), Ok(body));
        }
    }

    #[test]
    fn an_accepted_body_is_never_empty_and_never_longer_than_the_limit(raw in text()) {
        if let Ok(body) = MessageBody::parse(&raw) {
            let length = body.as_str().chars().count();
            prop_assert!(length >= 1);
            prop_assert!(length <= MessageBody::MAX_CHARS, "{} chars", length);
        }
    }

    #[test]
    fn an_accepted_body_has_no_control_characters_but_newline_and_tab(raw in text()) {
        if let Ok(body) = MessageBody::parse(&raw) {
            for c in body.as_str().chars() {
                prop_assert!(!c.is_control() || c == '\n' || c == '\t', "{:?} kept", c);
            }
        }
    }

    #[test]
    fn an_accepted_body_has_no_bidi_embedding_override_or_isolate_controls(raw in text()) {
        if let Ok(body) = MessageBody::parse(&raw) {
            for c in body.as_str().chars() {
                prop_assert!(!is_bidi_control(c), "{:?} kept", c);
            }
        }
    }

    #[test]
    fn an_accepted_body_has_no_leading_or_trailing_whitespace(raw in text()) {
        if let Ok(body) = MessageBody::parse(&raw) {
            let s = body.as_str();
            prop_assert!(!s.starts_with(char::is_whitespace), "{:?}", s);
            prop_assert!(!s.ends_with(char::is_whitespace), "{:?}", s);
        }
    }

    #[test]
    fn an_accepted_body_only_ever_removes_characters_from_the_input(raw in text()) {
        if let Ok(body) = MessageBody::parse(&raw) {
            // A subsequence of the input: nothing added, nothing reordered.
            let mut input = raw.chars();
            for c in body.as_str().chars() {
                prop_assert!(input.any(|i| i == c), "{:?} is not in the input in order", c);
            }
        }
    }

    #[test]
    fn a_refused_body_is_refused_as_empty_or_as_too_long_with_its_length(raw in text()) {
        match MessageBody::parse(&raw) {
            Ok(_) => {}
            Err(BodyError::Empty) => {
                // Invisible characters that disguise text are taken out first.
                let shown = hearth::chat::invisible::strip(&raw);
                let visible = shown.chars().find(|&c| !(c.is_whitespace() || c.is_control() || is_bidi_control(c)));
                prop_assert_eq!(visible, None, "refused as empty");
            }
            Err(BodyError::TooLong(n)) => {
                prop_assert!(n > MessageBody::MAX_CHARS);
                prop_assert!(n <= raw.chars().count());
            }
        }
    }

    #[test]
    fn a_body_of_n_visible_characters_padded_with_whitespace_and_controls_is_accepted_only_up_to_4000(
        n in 3_990usize..4_010,
        filler in prop::sample::select(&['x', 'é', '字', '👩', '<', '&', '\u{5d0}', '\u{fffd}'][..]),
        lead in prop::collection::vec(prop::sample::select(TRIMMED_AT_THE_ENDS), 0..6),
        trail in prop::collection::vec(prop::sample::select(TRIMMED_AT_THE_ENDS), 0..6),
        inside in prop::collection::vec((any::<prop::sample::Index>(), prop::sample::select(DROPPED_ANYWHERE)), 0..20),
    ) {
        let mut middle: Vec<char> = std::iter::repeat_n(filler, n).collect();
        for (at, c) in inside {
            middle.insert(at.index(middle.len() + 1), c);
        }
        let raw: String = lead.into_iter().chain(middle).chain(trail).collect();
        let parsed = MessageBody::parse(&raw);
        if n <= MessageBody::MAX_CHARS {
            prop_assert_eq!(parsed.map(MessageBody::into_string), Ok(filler.to_string().repeat(n)));
        } else {
            prop_assert_eq!(parsed, Err(BodyError::TooLong(n)));
        }
    }

    #[test]
    fn rendering_an_accepted_body_emits_only_the_dialects_markup(raw in text()) {
        if let Ok(body) = MessageBody::parse(&raw) {
            rendered_body_text("alice", body.as_str())?;
        }
    }

    #[test]
    fn rendering_even_unsanitised_text_emits_only_the_dialects_markup(raw in text()) {
        // Defence in depth: text that never went through `parse` (an old row, a bug
        // upstream) still cannot become markup.
        rendered_body_text("alice", &raw)?;
    }

    #[test]
    fn every_character_a_message_shows_is_one_that_was_typed(raw in text()) {
        // Entities (`&#65;`) are Markdown's own way to type a character: left out here.
        let raw = raw.replace('&', " ");
        let shown = rendered_body_text("alice", &raw)?;
        let typed = preprocessed(&raw);
        for c in shown.chars() {
            // A line break inside `code` is shown as a space, as CommonMark says.
            let typed_as_break = c == ' ' && typed.contains('\n');
            // A link whose host mixes scripts is shown in punycode (`xn--…`).
            let in_punycode = shown.contains("xn--") && (c.is_ascii_alphanumeric() || c == '-');
            prop_assert!(
                typed.contains(c) || typed_as_break || in_punycode,
                "{:?} shown but not typed in {:?}", c, raw
            );
        }
    }

    #[test]
    fn plain_text_is_shown_as_typed_and_renders_the_same_again(text in plain_text()) {
        let shown = rendered_body_text("alice", &text)?;
        prop_assert_eq!(&shown, &text);
        prop_assert_eq!(format::render(&shown), format::render(&text));
    }

    #[test]
    fn the_appended_fragment_holds_each_message_once_with_its_text_exactly(
        raws in prop::collection::vec(short_text(), 1..6),
    ) {
        let bodies: Vec<MessageBody> =
            raws.iter().filter_map(|r| MessageBody::parse(r).ok()).collect();
        let views: Vec<MessageView> = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| MessageView { id: i as i64 + 1, ..view("bob", b.as_str()) })
            .collect();
        let html = views::appended(&views).into_string();
        let fragment = Html::parse_fragment(&html);
        let articles: Vec<_> = fragment.select(&selector("article.message")).collect();
        prop_assert_eq!(articles.len(), bodies.len(), "{}", html);
        for article in articles {
            let divs: Vec<_> = article.select(&selector("div.message-body")).collect();
            prop_assert_eq!(divs.len(), 1);
            body_text(divs[0])?;
        }
    }

    #[test]
    fn an_attribute_breaking_author_name_cannot_break_out_of_its_attribute(
        author in prop_oneof![
            prop::sample::select(FRAGMENTS).prop_map(str::to_owned),
            short_text(),
        ],
    ) {
        let html = views::message(&view(&author, "hello")).into_string();
        let fragment = Html::parse_fragment(&html);
        let article = the_article(&fragment)?;
        let el = article.value();
        let mut names: Vec<&str> = el.attrs().map(|(name, _)| name).collect();
        names.sort_unstable();
        prop_assert_eq!(
            names,
            vec!["class", "data-author", "data-author-id", "data-ts", "id"],
            "{}", html
        );
        prop_assert_eq!(el.attr("class"), Some("message"));
        // Inside an attribute the parser turns NUL into U+FFFD; in text it drops it.
        let expected = preprocessed(&author);
        let in_attribute = expected.replace('\0', "\u{fffd}");
        prop_assert_eq!(el.attr("data-author"), Some(in_attribute.as_str()));
        prop_assert_eq!(el.attr("id"), Some("message-42"));
        prop_assert_eq!(el.attr("data-author-id"), Some("3"));
        let names_shown: Vec<String> = article
            .select(&selector("header span.author"))
            .map(|s| s.text().collect())
            .collect();
        prop_assert_eq!(names_shown, vec![expected.replace('\0', "")]);
        prop_assert_eq!(rendered_body_text(&author, "hello")?, "hello");
    }

    #[test]
    fn a_socket_frame_carrying_any_body_is_read_as_that_message(raw in text()) {
        let frame = serde_json::json!({ "type": "message", "body": raw, "HEADERS": {} });
        prop_assert_eq!(parse_frame(&frame.to_string()), Command::Message(raw));
    }

    #[test]
    fn any_socket_frame_is_read_without_panicking(raw in text()) {
        let _ = parse_frame(&raw);
        let _ = parse_frame(&format!("{{\"type\":\"message\",\"body\":\"{raw}\"}}"));
    }
}

// ---------------------------------------------------------------------------------------
// The checks above, checked: they see the linkifier's anchors and refuse anything else.
// ---------------------------------------------------------------------------------------

proptest! {
    #[test]
    fn a_search_query_is_read_without_panicking_and_its_words_hold_no_syntax(raw in text()) {
        match SearchQuery::parse(&raw) {
            Ok(query) => {
                for term in &query.terms {
                    prop_assert!(!term.words.is_empty());
                    for word in term.typed_words() {
                        prop_assert!(!word.is_empty());
                        prop_assert!(word.chars().all(|c| c.is_alphanumeric()
                            || unicode_normalization::char::is_combining_mark(c)), "{:?}", word);
                    }
                }
            }
            Err(QueryError::TooLong) => prop_assert!(raw.trim().chars().count() > 256),
            Err(_) => {}
        }
    }

    #[test]
    fn a_snippet_is_a_piece_of_the_text_with_only_the_words_searched_for_marked(
        body in text(),
        word in "[a-zé]{1,4}",
    ) {
        let wanted = search::words::fold(&word);
        let snippet = search::snippet::of(&body, &[wanted.as_str()], &[]);
        let shown: String = snippet.parts.iter().map(|p| p.text.as_str()).collect();
        prop_assert!(body.contains(&shown), "{:?} is not in {:?}", shown, body);
        for part in snippet.parts.iter().filter(|p| p.marked) {
            prop_assert_eq!(search::words::fold(&part.text), wanted.clone());
        }
    }
}

#[test]
fn the_markup_check_accepts_the_dialects_elements() {
    let text = rendered_body_text(
        "alice",
        "see https://a.example/p?q=1&r=<2> and **HTTP://B.EXAMPLE**\n> quoted\n\n1. one\n\n```rust\nlet x = 1;\n```",
    )
    .expect("only the dialect's elements");
    assert!(
        text.starts_with("see https://a.example/p?q=1&r=<2> and HTTP://B.EXAMPLE"),
        "{text}"
    );
    let html = views::message(&view("alice", "https://a.example/ http://b.example/")).into_string();
    let fragment = Html::parse_fragment(&html);
    assert_eq!(fragment.select(&selector(".message-body a")).count(), 2);
}

#[test]
fn the_markup_check_refuses_any_other_tag_or_attribute() {
    for forged in [
        r#"<div class="message-body">x<b>y</b></div>"#,
        r#"<div class="message-body"><img src="https://a.example/x.png"></div>"#,
        r#"<div class="message-body"><p onclick="x()">y</p></div>"#,
        r#"<div class="message-body"><span class="evil">y</span></div>"#,
        r#"<div class="message-body"><a href="javascript:alert(1)" rel="noopener noreferrer nofollow" target="_blank">javascript:alert(1)</a></div>"#,
        r#"<div class="message-body"><a href="https://a.example/" rel="noopener noreferrer nofollow" target="_blank" onclick="x()">https://a.example/</a></div>"#,
        r#"<div class="message-body"><a href="https://a.example/" rel="noopener" target="_blank">https://a.example/</a></div>"#,
    ] {
        let fragment = Html::parse_fragment(forged);
        let body = fragment.select(&selector(".message-body")).next().unwrap();
        assert!(body_text(body).is_err(), "{forged} passed the check");
    }
}
