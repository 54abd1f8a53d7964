//! What a file is, decided by its first bytes ([`infer`]), never by the name or the
//! type the client claimed: an HTML page or an SVG called `cat.png` is a file to
//! download, not a picture, and is never served as something a browser would render.

/// How much of a file's start is looked at.
pub const SNIFF_BYTES: usize = 8192;

/// The content type of a file that starts with `head`.
pub fn sniff(head: &[u8]) -> String {
    match infer::get(head).map(|kind| kind.mime_type()) {
        // Markup a browser would run as a page is served as the text it is.
        Some("text/html" | "text/xml" | "application/xml" | "image/svg+xml") => {}
        Some("application/xhtml+xml") => {}
        Some(other) => return other.to_owned(),
        None => {}
    }
    // Logs and notes: text, shown as a file to download.
    let text = !head.contains(&0) && std::str::from_utf8(trim_partial_char(head)).is_ok();
    if text {
        "text/plain; charset=utf-8".to_owned()
    } else {
        "application/octet-stream".to_owned()
    }
}

/// `head` without a character cut in half at its end.
fn trim_partial_char(head: &[u8]) -> &[u8] {
    let start = head.len().saturating_sub(3);
    for cut in (start..=head.len()).rev() {
        if std::str::from_utf8(&head[..cut]).is_ok() {
            return &head[..cut];
        }
    }
    head
}

/// How a message shows a file, from its content type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shown {
    /// A still picture: a thumbnail made on the server.
    Image,
    /// An animated or simple picture shown as it is (GIF), scaled by the page.
    Animation,
    Video,
    Audio,
    /// Anything else: a card to download.
    File,
}

impl Shown {
    pub fn of(content_type: &str) -> Self {
        match content_type {
            "image/png" | "image/jpeg" | "image/webp" => Shown::Image,
            "image/gif" => Shown::Animation,
            "video/mp4" | "video/webm" => Shown::Video,
            "audio/mpeg" | "audio/ogg" | "audio/x-wav" | "audio/x-flac" | "audio/m4a" => {
                Shown::Audio
            }
            _ => Shown::File,
        }
    }

    /// Whether the browser may show it in place: only formats that cannot run script.
    /// Everything else is served as an attachment.
    pub fn inline(self) -> bool {
        !matches!(self, Shown::File)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_content_decides_not_the_name() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), "image/png");
        assert_eq!(
            sniff(b"<html><script>alert(1)</script>"),
            "text/plain; charset=utf-8"
        );
        assert_eq!(
            sniff(b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script/></svg>"),
            "text/plain; charset=utf-8"
        );
        assert_eq!(sniff(&[0, 1, 2, 3, 255]), "application/octet-stream");
        assert_eq!(sniff(b"%PDF-1.7\n"), "application/pdf");
    }

    #[test]
    fn only_pictures_and_media_are_shown_in_place() {
        assert!(Shown::of("image/png").inline());
        assert!(Shown::of("video/webm").inline());
        assert!(!Shown::of("text/html").inline());
        assert!(!Shown::of("image/svg+xml").inline());
        assert!(!Shown::of("application/pdf").inline());
    }
}
