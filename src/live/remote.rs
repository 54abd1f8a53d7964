//! Events from the other processes, as the bus brings them: conversations fill what
//! they missed, typing and presence are counted, signed-out sessions are closed, and
//! the rest goes to the [`super::Source`]. After the bus lost events (its connection
//! dropped), every conversation reads again what it may have missed.
use std::sync::Weak;

use tokio::sync::mpsc;

use super::{Event, Hub, hub::Inner};

impl Hub {
    /// Events from other processes, in order. The conversations they leave waiting are
    /// filled together, in one read, before the rest is told.
    pub(super) async fn heard(&self, events: &[Event]) {
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
                    self.notify(super::Notice::Changed(*conversation_id));
                    if let Some(channel) = state.registry.channels.get_mut(conversation_id) {
                        let outcome = channel.sequence.heard(*seq, || self.next_fill());
                        if outcome.needs_fill {
                            to_fill.push(*conversation_id);
                        }
                        for frame in &outcome.frames {
                            channel.broadcast(frame, &self.inner.metrics);
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
            Event::ConversationClosed { conversation_id } => {
                self.close_conversation_here(*conversation_id)
            }
            Event::AccessEnded {
                user_id,
                conversation_id,
            } => self.close_access_here(*user_id, *conversation_id),
            Event::Resync => self.resync(),
            Event::Published { id } => self.notify(super::Notice::Published(*id)),
            Event::MembershipChanged { conversation_id } => {
                self.notify(super::Notice::MembershipChanged(*conversation_id))
            }
            Event::Read { .. } | Event::Added { .. } | Event::SupportChanged { .. } => {}
        }
        self.inner.source.heard(self, event).await;
    }

    /// After the bus lost events (its connection dropped): every conversation reads
    /// again what it may have missed, and every count is sent again.
    fn resync(&self) {
        self.notify(super::Notice::Resync);
        let mut state = self.state();
        let mut refilled = Vec::new();
        for (id, channel) in state.registry.channels.iter_mut() {
            let outcome = channel.sequence.refill(|| self.next_fill());
            for frame in &outcome.frames {
                channel.broadcast(frame, &self.inner.metrics);
            }
            if outcome.needs_fill {
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
}

/// The hub's listening task: events from other processes, in the order they come.
pub(super) async fn hear(hub: Weak<Inner>, mut events: mpsc::UnboundedReceiver<Event>) {
    const BATCH: usize = 256;
    let mut batch = Vec::with_capacity(BATCH);
    while events.recv_many(&mut batch, BATCH).await > 0 {
        let Some(inner) = hub.upgrade() else { return };
        Hub { inner }.heard(&batch).await;
        batch.clear();
    }
}
