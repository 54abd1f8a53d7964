//! The [`Hub`]: this process's sockets and everything that reaches them, behind one
//! handle. Its parts live next door: [`super::registry`] (who is connected),
//! [`super::delivery`] (each conversation's events, once and in order),
//! [`super::presence`] and [`super::typing`] (coalesced per tick by
//! [`super::ticker`]), [`super::outgoing`] (frames, queues and backpressure).
//!
//! A message, from post to socket:
//! 1. The composer's POST (or the socket's `message` frame) reaches `chat::post`, which
//!    checks the rate limit and hands it to the conversation writer (`chat::writer`).
//! 2. The writer stores it with the conversation's next event number (`seq`) and
//!    commits; PostgreSQL also gets the event's NOTIFY inside that transaction.
//! 3. On the writer's thread, right after the commit, the writer renders the message
//!    once and calls [`Hub::committed`]. The conversation's [`super::delivery::Sequence`]
//!    delivers it if it is the next event (the common case), offering one shared frame
//!    to every socket of the conversation; a gap makes the conversation fill from the
//!    database first, on the hub's task.
//! 4. Other processes hear the NOTIFY over the bus and fill their own conversations
//!    from the database (read and rendered once per process).
//! 5. Each socket's task writes its queue in batches, one flush per batch, joining the
//!    stream where its own catch-up from the database ended ([`super::socket`]).
//!
//! The hub's state is behind a `std::sync::Mutex`, not a Tokio one: nothing awaits
//! while it is held, and sends into socket queues never block (`try_send`).
use std::{
    collections::HashSet,
    sync::{
        Arc, Mutex, MutexGuard, Weak,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::sync::mpsc;

use super::{
    Bus, Event, LiveSettings, Source,
    delivery::{Committed, Outcome, Sequence},
    leases::Leases,
    outgoing::{CLOSE_GOING_AWAY, CLOSE_NORMAL, Outgoing, SocketControl, broadcast},
    presence,
    registry::{Registry, SocketId, SocketOwner},
};

/// The hub's state, behind one lock.
#[derive(Default)]
pub(super) struct State {
    pub(super) registry: Registry,
    pub(super) presence: presence::Changes,
    /// Conversations whose typing line changed since the last tick.
    pub(super) typing_dirty: HashSet<i64>,
}

pub(super) struct Inner {
    pub(super) bus: Box<dyn Bus>,
    /// Presence shared with other processes, when several share the database.
    pub(super) leases: Option<Leases>,
    pub(super) source: Arc<dyn Source>,
    pub(super) settings: LiveSettings,
    state: Mutex<State>,
    next_socket: AtomicU64,
    next_fill: AtomicU64,
    /// Conversations waiting for a fill, for the hub's task.
    fills: mpsc::UnboundedSender<i64>,
}

/// A cheap handle to the hub; clones share it.
#[derive(Clone)]
pub struct Hub {
    pub(super) inner: Arc<Inner>,
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

impl Hub {
    /// Starts a hub whose conversations fill from `source`, with `bus` (and `events`,
    /// its receiving side, when there are other processes) to the other processes.
    /// With `leases`, presence is the union over every process on the database. Its
    /// tasks end when the last handle is dropped.
    pub fn start(
        bus: Box<dyn Bus>,
        events: Option<mpsc::UnboundedReceiver<Event>>,
        leases: Option<Leases>,
        source: Arc<dyn Source>,
        settings: LiveSettings,
    ) -> Self {
        let (fills, wanted) = mpsc::unbounded_channel();
        let hub = Hub {
            inner: Arc::new(Inner {
                bus,
                leases,
                source,
                settings,
                state: Mutex::new(State::default()),
                next_socket: AtomicU64::new(1),
                next_fill: AtomicU64::new(1),
                fills,
            }),
        };
        tokio::spawn(fill(Arc::downgrade(&hub.inner), wanted));
        if let Some(events) = events {
            tokio::spawn(hear(Arc::downgrade(&hub.inner), events));
        }
        tokio::spawn(super::ticker::run(Arc::downgrade(&hub.inner)));
        hub
    }

    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.inner)
    }

    fn next_fill(&self) -> u64 {
        self.inner.next_fill.fetch_add(1, Ordering::Relaxed)
    }

    /// Adds a socket. Its queue receives its conversation's events from the moment it
    /// joins (the socket catches up on what came before from the database), presence
    /// and typing of that conversation, site-wide counts and the person's own news.
    pub fn register(&self, owner: SocketOwner) -> Registration {
        let id = self.inner.next_socket.fetch_add(1, Ordering::Relaxed);
        let (subscriber, rx, control) = super::outgoing::Subscriber::new(id);
        let conversation = owner.conversation;
        let mut state = self.state();
        let arrival = state.registry.add(owner, subscriber, || {
            Sequence::new_channel(self.next_fill())
        });
        if arrival.site_changed {
            state.presence.site_changed();
        }
        if let Some((conversation_id, is_room)) = conversation {
            state.presence.is_room.insert(conversation_id, is_room);
            if arrival.conversation_changed {
                state.presence.conversation_changed(conversation_id);
            }
            if arrival.new_channel {
                let _ = self.inner.fills.send(conversation_id);
            }
        }
        drop(state);
        Registration {
            rx,
            control,
            id,
            hub: self.clone(),
        }
    }

    fn unregister(&self, id: SocketId) {
        let mut state = self.state();
        let departure = state.registry.remove(id);
        if departure.site_changed {
            state.presence.site_changed();
        }
        if let Some((conversation_id, is_room)) = departure.conversation_changed {
            state.presence.local.insert(conversation_id);
            // An empty channel has nobody left to tell, but the lobby's room counts do.
            if is_room || state.registry.channels.contains_key(&conversation_id) {
                state.presence.dirty.insert(conversation_id);
            }
        }
        if let Some(conversation_id) = departure.typing_changed {
            state.typing_dirty.insert(conversation_id);
        }
    }

    /// Hands the hub an event this process has just committed, on the committing
    /// thread: it reaches the conversation's sockets here, before the committer
    /// answers, unless a gap must be filled first (see [`super::delivery`]).
    pub fn committed(&self, event: Committed) {
        let conversation_id = event.conversation_id;
        let mut state = self.state();
        let Some(channel) = state.registry.channels.get_mut(&conversation_id) else {
            return;
        };
        let outcome = channel.sequence.committed(event, || self.next_fill());
        self.apply(&mut state, conversation_id, outcome);
    }

    /// Sends a step's frames, stops its typists and asks for its fill.
    fn apply(&self, state: &mut State, conversation_id: i64, outcome: Outcome) {
        let Some(channel) = state.registry.channels.get_mut(&conversation_id) else {
            return;
        };
        for frame in &outcome.frames {
            channel.broadcast(frame);
        }
        let mut typing_changed = false;
        for author in outcome.stopped_typing {
            typing_changed |= channel.typing.stop(author);
        }
        if typing_changed {
            state.typing_dirty.insert(conversation_id);
        }
        if outcome.needs_fill {
            let _ = self.inner.fills.send(conversation_id);
        }
    }

    /// Tells the other processes (none, on one process) of `event`.
    pub fn publish(&self, event: Event) {
        self.inner.bus.publish(event);
    }

    /// The bus this hub publishes on, for writers that announce events in their
    /// transactions.
    pub fn bus(&self) -> &dyn Bus {
        self.inner.bus.as_ref()
    }

    /// `user_id` is typing in `conversation_id`, here and everywhere.
    pub fn typing(&self, conversation_id: i64, user_id: i64, username: &str) {
        self.start_typing(conversation_id, user_id, username.to_owned());
        self.publish(Event::Typing {
            conversation_id,
            user_id,
            username: username.to_owned(),
        });
    }

    fn start_typing(&self, conversation_id: i64, user_id: i64, username: String) {
        let until = Instant::now() + self.inner.settings.typing_lasts;
        let mut state = self.state();
        if let Some(channel) = state.registry.channels.get_mut(&conversation_id) {
            channel.typing.start(user_id, username, until);
            state.typing_dirty.insert(conversation_id);
        }
    }

    /// How many sockets this process holds.
    pub fn socket_count(&self) -> usize {
        self.state().registry.sockets.len()
    }

    /// How many sockets `user_id` has open on this process.
    pub fn sockets_of(&self, user_id: i64) -> usize {
        self.state()
            .registry
            .users
            .get(&user_id)
            .map_or(0, Vec::len)
    }

    /// Whether `user_id` has a socket open on this process.
    pub fn is_online(&self, user_id: i64) -> bool {
        self.state().registry.users.contains_key(&user_id)
    }

    /// Queues `out` for every socket of `user_id` on this process.
    pub fn send_to_user(&self, user_id: i64, out: Outgoing) {
        let state = self.state();
        broadcast(
            state.registry.sockets_of(user_id).map(|e| &e.subscriber),
            &out,
        );
    }

    /// Whether any of `users` has a socket here on another page than
    /// `conversation_id` (where a conversation's news goes: the sidebar's badges).
    pub fn has_users_elsewhere(&self, users: &HashSet<i64>, conversation_id: i64) -> bool {
        let state = self.state();
        let mut found = false;
        elsewhere(&state.registry, users, conversation_id, |_| found = true);
        found
    }

    /// Queues `out` for the sockets of `users` here that show another page than
    /// `conversation_id`.
    pub fn send_to_users_elsewhere(
        &self,
        users: &HashSet<i64>,
        conversation_id: i64,
        out: &Outgoing,
    ) {
        let state = self.state();
        elsewhere(&state.registry, users, conversation_id, |s| {
            s.offer(out.clone())
        });
    }

    /// In a private chat, queues `out` for the sockets of the person who is not
    /// `user_id` (read receipts); in a room, does nothing.
    pub fn send_to_peers(&self, conversation_id: i64, user_id: i64, out: Outgoing) {
        let state = self.state();
        let Some(channel) = state.registry.channels.get(&conversation_id) else {
            return;
        };
        if channel.is_room {
            return;
        }
        let others = channel.subscribers.iter().filter(|s| {
            state
                .registry
                .sockets
                .get(&s.id)
                .is_some_and(|e| e.user_id != user_id)
        });
        broadcast(others, &out);
    }

    /// Tells every open page whether the database can be reached (a banner).
    pub fn database_reachable(&self, reachable: bool) {
        let out = Outgoing::html(super::fragments::site_banner(reachable));
        let state = self.state();
        broadcast(state.registry.sockets.values().map(|e| &e.subscriber), &out);
    }

    /// Closes every socket of `session` in every process (it was signed out).
    pub fn close_session(&self, session: &str) {
        self.close_session_here(session);
        self.publish(Event::SessionEnded {
            session: session.to_owned(),
        });
    }

    fn close_session_here(&self, session: &str) {
        for entry in self.state().registry.sockets.values() {
            if entry.session.as_deref() == Some(session) {
                entry.subscriber.close(CLOSE_NORMAL);
            }
        }
    }

    /// Closes every socket with "going away", so pages reconnect (to this server when
    /// it is back, or to another).
    pub fn shutdown(&self) {
        for entry in self.state().registry.sockets.values() {
            entry.subscriber.close(CLOSE_GOING_AWAY);
        }
    }

    /// Events from other processes, in order. The conversations they leave waiting are
    /// filled together, in one read, before the rest is told.
    async fn heard(&self, events: &[Event]) {
        let mut to_fill = Vec::new();
        {
            let mut state = self.state();
            for event in events {
                if let Event::Changed {
                    conversation_id,
                    seq,
                    ..
                } = event
                {
                    if let Some(channel) = state.registry.channels.get_mut(conversation_id) {
                        if channel.sequence.heard(*seq, || self.next_fill()) {
                            to_fill.push(*conversation_id);
                        }
                    }
                }
            }
        }
        self.fill(&to_fill).await;
        for event in events {
            self.heard_one(event).await;
        }
    }

    async fn heard_one(&self, event: &Event) {
        match event {
            Event::Changed { .. } => {}
            Event::Typing {
                conversation_id,
                user_id,
                username,
            } => self.start_typing(*conversation_id, *user_id, username.clone()),
            Event::PresenceChanged { conversation_id } => {
                self.presence_changed_elsewhere(*conversation_id)
            }
            Event::SessionEnded { session } => self.close_session_here(session),
            Event::Resync => self.resync(),
            Event::Read { .. } | Event::MembershipChanged { .. } => {}
        }
        self.inner.source.heard(self, event).await;
    }

    /// After the bus lost events (its connection dropped): every conversation reads
    /// again what it may have missed, and every count is sent again.
    fn resync(&self) {
        let mut state = self.state();
        let mut refilled = Vec::new();
        for (id, channel) in state.registry.channels.iter_mut() {
            if channel.sequence.refill(|| self.next_fill()) {
                refilled.push(*id);
            }
        }
        for id in refilled {
            let _ = self.inner.fills.send(id);
        }
        let all: Vec<i64> = state.registry.channels.keys().copied().collect();
        state.presence.dirty.extend(all);
        state.presence.site_dirty = true;
    }

    /// Reads what the conversations of `wanted` wait for, in one call, and delivers it.
    async fn fill(&self, wanted: &[i64]) {
        let pending: Vec<(i64, u64, Option<i64>)> = {
            let state = self.state();
            let mut seen = HashSet::new();
            wanted
                .iter()
                .filter(|c| seen.insert(**c))
                .filter_map(|c| {
                    let (fill, after) = state.registry.channels.get(c)?.sequence.pending_fill()?;
                    Some((*c, fill, after))
                })
                .collect()
        };
        if pending.is_empty() {
            return;
        }
        let asked: Vec<(i64, Option<i64>)> = pending.iter().map(|(c, _, a)| (*c, *a)).collect();
        match self.inner.source.changes(&asked).await {
            Ok(found) => {
                let mut state = self.state();
                for filled in found {
                    let Some(&(_, fill, _)) = pending
                        .iter()
                        .find(|(c, _, _)| *c == filled.conversation_id)
                    else {
                        continue;
                    };
                    let Some(channel) = state.registry.channels.get_mut(&filled.conversation_id)
                    else {
                        continue;
                    };
                    let outcome = channel.sequence.filled(fill, &filled, || self.next_fill());
                    self.apply(&mut state, filled.conversation_id, outcome);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not read events to deliver; trying again");
                let again = self.inner.fills.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(FILL_RETRY).await;
                    for (conversation_id, _, _) in pending {
                        let _ = again.send(conversation_id);
                    }
                });
            }
        }
    }

    /// Pings the sockets of one slice of `slices` (one frame, shared by all of them).
    pub(super) fn ping_slice(&self, slice: u64, slices: u64) {
        let ping = Outgoing::ping();
        let state = self.state();
        let due = state
            .registry
            .sockets
            .iter()
            .filter(|(id, _)| *id % slices == slice)
            .map(|(_, e)| &e.subscriber);
        broadcast(due, &ping);
    }

    /// Sends the typing line of every conversation where it changed, and ends signals
    /// that ran out.
    pub(super) fn flush_typing(&self) {
        let now = Instant::now();
        let mut state = self.state();
        let State {
            registry,
            typing_dirty,
            ..
        } = &mut *state;
        for (id, channel) in registry.channels.iter_mut() {
            if channel.typing.expire(now) {
                typing_dirty.insert(*id);
            }
        }
        for conversation_id in typing_dirty.drain() {
            if let Some(channel) = registry.channels.get(&conversation_id) {
                channel.broadcast(&Outgoing::html(channel.typing.fragment()));
            }
        }
    }
}

