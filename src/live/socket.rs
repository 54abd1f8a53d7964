//! `GET /ws[?conversation={id}][&after={message id}]`: one WebSocket per page.
//!
//! Before the upgrade: the `Origin` must be this site's (403 otherwise: this is what
//! stops another site's page from opening a socket with the visitor's cookie), the
//! session must be signed in (401), and a conversation must be one the viewer may see
//! (404, as for its page).
//!
//! After it, the socket's task registers with the hub first and reads the catch-up
//! second: anything committed after registration reaches the queue, anything before
//! it is in the catch-up, and message ids let the task drop what it got both ways.
use std::{sync::Arc, time::Duration};

use futures_util::{SinkExt, StreamExt};
use poem::{
    Request, Response, handler,
    http::{StatusCode, header},
    web::{Data, Query},
};
use serde::Deserialize;
use tokio::time::Instant;
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{
        Message,
        handshake::derive_accept_key,
        protocol::{CloseFrame, Role, WebSocketConfig, frame::coding::CloseCode},
    },
};

use super::hub::{
    CLOSE_GOING_AWAY, CLOSE_TRY_AGAIN, Outgoing, OutgoingKind, Registration, SocketOwner,
};
use crate::{
    chat::{self, Conversation, ConversationKind, MessageBody, access, queries, views},
    error::AppError,
    startup::AppState,
    web::{serve::RawUpgrade, session::viewer_of},
};

/// The largest frame a client may send: a 4000-character message in JSON is well
/// under it.
pub const MAX_INCOMING_FRAME: usize = 16 * 1024;
/// How long a silent peer is kept. The hub pings every socket every
/// [`super::hub::PING_EVERY`]; browsers answer pings by themselves.
const SILENCE_LIMIT: Duration = Duration::from_secs(50);
/// Catch-up is read in batches of this many messages.
const CATCH_UP_BATCH: u64 = 200;
/// Typing signals closer together than this are ignored.
const TYPING_MIN_GAP: Duration = Duration::from_secs(1);

#[derive(Debug, Deserialize)]
pub struct SocketQuery {
    conversation: Option<i64>,
    after: Option<i64>,
}

fn refuse(status: StatusCode, message: &str) -> Response {
    Response::builder()
        .status(status)
        .content_type("text/plain; charset=utf-8")
        .body(message.to_owned())
}

/// Whether the request's `Origin` (when a browser sent one) is this site.
fn origin_allowed(req: &Request, allowed: &[String]) -> bool {
    let Some(origin) = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    else {
        // Browsers always send Origin on WebSocket requests; a client without one is not
        // a browser, and cannot carry a victim's cookie across sites.
        return true;
    };
    if allowed.iter().any(|a| a == origin) {
        return true;
    }
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    matches!((host, origin_host), (Some(h), Some(o)) if h.eq_ignore_ascii_case(o))
}

#[handler]
pub async fn connect(
    req: &Request,
    Data(state): Data<&Arc<AppState>>,
    Query(query): Query<SocketQuery>,
) -> Result<Response, AppError> {
    if !origin_allowed(req, &state.config.allowed_origins) {
        return Ok(refuse(
            StatusCode::FORBIDDEN,
            "This socket may only be opened from hearth's own pages.",
        ));
    }
    let Some(viewer) = viewer_of(req).await? else {
        return Ok(refuse(StatusCode::UNAUTHORIZED, "Log in first."));
    };
    let limits = &state.limits.settings;
    if state.hub.socket_count() >= limits.max_sockets {
        return Err(AppError::ServerFull);
    }
    if state.hub.sockets_of(viewer.id) >= limits.sockets_per_user {
        return Err(AppError::TooManySockets);
    }
    let conversation = match query.conversation {
        Some(id) => Some(access::open(state, &viewer, id).await?),
        None => None,
    };
    let is_upgrade = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let key = req.headers().get(header::SEC_WEBSOCKET_KEY).cloned();
    let (true, Some(key)) = (is_upgrade, key) else {
        return Ok(refuse(
            StatusCode::BAD_REQUEST,
            "This URL speaks WebSocket only.",
        ));
    };
    // The server loop keeps the upgrade aside for this path (see `web::serve`).
    let Some(on_upgrade) = req
        .extensions()
        .get::<RawUpgrade>()
        .and_then(RawUpgrade::take)
    else {
        return Ok(refuse(
            StatusCode::BAD_REQUEST,
            "This connection cannot be upgraded.",
        ));
    };

    let owner = SocketOwner {
        user_id: viewer.id,
        username: viewer.username.clone(),
        session: viewer.session_key(),
        conversation: conversation
            .as_ref()
            .map(|c| (c.id, ConversationKind::of(c) == ConversationKind::Room)),
    };
    let state = state.clone();
    tokio::spawn(async move {
        let Some((tcp, read_ahead)) = RawUpgrade::tcp(on_upgrade).await else {
            return;
        };
        let config = WebSocketConfig::default()
            // Clients send small frames (typing, a message): 1 KiB to start keeps idle
            // sockets cheap, and the buffer grows for a larger frame.
            .read_buffer_size(1024)
            // Frames queued together go out in one write (`write_batch` flushes once):
            // under a busy room's fan-out a socket's task often finds several waiting,
            // and a system call per frame had made hearth top out at a quarter of
            // limit-server's rate. 16 KiB is ~35 message frames; the buffer is only a
            // threshold, and an idle socket holds no more than its largest write.
            .write_buffer_size(16 * 1024)
            .max_message_size(Some(MAX_INCOMING_FRAME))
            .max_frame_size(Some(MAX_INCOMING_FRAME));
        // Frames the client sent before it saw the 101 may have come in with the
        // request; with none, this is `from_raw_socket` (the same read buffer).
        let ws =
            WebSocketStream::from_partially_read(tcp, read_ahead, Role::Server, Some(config)).await;
        let session = Session {
            state,
            owner_id: owner.user_id,
            owner_name: owner.username.clone(),
            conversation,
            after: query.after,
        };
        // Boxed, so that the task keeps no room for the upgrade's states beside it.
        Box::pin(session.run(ws, owner)).await;
    });

    Ok(Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "upgrade")
        .header(header::UPGRADE, "websocket")
        .header(
            header::SEC_WEBSOCKET_ACCEPT,
            derive_accept_key(key.as_bytes()),
        )
        .finish())
}

