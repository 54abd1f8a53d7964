//! `GET /ws[?conversation={id}][&since={event}][&after={message id}][&events_since={id}]`:
//! one WebSocket per page.
//!
//! Before the upgrade: the `Origin` must be this site's (403 otherwise: this is what
//! stops another site's page from opening a socket with the visitor's cookie), the
//! session must be signed in (401), and a conversation must be one the viewer may see
//! (404, as for its page).
//!
//! After it, the socket registers with the hub first and catches up second, from the
//! page's cursor: `since` (the last event the page holds) or, as the contract has it,
//! `after` (the last message it holds). Anything committed after registration reaches
//! its queue, anything before is in the catch-up, and the socket joins the two where
//! its catch-up ends ([`crate::live::socket`]). Events programs published
//! ([`crate::app_events`]) are caught up the same way from `events_since`; a page
//! without it is told where they stand now.
use std::sync::Arc;

use async_trait::async_trait;
use poem::{
    Request, Response, handler,
    http::StatusCode,
    web::{Data, Query},
};
use sea_orm::DbErr;
use serde::Deserialize;
use std::sync::Mutex;
use tokio::time::Instant;

use super::{Chat, Conversation, ConversationKind, MessageBody, access, catchup, sidebar, views};
use crate::{
    config::Config,
    error::AppError,
    live::{
        SocketOwner,
        socket::{self, CatchUp, Command, Socket, Upgrade, parse_frame},
    },
    web::session::viewer_of,
};

/// Typing signals closer together than this are ignored.
const TYPING_MIN_GAP: std::time::Duration = std::time::Duration::from_secs(1);

#[derive(Debug, Default, Deserialize)]
pub struct SocketQuery {
    conversation: Option<i64>,
    since: Option<i64>,
    after: Option<i64>,
    /// The last published event the page holds.
    events_since: Option<i64>,
    /// People whose being online the page shows, as ids separated by commas.
    #[serde(default)]
    watch: String,
}

impl SocketQuery {
    /// The query of a socket on `conversation`, picking up where the page is.
    pub fn at(conversation: i64, since: Option<i64>, after: Option<i64>) -> Self {
        Self {
            conversation: Some(conversation),
            since,
            after,
            ..Self::default()
        }
    }
}

/// People one page may watch at most (a directory page lists fifty).
const WATCHED: usize = 64;

/// The ids of `watch=1,2,3`; anything that is not an id is left out.
fn watched(list: &str) -> Vec<i64> {
    list.split(',')
        .filter_map(|id| id.trim().parse().ok())
        .take(WATCHED)
        .collect()
}

#[handler]
pub async fn connect(
    req: &Request,
    Data(chat): Data<&Arc<Chat>>,
    Data(config): Data<&Arc<Config>>,
    Query(query): Query<SocketQuery>,
) -> Result<Response, AppError> {
    if !socket::origin_allowed(req, &config.allowed_origins, config.secure_cookies) {
        return Ok(socket::refuse(
            StatusCode::FORBIDDEN,
            "This socket may only be opened from hearth's own pages.",
        ));
    }
    let Some(viewer) = viewer_of(req).await? else {
        return Ok(socket::refuse(StatusCode::UNAUTHORIZED, "Log in first."));
    };
    let conversation = match query.conversation {
        Some(id) => Some(access::open(&chat.db, &viewer, id).await?),
        None => None,
    };
    let reader = Reader {
        id: viewer.id,
        name: viewer.username.clone(),
        session: viewer.session_key(),
        visitor: false,
    };
    accept(req, chat, config, reader, conversation, query).await
}

/// Whose socket it is, as [`accept`] needs it.
pub struct Reader {
    pub id: i64,
    pub name: String,
    /// The session that signed them in, whose end closes the socket.
    pub session: Option<String>,
    /// A visitor of the support widget: their page has no sidebar, and they write
    /// through the widget's form, which keeps their conversation's state.
    pub visitor: bool,
}