/// Calls `each` for every socket of `users` that shows another page than
/// `conversation_id`, walking the smaller of the two: the people, or everyone here.
fn elsewhere(
    registry: &Registry,
    users: &HashSet<i64>,
    conversation_id: i64,
    mut each: impl FnMut(&super::outgoing::Subscriber),
) {
    let mut visit = |user: &i64| {
        for entry in registry.sockets_of(*user) {
            if entry.conversation != Some(conversation_id) {
                each(&entry.subscriber);
            }
        }
    };
    if users.len() <= registry.users.len() {
        users.iter().for_each(&mut visit);
    } else {
        registry
            .users
            .keys()
            .filter(|u| users.contains(u))
            .for_each(visit);
    }
}

/// How long a fill that failed (the database is away) waits before it tries again.
const FILL_RETRY: Duration = Duration::from_secs(1);
/// Fill requests taken at once, at most.
const FILL_BATCH: usize = 256;

fn lock(inner: &Inner) -> MutexGuard<'_, State> {
    // A panic while the lock was held cannot leave the maps half-updated in a way that
    // matters more than losing every socket would, so keep going with the data.
    inner
        .state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The hub's filling task: conversations that wait for the database, as many at once
/// as have asked, in one read ([`Source::changes`]).
async fn fill(hub: Weak<Inner>, mut wanted: mpsc::UnboundedReceiver<i64>) {
    let mut batch = Vec::with_capacity(FILL_BATCH);
    while wanted.recv_many(&mut batch, FILL_BATCH).await > 0 {
        let Some(inner) = hub.upgrade() else { return };
        Hub { inner }.fill(&batch).await;
        batch.clear();
    }
}

/// The hub's listening task: events from other processes, in the order they come.
async fn hear(hub: Weak<Inner>, mut events: mpsc::UnboundedReceiver<Event>) {
    const BATCH: usize = 256;
    let mut batch = Vec::with_capacity(BATCH);
    while events.recv_many(&mut batch, BATCH).await > 0 {
        let Some(inner) = hub.upgrade() else { return };
        Hub { inner }.heard(&batch).await;
        batch.clear();
    }
}
