//! Message text to HTML: a small Markdown dialect (CommonMark by `pulldown-cmark`),
//! rendered once per message version when it is stored, never per page view.
//!
//! What it makes: paragraphs, line breaks where the writer pressed Enter, `**bold**`,
//! `*italic*` and `_italic_`, `~~struck~~`, `` `code` ``, fenced code blocks (with
//! syntax highlighting, [`highlight`]), `> quotes` and lists, and links: `[text](url)`,
//! `<url>` and bare `https://…` alike, for http(s) only, with the rel attributes every
//! link of the site has, a host that mixes scripts in punycode ([`links`]). What it
//! does not make: headings, images, rules, tables, raw
//! HTML. Those are shown as the text that was typed, from its source.
//!
//! Mentions (`@name` outside code and links) become elements of class `mention` when
//! the caller knows the name ([`render_with`]): a link to the person with their
//! `data-user-id`, or `@here` and `@everyone` marked `mention-all`. The caller looks
//! the names up first ([`mentioned_names`]); rendering stays a pure function.
//!
//! The renderer is a whitelist: it writes only the elements above, every piece of
//! text goes through [`escape`], and the only attributes are a link's checked `href`,
//! an ordered list's start number, a code block's sanitised language class and its
//! `tabindex` (it may scroll), and a mention's user id and profile path.
//! Nothing of the input becomes markup.
pub mod highlight;
pub mod links;

use std::ops::Range;

use linkify::{LinkFinder, LinkKind};
use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

/// The attributes of every link in a message.
const LINK_ATTRIBUTES: &str = r#" rel="noopener noreferrer nofollow" target="_blank""#;

/// Whom an `@name` in a message names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mention {
    /// A person, by id and username as it is spelled.
    Person { id: i64, username: String },
    /// `@here`: the members online now.
    Here,
    /// `@everyone`: every member.
    Everyone,
}

/// What a message's mentions name: the name in lower case, to whom (`None`: plain text).
pub type Mentions<'a> = &'a dyn Fn(&str) -> Option<Mention>;

/// Renders message text as HTML, mentioning nobody. Total: any text gives safe HTML.
pub fn render(text: &str) -> String {
    render_with(text, &|_| None)
}

/// The names after `@` in `text` where a mention may be (outside code and links), in
/// lower case, each once, in order.
pub fn mentioned_names(text: &str) -> Vec<String> {
    let names = std::cell::RefCell::new(Vec::<String>::new());
    if text.contains('@') {
        render_with(text, &|name| {
            let mut names = names.borrow_mut();
            if !names.iter().any(|n| n == name) {
                names.push(name.to_owned());
            }
            None
        });
    }
    names.into_inner()
}

/// Renders message text as HTML, `mentions` saying whom each `@name` names.
pub fn render_with(text: &str, mentions: Mentions<'_>) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 4 + 16);
    let mut renderer = Renderer {
        source: text,
        out: &mut out,
        links: Vec::new(),
        code: None,
        pending: String::new(),
        mentions,
    };
    let parser = Parser::new_ext(text, Options::ENABLE_STRIKETHROUGH).into_offset_iter();
    // A construct shown as its source: the events inside it are skipped, up to its end
    // (counting constructs of its kind nested in it).
    let mut skipping: Option<(TagEnd, usize)> = None;
    for (event, range) in parser {
        if let Some((end, depth)) = &mut skipping {
            match &event {
                Event::Start(tag) if tag.to_end() == *end => *depth += 1,
                Event::End(tag) if tag == end && *depth == 0 => skipping = None,
                Event::End(tag) if tag == end => *depth -= 1,
                _ => {}
            }
            continue;
        }
        match event {
            Event::Start(
                tag @ (Tag::Heading { .. }
                | Tag::HtmlBlock
                | Tag::Image { .. }
                | Tag::Table(_)
                | Tag::MetadataBlock(_)
                | Tag::FootnoteDefinition(_)
                | Tag::DefinitionList),
            ) => {
                let inline = matches!(tag, Tag::Image { .. });
                renderer.source_of(range, !inline);
                skipping = Some((tag.to_end(), 0));
            }
            Event::Rule => renderer.source_of(range, true),
            event => renderer.event(event),
        }
    }
    renderer.flush_text();
    out
}

