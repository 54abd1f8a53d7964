//! Turns for WebSocket handshakes: how many the server works on at once, from the
//! request as hyper hands it over to the socket's first frames. The others wait in a
//! bounded line and are answered 503 past it.
//!
//! A handshake's working memory (its session, its queries, the sidebar and catch-up it
//! renders) is short-lived but lands between the long-lived state of the sockets
//! already open, and an allocator cannot give back a page that still holds one live
//! object. A burst worked on a few at a time leaves the memory of a few behind, not of
//! the whole burst; on a machine with few cores it is no slower, since the work is CPU
//! and database turns either way. It counts and waits; what a socket is, is `live`'s.
use std::{
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Upgrade requests that may wait for a turn at once; past it, 503 at once.
const WAITING_AT_MOST: usize = 512;

/// The longest a request waits for its turn before it is answered 503.
const WAIT_AT_MOST: Duration = Duration::from_secs(10);

/// The longest a socket keeps its turn after its upgrade: one whose client reads its
/// first frames slowly goes on without one, so a few such clients cannot stall the line.
const HOLD_AT_MOST: Duration = Duration::from_secs(2);

/// The turns of one server loop.
#[derive(Clone)]
pub struct HandshakeTurns {
    turns: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
}

impl HandshakeTurns {
    /// `at_once` handshakes worked on at a time (at least one).
    pub fn new(at_once: usize) -> Self {
        Self {
            turns: Arc::new(Semaphore::new(at_once.clamp(1, Semaphore::MAX_PERMITS))),
            waiting: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Waits for a turn; `None` when the line is full or the wait too long.
    pub async fn enter(&self) -> Option<Turn> {
        let in_line = InLine::join(&self.waiting)?;
        let permit = tokio::time::timeout(WAIT_AT_MOST, self.turns.clone().acquire_owned())
            .await
            .ok()?
            .ok()?;
        drop(in_line);
        Some(Turn { _permit: permit })
    }
}

/// A place in the line, left when dropped.
struct InLine<'a>(&'a AtomicUsize);

impl<'a> InLine<'a> {
    fn join(waiting: &'a AtomicUsize) -> Option<Self> {
        waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < WAITING_AT_MOST).then_some(n + 1)
            })
            .ok()
            .map(|_| Self(waiting))
    }
}

impl Drop for InLine<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One handshake's turn; the next waiting request gets it when this is dropped.
pub struct Turn {
    _permit: OwnedSemaphorePermit,
}

impl Turn {
    /// Runs `start` (a socket's set-up) holding the turn, for [`HOLD_AT_MOST`] at most.
    pub fn hold_while<F: Future>(self, start: F) -> Holding<F> {
        self.hold_for(HOLD_AT_MOST, start)
    }

    fn hold_for<F: Future>(self, limit: Duration, start: F) -> Holding<F> {
        Holding {
            start,
            deadline: tokio::time::sleep(limit),
            turn: Some(self),
        }
    }
}

pin_project_lite::pin_project! {
    /// A socket's start with its turn, given back at the deadline if the start is still
    /// going. A future of its own rather than an `async fn`: the start is the largest
    /// part of a handshake's task, and an `async fn` would hold it twice.
    pub struct Holding<F> {
        #[pin]
        start: F,
        #[pin]
        deadline: tokio::time::Sleep,
        turn: Option<Turn>,
    }
}

impl<F: Future> Future for Holding<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        if let Poll::Ready(done) = this.start.poll(cx) {
            return Poll::Ready(done);
        }
        if this.turn.is_some() && this.deadline.poll(cx).is_ready() {
            *this.turn = None;
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request waiting in `turns`' line (its task has run up to the wait); answers
    /// whether it got a turn.
    async fn in_line(turns: &HandshakeTurns) -> tokio::task::JoinHandle<bool> {
        let waiter = tokio::spawn({
            let turns = turns.clone();
            async move { turns.enter().await.is_some() }
        });
        tokio::task::yield_now().await;
        waiter
    }

    #[tokio::test]
    async fn a_turn_is_given_when_one_ends_and_the_line_is_bounded() {
        let turns = HandshakeTurns::new(1);
        let first = turns.enter().await.expect("a free turn");
        let second = in_line(&turns).await;
        assert_eq!(turns.waiting.load(Ordering::Acquire), 1, "the second waits");
        drop(first);
        assert!(second.await.expect("joined"), "the second gets the turn");

        let _held = turns.enter().await.expect("a free turn");
        turns.waiting.store(WAITING_AT_MOST, Ordering::Release);
        assert!(turns.enter().await.is_none(), "a full line answers at once");
    }

    #[tokio::test]
    async fn a_request_that_goes_away_leaves_the_line() {
        let turns = HandshakeTurns::new(1);
        let _held = turns.enter().await.expect("a free turn");
        let waiter = in_line(&turns).await;
        assert_eq!(turns.waiting.load(Ordering::Acquire), 1);
        waiter.abort();
        assert!(waiter.await.is_err(), "cancelled");
        assert_eq!(turns.waiting.load(Ordering::Acquire), 0);
    }

    #[tokio::test]
    async fn a_slow_start_gives_its_turn_back_and_goes_on() {
        let turns = HandshakeTurns::new(1);
        let turn = turns.enter().await.expect("a free turn");
        let (finish, finished) = tokio::sync::oneshot::channel::<()>();
        let slow = tokio::spawn(turn.hold_for(Duration::from_millis(10), finished));
        assert!(
            turns.enter().await.is_some(),
            "the turn came back while the start went on"
        );
        assert!(!slow.is_finished(), "the start is still going");
        finish.send(()).expect("the start waits");
        assert!(slow.await.expect("joined").is_ok(), "the start finished");
    }
}
