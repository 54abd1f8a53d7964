//! Where one conversation's delivery stands: the [`Sequence`] state machine, which
//! turns events that arrive in any order, twice, or by number only into frames that
//! cover every event once, in order. It does no I/O; [`super::delivery`] runs it.
//!
//! The next event (`seq` = last + 1) is delivered as it comes; one already delivered is
//! dropped; one past a gap, or one known only by its number, starts a *fill* (reading
//! what changed since the last delivered event from the database), and what arrives
//! meanwhile waits. A coalescing event (a reaction) waits for the next frame instead of
//! making one: the next event that does not coalesce, or the ticker, sends every
//! waiting one together with the final state of each message, so a storm of reactions
//! costs a page a frame per tick. Frames cover contiguous ranges of events either way.
use maud::html;

use super::outgoing::Outgoing;

/// An event committed by this process, rendered once.
#[derive(Clone, Debug)]
pub struct Committed {
    pub conversation_id: i64,
    pub seq: i64,
    /// The event's out-of-band fragment.
    pub html: String,
    /// The author of a new message, who has stopped typing.
    pub author_id: Option<i64>,
    /// Events with the same key (a message's reactions) replace each other while they
    /// wait for a frame; `None` goes out at once.
    pub coalesce: Option<i64>,
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
    /// Every event up to `last` has been delivered, or waits in `waiting` (coalescing
    /// events after `sent`, the end of the last frame).
    At {
        last: i64,
        sent: i64,
        waiting: Vec<Committed>,
    },
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
    /// Every event up to `last` delivered.
    #[cfg(test)]
    pub(super) fn at(last: i64) -> Self {
        Sequence::At {
            last,
            sent: last,
            waiting: Vec::new(),
        }
    }

    /// How a conversation new here starts: learning where it stands.
    pub(super) fn new_channel(fill: u64) -> Self {
        Self::filling(fill, None, Vec::new(), 0)
    }

    fn filling(fill: u64, after: Option<i64>, held: Vec<Committed>, heard: i64) -> Self {
        Sequence::Filling {
            fill,
            after,
            held,
            heard,
            stale: false,
        }
    }

    /// Sends what waits for a frame (at a tick): `None` when nothing does.
    pub(super) fn flush(&mut self) -> Option<Outgoing> {
        let Sequence::At {
            last,
            sent,
            waiting,
        } = self
        else {
            return None;
        };
        let mut outcome = Outcome::default();
        flush_into(*last, sent, waiting, &mut outcome);
        outcome.frames.pop()
    }

    /// Starts a fill from `last`, sending first what waits for a frame.
    fn start_fill(&mut self, held: Vec<Committed>, heard: i64, fill: u64, outcome: &mut Outcome) {
        if let Sequence::At {
            last,
            sent,
            waiting,
        } = self
        {
            flush_into(*last, sent, waiting, outcome);
            *self = Self::filling(fill, Some(*last), held, heard);
            outcome.needs_fill = true;
        }
    }

    /// Reads again whatever came after the last delivered event (the bus may have lost
    /// some).
    pub(super) fn refill(&mut self, next_fill: impl FnOnce() -> u64) -> Outcome {
        let mut outcome = Outcome::default();
        match self {
            Sequence::At { .. } => self.start_fill(Vec::new(), 0, next_fill(), &mut outcome),
            Sequence::Filling { stale, .. } => *stale = true,
        }
        outcome
    }

    /// This process committed `event`.
    pub(super) fn committed(
        &mut self,
        event: Committed,
        next_fill: impl FnOnce() -> u64,
    ) -> Outcome {
        let mut outcome = Outcome::default();
        match self {
            Sequence::At { last, .. } if event.seq <= *last => {}
            Sequence::At {
                last,
                sent,
                waiting,
            } if event.seq == *last + 1 => accept(last, sent, waiting, event, &mut outcome),
            // A gap: another process committed the events between, and the bus has not
            // brought them yet.
            Sequence::At { .. } => self.start_fill(vec![event], 0, next_fill(), &mut outcome),
            Sequence::Filling { held, heard, .. } if held.len() >= HELD => {
                *heard = (*heard).max(event.seq);
            }
            Sequence::Filling { held, .. } => held.push(event),
        }
        outcome
    }

    /// Another process committed event `seq`.
    pub(super) fn heard(&mut self, seq: i64, next_fill: impl FnOnce() -> u64) -> Outcome {
        let mut outcome = Outcome::default();
        match self {
            Sequence::At { last, .. } if seq <= *last => {}
            Sequence::At { .. } => self.start_fill(Vec::new(), seq, next_fill(), &mut outcome),
            Sequence::Filling { heard, .. } => *heard = (*heard).max(seq),
        }
        outcome
    }

