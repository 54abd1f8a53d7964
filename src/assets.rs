//! The stylesheet, scripts and vendored htmx, embedded in the binary at build time and
//! served under URLs that carry a hash of their content (`/assets/app.3f2a9c1e.css`),
//! so browsers may cache them for a year and still see every change at once.
//!
//! This module must not read files at run time: the binary is the whole app.
use std::{collections::HashMap, sync::LazyLock};

use poem::{
    Response, handler,
    http::{StatusCode, header},
    web::Path,
};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "assets/"]
#[exclude = "*.md"]
struct Embedded;

/// Logical name (`app.css`) to hashed name (`app.3f2a9c1e.css`) and back.
struct Manifest {
    hashed_by_name: HashMap<String, String>,
    name_by_hashed: HashMap<String, String>,
}

static MANIFEST: LazyLock<Manifest> = LazyLock::new(|| {
    let mut hashed_by_name = HashMap::new();
    let mut name_by_hashed = HashMap::new();
    for name in Embedded::iter() {
        let Some(file) = Embedded::get(&name) else {
            continue;
        };
        let hash = hex::encode(&file.metadata.sha256_hash()[..5]);
        let hashed = match name.rsplit_once('.') {
            Some((stem, ext)) => format!("{stem}.{hash}.{ext}"),
            None => format!("{name}.{hash}"),
        };
        hashed_by_name.insert(name.to_string(), hashed.clone());
        name_by_hashed.insert(hashed, name.to_string());
    }
    Manifest {
        hashed_by_name,
        name_by_hashed,
    }
});

/// The URL to put in a page for the asset `name` (a path under `assets/`).
pub fn url(name: &str) -> String {
    match MANIFEST.hashed_by_name.get(name) {
        Some(hashed) => format!("/assets/{hashed}"),
        None => format!("/assets/{name}"),
    }
}

/// The text of the asset `name`, for what is served outside `/assets/` (the service
/// worker, whose scope is the folder it is served from).
pub fn text(name: &str) -> Option<String> {
    Embedded::get(name).map(|file| String::from_utf8_lossy(&file.data).into_owned())
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        _ => "text/plain; charset=utf-8",
    }
}

/// `GET /assets/*path`: hashed names are immutable; plain names revalidate.
#[handler]
pub fn serve(Path(path): Path<String>) -> Response {
    let (name, immutable) = match MANIFEST.name_by_hashed.get(&path) {
        Some(name) => (name.as_str(), true),
        None => (path.as_str(), false),
    };
    let Some(file) = Embedded::get(name) else {
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .content_type("text/plain; charset=utf-8")
            .body("No such asset.");
    };
    let cache = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    Response::builder()
        .header(header::CONTENT_TYPE, content_type(name))
        .header(header::CACHE_CONTROL, cache)
        .body(file.data.into_owned())
}
