//! One WebSocket's life: the upgrade, then a task that writes what the hub queues for it
//! and reads what the client sends. What the socket's page is about (its conversation,
//! who may open it, what a client's message does) is the caller's, behind [`Page`].
//!
//! A socket joins its conversation's stream of events at a cursor: the last event its
//! page holds. It catches up from the database first and then writes each frame of
//! events that continues where it is, skipping what its catch-up already covered; a
//! frame that does not continue its cursor (its catch-up and the hub's stream crossed)
//! makes it read again from its cursor. So a socket writes every event once, in order.
use std::time::Duration;

use async_trait::async_trait;
use futures_util::{SinkExt, StreamExt};
use poem::{
    Request, Response,
    http::{StatusCode, header},
};
use serde::Deserialize;
use tokio::time::Instant;
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{
        Error as WsError, Message,
        handshake::derive_accept_key,
        protocol::{CloseFrame, Role, WebSocketConfig, frame::coding::CloseCode},
    },
};

use super::{
    Registration,
    outgoing::{CLOSE_GOING_AWAY, CLOSE_TRY_AGAIN, Outgoing, OutgoingKind},
    wire::{self, Wire},
};
use crate::web::{
    handshakes::Turn,
    serve::{RawUpgrade, upgrades_to_websocket},
};

/// The largest frame a client may send: a 4000-character message in JSON is well
/// under it.
pub const MAX_INCOMING_FRAME: usize = 16 * 1024;

pub type Socket = WebSocketStream<Wire>;

/// A catch-up: the events after a cursor up to `upto`, as one fragment.
#[derive(Debug)]
pub struct CatchUp {
    pub upto: i64,
    pub html: String,
    /// Whether it reached the conversation's latest event (else read on from `upto`).
    pub complete: bool,
}

/// What the page behind a socket does.
#[async_trait]
pub trait Page: Send + Sync {
    /// The page's conversation's events after `after`, a page at a time.
    async fn catch_up(&self, after: i64) -> Result<CatchUp, ()>;

    /// Acts on a text frame from the client; answers text for this socket alone.
    async fn on_text(&self, text: &str) -> Option<String>;
}

pub fn refuse(status: StatusCode, message: &str) -> Response {
    Response::builder()
        .status(status)
        .content_type("text/plain; charset=utf-8")
        .body(message.to_owned())
}

/// Whether the request's `Origin` (when a browser sent one) is this site: its host
/// and its scheme (`https` when the site is served over TLS, as `secure` says, else
/// `http`), or one of the `allowed` origins.
pub fn origin_allowed(req: &Request, allowed: &[String], secure: bool) -> bool {
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
    let scheme = if secure { "https" } else { "http" };
    let origin_host = origin
        .split_once("://")
        .filter(|(origin_scheme, _)| origin_scheme.eq_ignore_ascii_case(scheme))
        .map(|(_, rest)| rest);
    matches!((host, origin_host), (Some(h), Some(o)) if h.eq_ignore_ascii_case(o))
}

/// Why a request to a socket's URL cannot be upgraded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotAnUpgrade {
    /// It does not ask for a WebSocket: 400.
    NotWebSocket,
    /// It asks for a version of the protocol other than RFC 6455's 13: 426, naming 13.
    OtherVersion,
    /// Its `Sec-WebSocket-Key` is not 16 bytes in base64: 400.
    BadKey,
    /// The connection has no upgrade to give (HTTP/2, say): 400.
    NotUpgradable,
}

impl NotAnUpgrade {
    /// The answer to the request.
    pub fn response(self) -> Response {
        let (status, why) = match self {
            Self::NotWebSocket => (StatusCode::BAD_REQUEST, "This URL speaks WebSocket only."),
            Self::OtherVersion => (
                StatusCode::UPGRADE_REQUIRED,
                "This server speaks WebSocket version 13.",
            ),
            Self::BadKey => (
                StatusCode::BAD_REQUEST,
                "The WebSocket key is not 16 bytes in base64.",
            ),
            Self::NotUpgradable => (
                StatusCode::BAD_REQUEST,
                "This connection cannot be upgraded.",
            ),
        };
        let mut resp = refuse(status, why);
        if self == Self::OtherVersion {
            resp.headers_mut().insert(
                header::SEC_WEBSOCKET_VERSION,
                header::HeaderValue::from_static("13"),
            );
        }
        resp
    }
}

/// A request that asks for a WebSocket, ready to be accepted.
pub struct Upgrade {
    key: String,
    on_upgrade: hyper::upgrade::OnUpgrade,
    /// The request's handshake turn, held until the socket has started.
    turn: Turn,
}

