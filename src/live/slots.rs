//! Places for sockets, taken before the upgrade and held for the socket's life, so
//! that the caps on sockets (per person and per process) and on handshakes in flight
//! hold however many upgrades arrive at once: a cap checked before the upgrade and
//! counted after it lets every concurrent upgrade through. It counts; the caps are
//! the caller's (from [`crate::limits`]).
use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
};

/// The caps to reserve under.
#[derive(Clone, Copy, Debug)]
pub struct Caps {
    pub per_user: usize,
    pub total: usize,
    pub handshakes: usize,
}

/// Why no place was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The person holds their share.
    PersonFull,
    /// The process holds its share.
    ServerFull,
    /// Too many sockets are being set up right now.
    Busy,
}

#[derive(Default)]
struct Counts {
    total: usize,
    handshakes: usize,
    by_user: HashMap<i64, usize>,
}

/// The places taken, shared by every socket of this process.
#[derive(Clone, Default)]
pub struct Slots(Arc<Mutex<Counts>>);

impl Slots {
    fn counts(&self) -> MutexGuard<'_, Counts> {
        // Plain counters: whole after any panic.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A place for one more socket of `user_id` that is about to be set up.
    pub fn reserve(&self, user_id: i64, caps: Caps) -> Result<Slot, Refusal> {
        let mut counts = self.counts();
        if counts.total >= caps.total {
            return Err(Refusal::ServerFull);
        }
        if counts.handshakes >= caps.handshakes {
            return Err(Refusal::Busy);
        }
        let mine = counts.by_user.entry(user_id).or_insert(0);
        if *mine >= caps.per_user {
            return Err(Refusal::PersonFull);
        }
        *mine += 1;
        counts.total += 1;
        counts.handshakes += 1;
        Ok(Slot {
            slots: self.clone(),
            user_id,
            handshaking: true,
        })
    }

    /// Places taken, by sockets open or being set up.
    pub fn taken(&self) -> usize {
        self.counts().total
    }
}

/// One socket's place; it is given back when dropped.
pub struct Slot {
    slots: Slots,
    user_id: i64,
    handshaking: bool,
}

impl Slot {
    /// The socket is set up (upgraded, registered, caught up): it no longer counts
    /// as a handshake in flight.
    pub fn established(&mut self) {
        if std::mem::take(&mut self.handshaking) {
            let mut counts = self.slots.counts();
            counts.handshakes = counts.handshakes.saturating_sub(1);
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.slots.counts();
        if self.handshaking {
            counts.handshakes = counts.handshakes.saturating_sub(1);
        }
        counts.total = counts.total.saturating_sub(1);
        if let Some(mine) = counts.by_user.get_mut(&self.user_id) {
            *mine = mine.saturating_sub(1);
            if *mine == 0 {
                counts.by_user.remove(&self.user_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPS: Caps = Caps {
        per_user: 2,
        total: 3,
        handshakes: 10,
    };

    #[test]
    fn places_are_capped_per_person_and_overall_and_given_back_when_dropped() {
        let slots = Slots::default();
        let a1 = slots.reserve(1, CAPS).expect("first");
        let _a2 = slots.reserve(1, CAPS).expect("second");
        assert_eq!(slots.reserve(1, CAPS).err(), Some(Refusal::PersonFull));
        let _b1 = slots.reserve(2, CAPS).expect("another person");
        assert_eq!(slots.reserve(3, CAPS).err(), Some(Refusal::ServerFull));
        drop(a1);
        assert!(slots.reserve(3, CAPS).is_ok());
    }

    #[test]
    fn handshakes_in_flight_are_capped_until_established() {
        let slots = Slots::default();
        let caps = Caps {
            handshakes: 1,
            ..CAPS
        };
        let mut first = slots.reserve(1, caps).expect("first");
        assert_eq!(slots.reserve(2, caps).err(), Some(Refusal::Busy));
        first.established();
        assert!(slots.reserve(2, caps).is_ok());
    }
}
