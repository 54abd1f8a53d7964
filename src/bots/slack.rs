//! Slack's message format, as incoming webhooks receive it, turned into hearth's: the
//! text of a payload (`text`, else the text of its blocks or attachments) and Slack's
//! `mrkdwn` as Markdown. Links `<url|label>` become `[label](url)`, `<!here>` and
//! `<!channel>` the mentions of the same meaning, `*bold*` `**bold**` and `~struck~`
//! `~~struck~~`; Slack's three escapes (`&amp;`, `&lt;`, `&gt;`) are undone. Anything
//! else passes as written, and the result is held to the composer's rules after.
use serde_json::Value;

/// The text a Slack payload means to post, as Markdown; `None` when it has none.
pub fn text_of(payload: &Value) -> Option<String> {
    let text = payload
        .get("text")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let text = text.filter(|t| !t.trim().is_empty()).or_else(|| {
        let mut parts = Vec::new();
        for block in payload
            .get("blocks")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(t) = block.pointer("/text/text").and_then(Value::as_str) {
                parts.push(t.to_owned());
            }
        }
        for attachment in payload
            .get("attachments")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let said = ["pretext", "title", "text"]
                .iter()
                .filter_map(|key| attachment.get(*key).and_then(Value::as_str))
                .filter(|t| !t.trim().is_empty())
                .collect::<Vec<_>>();
            if said.is_empty() {
                if let Some(t) = attachment.get("fallback").and_then(Value::as_str) {
                    parts.push(t.to_owned());
                }
            } else {
                parts.extend(said.into_iter().map(str::to_owned));
            }
        }
        let joined = parts.join("\n\n");
        (!joined.trim().is_empty()).then_some(joined)
    })?;
    Some(markdown_of(&text))
}

/// Slack's `mrkdwn` as Markdown.
pub fn markdown_of(mrkdwn: &str) -> String {
    let mut out = String::with_capacity(mrkdwn.len());
    let mut rest = mrkdwn;
    while let Some(open) = rest.find('<') {
        out.push_str(&emphasis(&rest[..open]));
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else {
            out.push_str(&emphasis(&rest[open..]));
            rest = "";
            break;
        };
        out.push_str(&special(&after[..close]));
        rest = &after[close + 1..];
    }
    out.push_str(&emphasis(rest));
    unescape(&out)
}

/// What Slack writes inside `<…>`: a link, a mention or a channel.
fn special(inside: &str) -> String {
    let (target, label) = match inside.split_once('|') {
        Some((target, label)) => (target, Some(label)),
        None => (inside, None),
    };
    match target {
        "!here" => "@here".to_owned(),
        "!channel" | "!everyone" => "@everyone".to_owned(),
        // A person: their name, as a mention.
        _ if target.starts_with('@') => {
            label.map_or_else(|| target.to_owned(), |l| format!("@{l}"))
        }
        // A channel: its name, as text.
        _ if target.starts_with('#') => {
            label.map_or_else(|| target.to_owned(), |l| format!("#{l}"))
        }
        // Anything else Slack writes so (dates, user groups): the label as written.
        _ if target.starts_with('!') => label.unwrap_or(target).to_owned(),
        _ => match label {
            Some(label) => format!("[{}]({target})", label.replace(']', "\\]")),
            None => target.to_owned(),
        },
    }
}

/// `*bold*` and `~struck~` of Slack as Markdown's, where a marker opens after a space
/// (or the start) and closes before one (or the end, or punctuation).
fn emphasis(text: &str) -> String {
    let mut out = text.to_owned();
    for (slack, markdown) in [('*', "**"), ('~', "~~")] {
        out = spans(&out, slack, markdown);
    }
    out
}

fn spans(text: &str, marker: char, markdown: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        let opens = chars[i] == marker
            && (i == 0 || chars[i - 1].is_whitespace())
            && chars
                .get(i + 1)
                .is_some_and(|c| !c.is_whitespace() && *c != marker);
        if opens {
            let close = (i + 1..chars.len()).find(|&j| {
                chars[j] == marker
                    && !chars[j - 1].is_whitespace()
                    && chars
                        .get(j + 1)
                        .is_none_or(|c| c.is_whitespace() || c.is_ascii_punctuation())
            });
            let newline = chars[i + 1..]
                .iter()
                .position(|c| *c == '\n')
                .map(|p| p + i + 1);
            if let Some(close) = close.filter(|c| newline.is_none_or(|n| *c < n)) {
                out.push_str(markdown);
                out.extend(&chars[i + 1..close]);
                out.push_str(markdown);
                i = close + 1;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn slack_markup_becomes_markdown() {
        for (slack, markdown) in [
            (
                "Deployed *v1.2* to ~staging~ production",
                "Deployed **v1.2** to ~~staging~~ production",
            ),
            (
                "See <https://example.com/runs/7|run 7>",
                "See [run 7](https://example.com/runs/7)",
            ),
            ("<https://example.com>", "https://example.com"),
            ("<!here> the build broke", "@here the build broke"),
            ("<!channel> lunch", "@everyone lunch"),
            ("in <#C123|general>", "in #general"),
            ("<!subteam^S1|@team> <!date^1|Monday>", "@team Monday"),
            ("a &lt;b&gt; &amp; c", "a <b> & c"),
            (
                "2 * 3 * 4 and snake_case_name",
                "2 * 3 * 4 and snake_case_name",
            ),
            ("*not\nbold*", "*not\nbold*"),
            ("unclosed <https://x", "unclosed <https://x"),
        ] {
            assert_eq!(markdown_of(slack), markdown, "{slack:?}");
        }
    }

    #[test]
    fn the_text_is_the_payloads_text_else_its_blocks_or_attachments() {
        assert_eq!(text_of(&json!({"text": "hi"})).as_deref(), Some("hi"));
        assert_eq!(text_of(&json!({"text": "  "})), None);
        assert_eq!(text_of(&json!({})), None);
        let blocks =
            json!({"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*up*"}}]});
        assert_eq!(text_of(&blocks).as_deref(), Some("**up**"));
        let attachments = json!({"attachments": [{"fallback": "build 9 failed"}, {"title": "Logs", "text": "see CI"}]});
        assert_eq!(
            text_of(&attachments).as_deref(),
            Some("build 9 failed\n\nLogs\n\nsee CI")
        );
    }
}