impl Upgrade {
    /// The upgrade `req` asks for, or why it is not one.
    pub fn of(req: &Request) -> Result<Self, NotAnUpgrade> {
        let is_upgrade = upgrades_to_websocket(req.headers());
        let key = req
            .headers()
            .get(header::SEC_WEBSOCKET_KEY)
            .and_then(|v| v.to_str().ok());
        let (true, Some(key)) = (is_upgrade, key) else {
            return Err(NotAnUpgrade::NotWebSocket);
        };
        let version = req
            .headers()
            .get(header::SEC_WEBSOCKET_VERSION)
            .and_then(|v| v.to_str().ok());
        if version.map(str::trim) != Some("13") {
            return Err(NotAnUpgrade::OtherVersion);
        }
        // A key is 16 bytes in base64: 24 characters.
        if key.len() != 24 {
            return Err(NotAnUpgrade::BadKey);
        }
        // The server loop keeps the upgrade aside for this path (see `web::serve`).
        let Some((on_upgrade, turn)) = req
            .extensions()
            .get::<RawUpgrade>()
            .and_then(RawUpgrade::take)
        else {
            return Err(NotAnUpgrade::NotUpgradable);
        };
        Ok(Self {
            key: key.to_owned(),
            on_upgrade,
            turn,
        })
    }

    /// Answers 101 and runs `socket` on the WebSocket once the client has it.
    pub fn accept<F, Fut>(self, socket: F) -> Response
    where
        F: FnOnce(Socket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let accept_key = derive_accept_key(self.key.as_bytes());
        let on_upgrade = self.on_upgrade;
        let turn = self.turn;
        // The turn is held from the 101 to the socket's start, and no longer than the
        // turn allows, however slowly the client reads.
        tokio::spawn(turn.hold_while(async move {
            let Some((tcp, read_ahead)) = RawUpgrade::tcp(on_upgrade).await else {
                return;
            };
            let config = WebSocketConfig::default()
                // Clients send small frames (typing, a message, ~300 bytes with htmx's
                // headers): 256 bytes to start keeps idle sockets cheap, and the buffer
                // grows for a larger frame.
                .read_buffer_size(256)
                // hearth's frames go out through the `Wire`; tungstenite writes only its
                // control frames, small and at once.
                .write_buffer_size(0)
                .max_write_buffer_size(64 * 1024)
                .max_message_size(Some(MAX_INCOMING_FRAME))
                .max_frame_size(Some(MAX_INCOMING_FRAME));
            // Frames the client sent before it saw the 101 may have come in with the
            // request; with none, this is `from_raw_socket` (the same read buffer).
            let ws = WebSocketStream::from_partially_read(
                Wire::new(tcp),
                read_ahead,
                Role::Server,
                Some(config),
            )
            .await;
            // `socket` starts the socket and spawns what runs for its life (see [`run`]):
            // this task, sized for the upgrade's states, ends with the start.
            socket(ws).await;
        }));
        Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header(header::CONNECTION, "upgrade")
            .header(header::UPGRADE, "websocket")
            .header(header::SEC_WEBSOCKET_ACCEPT, accept_key)
            .finish()
    }
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

/// Sends `text` and flushes.
pub async fn send(ws: &mut Socket, text: String) -> Result<(), ()> {
    ws.get_mut().push(wire::text_frame(text));
    ws.flush().await.map_err(|_| ())
}

/// Catches `ws` up from `after` to the conversation's latest event, a page at a time;
/// answers where it ended.
pub async fn catch_up(ws: &mut Socket, page: &dyn Page, mut after: i64) -> Result<i64, ()> {
    loop {
        let caught = page.catch_up(after).await?;
        if !caught.html.is_empty() {
            // Each page goes out before the next is read: a long catch-up is never
            // held in memory whole.
            ws.get_mut().push(wire::text_frame(caught.html));
            ws.flush().await.map_err(|_| ())?;
        }
        after = caught.upto;
        if caught.complete {
            return Ok(after);
        }
    }
}

/// Runs a registered socket until it closes: writes what the hub queues (events that
/// continue `cursor`, where the page has one), answers the client through `page`.
/// `place` (its place under the socket caps) is let go when it ends.
///
/// Meant to be spawned as the socket's own task once it has started, so that what a
/// socket holds for as long as it lives is this future alone. Not an `async fn`: the
/// block uses what it captures where it lies, where an `async fn` would keep a second
/// copy of its arguments (rust-lang/rust#62958) in every idle socket.
#[allow(
    clippy::manual_async_fn,
    reason = "an async fn would hold its arguments twice"
)]
pub fn run(
    mut ws: Socket,
    mut registration: Registration,
    mut cursor: Option<i64>,
    page: impl Page,
    silence_limit: Duration,
    place: impl Send,
) -> impl Future<Output = ()> + Send {
    async move {
        serve_socket(
            &mut ws,
            &mut registration,
            &mut cursor,
            &page,
            silence_limit,
        )
        .await;
        // Its place is given back first, then the hub lets it go, then its
        // connection closes.
        drop(place);
        drop(page);
        drop(registration);
        drop(ws);
    }
}

