//! The JSON API under `/api/v1`, for bots and other programs: personal API tokens
//! ([`tokens`], made in `/settings`), bearer authentication ([`auth`]), the
//! conversations a token can read and posting to them ([`conversations`]), changes to
//! messages ([`messages`]) and messages with files ([`uploads`]), events for people's open pages ([`events`]), the same
//! and messages as Server-Sent Events ([`stream`]),
//! `Idempotency-Key`s ([`idempotency`]), and errors as `application/problem+json`
//! ([`problem`]).
//!
//! The OpenAPI 3 document is generated from the operations' code by `poem-openapi`
//! and served at `/api/v1/openapi.json`; `/api/v1/docs` is a page rendered from it
//! ([`docs`]). The API acts for a token's owner through the chat's own paths (posting,
//! the message actions, who may read what); it owns no rule of its own about what a
//! person may do, and it is mounted outside the session middleware: a cookie opens
//! nothing here.
pub mod auth;
pub mod conversations;
mod docs;
pub mod events;
pub mod idempotency;
pub mod messages;
pub mod models;
pub mod problem;
pub mod stream;
pub mod tokens;
pub mod uploads;

use poem::{Endpoint, EndpointExt, Route, get};
use poem_openapi::{OpenApiService, Tags};

/// Where the API is mounted.
pub const PREFIX: &str = "/api/v1";

#[derive(Tags)]
enum Tag {
    /// Rooms and private chats, and their messages.
    Conversations,
    /// Changing a message: editing, deleting, reacting.
    Messages,
    /// Events for people's open pages (`hearth:{type}` on their `window`).
    Events,
}

type Operations = (
    conversations::Conversations,
    messages::Messages,
    events::Events,
    stream::Stream,
    uploads::Uploads,
);

fn service() -> OpenApiService<Operations, ()> {
    OpenApiService::new(
        (
            conversations::Conversations,
            messages::Messages,
            events::Events,
            stream::Stream,
            uploads::Uploads,
        ),
        "hearth API",
        "1",
    )
    .description(
        "Post to and read hearth's rooms and private chats from programs. Authenticate \
         with a personal API token (made in Settings) as `Authorization: Bearer hearth_…`; \
         it can do exactly what its owner can. Errors are `application/problem+json`.",
    )
    .server(PREFIX)
}

/// The API as one endpoint, to be nested at [`PREFIX`].
pub fn endpoint() -> impl Endpoint {
    let service = service();
    let spec = service.spec_endpoint();
    let document = service.spec();
    let reference = docs::Reference::of(&document);
    let methods = std::sync::Arc::new(
        problem::Methods::of(&document)
            .with("/openapi.json", "GET")
            .with("/docs", "GET"),
    );
    let described = Route::new()
        .at("/openapi.json", spec)
        .at("/docs", get(reference))
        .nest("/", service)
        .around(move |next, req| problem::middleware(next, req, methods.clone()));
    // Uploads stream past the body limit the rest of the API reads under.
    Route::new()
        .at("/conversations/:id/files", uploads::upload)
        .nest("/", described)
}

/// The OpenAPI document, as `/api/v1/openapi.json` serves it.
pub fn openapi_document() -> String {
    service().spec()
}
