//! `GET /stream`: Server-Sent Events, for programs and pages that cannot use a
//! WebSocket. It carries new and changed messages of the conversations it follows and
//! the app events published to its holder, in order, each with an SSE `id` that is the
//! stream's whole [`cursor::Cursor`]: a client that reconnects with `Last-Event-ID`
//! (as `EventSource` does by itself) gets exactly what it missed.
//!
//! It is authenticated by a bearer token or, for a page of this site, by the session
//! cookie (a GET that changes nothing, so no CSRF token is needed), and reads only what
//! its holder may read, through the chat's own access rules. A stream counts as one of
//! its holder's sockets against the socket caps. It learns of changes from the hub's
//! notices ([`crate::live::Notice`]) and reads them from the database after its cursor,
//! so a stream that falls behind reads again and loses nothing, and no other client
//! waits for it.
pub mod cursor;
mod follow;
mod queries;

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use poem::{Request, web::Data};
use poem_openapi::{
    Object, OpenApi, SecurityScheme, Union,
    param::{Header, Query},
    payload::EventStream,
};
use tokio::sync::mpsc;

use super::{Tag, auth::Token, events::PublishedEvent, models::Message, problem::ApiError};
use crate::{chat::Chat, error::AppError, web::session::Sessions};
use cursor::{Cursor, MAX_CONVERSATIONS};

/// How often an idle stream sends a comment, so that proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Streamed events waiting for a slow client before the stream stops reading.
const QUEUED: usize = 32;

pub struct Stream;

/// One event of the stream, as its SSE fields say it.
#[derive(Clone, Debug, Object)]
#[oai(rename = "StreamEvent")]
pub struct StreamEvent {
    /// The SSE `id`: where the stream stands, to send back as `Last-Event-ID`.
    pub id: String,
    /// The SSE `event`: `message` (new), `message.changed` (edited, deleted or reacted
    /// to), `event` (an app event) or `access.ended` (a conversation is no longer
    /// readable; the stream stops following it).
    pub event: String,
    /// The SSE `data`, as JSON.
    pub data: StreamData,
}

/// What a streamed event holds.
#[derive(Clone, Debug, Union)]
#[oai(rename = "StreamData")]
pub enum StreamData {
    Message(Message),
    Event(PublishedEvent),
    AccessEnded(AccessEnded),
}

/// A conversation the stream no longer follows.
#[derive(Clone, Debug, Object)]
#[oai(rename = "AccessEnded")]
pub struct AccessEnded {
    pub conversation_id: i64,
}

/// A bearer token, or else the session cookie of a page of this site.
#[derive(SecurityScheme)]
enum StreamAuth {
    Token(Token),
    #[oai(fallback)]
    Cookie,
}

/// Whom a stream reads for.
pub(crate) enum Holder {
    Token {
        token_id: i64,
        user_id: i64,
        is_bot: bool,
    },
    Session {
        user_id: i64,
        session: String,
        sessions: Arc<Sessions>,
    },
}

impl Holder {
    fn user_id(&self) -> i64 {
        match self {
            Holder::Token { user_id, .. } | Holder::Session { user_id, .. } => *user_id,
        }
    }

    /// Whether it is a bot (a session never is: bots do not log in).
    fn is_bot(&self) -> bool {
        matches!(self, Holder::Token { is_bot: true, .. })
    }
}

