//! Error pages as people see them: every error a page request ends in (a refusal of a
//! handler, a wrong address, a method an address does not take) is a whole page in the
//! site's layout, with the person's own header when they are signed in, a title in
//! words and a way back. For an htmx request, the reason goes to the line where the
//! form says what went wrong ([`layout::request_error`]) instead of a page.
//!
//! It only presents errors; deciding them is the handlers' and [`crate::error`]'s.
//! A page it makes keeps the matched route of the answer it replaces
//! ([`PathPattern`]), which the metrics label requests with.
use std::sync::Arc;

use poem::{Endpoint, IntoResponse, PathPattern, Request, Response, http::StatusCode};
use tower_sessions::Session;

use super::{
    is_htmx,
    layout::{self, ErrorPage},
    session::viewer_in,
};

/// The middleware: `…around(errors::middleware)`, inside the session middleware.
pub async fn middleware<E: Endpoint>(next: Arc<E>, req: Request) -> poem::Result<Response> {
    let htmx = is_htmx(&req);
    let session = req.extensions().get::<Session>().cloned();
    let resp = match next.call(req).await {
        Ok(resp) => resp.into_response(),
        Err(e) => {
            let status = e.status();
            let route = e.data::<PathPattern>().cloned();
            let message = match status {
                StatusCode::NOT_FOUND => {
                    "There is nothing here. It may have been removed, or you may not be allowed to see it."
                        .to_owned()
                }
                StatusCode::METHOD_NOT_ALLOWED => {
                    "This address takes a form, not a visit: go back to the page you came from and send it from there."
                        .to_owned()
                }
                _ => return Ok(e.into_response()),
            };
            let mut page = layout::error_page(status, &message);
            if let Some(route) = route {
                page.set_data(route);
            }
            page
        }
    };
    Ok(present(resp, htmx, session).await)
}

/// `resp` as the person sees it: an error page in their layout (or, for htmx, the
/// reason in the form's error line); any other response unchanged.
pub async fn present(resp: Response, htmx: bool, session: Option<Session>) -> Response {
    let Some(error) = resp.extensions().get::<ErrorPage>().cloned() else {
        return resp;
    };
    let status = resp.status();
    let headers = resp.headers().clone();
    let mut page = if htmx {
        layout::request_error(Some(&error.message), true).into_response()
    } else {
        let viewer = match session {
            Some(session) => viewer_in(session).await.ok().flatten(),
            None => None,
        };
        layout::error_page_for(&error, viewer.as_ref()).into_response()
    };
    page.set_status(status);
    if let Some(route) = resp.data::<PathPattern>() {
        page.set_data(route.clone());
    }
    // Headers the error set (Retry-After) stay; the body's own are the page's.
    for (name, value) in headers.iter() {
        if name != poem::http::header::CONTENT_TYPE && name != poem::http::header::CONTENT_LENGTH {
            page.headers_mut().insert(name.clone(), value.clone());
        }
    }
    page
}
