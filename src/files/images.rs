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
pub fn examine(file: std::fs::File, content_type: &str) -> Result<ImageInfo, ImageError> {
    let decoder = measured(file, content_type)?;
    if Shown::of(content_type) != Shown::Image {
        let (width, height) = decoder.dimensions();
        return Ok(ImageInfo {
            width,
            height,
            thumbnail: None,
        });
    }
    let picture = upright(decoder)?;
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

/// The side of an avatar, in pixels.
pub const AVATAR_SIDE: u32 = 128;

/// An avatar from the picture in `file`: its middle square, upright, at most
/// [`AVATAR_SIDE`] a side, re-encoded as PNG (nothing of the original's metadata
/// survives), after the same checks as any picture. For the profile page to use.
pub fn avatar(file: std::fs::File, content_type: &str) -> Result<Thumbnail, ImageError> {
    let picture = upright(measured(file, content_type)?)?;
    let side = picture.width().min(picture.height());
    let square = picture.crop_imm(
        (picture.width() - side) / 2,
        (picture.height() - side) / 2,
        side,
        side,
    );
    let small = match side > AVATAR_SIDE {
        true => square.resize_exact(
            AVATAR_SIDE,
            AVATAR_SIDE,
            image::imageops::FilterType::Lanczos3,
        ),
        false => square,
    };
    let mut out = std::io::Cursor::new(Vec::new());
    small.to_rgba8().write_to(&mut out, ImageFormat::Png)?;
    Ok(Thumbnail {
        bytes: Bytes::from(out.into_inner()),
        width: small.width(),
        height: small.height(),
    })
}

/// The decoder of the picture in `file`, its header read and its size checked, no
/// pixel decoded yet: a picture over [`MAX_PIXELS`] or [`MAX_SIDE`] stops here.
fn measured(
    mut file: std::fs::File,
    content_type: &str,
) -> Result<Box<dyn ImageDecoder>, ImageError> {
    let format = ImageFormat::from_mime_type(content_type)
        .ok_or_else(|| ImageError::Unreadable(format!("not a picture: {content_type}")))?;
    file.rewind()?;
    let mut reader = ImageReader::with_format(BufReader::new(file), format);
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_PIXELS * 4 + 64 * 1024 * 1024);
    reader.limits(limits);
    let decoder = reader.into_decoder()?;
    let (width, height) = decoder.dimensions();
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(ImageError::TooBig(width, height));
    }
    if width == 0 || height == 0 {
        return Err(ImageError::Unreadable("a picture of no pixels".into()));
    }
    Ok(Box::new(decoder))
}

/// The pixels, turned as the picture's EXIF orientation says.
fn upright(mut decoder: Box<dyn ImageDecoder>) -> Result<DynamicImage, ImageError> {
    let orientation = decoder.orientation()?;
    let mut picture = DynamicImage::from_decoder(decoder)?;
    picture.apply_orientation(orientation);
    Ok(picture)
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

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn file_with(bytes: &[u8]) -> std::fs::File {
        let mut file = tempfile::tempfile().expect("a temporary file");
        file.write_all(bytes).expect("written");
        file
    }

    #[test]
    fn an_avatar_is_the_middle_square_of_the_picture() {
        // Left third red, middle third green, right third blue.
        let wide = image::RgbImage::from_fn(600, 200, |x, _| match x / 200 {
            0 => image::Rgb([255, 0, 0]),
            1 => image::Rgb([0, 255, 0]),
            _ => image::Rgb([0, 0, 255]),
        });
        let mut png = std::io::Cursor::new(Vec::new());
        wide.write_to(&mut png, ImageFormat::Png).expect("a PNG");
        let avatar = avatar(file_with(&png.into_inner()), "image/png").expect("an avatar");
        assert_eq!((avatar.width, avatar.height), (AVATAR_SIDE, AVATAR_SIDE));
        let shown = image::load_from_memory(&avatar.bytes)
            .expect("a PNG")
            .to_rgb8();
        assert_eq!(shown.get_pixel(64, 64), &image::Rgb([0, 255, 0]));
        assert_eq!(
            shown.get_pixel(2, 2),
            &image::Rgb([0, 255, 0]),
            "no red from the left"
        );
    }
}