#[OpenApi(tag = "Tag::Events")]
impl Stream {
    /// Follow conversations and events as Server-Sent Events
    ///
    /// `text/event-stream` of new messages (`event: message`), changed ones
    /// (`message.changed`, in their current form) and app events for the holder
    /// (`event`), each with an `id`. Reconnect with that `id` as `Last-Event-ID` to
    /// get exactly what was missed. Follows the conversations given, else those the
    /// holder belongs to (rooms they joined, private chats), at most 100, and those
    /// they join while it is open (from when they joined). A page of this site may use
    /// its session cookie instead of a token.
    #[oai(path = "/stream", method = "get", operation_id = "stream")]
    async fn stream(
        &self,
        auth: StreamAuth,
        req: &Request,
        chat: Data<&Arc<Chat>>,
        /// Conversation ids to follow, separated by commas (at most 100).
        conversations: Query<Option<String>>,
        /// Where to resume: the `id` of the last event received.
        #[oai(name = "Last-Event-ID")]
        last_event_id: Header<Option<String>>,
    ) -> Result<EventStream<futures_util::stream::BoxStream<'static, StreamEvent>>, ApiError> {
        let holder = match auth {
            StreamAuth::Token(token) => Holder::Token {
                token_id: token.0.token_id,
                user_id: token.0.user_id,
                is_bot: token.0.is_bot,
            },
            StreamAuth::Cookie => match (
                crate::web::session::signed_in_by_cookie(req).await?,
                req.data::<Arc<Sessions>>(),
            ) {
                (Some((user_id, _, session)), Some(sessions)) => Holder::Session {
                    user_id,
                    session,
                    sessions: sessions.clone(),
                },
                _ => return Err(ApiError::unauthorized()),
            },
        };
        let user_id = holder.user_id();
        let resumed = match last_event_id.0.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(Cursor::parse(text).ok_or_else(|| {
                ApiError::bad_request(
                    "bad_last_event_id",
                    "`Last-Event-ID` is not an `id` this stream sent.",
                )
            })?),
        };
        let opened_at = crate::db::now_ms();
        let follows_belonging = conversations.0.is_none();
        let wanted = match conversations.0.as_deref() {
            Some(list) => chosen(&chat, &holder, list).await?,
            None => queries::belonging(&chat.db, user_id, MAX_CONVERSATIONS as u64)
                .await
                .map_err(AppError::from)?,
        };
        let start = start_at(&chat, resumed, &wanted).await?;

        let mut slot = chat.reserve_socket(user_id)?;
        slot.established();

        let (out, events) = mpsc::channel(QUEUED);
        let follower = follow::Follower {
            chat: chat.0.clone(),
            notices: chat.hub.notices(),
            holder,
            cursor: start,
            out,
            follows_belonging,
            opened_at,
            _slot: slot,
        };
        tokio::spawn(follower.run());
        let stream = futures_util::stream::unfold(events, |mut events| async move {
            events.recv().await.map(|event| (event, events))
        });
        Ok(EventStream::new(Box::pin(stream) as _)
            .keep_alive(KEEP_ALIVE)
            .to_event(|event: StreamEvent| {
                use poem_openapi::types::ToJSON;
                poem::web::sse::Event::message(event.data.to_json_string())
                    .event_type(event.event)
                    .id(event.id)
            }))
    }
}

/// The conversations of `?conversations=`, each one the holder may read.
async fn chosen(chat: &Chat, holder: &Holder, list: &str) -> Result<Vec<i64>, ApiError> {
    let mut ids = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let id: i64 = part.parse().map_err(|_| {
            ApiError::bad_request(
                "bad_conversations",
                "`conversations` is conversation ids separated by commas.",
            )
        })?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if ids.is_empty() || ids.len() > MAX_CONVERSATIONS {
        return Err(ApiError::bad_request(
            "bad_conversations",
            format!("`conversations` names 1 to {MAX_CONVERSATIONS} conversations."),
        ));
    }
    for id in &ids {
        super::auth::open_as(&chat.db, holder.user_id(), holder.is_bot(), *id).await?;
    }
    Ok(ids)
}

/// Where the stream starts: each wanted conversation where `resumed` left it, else
/// at its latest event (only what comes next); app events after `resumed`'s, else
/// after the latest.
async fn start_at(
    chat: &Chat,
    resumed: Option<Cursor>,
    wanted: &[i64],
) -> Result<Cursor, ApiError> {
    let resumed = resumed.unwrap_or_else(|| Cursor {
        event: chat.events.get(),
        conversations: BTreeMap::new(),
    });
    let fresh: Vec<i64> = wanted
        .iter()
        .copied()
        .filter(|id| !resumed.conversations.contains_key(id))
        .collect();
    let mut conversations = queries::heads(&chat.db, &fresh)
        .await
        .map_err(AppError::from)?;
    for id in wanted {
        if let Some(seq) = resumed.conversations.get(id) {
            conversations.insert(*id, *seq);
        }
    }
    Ok(Cursor {
        event: resumed.event,
        conversations,
    })
}