/// What a client may send. Other fields (htmx adds `HEADERS`) are ignored.
#[derive(Debug, Deserialize)]
struct ClientFrame {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    body: Option<String>,
}

/// A client frame, understood.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Typing,
    /// A message to post, its body not yet checked.
    Message(String),
    /// Anything else: unknown types, malformed JSON, missing fields. Never an error.
    Ignored,
}

/// Reads one text frame from a client. Total: any input gives a [`Command`].
pub fn parse_frame(text: &str) -> Command {
    match serde_json::from_str::<ClientFrame>(text) {
        Ok(frame) if frame.kind == "typing" => Command::Typing,
        Ok(ClientFrame {
            kind,
            body: Some(body),
        }) if kind == "message" => Command::Message(body),
        Ok(ClientFrame { kind, body: None }) if kind == "message" => {
            Command::Message(String::new())
        }
        _ => Command::Ignored,
    }
}

struct Session {
    state: Arc<AppState>,
    owner_id: i64,
    owner_name: String,
    conversation: Option<Conversation>,
    after: Option<i64>,
}

type Socket = WebSocketStream<tokio::net::TcpStream>;

impl Session {
    async fn run(self, mut ws: Socket, owner: SocketOwner) {
        // The start's futures (registration, the sidebar's query, the catch-up) run
        // once; boxed, they do not size every socket's task for as long as it lives.
        let Some((mut registration, mut sent_up_to)) = Box::pin(self.start(&mut ws, owner)).await
        else {
            return;
        };
        let control = registration.control.clone();
        // Waited on only while a write is blocked: otherwise the hub wakes an idle
        // task through its queue, and the code is read after each batch.
        let closed = control.closed();
        tokio::pin!(closed);
        let mut last_heard = Instant::now();
        let mut last_typing: Option<Instant> = None;
        loop {
            tokio::select! {
                out = registration.rx.recv() => {
                    let Some(out) = out else { break };
                    // A peer that stops reading blocks this write; the hub then closes
                    // its full queue, and that must end the write too. The write goes
                    // first: a close asked for while it can finish is said after it.
                    let mut batch = Batch { ws: &mut ws, sent_up_to: &mut sent_up_to, last_heard };
                    let written = tokio::select! {
                        biased;
                        written = batch.write(out, &mut registration.rx) => written,
                        _ = &mut closed => false,
                    };
                    if !written { return; }
                    if let Some(code) = control.requested() {
                        let reason = match code {
                            CLOSE_GOING_AWAY => "server going away",
                            CLOSE_TRY_AGAIN => "too far behind: reconnect to catch up",
                            _ => "closed",
                        };
                        let _ = close(&mut ws, code, reason).await;
                        return;
                    }
                }
                incoming = ws.next() => {
                    last_heard = Instant::now();
                    match incoming {
                        Some(Ok(Message::Text(text))) => {
                            // Boxed: posting's future is large and needed only now.
                            let reply = Box::pin(self.on_frame(text.as_str(), &mut last_typing)).await;
                            if let Some(reply) = reply {
                                if ws.send(reply).await.is_err() { return; }
                            }
                        }
                        Some(Ok(Message::Close(_))) | None => return,
                        Some(Err(e)) => {
                            // Oversized or malformed frames end this socket only.
                            tracing::debug!(error = %e, "socket read failed");
                            let _ = close(&mut ws, 1009, "frame refused").await;
                            return;
                        }
                        Some(Ok(_)) => {} // binary, ping, pong: nothing to do
                    }
                }
            }
        }
    }