/// A plain-text preview of message text (for notifications and quotes): what it says,
/// without its Markdown marks, on one line, cut at `chars` characters.
pub fn excerpt(text: &str, chars: usize) -> String {
    let line = plain_text(text);
    let mut cut: String = line.chars().take(chars).collect();
    if line.chars().count() > chars {
        cut.push('…');
    }
    cut
}

/// What message text says, without its Markdown marks, on one line (raw HTML stays as
/// its text).
pub fn plain_text(text: &str) -> String {
    let mut said = String::with_capacity(text.len());
    for event in Parser::new_ext(text, Options::ENABLE_STRIKETHROUGH) {
        match event {
            Event::Text(t) | Event::Code(t) | Event::Html(t) | Event::InlineHtml(t) => {
                said.push_str(&t)
            }
            Event::SoftBreak | Event::HardBreak | Event::End(_) => said.push(' '),
            _ => {}
        }
    }
    said.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Escapes `text` for HTML text and attribute values alike.
pub fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// Whether `url` is a web address (the only links a message may hold).
pub fn is_web_link(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

struct Renderer<'a> {
    source: &'a str,
    out: &'a mut String,
    /// The links open around the text being written, and whether each wrote an
    /// anchor: text inside a link is not linked again.
    links: Vec<bool>,
    /// A code block being collected: its language and its text.
    code: Option<(Option<String>, String)>,
    /// Text not yet written: the parser may hand one run of text over in pieces (at
    /// every `_`, say), and a name or an address must be seen whole.
    pending: String,
    mentions: Mentions<'a>,
}

impl Renderer<'_> {
    fn event(&mut self, event: Event<'_>) {
        if let Some((_, code)) = &mut self.code {
            match event {
                Event::Text(text) => code.push_str(&text),
                Event::End(TagEnd::CodeBlock) => self.end_code_block(),
                _ => {}
            }
            return;
        }
        if let Event::Text(text) = &event {
            self.pending.push_str(text);
            return;
        }
        self.flush_text();
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(_) => {}
            Event::Code(code) => {
                self.out.push_str("<code>");
                escape(&code, self.out);
                self.out.push_str("</code>");
            }
            Event::Html(html) | Event::InlineHtml(html) => escape(&html, self.out),
            Event::SoftBreak | Event::HardBreak => self.out.push_str("<br>"),
            Event::InlineMath(math) | Event::DisplayMath(math) => escape(&math, self.out),
            Event::FootnoteReference(name) => escape(&name, self.out),
            Event::TaskListMarker(done) => self.out.push_str(if done { "[x] " } else { "[ ] " }),
            Event::Rule => {}
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph => self.out.push_str("<p>"),
            Tag::BlockQuote(_) => self.out.push_str("<blockquote>"),
            Tag::CodeBlock(kind) => {
                let language = match kind {
                    CodeBlockKind::Fenced(info) => info
                        .split(|c: char| c.is_whitespace() || c == ',')
                        .next()
                        .map(str::to_owned)
                        .filter(|l| !l.is_empty()),
                    CodeBlockKind::Indented => None,
                };
                self.code = Some((language, String::new()));
            }
            Tag::List(Some(1)) => self.out.push_str("<ol>"),
            Tag::List(Some(start)) => {
                self.out.push_str("<ol start=\"");
                self.out.push_str(&start.to_string());
                self.out.push_str("\">");
            }
            Tag::List(None) => self.out.push_str("<ul>"),
            Tag::Item => self.out.push_str("<li>"),
            Tag::Emphasis => self.out.push_str("<em>"),
            Tag::Strong => self.out.push_str("<strong>"),
            Tag::Strikethrough => self.out.push_str("<del>"),
            Tag::Link { dest_url, .. } => {
                // A link that is not to the web is its text alone.
                let anchor = is_web_link(&dest_url) && self.links.is_empty();
                if anchor {
                    self.out.push_str("<a href=\"");
                    escape(&links::shown(&dest_url), self.out);
                    self.out.push('"');
                    self.out.push_str(LINK_ATTRIBUTES);
                    self.out.push('>');
                }
                self.links.push(anchor);
            }
            // The rest is shown from its source by `render`, or is not enabled.
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        let close = match tag {
            TagEnd::Paragraph => "</p>",
            TagEnd::BlockQuote(_) => "</blockquote>",
            TagEnd::List(true) => "</ol>",
            TagEnd::List(false) => "</ul>",
            TagEnd::Item => "</li>",
            TagEnd::Emphasis => "</em>",
            TagEnd::Strong => "</strong>",
            TagEnd::Strikethrough => "</del>",
            TagEnd::Link => match self.links.pop() {
                Some(true) => "</a>",
                _ => "",
            },
            _ => "",
        };
        self.out.push_str(close);
    }

    fn flush_text(&mut self) {
        if !self.pending.is_empty() {
            let text = std::mem::take(&mut self.pending);
            self.text(&text);
        }
    }

    /// Text, with bare web addresses made links and mentions marked (unless it is a
    /// link's text already).
    fn text(&mut self, text: &str) {
        if !self.links.is_empty() {
            escape(text, self.out);
            return;
        }
        let mut finder = LinkFinder::new();
        finder.kinds(&[LinkKind::Url]);
        for span in finder.spans(text) {
            match span.kind() {
                Some(LinkKind::Url) if is_web_link(span.as_str()) => {
                    let shown = links::shown(span.as_str());
                    self.out.push_str("<a href=\"");
                    escape(&shown, self.out);
                    self.out.push('"');
                    self.out.push_str(LINK_ATTRIBUTES);
                    self.out.push('>');
                    escape(&shown, self.out);
                    self.out.push_str("</a>");
                }
                _ => self.mentions_in(span.as_str()),
            }
        }
    }

    /// Text with its `@name`s of people and groups marked, the rest escaped.
    fn mentions_in(&mut self, text: &str) {
        let mut written = 0;
        for (at, name) in mention_spans(text) {
            let Some(mention) = (self.mentions)(&name.to_ascii_lowercase()) else {
                continue;
            };
            escape(&text[written..at], self.out);
            match mention {
                Mention::Person { id, username } => {
                    self.out.push_str("<a class=\"mention\" data-user-id=\"");
                    self.out.push_str(&id.to_string());
                    self.out.push_str("\" href=\"/users/");
                    escape(&username, self.out);
                    self.out.push_str("\">@");
                    escape(&username, self.out);
                    self.out.push_str("</a>");
                }
                Mention::Here | Mention::Everyone => {
                    let group = if mention == Mention::Here {
                        "here"
                    } else {
                        "everyone"
                    };
                    self.out
                        .push_str("<span class=\"mention mention-all\" data-mention=\"");
                    self.out.push_str(group);
                    self.out.push_str("\">@");
                    self.out.push_str(group);
                    self.out.push_str("</span>");
                }
            }
            written = at + 1 + name.len();
        }
        escape(&text[written..], self.out);
    }

    fn end_code_block(&mut self) {
        let Some((language, code)) = self.code.take() else {
            return;
        };
        highlight::code_block(language.as_deref(), &code, self.out);
    }

    /// A construct shown as it was typed: its source, as text (a paragraph of its own
    /// when it is a block), its line breaks kept.
    fn source_of(&mut self, range: Range<usize>, block: bool) {
        self.flush_text();
        let source = self.source.get(range).unwrap_or_default();
        let source = source.trim_end_matches(['\n', '\r']);
        if block {
            self.out.push_str("<p>");
        }
        for (i, line) in source.lines().enumerate() {
            if i > 0 {
                self.out.push_str("<br>");
            }
            escape(line, self.out);
        }
        if block {
            self.out.push_str("</p>");
        }
    }
}

