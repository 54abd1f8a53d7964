//! `GET /search?q=…&before={id}`: a page of the messages a query finds, 50 at a time,
//! newest first (`&sort=relevance&skip={n}`: best matches first);
//! `GET /switcher?q=`: the quick switcher's rooms and people.
use std::sync::Arc;

use poem::{
    IntoResponse, Request, Response, handler,
    http::StatusCode,
    web::{Data, Query},
};
use serde::Deserialize;

use super::{
    queries::{self, Order, Resolved},
    query::{Place, QueryError, SearchQuery},
    switcher,
    views::{self, Answer},
};
use crate::{
    chat::{Chat, sidebar},
    error::AppError,
    web::{Viewer, is_htmx},
};

/// Results one page shows.
const PAGE: u64 = 50;

#[derive(Debug, Deserialize)]
pub struct SearchParams {
    #[serde(default)]
    q: String,
    before: Option<i64>,
    /// `relevance` for best matches first.
    sort: Option<String>,
    /// With `sort=relevance`: how many best matches earlier pages showed.
    skip: Option<u64>,
}

#[handler]
pub async fn search(
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Query(params): Query<SearchParams>,
) -> Result<Response, AppError> {
    let sidebar = sidebar::for_user(&chat.db, viewer.id, None).await?;
    let site_online = chat.hub.site_online().await;
    let relevant = params.sort.as_deref() == Some("relevance");
    let order = if relevant {
        Order::Relevant {
            skip: params.skip.unwrap_or(0),
        }
    } else {
        Order::Newest {
            before: params.before,
        }
    };
    let (status, hits, query) = match SearchQuery::parse(&params.q) {
        // No query is the page before a search: nothing is wrong with it.
        Err(QueryError::Empty) => (StatusCode::OK, Vec::new(), None),
        Err(refused) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Vec::new(),
            Some(Err(refused.to_string())),
        ),
        Ok(query) => match resolve(chat, &viewer, &query).await? {
            Err(why) => (StatusCode::OK, Vec::new(), Some(Err(why))),
            Ok(resolved) => {
                let hits = queries::search(&chat.db, viewer.id, &query, &resolved, order, PAGE + 1)
                    .await?;
                (StatusCode::OK, hits, Some(Ok(query)))
            }
        },
    };
    let answer = match &query {
        None => Answer::Ask,
        Some(Err(why)) => Answer::Refused(why.clone()),
        Some(Ok(query)) => Answer::Found {
            hits: &hits[..hits.len().min(PAGE as usize)],
            words: query.words().collect(),
            literals: query.literals().collect(),
            more: (hits.len() as u64 > PAGE)
                .then(|| next_page(params.q.trim(), order, &hits))
                .flatten(),
        },
    };
    let mut response = views::page(
        &viewer,
        params.q.trim(),
        relevant,
        &answer,
        site_online,
        sidebar,
    )
    .into_response();
    response.set_status(status);
    Ok(response)
}

/// The URL of the page after the one of `hits` (which holds one hit more than a page).
fn next_page(typed: &str, order: Order, hits: &[queries::Hit]) -> Option<String> {
    let q = views::encoded(typed);
    match order {
        Order::Newest { .. } => {
            let last = hits.get(PAGE as usize - 1)?;
            Some(format!("/search?q={q}&before={}", last.id))
        }
        Order::Relevant { skip } => Some(format!(
            "/search?q={q}&sort=relevance&skip={}",
            skip.saturating_add(PAGE)
        )),
    }
}

/// The people the query's filters name, or why the query finds nothing (a name nobody
/// has).
async fn resolve(
    chat: &Chat,
    viewer: &Viewer,
    query: &SearchQuery,
) -> Result<Result<Resolved, String>, AppError> {
    let mut resolved = Resolved::default();
    if let Some(name) = &query.from {
        match queries::person_id(&chat.db, name).await? {
            Some(id) => resolved.author_id = Some(id),
            None => return Ok(Err(format!("Nobody is called @{name}."))),
        }
    }
    if let Some(Place::Private(name)) = &query.place {
        match queries::person_id(&chat.db, name).await? {
            Some(id) => resolved.direct_key = Some(queries::direct_key(viewer.id, id)),
            None => return Ok(Err(format!("Nobody is called @{name}."))),
        }
    }
    let room_slug = match &query.place {
        Some(Place::Room(slug)) => Some(slug.as_str()),
        _ => None,
    };
    resolved.conversation_id =
        queries::place_id(&chat.db, room_slug, resolved.direct_key.as_deref()).await?;
    Ok(Ok(resolved))
}

#[derive(Debug, Deserialize)]
pub struct SwitcherParams {
    #[serde(default)]
    q: String,
}

/// The switcher's list box for its dialog (an htmx-style request), or a page of it.
#[handler]
pub async fn switch(
    req: &Request,
    viewer: Viewer,
    Data(chat): Data<&Arc<Chat>>,
    Query(params): Query<SwitcherParams>,
) -> Result<Response, AppError> {
    let found = switcher::destinations(&chat.db, viewer.id, &params.q).await?;
    if is_htmx(req) {
        return Ok(switcher::options(&found).into_response());
    }
    let sidebar = sidebar::for_user(&chat.db, viewer.id, None).await?;
    let site_online = chat.hub.site_online().await;
    Ok(switcher::page(&viewer, params.q.trim(), &found, site_online, sidebar).into_response())
}