    /// Registers with the hub, sends the sidebar and the catch-up; answers the
    /// registration and the last message id sent, or `None` when the socket is done.
    async fn start(&self, ws: &mut Socket, owner: SocketOwner) -> Option<(Registration, i64)> {
        let registration = match self.state.hub.register(owner).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "could not register a socket");
                let _ = close(ws, 1011, "server error").await;
                return None;
            }
        };
        // Counts the page holds may be stale after a reconnect: send them fresh.
        let current = self.conversation.as_ref().map(|c| c.id);
        match chat::sidebar::entries(&self.state.db, self.owner_id).await {
            Ok(entries) => {
                let fragment = chat::sidebar::render(&entries, current, true);
                if ws
                    .send(Message::text(fragment.into_string()))
                    .await
                    .is_err()
                {
                    return None;
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not render the sidebar for a socket"),
        }
        let mut sent_up_to = self.after.unwrap_or(0);
        if let (Some(conversation), Some(_)) = (&self.conversation, self.after) {
            match self.catch_up(ws, conversation.id, sent_up_to).await {
                Ok(last) => sent_up_to = last,
                Err(_) => {
                    let _ = close(ws, 1011, "catch-up failed").await;
                    return None;
                }
            }
        }
        Some((registration, sent_up_to))
    }

    /// Sends every message after `after`, in order; answers the last id sent.
    async fn catch_up(
        &self,
        ws: &mut Socket,
        conversation_id: i64,
        mut after: i64,
    ) -> Result<i64, ()> {
        loop {
            let batch =
                queries::between(&self.state.db, conversation_id, after, None, CATCH_UP_BATCH)
                    .await
                    .map_err(|e| tracing::warn!(error = %e, "catch-up query failed"))?;
            for message in &batch {
                let frame =
                    Message::text(views::appended(std::slice::from_ref(message)).into_string());
                ws.feed(frame).await.map_err(|_| ())?;
                after = message.id;
            }
            ws.flush().await.map_err(|_| ())?;
            if (batch.len() as u64) < CATCH_UP_BATCH {
                return Ok(after);
            }
        }
    }

    /// Acts on one text frame; answers a frame for this socket alone, if any.
    async fn on_frame(&self, text: &str, last_typing: &mut Option<Instant>) -> Option<Message> {
        let command = parse_frame(text);
        let conversation = self.conversation.as_ref()?;
        match command {
            Command::Typing => {
                let now = Instant::now();
                if last_typing.is_none_or(|at| now.duration_since(at) >= TYPING_MIN_GAP) {
                    *last_typing = Some(now);
                    self.state
                        .hub
                        .typing(conversation.id, self.owner_id, &self.owner_name);
                }
                None
            }
            Command::Message(body) => {
                let refusal = match MessageBody::parse(&body) {
                    Ok(body) => match chat::post(
                        &self.state,
                        conversation,
                        self.owner_id,
                        &self.owner_name,
                        body,
                    )
                    .await
                    {
                        Ok(_) => {
                            return Some(Message::text(
                                views::composer_error(None, true).into_string(),
                            ));
                        }
                        Err(e @ AppError::TooManyRequests(_)) => e.message(),
                        Err(e) => {
                            tracing::warn!(error = %e, "posting over the socket failed");
                            "hearth could not store that message. Try again in a moment.".to_owned()
                        }
                    },
                    Err(refusal) => refusal.to_string(),
                };
                Some(Message::text(
                    views::composer_error(Some(&refusal), true).into_string(),
                ))
            }
            Command::Ignored => None,
        }
    }
}

/// One wake of a socket's task: what it writes from its queue.
struct Batch<'a> {
    ws: &'a mut Socket,
    /// The last message sent, so that what the catch-up sent is not sent again.
    sent_up_to: &'a mut i64,
    last_heard: Instant,
}

impl Batch<'_> {
    /// Writes `first` and whatever else is already queued, with one flush at the end.
    /// Answers false when the socket is done.
    async fn write(
        &mut self,
        first: Outgoing,
        rx: &mut tokio::sync::mpsc::Receiver<Outgoing>,
    ) -> bool {
        if !self.queue(first).await {
            return false;
        }
        while let Ok(out) = rx.try_recv() {
            if !self.queue(out).await {
                return false;
            }
        }
        self.ws.flush().await.is_ok()
    }

    /// Feeds one hub frame unless the catch-up already sent that message.
    async fn queue(&mut self, out: Outgoing) -> bool {
        match out.kind() {
            OutgoingKind::Message(id) if id <= *self.sent_up_to => return true,
            OutgoingKind::Message(id) => *self.sent_up_to = id,
            // A peer that has not answered pings for this long is gone.
            OutgoingKind::Ping if self.last_heard.elapsed() > SILENCE_LIMIT => return false,
            OutgoingKind::Wake => return true,
            OutgoingKind::Ping | OutgoingKind::Fragment => {}
        }
        self.ws.feed(out.frame()).await.is_ok()
    }
}

async fn close(ws: &mut Socket, code: u16, reason: &str) -> Result<(), ()> {
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: reason.into(),
    };
    ws.close(Some(frame)).await.map_err(|_| ())
}