    /// The fill this conversation waits for, and where it reads from.
    pub(super) fn pending_fill(&self) -> Option<(u64, Option<i64>)> {
        match self {
            Sequence::Filling { fill, after, .. } => Some((*fill, *after)),
            Sequence::At { .. } => None,
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
        let mut sent = last;
        let mut waiting = Vec::new();
        let start = last;
        let mut queue = held.into_iter().skip_while(|e| e.seq <= start).peekable();
        while let Some(event) = queue.next_if(|e| e.seq == last + 1) {
            accept(&mut last, &mut sent, &mut waiting, event, &mut outcome);
        }
        let rest: Vec<Committed> = queue.filter(|e| e.seq > last).collect();
        *self = Sequence::At {
            last,
            sent,
            waiting,
        };
        if !rest.is_empty() || heard > last || stale || !filled.complete {
            self.start_fill(rest, heard, next_fill(), &mut outcome);
        }
        outcome
    }
}

/// Takes the next event: it waits for a frame if it coalesces, else it goes out now,
/// after what waited.
fn accept(
    last: &mut i64,
    sent: &mut i64,
    waiting: &mut Vec<Committed>,
    event: Committed,
    outcome: &mut Outcome,
) {
    *last = event.seq;
    if let Some(key) = event.coalesce {
        // The newer state of the same message is all a page needs.
        waiting.retain(|e| e.coalesce != Some(key));
        waiting.push(event);
        return;
    }
    let before = *last - 1;
    flush_into(before, sent, waiting, outcome);
    outcome.frames.push(frame(before, event.seq, &event.html));
    outcome.stopped_typing.extend(event.author_id);
    *sent = event.seq;
}

/// Sends what waits (the events after `sent` up to `last`) as one frame.
fn flush_into(last: i64, sent: &mut i64, waiting: &mut Vec<Committed>, outcome: &mut Outcome) {
    if waiting.is_empty() {
        return;
    }
    let html: String = waiting.drain(..).map(|e| e.html).collect();
    outcome.frames.push(frame(*sent, last, &html));
    *sent = last;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::outgoing::OutgoingKind;

    fn event(seq: i64) -> Committed {
        Committed {
            conversation_id: 1,
            seq,
            html: format!("<p>{seq}</p>"),
            author_id: None,
            coalesce: None,
        }
    }

    fn reaction(seq: i64, message: i64) -> Committed {
        Committed {
            coalesce: Some(message),
            html: format!("<r>{message}@{seq}</r>"),
            ..event(seq)
        }
    }

    fn spans(outcome: &Outcome) -> Vec<(i64, i64)> {
        outcome.frames.iter().filter_map(span).collect()
    }

    fn span(frame: &Outgoing) -> Option<(i64, i64)> {
        match frame.kind() {
            OutgoingKind::Events { after, upto } => Some((after, upto)),
            _ => None,
        }
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
        let mut sequence = Sequence::at(4);
        assert_eq!(spans(&sequence.committed(event(5), || 1)), [(4, 5)]);
        assert!(spans(&sequence.committed(event(5), || 1)).is_empty());
        assert!(!sequence.heard(5, || 1).needs_fill);
    }

    #[test]
    fn a_gap_is_filled_before_what_waited_behind_it() {
        let mut sequence = Sequence::at(4);
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
        assert!(matches!(
            sequence,
            Sequence::At {
                last: 8,
                sent: 8,
                ..
            }
        ));
    }

    #[test]
    fn a_fill_that_read_past_what_waited_drops_it() {
        let mut sequence = Sequence::at(4);
        sequence.committed(event(6), || 1);
        let outcome = sequence.filled(1, &filled(4, 7), || 2);
        assert_eq!(spans(&outcome), [(4, 7)]);
        assert!(matches!(sequence, Sequence::At { last: 7, .. }));
    }

    #[test]
    fn an_event_heard_during_a_fill_it_did_not_see_starts_another() {
        let mut sequence = Sequence::at(4);
        assert!(sequence.heard(5, || 1).needs_fill);
        assert!(!sequence.heard(6, || 2).needs_fill);
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
        assert!(matches!(sequence, Sequence::At { last: 4, .. }));
    }

    #[test]
    fn reactions_wait_for_a_frame_and_only_their_last_state_goes_out() {
        let mut sequence = Sequence::at(4);
        for (seq, message) in [(5, 1), (6, 1), (7, 2), (8, 1)] {
            assert!(
                sequence
                    .committed(reaction(seq, message), || 1)
                    .frames
                    .is_empty()
            );
        }
        let frame = sequence.flush().expect("a frame at the tick");
        assert_eq!(span(&frame), Some((4, 8)));
        let text = frame.text().expect("a text frame").to_owned();
        assert!(text.starts_with("<r>2@7</r><r>1@8</r>"), "{text}");
        assert!(sequence.flush().is_none(), "nothing waits any more");
    }

    #[test]
    fn a_message_goes_out_after_the_reactions_before_it() {
        let mut sequence = Sequence::at(4);
        sequence.committed(reaction(5, 1), || 1);
        sequence.committed(reaction(6, 1), || 1);
        let outcome = sequence.committed(event(7), || 1);
        assert_eq!(spans(&outcome), [(4, 6), (6, 7)]);
        // A gap after waiting reactions sends them before the fill.
        sequence.committed(reaction(8, 1), || 1);
        let outcome = sequence.committed(event(10), || 2);
        assert_eq!(spans(&outcome), [(7, 8)]);
        assert!(outcome.needs_fill);
        assert_eq!(sequence.pending_fill(), Some((2, Some(8))));
    }
}
