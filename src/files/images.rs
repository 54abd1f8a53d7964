//! Pictures: their size as shown and their thumbnails, made on the server with
//! [`image`]. A picture is measured from its header before anything is decoded, and
//! one too big to decode safely (an "image bomb": a tiny file that claims a huge
//! canvas) is refused there. A thumbnail is re-encoded from the pixels, so no EXIF
//! (location, camera) survives into it, and the EXIF orientation is applied first, so
//! it stands the right way up. A GIF is measured only, and shown as it is, so an
//! animation stays animated. These functions block: callers run them off the async
//! workers.
use std::io::{BufReader, Seek};

use bytes::Bytes;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

use super::kind::Shown;

/// The box a thumbnail fits in, in pixels.
pub const THUMBNAIL_BOX: u32 = 400;
/// The largest canvas decoded: 40 megapixels (a 4 bytes per pixel canvas of 160 MB),
/// no side over 16,384.
pub const MAX_PIXELS: u64 = 40_000_000;
pub const MAX_SIDE: u32 = 16_384;

/// A picture's size as shown (orientation applied), and its thumbnail if one was made.
#[derive(Clone, Debug)]
pub struct ImageInfo {
    pub width: u32,
    pub height: u32,
    pub thumbnail: Option<Thumbnail>,
}

#[derive(Clone, Debug)]
pub struct Thumbnail {
    pub bytes: Bytes,
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("the picture is {0}×{1} pixels, more than hearth shows")]
    TooBig(u32, u32),
    #[error("the picture cannot be read: {0}")]
    Unreadable(String),
}

impl From<image::ImageError> for ImageError {
    fn from(e: image::ImageError) -> Self {
        ImageError::Unreadable(e.to_string())
    }
}

impl From<std::io::Error> for ImageError {
    fn from(e: std::io::Error) -> Self {
        ImageError::Unreadable(e.to_string())
    }
}

/// Measures the picture in `file` of type `content_type`, and makes its thumbnail
/// when it is a still picture.
pub fn examine(mut file: std::fs::File, content_type: &str) -> Result<ImageInfo, ImageError> {
    let shown = Shown::of(content_type);
    let format = ImageFormat::from_mime_type(content_type)
        .ok_or_else(|| ImageError::Unreadable(format!("not a picture: {content_type}")))?;
    file.rewind()?;
    let mut reader = ImageReader::with_format(BufReader::new(file), format);
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_PIXELS * 4 + 64 * 1024 * 1024);
    reader.limits(limits);
    // Reads the header only.
    let mut decoder = reader.into_decoder()?;
    let (width, height) = decoder.dimensions();
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(ImageError::TooBig(width, height));
    }
    if width == 0 || height == 0 {
        return Err(ImageError::Unreadable("a picture of no pixels".into()));
    }
    if shown != Shown::Image {
        return Ok(ImageInfo {
            width,
            height,
            thumbnail: None,
        });
    }
    let orientation = decoder.orientation()?;
    let mut picture = DynamicImage::from_decoder(decoder)?;
    picture.apply_orientation(orientation);
    let (width, height) = (picture.width(), picture.height());
    let small = if width > THUMBNAIL_BOX || height > THUMBNAIL_BOX {
        picture.thumbnail(THUMBNAIL_BOX, THUMBNAIL_BOX)
    } else {
        picture
    };
    let thumbnail = Thumbnail {
        bytes: encode(&small)?,
        width: small.width(),
        height: small.height(),
    };
    Ok(ImageInfo {
        width,
        height,
        thumbnail: Some(thumbnail),
    })
}

/// PNG where the picture has transparency, JPEG otherwise.
fn encode(picture: &DynamicImage) -> Result<Bytes, ImageError> {
    let mut out = std::io::Cursor::new(Vec::new());
    if picture.color().has_alpha() {
        picture.to_rgba8().write_to(&mut out, ImageFormat::Png)?;
    } else {
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 82);
        picture.to_rgb8().write_with_encoder(encoder)?;
    }
    Ok(Bytes::from(out.into_inner()))
}
