//! The hub: this process's registry of sockets, by conversation and by user, and the
//! fan-out of events to them.
//!
//! Delivery order and completeness rest on one fact from [`crate::chat::queries`]:
//! within a conversation, messages commit in the order of their ids. Each conversation
//! remembers the last message it delivered; an event whose predecessor is that message
//! is delivered as it comes, and any other is treated as a gap and filled from the
//! database first. So events may arrive late, twice or out of order and every socket
//! still sees each message once, in order. A message this process committed is
//! delivered by the committing thread itself when it is the next one its conversation
//! waits for ([`Hub::message_committed`]); its event then finds it delivered.
//!
//! Presence and typing changes only mark a conversation dirty; a ticker sends the
//! current state of every dirty conversation at most every 250 ms, so a thousand joins
//! cost one frame per socket per tick, not a thousand.
//!
//! The hub's state is behind a `std::sync::Mutex`, not a Tokio one: nothing awaits
//! while it is held, and sends into socket queues never block (`try_send`).
use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex, MutexGuard, Weak,
        atomic::{AtomicU16, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use sea_orm::DatabaseConnection;
use tokio::sync::{Notify, mpsc};
use tokio_tungstenite::tungstenite::Message;

use super::{
    Bus, Event, fragments,
    presence::{self, Leases, SITE},
};
use crate::chat::{MessageView, Posted, queries, views};

/// Frames a socket may have waiting before it counts as too slow and is closed.
pub const SOCKET_QUEUE: usize = 256;
/// How often presence and typing changes go out.
pub const FLUSH_EVERY: Duration = Duration::from_millis(250);
/// How often each socket is pinged. The ticker pings a slice of the sockets on each
/// tick, so that ten thousand sockets do not all ping in the same instant, and a
/// socket's task keeps no timer of its own.
pub const PING_EVERY: Duration = Duration::from_secs(20);
const PING_SLICES: u64 = (PING_EVERY.as_millis() / FLUSH_EVERY.as_millis()) as u64;
/// How long "typing…" lasts after the last signal.
pub const TYPING_LASTS: Duration = Duration::from_secs(5);
/// Close codes the hub uses.
pub const CLOSE_GOING_AWAY: u16 = 1001;
pub const CLOSE_TRY_AGAIN: u16 = 1013;
pub const CLOSE_NORMAL: u16 = 1000;

/// One frame for a socket: pre-rendered once, shared by every recipient. A pointer,
/// so that a socket's queue slots (allocated with the queue, 32 at a time) stay small.
#[derive(Clone, Debug)]
pub struct Outgoing(Arc<Frame>);

#[derive(Debug)]
struct Frame {
    kind: OutgoingKind,
    frame: Message,
}

/// What a queued item asks of a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutgoingKind {
    /// A new message, by id: a socket skips what its catch-up already sent.
    Message(i64),
    /// Any other fragment.
    Fragment,
    /// Time to ping the peer, and to give up on one that has been silent too long.
    Ping,
    /// Nothing to write: the hub has asked the socket to close (see [`SocketControl`]).
    Wake,
}

impl Outgoing {
    fn new(kind: OutgoingKind, frame: Message) -> Self {
        Self(Arc::new(Frame { kind, frame }))
    }

    fn html(markup: maud::Markup) -> Self {
        Self::new(OutgoingKind::Fragment, Message::text(markup.into_string()))
    }

    fn ping() -> Self {
        Self::new(OutgoingKind::Ping, Message::Ping(Default::default()))
    }

    pub fn kind(&self) -> OutgoingKind {
        self.0.kind
    }

    /// The frame to write (its payload is shared, not copied).
    pub fn frame(&self) -> Message {
        self.0.frame.clone()
    }
}

/// How the hub tells a socket's task to close, out of band of its (maybe full) queue.
///
/// The socket's task reads the code after each batch it writes, and waits on it only
/// while a write is blocked; an idle socket is woken through its queue instead
/// ([`Subscriber::close`]), so the task does not poll one more future on every frame.
#[derive(Debug, Default)]
pub struct SocketControl {
    close_code: AtomicU16,
    notify: Notify,
}

impl SocketControl {
    fn close(&self, code: u16) {
        // The first reason wins: a socket closed for being slow stays closed for that.
        let _ = self
            .close_code
            .compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire);
        self.notify.notify_one();
    }

    /// The close code the hub asked for, if it has.
    pub fn requested(&self) -> Option<u16> {
        match self.close_code.load(Ordering::Acquire) {
            0 => None,
            code => Some(code),
        }
    }

    /// Waits until the hub asks this socket to close; answers the close code.
    pub async fn closed(&self) -> u16 {
        loop {
            if let Some(code) = self.requested() {
                return code;
            }
            self.notify.notified().await;
        }
    }
}

