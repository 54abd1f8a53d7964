//! Who is online: in each conversation (while a socket shows it) and on the site (while
//! any socket is open), several tabs counting once. On one process this is the
//! registry's own count; when several share PostgreSQL it is the union of every
//! process's leases ([`super::leases`]), which the ticker keeps in step.
//!
//! Changes only mark what changed; the ticker sends the current counts at most once a
//! tick ([`Hub::flush_presence`]), so a thousand arrivals cost each socket one frame.
use std::collections::{HashMap, HashSet};

use maud::{Markup, html};

use super::{
    Event, Hub,
    hub::State,
    leases::SITE,
    outgoing::{Outgoing, broadcast},
};

/// Who is online in a conversation, ordered by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Presence {
    pub users: Vec<(i64, String)>,
}

/// The people online in one conversation here: name and how many of their sockets.
#[derive(Debug, Default)]
pub(super) struct Online(HashMap<i64, (String, usize)>);

impl Online {
    /// One more socket of `user_id`; answers whether they were not here before.
    pub(super) fn arrive(&mut self, user_id: i64, username: String) -> bool {
        let here = self.0.entry(user_id).or_insert((username, 0));
        here.1 += 1;
        here.1 == 1
    }

    /// One socket of `user_id` fewer; answers whether that was their last.
    pub(super) fn leave(&mut self, user_id: i64) -> bool {
        let Some(here) = self.0.get_mut(&user_id) else {
            return false;
        };
        here.1 -= 1;
        if here.1 == 0 {
            self.0.remove(&user_id);
            return true;
        }
        false
    }

    pub(super) fn len(&self) -> usize {
        self.0.len()
    }

    fn names(&self) -> HashMap<i64, String> {
        self.0
            .iter()
            .map(|(u, (name, _))| (*u, name.clone()))
            .collect()
    }

    pub(super) fn presence(&self) -> Presence {
        let users = self
            .0
            .iter()
            .map(|(id, (name, _))| (*id, name.clone()))
            .collect();
        sorted(users)
    }
}

/// `users` in the order pages list them: by name, ignoring case.
pub fn sorted(mut users: Vec<(i64, String)>) -> Presence {
    users.sort_by(|a, b| {
        a.1.to_lowercase()
            .cmp(&b.1.to_lowercase())
            .then(a.0.cmp(&b.0))
    });
    Presence { users }
}

/// What changed since the last tick.
#[derive(Debug)]
pub(super) struct Changes {
    /// Conversations whose count must be sent again.
    pub(super) dirty: HashSet<i64>,
    pub(super) site_dirty: bool,
    /// Conversations (and [`SITE`]) whose local presence must be written to the leases.
    pub(super) local: HashSet<i64>,
    /// The site's count over every process, as of the last tick.
    pub(super) union_site: Option<usize>,
    /// Whether a conversation is a public room, for those seen here: only rooms'
    /// counts may go to the lobby.
    pub(super) is_room: HashMap<i64, bool>,
    /// People whose being online pages show, who may have come or gone.
    pub(super) watched: HashSet<i64>,
    /// What was last sent of each watched person.
    pub(super) watched_sent: HashMap<i64, bool>,
}

impl Default for Changes {
    fn default() -> Self {
        Self {
            dirty: HashSet::new(),
            // A new hub tells its first sockets the count.
            site_dirty: true,
            local: HashSet::new(),
            union_site: None,
            is_room: HashMap::new(),
            watched: HashSet::new(),
            watched_sent: HashMap::new(),
        }
    }
}

impl Changes {
    pub(super) fn site_changed(&mut self) {
        self.site_dirty = true;
        self.local.insert(SITE);
    }

    pub(super) fn conversation_changed(&mut self, conversation_id: i64) {
        self.dirty.insert(conversation_id);
        self.local.insert(conversation_id);
    }
}

