//! [`FileName`]: a file's name as hearth shows it and puts in a download's header.
//! Parse, don't validate: whatever a client sends (`../../etc/passwd`, control
//! characters, bidi tricks, a name of a megabyte), what comes out is one plain name.
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// A file's name: its last path segment, without control, bidi or other invisible
/// characters, without leading dots or surrounding spaces, 1 to [`FileName::MAX_CHARS`]
/// characters (`file` when nothing is left).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileName(String);

impl FileName {
    pub const MAX_CHARS: usize = 120;

    pub fn parse(raw: &str) -> Self {
        // Browsers send a bare name, old ones a whole path (either slash).
        let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
        let visible: String = last
            .chars()
            .filter(|&c| {
                !c.is_control() && !matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
            })
            .collect();
        let visible = crate::chat::invisible::strip(&visible);
        let trimmed = visible.trim().trim_start_matches('.').trim();
        let name = if trimmed.chars().count() > Self::MAX_CHARS {
            shorten(trimmed)
        } else {
            trimmed.to_owned()
        };
        if name.is_empty() {
            Self("file".to_owned())
        } else {
            Self(name)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A `Content-Disposition` value: `inline` or `attachment`, with the name both as
    /// plain ASCII and as RFC 8187's UTF-8 `filename*`.
    pub fn disposition(&self, inline: bool) -> String {
        const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
            .remove(b'-')
            .remove(b'.')
            .remove(b'_')
            .remove(b'~');
        let ascii: String = self
            .0
            .chars()
            .map(|c| match c {
                ' '..='~' if !matches!(c, '"' | '\\' | ';' | '%') => c,
                _ => '_',
            })
            .collect();
        format!(
            "{}; filename=\"{ascii}\"; filename*=UTF-8''{}",
            if inline { "inline" } else { "attachment" },
            utf8_percent_encode(&self.0, UNRESERVED)
        )
    }
}

/// The first characters of a long name and its extension, when it has a short one.
fn shorten(name: &str) -> String {
    let extension = name
        .rsplit_once('.')
        .map(|(_, ext)| ext)
        .filter(|ext| !ext.is_empty() && ext.chars().count() <= 10);
    let room = FileName::MAX_CHARS - extension.map_or(0, |e| e.chars().count() + 1);
    let stem: String = name.chars().take(room).collect();
    match extension {
        Some(ext) => format!("{}.{ext}", stem.trim_end()),
        None => stem,
    }
}

#[cfg(test)]
mod tests {
    use super::FileName;

    #[test]
    fn a_path_becomes_its_last_name_and_nothing_can_climb_out() {
        assert_eq!(FileName::parse("../../etc/passwd").as_str(), "passwd");
        assert_eq!(
            FileName::parse("C:\\Users\\al\\report.pdf").as_str(),
            "report.pdf"
        );
        assert_eq!(FileName::parse("..").as_str(), "file");
        assert_eq!(FileName::parse("").as_str(), "file");
        assert_eq!(FileName::parse(".htaccess").as_str(), "htaccess");
    }

    #[test]
    fn control_and_bidi_characters_are_taken_out() {
        assert_eq!(FileName::parse("a\u{0}b\r\nc.txt").as_str(), "abc.txt");
        assert_eq!(
            FileName::parse("invoice\u{202E}fdp.exe").as_str(),
            "invoicefdp.exe"
        );
    }

    #[test]
    fn a_long_name_keeps_its_extension() {
        let name = FileName::parse(&format!("{}.png", "x".repeat(500)));
        assert_eq!(name.as_str().chars().count(), FileName::MAX_CHARS);
        assert!(name.as_str().ends_with(".png"));
    }

    #[test]
    fn the_header_value_is_ascii_with_the_real_name_encoded() {
        let value = FileName::parse("résumé \"final\";.pdf").disposition(false);
        assert!(value.is_ascii());
        assert!(value.starts_with("attachment; filename=\"r_sum_ _final__.pdf\""));
        assert!(value.contains("filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22%3B.pdf"));
    }
}