/// Upgrades to the socket of `reader`, who may read `conversation` (the caller has
/// checked), and runs it.
///
/// The socket is registered with the hub, and where its page stands is read, before
/// the 101 goes out: whatever commits after the client has its socket reaches it.
pub async fn accept(
    req: &Request,
    chat: &Arc<Chat>,
    config: &Arc<Config>,
    reader: Reader,
    conversation: Option<Conversation>,
    query: SocketQuery,
) -> Result<Response, AppError> {
    let upgrade = match Upgrade::of(req) {
        Ok(upgrade) => upgrade,
        Err(refusal) => return Ok(refusal.response()),
    };
    // The place is taken here, before the upgrade, and held by the socket's task: a
    // burst of upgrades cannot pass the caps between a check and a registration.
    let mut slot = chat.reserve_socket(reader.id)?;
    let owner = SocketOwner {
        user_id: reader.id,
        username: reader.name.clone(),
        session: reader.session,
        conversation: conversation.as_ref().map(|c| {
            let public_room =
                ConversationKind::of(c) == ConversationKind::Room && !access::is_private_room(c);
            (c.id, public_room)
        }),
        watching: watched(&query.watch),
        visitor: reader.visitor,
    };
    let catch_up_page = config.live.catch_up_page;
    let page = ConversationSocket {
        chat: chat.clone(),
        owner_id: reader.id,
        owner_name: reader.name,
        visitor: reader.visitor,
        conversation,
        catch_up_page,
        last_typing: Mutex::new(None),
    };
    let silence_limit = config.live.silence_limit;
    let registration = chat.hub.register(owner);
    // Registered first: what commits from here on is in its queue. A failed read is
    // answered as any request's is, before the upgrade.
    let from = match &page.conversation {
        Some(conversation) => Some(page.caught_up_to(conversation.id, &query).await?),
        None => None,
    };
    let events_since = query.events_since;
    Ok(upgrade.accept(move |ws| async move {
        let started = page.start(ws, registration, from, events_since).await;
        slot.established();
        if let Some((ws, registration, cursor)) = started {
            // A task of its own, which holds what the socket needs while it lives and
            // none of the start's states (the sidebar's query, the catch-up).
            tokio::spawn(socket::run(
                ws,
                registration,
                cursor,
                page,
                silence_limit,
                slot,
            ));
        }
    }))
}

/// A socket of a page, and of its conversation when it shows one.
struct ConversationSocket {
    chat: Arc<Chat>,
    owner_id: i64,
    owner_name: String,
    /// A widget visitor's page: it has no sidebar, and what programs publish to the
    /// site's people is not theirs.
    visitor: bool,
    conversation: Option<Conversation>,
    catch_up_page: u64,
    last_typing: Mutex<Option<Instant>>,
}

impl ConversationSocket {
    /// The conversation's event the page holds everything up to, as `query` says
    /// (`since` an event, `after` a message, nothing: now).
    async fn caught_up_to(&self, conversation_id: i64, query: &SocketQuery) -> Result<i64, DbErr> {
        match (query.since, query.after) {
            (Some(since), _) => Ok(since.max(0)),
            (None, Some(after)) => {
                catchup::event_of_message(&self.chat.db, conversation_id, after).await
            }
            (None, None) => super::queries::head(&self.chat.db, conversation_id).await,
        }
    }

