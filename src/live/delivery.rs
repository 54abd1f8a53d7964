//! Ordered delivery: every event of a conversation reaches the conversation's sockets
//! on this process once, in the order of its number (`seq`), whichever way it came.
//! Each conversation's [`Sequence`] decides what goes out; this module hands it the
//! events, asks the [`super::Source`] to fill its gaps (many conversations in one
//! read) and sends its frames. This is the only place events are ordered and repeats
//! dropped; the frames carry the range of events they cover, so a socket that catches
//! up from the database can join the stream where its catch-up ends.
use std::{collections::HashSet, sync::Weak, time::Duration};

use tokio::sync::mpsc;

use super::{
    Hub,
    hub::{Inner, State},
    sequence::Outcome,
};

impl Hub {
    /// Sends what waits for a frame in each conversation (reactions, coalesced): once
    /// a tick.
    pub(super) fn flush_coalesced(&self) {
        let mut state = self.state();
        for channel in state.registry.channels.values_mut() {
            if let Some(frame) = channel.sequence.flush() {
                channel.broadcast(&frame, &self.inner.metrics);
            }
        }
    }

    /// Sends a step's frames, stops its typists and asks for its fill.
    pub(super) fn apply(&self, state: &mut State, conversation_id: i64, outcome: Outcome) {
        let Some(channel) = state.registry.channels.get_mut(&conversation_id) else {
            return;
        };
        for frame in &outcome.frames {
            channel.broadcast(frame, &self.inner.metrics);
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

    /// Reads what the conversations of `wanted` wait for, in one call, and delivers it.
    pub(super) async fn fill(&self, wanted: &[i64]) {
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
}

/// How long a fill that failed (the database is away) waits before it tries again.
const FILL_RETRY: Duration = Duration::from_secs(1);
/// Fill requests taken at once, at most.
const FILL_BATCH: usize = 256;

/// The hub's filling task: conversations that wait for the database, as many at once
/// as have asked, in one read ([`Source::changes`]).
pub(super) async fn fill(hub: Weak<Inner>, mut wanted: mpsc::UnboundedReceiver<i64>) {
    let mut batch = Vec::with_capacity(FILL_BATCH);
    while wanted.recv_many(&mut batch, FILL_BATCH).await > 0 {
        let Some(inner) = hub.upgrade() else { return };
        Hub { inner }.fill(&batch).await;
        batch.clear();
    }
}