/// Who is online in a conversation, ordered by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Presence {
    pub users: Vec<(i64, String)>,
}

type SocketId = u64;

#[derive(Clone)]
struct Subscriber {
    id: SocketId,
    tx: mpsc::Sender<Outgoing>,
    control: Arc<SocketControl>,
}

impl Subscriber {
    /// Queues `out`, or closes a socket that has fallen too far behind.
    fn offer(&self, out: Outgoing) {
        if self.tx.try_send(out).is_err() {
            // A full queue means a busy task: it reads the code after its next batch,
            // or is blocked writing and waiting on the code too.
            self.control.close(CLOSE_TRY_AGAIN);
        }
    }

    /// Asks the socket to close with `code`, waking its task if it is idle.
    fn close(&self, code: u16) {
        self.control.close(code);
        let _ = self.tx.try_send(Outgoing::new(
            OutgoingKind::Wake,
            Message::Text(Default::default()),
        ));
    }
}

struct SocketEntry {
    user_id: i64,
    session: Option<String>,
    conversation: Option<i64>,
    subscriber: Subscriber,
}

struct Channel {
    is_room: bool,
    subscribers: Vec<Subscriber>,
    last_delivered: i64,
    /// Users online here: name and how many of their sockets are.
    online: HashMap<i64, (String, usize)>,
    /// Users typing here: name and until when.
    typing: HashMap<i64, (String, Instant)>,
}

impl Channel {
    /// Whether message `id`, whose predecessor in the conversation is `previous_id`,
    /// is the next one these sockets wait for: delivered as it comes, with no gap.
    fn waits_for(&self, id: i64, previous_id: Option<i64>) -> bool {
        id > self.last_delivered && previous_id.unwrap_or(0) <= self.last_delivered
    }

    fn presence(&self) -> Presence {
        let mut users: Vec<(i64, String)> = self
            .online
            .iter()
            .map(|(id, (name, _))| (*id, name.clone()))
            .collect();
        users.sort_by(|a, b| {
            a.1.to_lowercase()
                .cmp(&b.1.to_lowercase())
                .then(a.0.cmp(&b.0))
        });
        Presence { users }
    }

    fn typists(&self) -> Vec<(i64, String)> {
        let mut typists: Vec<(i64, String)> = self
            .typing
            .iter()
            .map(|(id, (name, _))| (*id, name.clone()))
            .collect();
        typists.sort_by(|a, b| a.1.cmp(&b.1));
        typists
    }

    fn broadcast(&self, out: &Outgoing) {
        for subscriber in &self.subscribers {
            subscriber.offer(out.clone());
        }
    }
}

#[derive(Default)]
struct State {
    sockets: HashMap<SocketId, SocketEntry>,
    channels: HashMap<i64, Channel>,
    /// Sockets per user, for the site-wide count and the user's own stream.
    users: HashMap<i64, Vec<SocketId>>,
    /// Members of conversations, loaded when a message there is first delivered, so
    /// members on other pages hear of it (unread counts, notifications).
    members: HashMap<i64, Arc<HashSet<i64>>>,
    /// Messages whose members were told already (events can arrive twice).
    told: BoundedSet,
    /// Sockets of pages that show no conversation (the lobby, the directory).
    lobby: HashSet<SocketId>,
    dirty_presence: HashSet<i64>,
    dirty_typing: HashSet<i64>,
    site_dirty: bool,
    /// Conversations (and [`SITE`]) whose local presence changed since the last sync
    /// to the shared leases.
    local_changes: HashSet<i64>,
    /// The site-wide count over all processes, as of the last tick (shared presence).
    union_site: Option<usize>,
    /// Whether a conversation is a public room, for those seen here: only rooms'
    /// counts may go to the lobby.
    is_room: HashMap<i64, bool>,
    /// Messages committed by this process whose event has not come back yet, so the
    /// common case needs no query to render them.
    recent: HashMap<i64, MessageView>,
}

struct Inner {
    db: DatabaseConnection,
    bus: Box<dyn Bus>,
    /// Presence shared with other processes, when several share the database.
    leases: Option<Leases>,
    state: Mutex<State>,
    next_socket: AtomicU64,
}

/// A cheap handle to the hub; clones share it.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

/// A socket's place in the hub; dropping it takes the socket out.
pub struct Registration {
    pub rx: mpsc::Receiver<Outgoing>,
    pub control: Arc<SocketControl>,
    id: SocketId,
    hub: Hub,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.hub.unregister(self.id);
    }
}

/// Who a new socket belongs to and what it shows.
pub struct SocketOwner {
    pub user_id: i64,
    pub username: String,
    pub session: Option<String>,
    /// The conversation the page shows, and whether it is a public room.
    pub conversation: Option<(i64, bool)>,
}