pub fn site_online_fragment(count: usize) -> Markup {
    html! { span #site-online-count hx-swap-oob="true" { (count) } }
}

pub fn online_count(count: usize, oob: bool) -> Markup {
    html! { span #online-count hx-swap-oob=[oob.then_some("true")] { (count) } }
}

pub fn online_users(presence: &Presence, oob: bool) -> Markup {
    html! {
        ul #online-users.online-users aria-label="Online here" hx-swap-oob=[oob.then_some("true")] {
            @for (id, name) in &presence.users { li data-user-id=(id) { (name) } }
        }
    }
}

/// Whether one person is online, where a page shows it (a private chat's header, the
/// people directory): a dot, and the word for those who do not see colours.
pub fn person_status(user_id: i64, online: bool, oob: bool) -> Markup {
    let (word, title) = if online {
        ("online", "Online")
    } else {
        ("offline", "Offline")
    };
    html! {
        span.presence-dot.online[online] id={ "presence-" (user_id) } title=(title) hx-swap-oob=[oob.then_some("true")] {
            span.presence-label { (word) }
        }
    }
}

/// A room's count in the lobby's list.
pub fn room_online(room_id: i64, count: usize, oob: bool) -> Markup {
    html! {
        span.room-online id={ "room-online-" (room_id) } title="Online in this room" hx-swap-oob=[oob.then_some("true")] {
            span.dot {} (count)
        }
    }
}

impl Hub {
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
        match (&self.inner.leases, state.presence.union_site) {
            (Some(_), Some(union)) => union,
            _ => state.registry.people_online(),
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
            .registry
            .channels
            .get(&conversation_id)
            .map(|c| c.online.presence())
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
            .map(|c| {
                let count = state
                    .registry
                    .channels
                    .get(c)
                    .map_or(0, |ch| ch.online.len());
                (*c, count)
            })
            .collect()
    }

    /// Which of `users` are online on the site.
    pub async fn online_among(&self, users: &[i64]) -> HashSet<i64> {
        // Here at once; in other processes as their leases say (written on a tick, so
        // someone who just connected here may not be in them yet).
        let mut online: HashSet<i64> = {
            let state = self.state();
            users
                .iter()
                .copied()
                .filter(|u| state.registry.users.contains_key(u))
                .collect()
        };
        if let Some(leases) = &self.inner.leases {
            match leases.online_among(users).await {
                Ok(elsewhere) => online.extend(elsewhere),
                Err(e) => tracing::warn!(error = %e, "could not read shared presence"),
            }
        }
        online
    }

    /// Sends out the presence that changed since the last tick. `written` is what this
    /// process has in the shared presence table.
    pub(super) async fn flush_presence(&self, written: &mut HashMap<i64, HashSet<i64>>) {
        let (wanted, mut dirty, mut site_dirty) = {
            let mut state = self.state();
            let changes: Vec<i64> = state.presence.local.drain().collect();
            let wanted: HashMap<i64, HashMap<i64, String>> = if self.inner.leases.is_some() {
                changes
                    .into_iter()
                    .map(|c| {
                        let users = if c == SITE {
                            state
                                .registry
                                .users
                                .keys()
                                .filter(|u| !state.registry.visitors.contains(u))
                                .map(|u| (*u, String::new()))
                                .collect()
                        } else {
                            state
                                .registry
                                .channels
                                .get(&c)
                                .map_or_else(HashMap::new, |ch| ch.online.names())
                        };
                        (c, users)
                    })
                    .collect()
            } else {
                HashMap::new()
            };
            let dirty: Vec<i64> = state.presence.dirty.drain().collect();
            let site_dirty = std::mem::take(&mut state.presence.site_dirty);
            (wanted, dirty, site_dirty)
        };

        let mut shared: HashMap<i64, Presence> = HashMap::new();
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
                            } else if !dirty.contains(&c) {
                                dirty.push(c);
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "could not write shared presence; retrying");
                        self.state().presence.local.extend(wanted.keys().copied());
                    }
                }
            }
            for &c in &dirty {
                if let Ok(presence) = leases.conversation(c).await {
                    shared.insert(c, presence);
                }
                let known = {
                    let state = self.state();
                    state.registry.channels.contains_key(&c)
                        || state.presence.is_room.contains_key(&c)
                };
                if !known {
                    if let Some(room) = self.inner.source.is_room(c).await {
                        let mut state = self.state();
                        if state.presence.is_room.len() >= 100_000 {
                            state.presence.is_room.clear();
                        }
                        state.presence.is_room.insert(c, room);
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

        {
            let mut state = self.state();
            for conversation_id in dirty {
                let channel = state.registry.channels.get(&conversation_id);
                let presence = match shared.remove(&conversation_id) {
                    Some(shared) => shared,
                    None => channel.map(|c| c.online.presence()).unwrap_or_default(),
                };
                if let Some(channel) = channel {
                    let out = Outgoing::html(html! {
                        (online_count(presence.users.len(), true))
                        (online_users(&presence, true))
                    });
                    channel.broadcast(&out, &self.inner.metrics);
                }
                // Private chats' counts are nobody else's business: only rooms reach the lobby.
                let is_room = channel
                    .map(|c| c.is_room)
                    .or_else(|| state.presence.is_room.get(&conversation_id).copied());
                if is_room == Some(true) && !state.registry.lobby.is_empty() {
                    let out =
                        Outgoing::html(room_online(conversation_id, presence.users.len(), true));
                    let lobby = state
                        .registry
                        .lobby
                        .iter()
                        .filter_map(|id| state.registry.sockets.get(id));
                    broadcast(
                        lobby.map(|entry| &entry.subscriber),
                        &out,
                        &self.inner.metrics,
                    );
                }
            }
            if site_dirty {
                if site_count.is_some() {
                    state.presence.union_site = site_count;
                }
                let count = match (self.inner.leases.is_some(), state.presence.union_site) {
                    (true, Some(union)) => union,
                    _ => state.registry.people_online(),
                };
                let out = Outgoing::html(site_online_fragment(count));
                broadcast(state.registry.people_sockets(), &out, &self.inner.metrics);
            }
        }
        self.flush_watched(site_dirty).await;
    }

    /// Tells the pages that show whether a person is online of each change (with
    /// several processes, of every watched person whenever the site's count moved).
    async fn flush_watched(&self, site_moved: bool) {
        let watched: Vec<i64> = {
            let mut state = self.state();
            let State {
                registry, presence, ..
            } = &mut *state;
            presence
                .watched_sent
                .retain(|u, _| registry.watchers.contains_key(u));
            if self.inner.leases.is_some() && site_moved {
                presence.watched.extend(registry.watchers.keys().copied());
            }
            presence
                .watched
                .drain()
                .filter(|u| registry.watchers.contains_key(u))
                .collect()
        };
        if watched.is_empty() {
            return;
        }
        let online = self.online_among(&watched).await;
        let mut state = self.state();
        for user in watched {
            let now = online.contains(&user);
            if state.presence.watched_sent.insert(user, now) == Some(now) {
                continue;
            }
            let out = Outgoing::html(person_status(user, now, true));
            let registry = &state.registry;
            let sockets = registry.watchers.get(&user).into_iter().flatten();
            broadcast(
                sockets
                    .filter_map(|id| registry.sockets.get(id))
                    .map(|e| &e.subscriber),
                &out,
                &self.inner.metrics,
            );
        }
    }

    /// Another process's presence changed in `conversation_id` (or [`SITE`]).
    pub(super) fn presence_changed_elsewhere(&self, conversation_id: i64) {
        let mut state = self.state();
        if conversation_id == SITE {
            state.presence.site_dirty = true;
        } else {
            state.presence.dirty.insert(conversation_id);
        }
    }

    /// Renews this process's presence leases and clears out expired ones of dead
    /// processes, telling everyone which counts changed.
    pub(super) async fn keep_leases(&self) {
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
                    self.presence_changed_elsewhere(conversation_id);
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
                .registry
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
