//! The sockets this process holds: by id, by person, by conversation (a [`Channel`]),
//! and the lobby's (pages that show no conversation). It adds and removes sockets and
//! keeps each person's and each conversation's count of them; what a channel does
//! with its sockets (delivery, presence, typing) is in the modules of those names.
use std::collections::{HashMap, HashSet};

use super::{
    Hub,
    outgoing::{Outgoing, Subscriber, Tally, broadcast},
    presence::Online,
    sequence::Sequence,
    typing::Typists,
};
use crate::telemetry::metrics::LiveMetrics;

pub(super) type SocketId = u64;

/// Who a new socket belongs to and what it shows.
pub struct SocketOwner {
    pub user_id: i64,
    pub username: String,
    pub session: Option<String>,
    /// The conversation the page shows, and whether it is a public room.
    pub conversation: Option<(i64, bool)>,
    /// People whose being online the page shows (the other person of a private chat,
    /// the people a directory lists).
    pub watching: Vec<i64>,
    /// A visitor of the support widget: not one of the site's people, so not counted
    /// among those online and not sent what goes to everyone.
    pub visitor: bool,
}

pub(super) struct SocketEntry {
    pub(super) user_id: i64,
    pub(super) session: Option<String>,
    pub(super) conversation: Option<i64>,
    pub(super) watching: Vec<i64>,
    pub(super) visitor: bool,
    pub(super) subscriber: Subscriber,
}

/// One conversation's sockets on this process, and what they share.
pub(super) struct Channel {
    pub(super) is_room: bool,
    pub(super) subscribers: Vec<Subscriber>,
    pub(super) sequence: Sequence,
    pub(super) online: Online,
    pub(super) typing: Typists,
}

impl Channel {
    pub(super) fn broadcast(&self, out: &Outgoing, metrics: &LiveMetrics) {
        super::outgoing::broadcast(&self.subscribers, out, metrics);
    }
}

/// What adding or removing a socket changed, for presence to tell.
#[derive(Default)]
pub(super) struct Arrival {
    /// The person had no other socket here: the site's count changed.
    pub(super) site_changed: bool,
    /// The conversation is new here: its delivery must learn where it stands.
    pub(super) new_channel: bool,
    /// The person had no other socket in the conversation: its presence changed.
    pub(super) conversation_changed: bool,
}

#[derive(Default)]
pub(super) struct Departure {
    pub(super) site_changed: bool,
    /// The conversation the socket showed, if its presence changed (and whether it is a
    /// room, whose count the lobby shows).
    pub(super) conversation_changed: Option<(i64, bool)>,
    /// The person was typing there, and no longer is.
    pub(super) typing_changed: Option<i64>,
}

#[derive(Default)]
pub(super) struct Registry {
    pub(super) sockets: HashMap<SocketId, SocketEntry>,
    /// Sockets per person, for the site-wide count and the person's own news.
    pub(super) users: HashMap<i64, Vec<SocketId>>,
    pub(super) channels: HashMap<i64, Channel>,
    /// Sockets of pages that show no conversation (the lobby, the directory).
    pub(super) lobby: HashSet<SocketId>,
    /// Sockets that show whether a person is online, by person.
    pub(super) watchers: HashMap<i64, Vec<SocketId>>,
    /// The people of [`Self::users`] who are widget visitors (a visitor's account has
    /// only visitor sockets).
    pub(super) visitors: HashSet<i64>,
}

impl Registry {
    /// Adds a socket; `new_sequence` is how a conversation new here starts.
    pub(super) fn add(
        &mut self,
        owner: SocketOwner,
        subscriber: Subscriber,
        new_sequence: impl FnOnce() -> Sequence,
    ) -> Arrival {
        let id = subscriber.id;
        let mut arrival = Arrival::default();
        let sockets_of_user = self.users.entry(owner.user_id).or_default();
        sockets_of_user.push(id);
        arrival.site_changed = sockets_of_user.len() == 1 && !owner.visitor;
        if owner.visitor {
            self.visitors.insert(owner.user_id);
        }
        match owner.conversation {
            Some((conversation_id, is_room)) => {
                let channel = self.channels.entry(conversation_id).or_insert_with(|| {
                    arrival.new_channel = true;
                    Channel {
                        is_room,
                        subscribers: Vec::new(),
                        sequence: new_sequence(),
                        online: Online::default(),
                        typing: Typists::default(),
                    }
                });
                channel.subscribers.push(subscriber.clone());
                arrival.conversation_changed = channel.online.arrive(owner.user_id, owner.username);
            }
            None => {
                self.lobby.insert(id);
            }
        }
        for watched in &owner.watching {
            self.watchers.entry(*watched).or_default().push(id);
        }
        self.sockets.insert(
            id,
            SocketEntry {
                user_id: owner.user_id,
                session: owner.session,
                conversation: owner.conversation.map(|(id, _)| id),
                watching: owner.watching,
                visitor: owner.visitor,
                subscriber,
            },
        );
        arrival
    }

