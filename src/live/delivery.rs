//! Ordered delivery: every event of a conversation reaches the conversation's sockets
//! on this process once, in the order of its number (`seq`), whichever way it came.
//!
//! A [`Sequence`] is where one conversation's delivery stands. An event this process
//! committed comes with its fragment, from the committing thread ([`Committed`]); an
//! event another process committed comes as a number only, over the bus. The next
//! event (`seq` = last + 1) is delivered as it comes; one already delivered is
//! dropped; one past a gap, or one known only by its number, makes the conversation
//! *fill*: read what changed since its last delivered event from the database, in one
//! statement with the latest event number ([`super::Source::changes`]), while events
//! that arrive meanwhile wait. This is the only place events are ordered and repeats
//! dropped; the frames it sends carry the range of events they cover, so a socket
//! that catches up from the database can join the stream where its catch-up ends.
use std::{collections::HashSet, sync::Weak, time::Duration};

use maud::html;
use tokio::sync::mpsc;

use super::{
    Hub,
    hub::{Inner, State},
    outgoing::Outgoing,
};

/// An event committed by this process, rendered once.
#[derive(Clone, Debug)]
pub struct Committed {
    pub conversation_id: i64,
    pub seq: i64,
    /// The event's out-of-band fragment.
    pub html: String,
    /// The author of a new message, who has stopped typing.
    pub author_id: Option<i64>,
}

/// What a fill read: the events after `after` up to `upto`, as one fragment, and the
/// authors of the new messages among them.
#[derive(Clone, Debug)]
pub struct Filled {
    pub conversation_id: i64,
    pub after: i64,
    pub upto: i64,
    pub html: String,
    pub authors: Vec<i64>,
    /// Whether it reached the conversation's latest event (else another fill follows).
    pub complete: bool,
}

/// Where a conversation's delivery stands.
#[derive(Debug)]
pub(super) enum Sequence {
    /// Every event up to this one has been delivered.
    At(i64),
    /// Reading from the database what came after `after` (`None`: the conversation is
    /// new here, and only its latest event is needed). Events this process commits
    /// meanwhile wait in `held`; `heard` is the latest event number another process
    /// announced. A `stale` fill may have read before events it was not told of (the
    /// bus lost some), and is followed by another.
    Filling {
        fill: u64,
        after: Option<i64>,
        held: Vec<Committed>,
        heard: i64,
        stale: bool,
    },
}

/// Events held behind a fill at most; past it, the fill reads them instead.
const HELD: usize = 4096;

/// What the caller must do after a step.
#[derive(Debug, Default)]
pub(super) struct Outcome {
    /// Frames for the conversation's sockets, in order.
    pub(super) frames: Vec<Outgoing>,
    /// Authors of delivered messages, who have stopped typing.
    pub(super) stopped_typing: Vec<i64>,
    /// The conversation must fill (a new fill has been started).
    pub(super) needs_fill: bool,
}