/// Where `@name`s are in `text`: the byte offset of each `@` and the name after it.
/// An `@` inside a word (`ann@example.com`) starts none; a name is what a username may
/// hold, `-` and `_` at its end left out (`@bob_` as emphasis, `@bob-` as a dash).
fn mention_spans(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let bytes = text.as_bytes();
    text.match_indices('@').filter_map(move |(at, _)| {
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '@' | '/')) {
            return None;
        }
        let rest = &bytes[at + 1..];
        let mut end = rest
            .iter()
            .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-')))
            .unwrap_or(rest.len());
        while end > 0 && matches!(rest[end - 1], b'_' | b'-') {
            end -= 1;
        }
        (end > 0).then(|| (at, &text[at + 1..at + 1 + end]))
    })
}

#[cfg(test)]
mod tests {
    use super::{Mention, mentioned_names, render, render_with};

    #[test]
    fn mentions_of_known_names_are_marked_and_the_rest_is_text() {
        let known = |name: &str| match name {
            "bob" => Some(Mention::Person {
                id: 7,
                username: "Bob".into(),
            }),
            "here" => Some(Mention::Here),
            _ => None,
        };
        assert_eq!(
            render_with("hi @BOB, @nobody and @here", &known),
            "<p>hi <a class=\"mention\" data-user-id=\"7\" href=\"/users/Bob\">@Bob</a>, @nobody and \
             <span class=\"mention mention-all\" data-mention=\"here\">@here</span></p>"
        );
        assert_eq!(
            render_with("`@bob` ann@bob.example", &known),
            "<p><code>@bob</code> ann@bob.example</p>"
        );
        assert_eq!(
            render_with("_@bob_", &known),
            "<p><em><a class=\"mention\" data-user-id=\"7\" href=\"/users/Bob\">@Bob</a></em></p>"
        );
        assert_eq!(
            mentioned_names("@Ann, @bob_smith: ask @ann; `@carl` https://x.example/@dan"),
            ["ann", "bob_smith"]
        );
    }