    /// Takes a socket out; a conversation left without sockets is forgotten.
    pub(super) fn remove(&mut self, id: SocketId) -> Departure {
        let mut departure = Departure::default();
        let Some(entry) = self.sockets.remove(&id) else {
            return departure;
        };
        self.lobby.remove(&id);
        for watched in &entry.watching {
            if let Some(sockets) = self.watchers.get_mut(watched) {
                sockets.retain(|s| *s != id);
                if sockets.is_empty() {
                    self.watchers.remove(watched);
                }
            }
        }
        if let Some(sockets) = self.users.get_mut(&entry.user_id) {
            sockets.retain(|s| *s != id);
            if sockets.is_empty() {
                self.users.remove(&entry.user_id);
                self.visitors.remove(&entry.user_id);
                departure.site_changed = !entry.visitor;
            }
        }
        let Some(conversation_id) = entry.conversation else {
            return departure;
        };
        let Some(channel) = self.channels.get_mut(&conversation_id) else {
            return departure;
        };
        channel.subscribers.retain(|s| s.id != id);
        if channel.online.leave(entry.user_id) {
            departure.conversation_changed = Some((conversation_id, channel.is_room));
            if channel.typing.stop(entry.user_id) {
                departure.typing_changed = Some(conversation_id);
            }
        }
        if channel.subscribers.is_empty() {
            self.channels.remove(&conversation_id);
        }
        departure
    }

    /// The site's people online here (visitors of the widget are not among them).
    pub(super) fn people_online(&self) -> usize {
        self.users.len().saturating_sub(self.visitors.len())
    }

    /// The sockets of the site's people here, for what goes to everyone.
    pub(super) fn people_sockets(&self) -> impl Iterator<Item = &Subscriber> {
        self.sockets
            .values()
            .filter(|e| !e.visitor)
            .map(|e| &e.subscriber)
    }

    /// The sockets of `user_id` here.
    pub(super) fn sockets_of(&self, user_id: i64) -> impl Iterator<Item = &SocketEntry> {
        self.users
            .get(&user_id)
            .into_iter()
            .flatten()
            .filter_map(|id| self.sockets.get(id))
    }
}

impl Hub {
    /// Queues `out` for every socket of `user_id` on this process.
    pub fn send_to_user(&self, user_id: i64, out: Outgoing) {
        let state = self.state();
        broadcast(
            state.registry.sockets_of(user_id).map(|e| &e.subscriber),
            &out,
            &self.inner.metrics,
        );
    }

    /// Queues `out` for every socket here of `users`.
    pub fn send_to_users(&self, users: &HashSet<i64>, out: &Outgoing) {
        let state = self.state();
        let mut tally = Tally::default();
        sockets_of_users(&state.registry, users, None, |s| {
            tally.add(s.offer(out.clone()))
        });
        tally.count(&self.inner.metrics);
    }

    /// Queues `out` for every signed-in socket here but the widget's visitors'.
    pub fn send_to_everyone(&self, out: &Outgoing) {
        let state = self.state();
        broadcast(state.registry.people_sockets(), out, &self.inner.metrics);
    }

    /// Whether any of `users` has a socket here on another page than
    /// `conversation_id` (where a conversation's news goes: the sidebar's badges).
    pub fn has_users_elsewhere(&self, users: &HashSet<i64>, conversation_id: i64) -> bool {
        let state = self.state();
        let mut found = false;
        sockets_of_users(&state.registry, users, Some(conversation_id), |_| {
            found = true
        });
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
        let mut tally = Tally::default();
        sockets_of_users(&state.registry, users, Some(conversation_id), |s| {
            tally.add(s.offer(out.clone()))
        });
        tally.count(&self.inner.metrics);
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
        broadcast(others, &out, &self.inner.metrics);
    }
}

/// Calls `each` for every socket of `users`, but those showing `except` (where a
/// conversation's own events go, not its news), walking the smaller of the two: the
/// people, or everyone here.
fn sockets_of_users(
    registry: &Registry,
    users: &HashSet<i64>,
    except: Option<i64>,
    mut each: impl FnMut(&super::outgoing::Subscriber),
) {
    let mut visit = |user: &i64| {
        for entry in registry.sockets_of(*user) {
            if except.is_none() || entry.conversation != except {
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
