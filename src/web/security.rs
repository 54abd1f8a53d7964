//! Security headers on every response, and the per-response nonce that lets the page
//! layout's one inline `<style>` (the viewer's CSS rules) through the
//! Content-Security-Policy. No inline script is ever allowed: scripts come from the
//! site's own `/assets/` only, so markup that slipped through escaping still could not
//! run.
use std::sync::Arc;

use poem::{Endpoint, IntoResponse, Request, Response, http::HeaderValue};

tokio::task_local! {
    static NONCE: String;
}

/// The nonce of the response being rendered, for `<style nonce=…>`.
pub fn style_nonce() -> Option<String> {
    NONCE.try_with(Clone::clone).ok()
}

fn new_nonce() -> String {
    use base64::Engine;
    let bytes: [u8; 16] = rand::random();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The middleware: `….around(security::middleware)`.
pub async fn middleware<E: Endpoint>(next: Arc<E>, req: Request) -> poem::Result<Response> {
    let nonce = new_nonce();
    let resp = NONCE
        .scope(nonce.clone(), async move {
            match next.call(req).await {
                Ok(resp) => resp.into_response(),
                Err(e) => e.into_response(),
            }
        })
        .await;
    Ok(with_headers(resp, &nonce))
}

/// Whether the response's own policy lets some page frame it.
fn framable(headers: &poem::http::HeaderMap) -> bool {
    headers
        .get("Content-Security-Policy")
        .and_then(|v| v.to_str().ok())
        .and_then(|csp| {
            csp.split(';')
                .find_map(|d| d.trim().strip_prefix("frame-ancestors"))
        })
        .is_some_and(|sources| sources.trim() != "'none'")
}

fn with_headers(mut resp: Response, nonce: &str) -> Response {
    let csp = format!(
        "default-src 'self'; script-src 'self'; style-src 'self' 'nonce-{nonce}'; img-src 'self' data:; \
         connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    );
    let headers = resp.headers_mut();
    // A response that set its own policy keeps it: a served file's is stricter still
    // (`sandbox`, see `files::routes`).
    if !headers.contains_key("Content-Security-Policy") {
        if let Ok(value) = HeaderValue::from_str(&csp) {
            headers.insert("Content-Security-Policy", value);
        }
    }
    headers.insert(
        "X-Content-Type-Options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("Referrer-Policy", HeaderValue::from_static("same-origin"));
    // A response whose own policy names who may frame it (the support widget's
    // frame) is framed by them alone; everything else by nobody.
    if !framable(headers) {
        headers.insert("X-Frame-Options", HeaderValue::from_static("DENY"));
    }
    headers.insert(
        "Cross-Origin-Opener-Policy",
        HeaderValue::from_static("same-origin"),
    );
    resp
}