    #[test]
    fn the_dialect_makes_what_the_contract_names() {
        assert_eq!(render("**b**"), "<p><strong>b</strong></p>");
        assert_eq!(render("*i* _j_"), "<p><em>i</em> <em>j</em></p>");
        assert_eq!(render("~~s~~"), "<p><del>s</del></p>");
        assert_eq!(render("`c`"), "<p><code>c</code></p>");
        assert_eq!(render("> q"), "<blockquote><p>q</p></blockquote>");
        assert_eq!(render("- x\n- y"), "<ul><li>x</li><li>y</li></ul>");
        assert_eq!(render("one\ntwo"), "<p>one<br>two</p>");
        assert!(render("```\nlet x = 1;\n```").starts_with("<pre tabindex=\"0\"><code>"));
    }

    #[test]
    fn an_excerpt_is_what_the_text_says_on_one_line() {
        assert_eq!(
            super::excerpt("Hello, **Bob**\n> quoted", 100),
            "Hello, Bob quoted"
        );
        assert_eq!(super::excerpt("a b c d", 3), "a b…");
    }

    #[test]
    fn raw_html_headings_and_images_are_shown_as_typed() {
        assert_eq!(render("<b>hi</b>"), "<p>&lt;b&gt;hi&lt;/b&gt;</p>");
        assert_eq!(
            render("<script>alert(1)</script>"),
            "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"
        );
        assert_eq!(render("# title"), "<p># title</p>");
        assert_eq!(render("text\n---"), "<p>text<br>---</p>");
        assert_eq!(
            render("look ![cat](https://x.example/c.png)"),
            "<p>look ![cat](https://x.example/c.png)</p>"
        );
    }

    #[test]
    fn only_web_links_become_anchors() {
        let rel = r#" rel="noopener noreferrer nofollow" target="_blank""#;
        assert_eq!(
            render("see https://a.example/p?q=1&r=2"),
            format!(
                r#"<p>see <a href="https://a.example/p?q=1&amp;r=2"{rel}>https://a.example/p?q=1&amp;r=2</a></p>"#
            )
        );
        assert_eq!(
            render("[docs](https://a.example)"),
            format!(r#"<p><a href="https://a.example"{rel}>docs</a></p>"#)
        );
        assert_eq!(render("[x](javascript:alert(1))"), "<p>x</p>");
        assert_eq!(
            render("[https://b.example](https://a.example)"),
            format!(r#"<p><a href="https://a.example"{rel}>https://b.example</a></p>"#)
        );
    }
}