/// The loop of [`run`], on what its task holds.
async fn serve_socket(
    ws: &mut Socket,
    registration: &mut Registration,
    cursor: &mut Option<i64>,
    page: &dyn Page,
    silence_limit: Duration,
) {
    let control = registration.control.clone();
    // Waited on only while a write is blocked: otherwise the hub wakes an idle
    // task through its queue, and the code is read after each batch.
    let closed = control.closed();
    tokio::pin!(closed);
    let mut last_heard = Instant::now();
    loop {
        tokio::select! {
            out = registration.rx.recv() => {
                // A peer that stops reading blocks this write; the hub then closes
                // its full queue, and that must end the write too. The write goes
                // first: a close asked for while it can finish is said after it.
                let mut batch = Batch { ws: &mut *ws, cursor: &mut *cursor, page, last_heard, silence_limit };
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
                    let _ = Box::pin(close(ws, code, reason)).await;
                    return;
                }
            }
            incoming = ws.next() => {
                last_heard = Instant::now();
                match incoming {
                    Some(Ok(Message::Text(text))) => {
                        // Boxed: posting's future is large and needed only now.
                        let reply = Box::pin(page.on_text(text.as_str())).await;
                        if let Some(reply) = reply {
                            if send(ws, reply).await.is_err() { return; }
                        }
                    }
                    Some(Ok(Message::Close(_))) | None => return,
                    Some(Err(e)) => {
                        // Oversized or malformed frames end this socket only, with
                        // the code RFC 6455 gives their kind.
                        tracing::debug!(error = %e, "socket read failed");
                        let (code, reason) = match e {
                            WsError::Capacity(_) => (1009, "frame too large"),
                            WsError::Utf8(_) => (1007, "text is not UTF-8"),
                            WsError::Protocol(_) => (1002, "protocol error"),
                            _ => return,
                        };
                        let _ = Box::pin(close(ws, code, reason)).await;
                        return;
                    }
                    Some(Ok(_)) => {} // binary, ping, pong: nothing to do
                }
            }
        }
    }
}

/// One wake of a socket's task: what it writes from its queue.
struct Batch<'a> {
    ws: &'a mut Socket,
    /// The last event the page holds.
    cursor: &'a mut Option<i64>,
    page: &'a dyn Page,
    last_heard: Instant,
    silence_limit: Duration,
}

impl Batch<'_> {
    /// Writes `first` and whatever else is already queued, with one flush at the end.
    /// Answers false when the socket is done.
    async fn write(&mut self, first: Outgoing, rx: &mut super::outgoing::Receiver) -> bool {
        if !self.queue(first).await {
            return false;
        }
        while let Some(out) = rx.try_recv() {
            if !self.queue(out).await {
                return false;
            }
        }
        self.ws.flush().await.is_ok()
    }

    /// Feeds one hub frame, where it belongs.
    async fn queue(&mut self, out: Outgoing) -> bool {
        match out.kind() {
            OutgoingKind::Events { after, upto } => {
                let Some(cursor) = *self.cursor else {
                    return true; // a page without a conversation has no events
                };
                if upto <= cursor {
                    return true;
                }
                if after != cursor {
                    // The hub's stream and this socket's catch-up crossed: read on from
                    // the cursor, which covers this frame too.
                    // Boxed: a catch-up's states are rare, and a socket's task is sized
                    // for the largest state it can be in.
                    let Ok(caught) = Box::pin(catch_up(self.ws, self.page, cursor)).await else {
                        return false;
                    };
                    *self.cursor = Some(caught);
                    return true;
                }
                *self.cursor = Some(upto);
            }
            // A peer that has not answered pings for this long is gone.
            OutgoingKind::Ping if self.last_heard.elapsed() > self.silence_limit => return false,
            OutgoingKind::Wake => return true,
            OutgoingKind::Ping | OutgoingKind::Fragment => {}
        }
        self.ws.get_mut().push(out.frame());
        true
    }
}

pub async fn close(ws: &mut Socket, code: u16, reason: &str) -> Result<(), ()> {
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: reason.into(),
    };
    ws.close(Some(frame)).await.map_err(|_| ())
}