impl Hub {
    /// Starts a hub that consumes `events` (the receiving side of `bus`) and ticks
    /// presence and typing out; both tasks end when the last handle is dropped. With
    /// `shared_presence`, counts are the union over every process on the database.
    pub fn start(
        db: DatabaseConnection,
        bus: Box<dyn Bus>,
        events: mpsc::UnboundedReceiver<Event>,
        shared_presence: bool,
    ) -> Self {
        let leases = shared_presence.then(|| Leases::new(db.clone()));
        let hub = Hub {
            inner: Arc::new(Inner {
                db,
                bus,
                leases,
                state: Mutex::new(State {
                    site_dirty: true,
                    ..State::default()
                }),
                next_socket: AtomicU64::new(1),
            }),
        };
        tokio::spawn(consume(Arc::downgrade(&hub.inner), events));
        tokio::spawn(tick(Arc::downgrade(&hub.inner)));
        hub
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.inner)
    }

    /// People online on the site. With several processes this reads the shared leases,
    /// so that a page rendered on one process already counts a person who arrived
    /// through another a moment ago (the ticker's count can lag by a round trip).
    pub async fn site_online(&self) -> usize {
        if let Some(leases) = &self.inner.leases {
            match leases.counts(&[SITE]).await {
                Ok(counts) => return counts.get(&SITE).copied().unwrap_or(0),
                Err(e) => tracing::warn!(error = %e, "could not count the site"),
            }
        }
        let state = self.state();
        match (&self.inner.leases, state.union_site) {
            (Some(_), Some(union)) => union,
            _ => state.users.len(),
        }
    }

    /// Who is online in a conversation.
    pub async fn presence(&self, conversation_id: i64) -> Presence {
        if let Some(leases) = &self.inner.leases {
            match leases.conversation(conversation_id).await {
                Ok(presence) => return presence,
                Err(e) => tracing::warn!(error = %e, "could not read shared presence"),
            }
        }
        self.state()
            .channels
            .get(&conversation_id)
            .map(Channel::presence)
            .unwrap_or_default()
    }

    /// How many are online in each of `conversations`.
    pub async fn presence_counts(&self, conversations: &[i64]) -> HashMap<i64, usize> {
        if let Some(leases) = &self.inner.leases {
            match leases.counts(conversations).await {
                Ok(counts) => return counts,
                Err(e) => tracing::warn!(error = %e, "could not read shared presence"),
            }
        }
        let state = self.state();
        conversations
            .iter()
            .map(|c| (*c, state.channels.get(c).map_or(0, |ch| ch.online.len())))
            .collect()
    }

    /// Which of `users` are online on the site.
    pub async fn online_among(&self, users: &[i64]) -> HashSet<i64> {
        if let Some(leases) = &self.inner.leases {
            match leases.online_among(users).await {
                Ok(online) => return online,
                Err(e) => tracing::warn!(error = %e, "could not read shared presence"),
            }
        }
        let state = self.state();
        users
            .iter()
            .copied()
            .filter(|u| state.users.contains_key(u))
            .collect()
    }

    /// How many sockets this process holds.
    pub fn socket_count(&self) -> usize {
        self.state().sockets.len()
    }

    /// Adds a socket. Its queue receives every message of its conversation committed
    /// from now on (the caller catches up on what came before from the database),
    /// presence and typing of that conversation, and site-wide counts.
    pub async fn register(&self, owner: SocketOwner) -> Result<Registration, sea_orm::DbErr> {
        let latest = match owner.conversation {
            Some((id, _)) if !self.state().channels.contains_key(&id) => {
                queries::latest_id(&self.inner.db, id).await?.unwrap_or(0)
            }
            _ => 0,
        };
        let (tx, rx) = mpsc::channel(SOCKET_QUEUE);
        let control = Arc::new(SocketControl::default());
        let id = self.inner.next_socket.fetch_add(1, Ordering::Relaxed);
        let subscriber = Subscriber {
            id,
            tx,
            control: control.clone(),
        };

        let mut state = self.state();
        let sockets_of_user = state.users.entry(owner.user_id).or_default();
        sockets_of_user.push(id);
        if sockets_of_user.len() == 1 {
            state.site_dirty = true;
            state.local_changes.insert(SITE);
        }
        match owner.conversation {
            Some((conversation_id, is_room)) => {
                state.is_room.insert(conversation_id, is_room);
                let channel = state
                    .channels
                    .entry(conversation_id)
                    .or_insert_with(|| Channel {
                        is_room,
                        subscribers: Vec::new(),
                        last_delivered: latest,
                        online: HashMap::new(),
                        typing: HashMap::new(),
                    });
                channel.subscribers.push(subscriber.clone());
                let here = channel
                    .online
                    .entry(owner.user_id)
                    .or_insert((owner.username, 0));
                here.1 += 1;
                if here.1 == 1 {
                    state.dirty_presence.insert(conversation_id);
                    state.local_changes.insert(conversation_id);
                }
            }
            None => {
                state.lobby.insert(id);
            }
        }
        state.sockets.insert(
            id,
            SocketEntry {
                user_id: owner.user_id,
                session: owner.session,
                conversation: owner.conversation.map(|(id, _)| id),
                subscriber,
            },
        );
        drop(state);
        Ok(Registration {
            rx,
            control,
            id,
            hub: self.clone(),
        })
    }

    fn unregister(&self, id: SocketId) {
        let mut state = self.state();
        let Some(entry) = state.sockets.remove(&id) else {
            return;
        };
        state.lobby.remove(&id);
        if let Some(sockets) = state.users.get_mut(&entry.user_id) {
            sockets.retain(|s| *s != id);
            if sockets.is_empty() {
                state.users.remove(&entry.user_id);
                state.site_dirty = true;
                state.local_changes.insert(SITE);
            }
        }
        let Some(conversation_id) = entry.conversation else {
            return;
        };
        let Some(channel) = state.channels.get_mut(&conversation_id) else {
            return;
        };
        channel.subscribers.retain(|s| s.id != id);
        let mut changed = false;
        if let Some(here) = channel.online.get_mut(&entry.user_id) {
            here.1 -= 1;
            if here.1 == 0 {
                channel.online.remove(&entry.user_id);
                changed = true;
            }
        }
        let typing_changed = changed && channel.typing.remove(&entry.user_id).is_some();
        let is_room = channel.is_room;
        if channel.subscribers.is_empty() {
            state.channels.remove(&conversation_id);
        }
        // An empty channel has nobody left to tell, but the lobby's room counts do.
        if changed {
            state.local_changes.insert(conversation_id);
            if is_room {
                state.dirty_presence.insert(conversation_id);
            }
        }
        if typing_changed {
            state.dirty_typing.insert(conversation_id);
        }
    }

    /// Hands a committed message to the hub (and to the bus, unless it was announced
    /// in its transaction) for delivery everywhere.
    ///
    /// When it is the next message its conversation's sockets wait for, it is queued
    /// for them here, on the committing thread, before the bus carries it: the hub's
    /// task would otherwise have to be woken first, and under load that wait was most
    /// of the time between a commit and the fan-out. The bus's event then finds it
    /// delivered, and only tells members on other pages. Anything out of order (a gap,
    /// a message from another process) still goes through the bus, which reads what
    /// is missing.
    pub fn message_committed(&self, posted: &Posted) {
        let view = &posted.message;
        {
            let mut state = self.state();
            let next = state
                .channels
                .get(&view.conversation_id)
                .is_some_and(|c| c.waits_for(view.id, posted.previous_id));
            if next {
                deliver(&mut state, view.conversation_id, std::slice::from_ref(view));
            }
            remember(&mut state, [view.clone()]);
        }
        if !posted.announced {
            self.inner.bus.publish(Event::MessageCommitted {
                conversation_id: posted.message.conversation_id,
                message_id: posted.message.id,
                previous_id: posted.previous_id,
            });
        }
    }

    /// The bus this hub publishes on.
    pub fn bus(&self) -> &dyn Bus {
        self.inner.bus.as_ref()
    }

    /// `user` is typing in `conversation_id`.
    pub fn typing(&self, conversation_id: i64, user_id: i64, username: &str) {
        self.inner.bus.publish(Event::Typing {
            conversation_id,
            user_id,
            username: username.to_owned(),
        });
    }

    /// `user_id` has read `conversation_id` up to `up_to`.
    pub fn read(&self, conversation_id: i64, user_id: i64, up_to: i64) {
        self.inner.bus.publish(Event::Read {
            conversation_id,
            user_id,
            up_to,
        });
    }

    /// Someone joined or left `conversation_id`.
    pub fn membership_changed(&self, conversation_id: i64) {
        self.inner
            .bus
            .publish(Event::MembershipChanged { conversation_id });
    }

    /// Whether `user_id` has a socket open on this process.
    pub fn is_online(&self, user_id: i64) -> bool {
        self.state().users.contains_key(&user_id)
    }

    /// Queues `out` for every socket of `user_id` on this process.
    pub fn send_to_user(&self, user_id: i64, out: Outgoing) {
        let state = self.state();
        for id in state.users.get(&user_id).into_iter().flatten() {
            if let Some(entry) = state.sockets.get(id) {
                entry.subscriber.offer(out.clone());
            }
        }
    }

    /// Tells every open page whether the database can be reached (a banner).
    pub fn database_reachable(&self, reachable: bool) {
        let out = Outgoing::html(fragments::site_banner(reachable));
        for entry in self.state().sockets.values() {
            entry.subscriber.offer(out.clone());
        }
    }

    /// Pings the sockets of one slice (one frame, shared by all of them).
    fn ping_slice(&self, slice: u64) {
        let ping = Outgoing::ping();
        for (id, entry) in &self.state().sockets {
            if id % PING_SLICES == slice {
                entry.subscriber.offer(ping.clone());
            }
        }
    }

    /// How many sockets `user_id` has open on this process.
    pub fn sockets_of(&self, user_id: i64) -> usize {
        self.state().users.get(&user_id).map_or(0, Vec::len)
    }

    /// Closes every socket of `session` in every process (it was signed out).
    pub fn close_session(&self, session: &str) {
        self.inner.bus.publish(Event::SessionEnded {
            session: session.to_owned(),
        });
    }

    /// Closes every socket with "going away", so pages reconnect (to this server when
    /// it is back, or to another).
    pub fn shutdown(&self) {
        for entry in self.state().sockets.values() {
            entry.subscriber.close(CLOSE_GOING_AWAY);
        }
    }

    async fn handle(&self, event: Event) {
        match event {
            Event::MessageCommitted {
                conversation_id,
                message_id,
                previous_id,
            } => {
                self.deliver_message(conversation_id, message_id, previous_id)
                    .await
            }
            Event::Typing {
                conversation_id,
                user_id,
                username,
            } => {
                let mut state = self.state();
                if let Some(channel) = state.channels.get_mut(&conversation_id) {
                    channel
                        .typing
                        .insert(user_id, (username, Instant::now() + TYPING_LASTS));
                    state.dirty_typing.insert(conversation_id);
                }
            }
            Event::Read {
                conversation_id,
                user_id,
                up_to,
            } => self.on_read(conversation_id, user_id, up_to).await,
            Event::MembershipChanged { conversation_id } => {
                self.state().members.remove(&conversation_id);
            }
            Event::PresenceChanged { conversation_id } => {
                let mut state = self.state();
                if conversation_id == SITE {
                    state.site_dirty = true;
                } else {
                    state.dirty_presence.insert(conversation_id);
                }
            }
            Event::Resync => self.resync().await,
            Event::SessionEnded { session } => {
                for entry in self.state().sockets.values() {
                    if entry.session.as_deref() == Some(session.as_str()) {
                        entry.subscriber.close(CLOSE_NORMAL);
                    }
                }
            }
        }
    }

    async fn deliver_message(
        &self,
        conversation_id: i64,
        message_id: i64,
        previous_id: Option<i64>,
    ) {
        let (cached, after) = {
            let mut state = self.state();
            let cached = state.recent.remove(&message_id);
            let after = match state.channels.get(&conversation_id) {
                Some(channel) if message_id <= channel.last_delivered => None,
                Some(channel) => match &cached {
                    Some(view) if channel.waits_for(message_id, previous_id) => {
                        deliver(&mut state, conversation_id, std::slice::from_ref(view));
                        None
                    }
                    _ => Some(channel.last_delivered),
                },
                None => None,
            };
            (cached, after)
        };
        if let Some(after) = after {
            // A gap, or a message from another process: read what is missing, in order.
            match queries::between(
                &self.inner.db,
                conversation_id,
                after,
                Some(message_id),
                1000,
            )
            .await
            {
                Ok(missing) => deliver(&mut self.state(), conversation_id, &missing),
                Err(e) => {
                    tracing::warn!(error = %e, conversation_id, "could not load messages to deliver")
                }
            }
        }
        self.tell_members(conversation_id, message_id, cached).await;
    }

    /// Reads the messages of `events` that this process did not post (and so has not
    /// got in `recent`) in one query, into `recent`, where delivery looks first.
    async fn prefetch(&self, events: &[Event]) {
        let wanted: Vec<i64> = {
            let state = self.state();
            events
                .iter()
                .filter_map(|event| match event {
                    Event::MessageCommitted {
                        conversation_id,
                        message_id,
                        ..
                    } if !state.recent.contains_key(message_id)
                        && state
                            .channels
                            .get(conversation_id)
                            .is_some_and(|c| *message_id > c.last_delivered) =>
                    {
                        Some(*message_id)
                    }
                    _ => None,
                })
                .collect()
        };
        if wanted.len() < 2 {
            return; // one message is read where it is delivered, as before
        }
        match queries::by_ids(&self.inner.db, &wanted).await {
            Ok(found) => remember(&mut self.state(), found),
            // Delivery reads them one by one instead.
            Err(e) => tracing::warn!(error = %e, "could not read a batch of messages"),
        }
    }

    /// Tells members of the conversation who are on other pages that a message came:
    /// their unread counts, the order of their sidebar, a notification.
    async fn tell_members(
        &self,
        conversation_id: i64,
        message_id: i64,
        cached: Option<MessageView>,
    ) {
        if !self.state().told.insert(message_id) {
            return;
        }
        let members = match self.members(conversation_id).await {
            Ok(members) => members,
            Err(e) => {
                tracing::warn!(error = %e, conversation_id, "could not load members");
                return;
            }
        };
        let listeners = {
            let state = self.state();
            // Walk the smaller of the two: a room's members, or everyone online here.
            let sockets: Vec<&SocketId> = if members.len() <= state.users.len() {
                members
                    .iter()
                    .filter_map(|user| state.users.get(user))
                    .flatten()
                    .collect()
            } else {
                state
                    .users
                    .iter()
                    .filter(|(user, _)| members.contains(user))
                    .flat_map(|(_, sockets)| sockets.iter())
                    .collect()
            };
            let online: Vec<Subscriber> = sockets
                .into_iter()
                .filter_map(|id| state.sockets.get(id))
                .filter(|entry| entry.conversation != Some(conversation_id))
                .map(|entry| entry.subscriber.clone())
                .collect();
            online
        };
        if listeners.is_empty() {
            return;
        }
        let message = match cached {
            Some(view) => view,
            None => match queries::between(
                &self.inner.db,
                conversation_id,
                message_id - 1,
                Some(message_id),
                1,
            )
            .await
            {
                Ok(mut found) if !found.is_empty() => found.remove(0),
                Ok(_) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "could not load a message to announce");
                    return;
                }
            },
        };
        let conversation = match queries::conversation_by_id(&self.inner.db, conversation_id).await
        {
            Ok(Some(c)) => c,
            _ => return,
        };
        let out = Outgoing::html(fragments::activity(&conversation, &message));
        for listener in listeners {
            listener.offer(out.clone());
        }
    }

    /// Whether `user_id` is a member of the conversation (from the members cache).
    pub async fn is_member(
        &self,
        conversation_id: i64,
        user_id: i64,
    ) -> Result<bool, sea_orm::DbErr> {
        Ok(self.members(conversation_id).await?.contains(&user_id))
    }

    /// The members of a conversation, from the cache or the database.
    async fn members(&self, conversation_id: i64) -> Result<Arc<HashSet<i64>>, sea_orm::DbErr> {
        if let Some(members) = self.state().members.get(&conversation_id) {
            return Ok(members.clone());
        }
        let members: Arc<HashSet<i64>> = Arc::new(
            queries::member_ids(&self.inner.db, conversation_id)
                .await?
                .into_iter()
                .collect(),
        );
        let mut state = self.state();
        if state.members.len() >= 10_000 {
            state.members.clear();
        }
        state.members.insert(conversation_id, members.clone());
        Ok(members)
    }

    /// After a read: the reader's pages get the new unread count, and in a private
    /// chat the other person's page shows the receipts.
    async fn on_read(&self, conversation_id: i64, user_id: i64, up_to: i64) {
        let (reader_here, peers) = {
            let state = self.state();
            let reader_here = state.users.contains_key(&user_id);
            let peers: Vec<Subscriber> = state
                .channels
                .get(&conversation_id)
                .filter(|channel| !channel.is_room)
                .map(|channel| {
                    channel
                        .subscribers
                        .iter()
                        .filter(|s| {
                            state
                                .sockets
                                .get(&s.id)
                                .is_some_and(|e| e.user_id != user_id)
                        })
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            (reader_here, peers)
        };
        if !peers.is_empty() {
            let out = Outgoing::html(fragments::peer_read(conversation_id, up_to));
            for peer in peers {
                peer.offer(out.clone());
            }
        }
        if reader_here {
            match crate::chat::sidebar::unread_count(&self.inner.db, conversation_id, user_id).await
            {
                Ok(count) => self.send_to_user(
                    user_id,
                    Outgoing::html(crate::chat::sidebar::badge(conversation_id, count, true)),
                ),
                Err(e) => tracing::warn!(error = %e, "could not count unread messages"),
            }
        }
    }

    /// After the bus lost events (its connection dropped): fill every conversation in
    /// from the database and recount everything.
    async fn resync(&self) {
        let channels: Vec<(i64, i64)> = self
            .state()
            .channels
            .iter()
            .map(|(id, c)| (*id, c.last_delivered))
            .collect();
        for (conversation_id, after) in channels {
            match queries::between(&self.inner.db, conversation_id, after, None, 1000).await {
                Ok(missing) => deliver(&mut self.state(), conversation_id, &missing),
                Err(e) => tracing::warn!(error = %e, conversation_id, "resync failed"),
            }
        }
        let mut state = self.state();
        let all: Vec<i64> = state.channels.keys().copied().collect();
        state.dirty_presence.extend(all);
        state.site_dirty = true;
    }

    /// Sends out what changed since the last tick. `written` is what this process has
    /// in the shared presence table.
    async fn flush(&self, written: &mut HashMap<i64, HashSet<i64>>) {
        let (wanted, mut dirty_presence, site_dirty) = {
            let mut state = self.state();
            let now = Instant::now();
            let State {
                channels,
                dirty_typing,
                ..
            } = &mut *state;
            for (id, channel) in channels.iter_mut() {
                let before = channel.typing.len();
                channel.typing.retain(|_, (_, until)| *until > now);
                if channel.typing.len() != before {
                    dirty_typing.insert(*id);
                }
            }
            let dirty_typing: Vec<i64> = state.dirty_typing.drain().collect();
            for conversation_id in dirty_typing {
                if let Some(channel) = state.channels.get(&conversation_id) {
                    channel.broadcast(&Outgoing::html(fragments::typing(&channel.typists())));
                }
            }
            let changes: Vec<i64> = state.local_changes.drain().collect();
            let wanted: HashMap<i64, HashMap<i64, String>> = if self.inner.leases.is_some() {
                changes
                    .into_iter()
                    .map(|c| {
                        let users = if c == SITE {
                            state.users.keys().map(|u| (*u, String::new())).collect()
                        } else {
                            state.channels.get(&c).map_or_else(HashMap::new, |ch| {
                                ch.online
                                    .iter()
                                    .map(|(u, (name, _))| (*u, name.clone()))
                                    .collect()
                            })
                        };
                        (c, users)
                    })
                    .collect()
            } else {
                HashMap::new()
            };
            let dirty: Vec<i64> = state.dirty_presence.drain().collect();
            (wanted, dirty, std::mem::take(&mut state.site_dirty))
        };

        let mut site_dirty = site_dirty;
        let mut counts: HashMap<i64, Presence> = HashMap::new();
        let mut site_count = None;
        if let Some(leases) = &self.inner.leases {
            if !wanted.is_empty() {
                match leases.sync(&wanted, written).await {
                    Ok(()) => {
                        for &c in wanted.keys() {
                            // Others recount when they hear; this process recounts now.
                            self.inner
                                .bus
                                .publish(Event::PresenceChanged { conversation_id: c });
                            if c == SITE {
                                site_dirty = true;
                            } else if !dirty_presence.contains(&c) {
                                dirty_presence.push(c);
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "could not write shared presence; retrying");
                        self.state().local_changes.extend(wanted.keys().copied());
                    }
                }
            }
            for &c in &dirty_presence {
                if let Ok(presence) = leases.conversation(c).await {
                    counts.insert(c, presence);
                }
                let known = self.state().is_room.contains_key(&c);
                if !known {
                    if let Ok(Some(conversation)) =
                        queries::conversation_by_id(&self.inner.db, c).await
                    {
                        let room = crate::chat::ConversationKind::of(&conversation)
                            == crate::chat::ConversationKind::Room;
                        let mut state = self.state();
                        if state.is_room.len() >= 100_000 {
                            state.is_room.clear();
                        }
                        state.is_room.insert(c, room);
                    }
                }
            }
            if site_dirty {
                match leases.counts(&[SITE]).await {
                    Ok(n) => site_count = Some(n.get(&SITE).copied().unwrap_or(0)),
                    Err(e) => tracing::warn!(error = %e, "could not count the site"),
                }
            }
        }

        let mut state = self.state();
        for conversation_id in dirty_presence {
            let local = state.channels.get(&conversation_id).map(Channel::presence);
            let presence = match counts.remove(&conversation_id) {
                Some(shared) => shared,
                None => local.unwrap_or_default(),
            };
            if let Some(channel) = state.channels.get(&conversation_id) {
                channel.broadcast(&Outgoing::html(fragments::conversation_presence(&presence)));
            }
            // Private chats' counts are nobody else's business: only rooms reach the lobby.
            let is_room = state
                .is_room
                .get(&conversation_id)
                .copied()
                .unwrap_or(false);
            if is_room && !state.lobby.is_empty() {
                let out = Outgoing::html(fragments::room_online(
                    conversation_id,
                    presence.users.len(),
                ));
                for id in &state.lobby {
                    if let Some(entry) = state.sockets.get(id) {
                        entry.subscriber.offer(out.clone());
                    }
                }
            }
        }
        if site_dirty {
            if site_count.is_some() {
                state.union_site = site_count;
            }
            let count = match (self.inner.leases.is_some(), state.union_site) {
                (true, Some(union)) => union,
                _ => state.users.len(),
            };
            let out = Outgoing::html(fragments::site_online(count));
            for entry in state.sockets.values() {
                entry.subscriber.offer(out.clone());
            }
        }
    }

    /// Renews this process's presence leases and clears out expired ones of dead
    /// processes, telling everyone which counts changed.
    async fn keep_leases(&self) {
        let Some(leases) = &self.inner.leases else {
            return;
        };
        if let Err(e) = leases.renew().await {
            tracing::warn!(error = %e, "could not renew presence leases");
        }
        match leases.sweep().await {
            Ok(gone) => {
                for conversation_id in gone {
                    self.inner
                        .bus
                        .publish(Event::PresenceChanged { conversation_id });
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not sweep presence leases"),
        }
    }

    /// Takes this process out of the shared presence (at shutdown).
    pub async fn withdraw(&self) {
        let Some(leases) = &self.inner.leases else {
            return;
        };
        let conversations: Vec<i64> = {
            let state = self.state();
            state
                .channels
                .keys()
                .copied()
                .chain(std::iter::once(SITE))
                .collect()
        };
        if leases.withdraw().await.is_ok() {
            for conversation_id in conversations {
                self.inner
                    .bus
                    .publish(Event::PresenceChanged { conversation_id });
            }
        }
    }
}

/// Keeps messages in `recent` for their delivery, which takes them out again. Bounded:
/// if events stop coming back (a bus outage), it forgets, and delivery reads them.
fn remember(state: &mut State, views: impl IntoIterator<Item = MessageView>) {
    const RECENT_CAPACITY: usize = 4096;
    for view in views {
        if state.recent.len() >= RECENT_CAPACITY {
            state.recent.clear();
        }
        state.recent.insert(view.id, view);
    }
}

/// A set of the most recent ids, forgetting the oldest past its capacity.
#[derive(Default)]
struct BoundedSet {
    ids: HashSet<i64>,
    order: std::collections::VecDeque<i64>,
}

impl BoundedSet {
    const CAPACITY: usize = 4096;

    /// Adds `id`; answers whether it was new.
    fn insert(&mut self, id: i64) -> bool {
        if !self.ids.insert(id) {
            return false;
        }
        self.order.push_back(id);
        if self.order.len() > Self::CAPACITY {
            if let Some(oldest) = self.order.pop_front() {
                self.ids.remove(&oldest);
            }
        }
        true
    }
}

fn lock(inner: &Inner) -> MutexGuard<'_, State> {
    // A panic while the lock was held cannot leave the maps half-updated in a way that
    // matters more than losing every socket would, so keep going with the data.
    inner
        .state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Renders each message once and queues it for every socket of the conversation.
fn deliver(state: &mut State, conversation_id: i64, messages: &[MessageView]) {
    let Some(channel) = state.channels.get_mut(&conversation_id) else {
        return;
    };
    let mut typing_changed = false;
    for message in messages {
        if message.id <= channel.last_delivered {
            continue;
        }
        let out = Outgoing::new(
            OutgoingKind::Message(message.id),
            Message::text(views::appended(std::slice::from_ref(message)).into_string()),
        );
        channel.broadcast(&out);
        channel.last_delivered = message.id;
        typing_changed |= channel.typing.remove(&message.author_id).is_some();
    }
    if typing_changed {
        state.dirty_typing.insert(conversation_id);
    }
}

/// Events taken off the bus at once, at most.
const EVENT_BATCH: usize = 256;

/// Hands the hub every event, in order. Events are taken as many as are waiting, and
/// the messages of that batch that other processes posted are read in one query
/// before any is delivered: a lone event costs what it did, and a busy bus costs one
/// round trip per batch instead of one per message.
async fn consume(hub: Weak<Inner>, mut events: mpsc::UnboundedReceiver<Event>) {
    let mut batch = Vec::with_capacity(EVENT_BATCH);
    while events.recv_many(&mut batch, EVENT_BATCH).await > 0 {
        let Some(inner) = hub.upgrade() else { return };
        let hub = Hub { inner };
        hub.prefetch(&batch).await;
        for event in batch.drain(..) {
            hub.handle(event).await;
        }
    }
}

async fn tick(hub: Weak<Inner>) {
    let mut interval = tokio::time::interval(FLUSH_EVERY);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut written = HashMap::new();
    let mut leases_kept = Instant::now();
    let mut ticks: u64 = 0;
    loop {
        interval.tick().await;
        let Some(inner) = hub.upgrade() else { return };
        let hub = Hub { inner };
        hub.flush(&mut written).await;
        hub.ping_slice(ticks % PING_SLICES);
        ticks = ticks.wrapping_add(1);
        if leases_kept.elapsed() >= presence::RENEW_EVERY {
            leases_kept = Instant::now();
            hub.keep_leases().await;
        }
    }
}