    /// Sends the sidebar and the catch-up from `from` (the event the page holds, where
    /// it shows a conversation); answers the socket, its registration and the event it
    /// has caught up to, or `None` when it is done.
    async fn start(
        &self,
        mut ws: Socket,
        registration: crate::live::Registration,
        from: Option<i64>,
        events_since: Option<i64>,
    ) -> Option<(Socket, crate::live::Registration, Option<i64>)> {
        // Counts the page holds may be stale after a reconnect: send them fresh.
        let current = self.conversation.as_ref().map(|c| c.id);
        // One frame: the sidebar, then where the page's published events stand.
        let mut first = String::new();
        if !self.visitor {
            match sidebar::entries(&self.chat.db, self.owner_id).await {
                Ok(entries) => {
                    first.push_str(&sidebar::render(&entries, current, true).into_string())
                }
                Err(e) => tracing::warn!(error = %e, "could not render the sidebar for a socket"),
            }
        }
        if !self.visitor {
            if let Some(events) = self.published_events(events_since).await {
                first.push_str(&events.into_string());
            }
        }
        if !first.is_empty() {
            socket::send(&mut ws, first).await.ok()?;
        }
        let Some(from) = from else {
            return Some((ws, registration, None));
        };
        match socket::catch_up(&mut ws, self, from).await {
            Ok(upto) => Some((ws, registration, Some(upto))),
            Err(()) => {
                let _ = socket::close(&mut ws, 1011, "catch-up failed").await;
                None
            }
        }
    }

    /// The published events the page missed since `since`, or, for a page that says
    /// nothing, where they stand now. The socket is registered first: what is published
    /// from then on is in its queue, and the page's script keeps one of each event it
    /// gets twice.
    async fn published_events(&self, since: Option<i64>) -> Option<maud::Markup> {
        let Some(since) = since else {
            return Some(crate::app_events::cursor(self.chat.events.get()));
        };
        match crate::app_events::missed(&self.chat.db, self.owner_id, since).await {
            Ok(missed) if missed.is_empty() => None,
            Ok(missed) => Some(crate::app_events::fragment(&missed)),
            Err(e) => {
                tracing::warn!(error = %e, "could not read the events a socket missed");
                None
            }
        }
    }
}

#[async_trait]
impl socket::Page for ConversationSocket {
    async fn catch_up(&self, after: i64) -> Result<CatchUp, ()> {
        let Some(conversation) = &self.conversation else {
            return Ok(CatchUp {
                upto: after,
                html: String::new(),
                complete: true,
            });
        };
        let page = self.catch_up_page;
        let changes = catchup::since(&self.chat.db, conversation.id, after, page)
            .await
            .map_err(|e| tracing::warn!(error = %e, "catch-up query failed"))?;
        Ok(CatchUp {
            upto: changes.upto,
            complete: (changes.messages.len() as u64) < page,
            html: changes.fragment().into_string(),
        })
    }

    async fn on_text(&self, text: &str) -> Option<String> {
        let command = parse_frame(text);
        let conversation = self.conversation.as_ref()?;
        match command {
            Command::Typing => {
                let now = Instant::now();
                let due = {
                    // A plain instant: whole after any panic.
                    let mut last = self
                        .last_typing
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    let due = last.is_none_or(|at| now.duration_since(at) >= TYPING_MIN_GAP);
                    if due {
                        *last = Some(now);
                    }
                    due
                };
                if due {
                    self.chat
                        .hub
                        .typing(conversation.id, self.owner_id, &self.owner_name);
                    self.chat
                        .support
                        .typed(&self.chat.db, conversation.id, &self.owner_name)
                        .await;
                }
                None
            }
            // A visitor writes through the widget's form (see `support::widget`).
            Command::Message(_) if self.visitor => None,
            Command::Message(body) => {
                let refusal = match MessageBody::parse(&body) {
                    Ok(body) => match self
                        .chat
                        .post(conversation, self.owner_id, &self.owner_name, body, None)
                        .await
                    {
                        Ok(_) => {
                            return Some(views::composer_error(None, true).into_string());
                        }
                        Err(e @ AppError::TooManyRequests(_)) => e.message(),
                        Err(e) => {
                            tracing::warn!(error = %e, "posting over the socket failed");
                            "hearth could not store that message. Try again in a moment.".to_owned()
                        }
                    },
                    Err(refusal) => refusal.to_string(),
                };
                Some(views::composer_error(Some(&refusal), true).into_string())
            }
            Command::Ignored => None,
        }
    }
}
