//! The [`Hub`]: this process's sockets and everything that reaches them, behind one
//! handle. Its parts live next door: [`super::registry`] (who is connected, and
//! sending to them), [`super::delivery`] (each conversation's events, once and in
//! order), [`super::remote`] (what other processes tell), [`super::presence`] and
//! [`super::typing`] (coalesced per tick by [`super::ticker`]), and
//! [`super::outgoing`] (frames, queues and backpressure).
//!
//! A message, from post to socket:
//! 1. The composer's POST (or the socket's `message` frame) reaches `chat::post`, which
//!    checks the rate limit and hands it to the conversation writer (`chat::writer`).
//! 2. The writer stores it with the conversation's next event number (`seq`) and
//!    commits; PostgreSQL also gets the event's NOTIFY inside that transaction.
//! 3. On the writer's thread, right after the commit, the writer renders the message
//!    once and calls [`Hub::committed`]. The conversation's [`super::sequence::Sequence`]
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
        Arc, Mutex, MutexGuard,
        atomic::{AtomicU64, Ordering},
    },
};

use tokio::sync::mpsc;

use super::{
    Bus, Event, LiveSettings, Notice, Source,
    leases::Leases,
    outgoing::{CLOSE_GOING_AWAY, CLOSE_NORMAL, Outgoing, SocketControl},
    presence,
    registry::{Registry, SocketId, SocketOwner},
    sequence::{Committed, Sequence},
};
use crate::telemetry::metrics::LiveMetrics;

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
    pub(super) fills: mpsc::UnboundedSender<i64>,
    /// Places of sockets open or being set up.
    slots: super::slots::Slots,
    /// Listeners other than sockets (see [`super::notices`]).
    pub(super) notices: super::notices::Notices,
    pub(super) metrics: LiveMetrics,
}

/// A cheap handle to the hub; clones share it.
#[derive(Clone)]
pub struct Hub {
    pub(super) inner: Arc<Inner>,
}

/// A handle that does not keep the hub running, for tasks that end with it.
#[derive(Clone)]
pub struct WeakHub(std::sync::Weak<Inner>);

impl WeakHub {
    /// The hub, while anything else still holds it.
    pub fn upgrade(&self) -> Option<Hub> {
        self.0.upgrade().map(|inner| Hub { inner })
    }
}

impl Hub {
    pub fn downgrade(&self) -> WeakHub {
        WeakHub(Arc::downgrade(&self.inner))
    }
}

/// A socket's place in the hub; dropping it takes the socket out.
pub struct Registration {
    pub rx: super::outgoing::Receiver,
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
        metrics: LiveMetrics,
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
                slots: super::slots::Slots::default(),
                notices: super::notices::Notices::default(),
                metrics,
            }),
        };
        tokio::spawn(super::delivery::fill(Arc::downgrade(&hub.inner), wanted));
        if let Some(events) = events {
            tokio::spawn(super::remote::hear(Arc::downgrade(&hub.inner), events));
        }
        tokio::spawn(super::ticker::run(Arc::downgrade(&hub.inner)));
        hub
    }

    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.inner)
    }

    pub(super) fn next_fill(&self) -> u64 {
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
        self.inner.metrics.socket_opened();
        Registration {
            rx,
            control,
            id,
            hub: self.clone(),
        }
    }

    fn unregister(&self, id: SocketId) {
        let mut state = self.state();
        let user_id = state.registry.sockets.get(&id).map(|e| e.user_id);
        let departure = state.registry.remove(id);
        if user_id.is_some() {
            self.inner.metrics.socket_closed();
        }
        if departure.site_changed {
            state.presence.site_changed();
            if let Some(user_id) = user_id.filter(|u| state.registry.watchers.contains_key(u)) {
                state.presence.watched.insert(user_id);
            }
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
        self.notify(Notice::Changed(conversation_id));
        let mut state = self.state();
        let Some(channel) = state.registry.channels.get_mut(&conversation_id) else {
            return;
        };
        let outcome = channel.sequence.committed(event, || self.next_fill());
        self.apply(&mut state, conversation_id, outcome);
    }

    /// Listens for what changes, as [`Notice`]s (for listeners that are not sockets).
    pub fn notices(&self) -> tokio::sync::broadcast::Receiver<Notice> {
        self.inner.notices.subscribe()
    }

    /// Tells this process's listeners of `notice`.
    pub fn notify(&self, notice: Notice) {
        self.inner.notices.send(notice);
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

    /// Takes a place for a socket of `user_id` before it is upgraded; it is held for
    /// the socket's life (see [`super::slots`]).
    pub fn reserve_socket(
        &self,
        user_id: i64,
        caps: super::slots::Caps,
    ) -> Result<super::slots::Slot, super::slots::Refusal> {
        self.inner.slots.reserve(user_id, caps)
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

    /// Tells every open page whether the database can be reached (a banner).
    pub fn database_reachable(&self, reachable: bool) {
        self.send_to_everyone(&Outgoing::html(super::fragments::site_banner(reachable)));
    }

    /// Closes every socket of `session` in every process (it was signed out).
    pub fn close_session(&self, session: &str) {
        self.close_session_here(session);
        self.publish(Event::SessionEnded {
            session: session.to_owned(),
        });
    }

    pub(super) fn close_session_here(&self, session: &str) {
        self.notify(Notice::SessionEnded(session.into()));
        for entry in self.state().registry.sockets.values() {
            if entry.session.as_deref() == Some(session) {
                entry.subscriber.close(CLOSE_NORMAL);
            }
        }
    }

    /// Closes the sockets of `user_id` in every process: those on `conversation_id`
    /// (they may no longer read it), or, without one, all of them (they may no longer
    /// use hearth). A page that reconnects is refused (404, or 401 without a session).
    pub fn end_access(&self, user_id: i64, conversation_id: Option<i64>) {
        self.close_access_here(user_id, conversation_id);
        self.publish(Event::AccessEnded {
            user_id,
            conversation_id,
        });
    }

    pub(super) fn close_access_here(&self, user_id: i64, conversation_id: Option<i64>) {
        self.notify(Notice::AccessEnded {
            user_id,
            conversation_id,
        });
        let state = self.state();
        for entry in state.registry.sockets_of(user_id) {
            if conversation_id.is_none() || entry.conversation == conversation_id {
                entry.subscriber.close(CLOSE_NORMAL);
            }
        }
    }

    /// Closes every socket on `conversation_id`, in every process, with "going away":
    /// the conversation changed for good, and pages reconnect to it as it now is.
    pub fn close_conversation(&self, conversation_id: i64) {
        self.close_conversation_here(conversation_id);
        self.publish(Event::ConversationClosed { conversation_id });
    }

    pub(super) fn close_conversation_here(&self, conversation_id: i64) {
        let state = self.state();
        for entry in state.registry.sockets.values() {
            if entry.conversation == Some(conversation_id) {
                entry.subscriber.close(CLOSE_GOING_AWAY);
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
}

fn lock(inner: &Inner) -> MutexGuard<'_, State> {
    // A panic while the lock was held cannot leave the maps half-updated in a way that
    // matters more than losing every socket would, so keep going with the data.
    inner
        .state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