/// The fragment that moves a page's cursor to event `seq` (see `assets/js`): every
/// frame of events ends with it, so that a page reconnects from where it is.
fn cursor(seq: i64) -> String {
    html! { span #cursor data-seq=(seq) hidden hx-swap-oob="true" {} }.into_string()
}

/// The frame of events `after + 1 ..= upto`.
pub(super) fn frame(after: i64, upto: i64, html: &str) -> Outgoing {
    let mut text = String::with_capacity(html.len() + 64);
    text.push_str(html);
    text.push_str(&cursor(upto));
    Outgoing::events(after, upto, text)
}

impl Sequence {
    /// How a conversation new here starts: learning where it stands.
    pub(super) fn new_channel(fill: u64) -> Self {
        Sequence::Filling {
            fill,
            after: None,
            held: Vec::new(),
            heard: 0,
            stale: false,
        }
    }

    /// Reads again whatever came after the last delivered event (the bus may have lost
    /// some); answers whether a fill started.
    pub(super) fn refill(&mut self, next_fill: impl FnOnce() -> u64) -> bool {
        match self {
            Sequence::At(last) => {
                *self = Sequence::Filling {
                    fill: next_fill(),
                    after: Some(*last),
                    held: Vec::new(),
                    heard: 0,
                    stale: false,
                };
                true
            }
            Sequence::Filling { stale, .. } => {
                *stale = true;
                false
            }
        }
    }

    /// This process committed `event`.
    pub(super) fn committed(
        &mut self,
        event: Committed,
        next_fill: impl FnOnce() -> u64,
    ) -> Outcome {
        let mut outcome = Outcome::default();
        match self {
            Sequence::At(last) if event.seq <= *last => {}
            Sequence::At(last) if event.seq == *last + 1 => {
                outcome.frames.push(frame(*last, event.seq, &event.html));
                outcome.stopped_typing.extend(event.author_id);
                *last = event.seq;
            }
            Sequence::At(last) => {
                // A gap: another process committed the events between, and the bus has
                // not brought them yet.
                *self = Sequence::Filling {
                    fill: next_fill(),
                    after: Some(*last),
                    held: vec![event],
                    heard: 0,
                    stale: false,
                };
                outcome.needs_fill = true;
            }
            Sequence::Filling { held, heard, .. } if held.len() >= HELD => {
                *heard = (*heard).max(event.seq);
            }
            Sequence::Filling { held, .. } => held.push(event),
        }
        outcome
    }

    /// Another process committed event `seq`; answers whether a fill started.
    pub(super) fn heard(&mut self, seq: i64, next_fill: impl FnOnce() -> u64) -> bool {
        match self {
            Sequence::At(last) if seq <= *last => false,
            Sequence::At(last) => {
                *self = Sequence::Filling {
                    fill: next_fill(),
                    after: Some(*last),
                    held: Vec::new(),
                    heard: seq,
                    stale: false,
                };
                true
            }
            Sequence::Filling { heard, .. } => {
                *heard = (*heard).max(seq);
                false
            }
        }
    }

    /// The fill this conversation waits for, and where it reads from.
    pub(super) fn pending_fill(&self) -> Option<(u64, Option<i64>)> {
        match self {
            Sequence::Filling { fill, after, .. } => Some((*fill, *after)),
            Sequence::At(_) => None,
        }
    }

    /// Fill `fill` read `filled`: delivers it and whatever waited, in order; starts the
    /// next fill if a gap remains. A fill that is no longer awaited changes nothing.
    pub(super) fn filled(
        &mut self,
        fill: u64,
        filled: &Filled,
        next_fill: impl FnOnce() -> u64,
    ) -> Outcome {
        let mut outcome = Outcome::default();
        let Sequence::Filling {
            fill: awaited,
            after,
            held,
            heard,
            stale,
        } = self
        else {
            return outcome;
        };
        if *awaited != fill {
            return outcome;
        }
        let mut last = match *after {
            Some(after) => {
                if filled.upto > after {
                    outcome.frames.push(frame(after, filled.upto, &filled.html));
                    outcome.stopped_typing.extend(&filled.authors);
                }
                filled.upto.max(after)
            }
            // New here: the sockets catch up by themselves, and join the stream here.
            // The empty frame tells each where that is, so that one whose catch-up
            // ended earlier reads on (see `live::socket`).
            None => {
                outcome.frames.push(frame(filled.upto, filled.upto, ""));
                filled.upto
            }
        };
        let (heard, stale) = (*heard, *stale);
        let mut held = std::mem::take(held);
        held.sort_by_key(|e| e.seq);
        let start = last;
        let mut waiting = held.into_iter().skip_while(|e| e.seq <= start).peekable();
        while let Some(event) = waiting.next_if(|e| e.seq == last + 1) {
            outcome.frames.push(frame(last, event.seq, &event.html));
            outcome.stopped_typing.extend(event.author_id);
            last = event.seq;
        }
        let rest: Vec<Committed> = waiting.filter(|e| e.seq > last).collect();
        if rest.is_empty() && heard <= last && !stale && filled.complete {
            *self = Sequence::At(last);
        } else {
            *self = Sequence::Filling {
                fill: next_fill(),
                after: Some(last),
                held: rest,
                heard,
                stale: false,
            };
            outcome.needs_fill = true;
        }
        outcome
    }
}

impl Hub {
    /// Sends a step's frames, stops its typists and asks for its fill.
    pub(super) fn apply(&self, state: &mut State, conversation_id: i64, outcome: Outcome) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: i64) -> Committed {
        Committed {
            conversation_id: 1,
            seq,
            html: format!("<p>{seq}</p>"),
            author_id: None,
        }
    }

    fn spans(outcome: &Outcome) -> Vec<(i64, i64)> {
        outcome
            .frames
            .iter()
            .filter_map(|f| match f.kind() {
                super::super::outgoing::OutgoingKind::Events { after, upto } => Some((after, upto)),
                _ => None,
            })
            .collect()
    }

    fn filled(after: i64, upto: i64) -> Filled {
        Filled {
            conversation_id: 1,
            after,
            upto,
            html: String::new(),
            authors: Vec::new(),
            complete: true,
        }
    }

    #[test]
    fn the_next_event_is_delivered_and_a_repeat_is_dropped() {
        let mut sequence = Sequence::At(4);
        assert_eq!(spans(&sequence.committed(event(5), || 1)), [(4, 5)]);
        assert!(spans(&sequence.committed(event(5), || 1)).is_empty());
        assert!(!sequence.heard(5, || 1));
    }

    #[test]
    fn a_gap_is_filled_before_what_waited_behind_it() {
        let mut sequence = Sequence::At(4);
        let outcome = sequence.committed(event(7), || 9);
        assert!(outcome.needs_fill && outcome.frames.is_empty());
        assert!(
            spans(&sequence.committed(event(8), || 10)).is_empty(),
            "held"
        );
        assert_eq!(sequence.pending_fill(), Some((9, Some(4))));
        // The fill read up to 6; 7 and 8 follow in order.
        let outcome = sequence.filled(9, &filled(4, 6), || 11);
        assert_eq!(spans(&outcome), [(4, 6), (6, 7), (7, 8)]);
        assert!(matches!(sequence, Sequence::At(8)));
    }

    #[test]
    fn a_fill_that_read_past_what_waited_drops_it() {
        let mut sequence = Sequence::At(4);
        sequence.committed(event(6), || 1);
        let outcome = sequence.filled(1, &filled(4, 7), || 2);
        assert_eq!(spans(&outcome), [(4, 7)]);
        assert!(matches!(sequence, Sequence::At(7)));
    }

    #[test]
    fn an_event_heard_during_a_fill_it_did_not_see_starts_another() {
        let mut sequence = Sequence::At(4);
        assert!(sequence.heard(5, || 1));
        assert!(!sequence.heard(6, || 2));
        let outcome = sequence.filled(1, &filled(4, 5), || 3);
        assert!(outcome.needs_fill);
        assert_eq!(sequence.pending_fill(), Some((3, Some(5))));
        assert!(
            spans(&sequence.filled(1, &filled(5, 6), || 4)).is_empty(),
            "stale"
        );
        assert_eq!(spans(&sequence.filled(3, &filled(5, 6), || 4)), [(5, 6)]);
    }

    #[test]
    fn a_new_conversation_starts_where_its_latest_event_is() {
        let mut sequence = Sequence::new_channel(1);
        sequence.committed(event(3), || 2);
        sequence.committed(event(4), || 2);
        let outcome = sequence.filled(1, &filled(0, 3), || 2);
        assert_eq!(
            spans(&outcome),
            [(3, 3), (3, 4)],
            "3 is in the sockets' own catch-up"
        );
        assert!(matches!(sequence, Sequence::At(4)));
    }
}
