//! How a message shows its files, inside the one rendering of a message
//! ([`crate::chat::views::message`]): pictures as thumbnails with their size (so the
//! page does not jump as they load) that open full size in the lightbox
//! (`assets/js/lightbox.js`; without script, the link opens the picture), GIFs as
//! they are, videos and sounds with the browser's controls, anything else as a card
//! to download.
use maud::{Markup, html};

use super::{Attachment, images::THUMBNAIL_BOX, kind::Shown};

/// `1.2 MB`, `340 KB`, `12 bytes`.
pub fn size_in_words(bytes: i64) -> String {
    const KB: f64 = 1024.0;
    let b = bytes.max(0) as f64;
    if b < KB {
        format!("{bytes} bytes")
    } else if b < KB * KB {
        format!("{:.0} KB", b / KB)
    } else if b < KB * KB * KB {
        format!("{:.1} MB", b / (KB * KB))
    } else {
        format!("{:.1} GB", b / (KB * KB * KB))
    }
}

/// `(w, h)` shrunk to fit the thumbnail box, as a GIF is shown.
fn fitted(width: i32, height: i32) -> (i32, i32) {
    let side = THUMBNAIL_BOX as f64;
    let scale = (side / f64::from(width.max(1)))
        .min(side / f64::from(height.max(1)))
        .min(1.0);
    (
        ((f64::from(width) * scale).round() as i32).max(1),
        ((f64::from(height) * scale).round() as i32).max(1),
    )
}

/// The files of a message, each an element with class `attachment`.
pub fn list(attachments: &[Attachment]) -> Markup {
    if attachments.is_empty() {
        return html! {};
    }
    html! {
        div.attachments {
            @for a in attachments { (one(a)) }
        }
    }
}

fn one(a: &Attachment) -> Markup {
    let shown = match Shown::of(&a.content_type) {
        Shown::Image if a.thumbnail.is_none() => Shown::File,
        shown => shown,
    };
    let size = size_in_words(a.size);
    let title = format!("{} ({size})", a.name);
    match shown {
        Shown::Image | Shown::Animation => {
            let (src, (w, h)) = match (shown, a.thumbnail) {
                (Shown::Image, Some(t)) => (a.thumbnail_url(), t),
                _ => (
                    a.url(),
                    fitted(
                        a.width.unwrap_or(THUMBNAIL_BOX as i32),
                        a.height.unwrap_or(THUMBNAIL_BOX as i32),
                    ),
                ),
            };
            html! {
                a.attachment.attachment-image href=(a.url()) target="_blank" rel="noopener"
                    data-lightbox data-full-width=[a.width] data-full-height=[a.height] title=(title) {
                    img src=(src) width=(w) height=(h) alt=(a.name) loading="lazy" decoding="async";
                }
            }
        }
        Shown::Video => html! {
            figure.attachment.attachment-video {
                video src=(a.url()) controls preload="metadata" {}
                figcaption { a href=(a.url()) download=(a.name) dir="auto" { (a.name) } " · " (size) }
            }
        },
        Shown::Audio => html! {
            figure.attachment.attachment-audio {
                audio src=(a.url()) controls preload="metadata" {}
                figcaption { a href=(a.url()) download=(a.name) dir="auto" { (a.name) } " · " (size) }
            }
        },
        Shown::File => html! {
            a.attachment.attachment-file href=(a.url()) download=(a.name) title=(title) {
                span.file-icon aria-hidden="true" { (icon(&a.content_type)) }
                span.file-name dir="auto" { (a.name) }
                span.file-size { (size) }
            }
        },
    }
}

/// A word for the card's icon: the kind of file at a glance.
fn icon(content_type: &str) -> &'static str {
    match content_type {
        "application/pdf" => "PDF",
        t if t.starts_with("text/") => "TXT",
        "application/zip"
        | "application/gzip"
        | "application/x-tar"
        | "application/x-7z-compressed" => "ZIP",
        t if t.starts_with("image/") => "IMG",
        t if t.starts_with("video/") => "VID",
        t if t.starts_with("audio/") => "AUD",
        _ => "FILE",
    }
}
