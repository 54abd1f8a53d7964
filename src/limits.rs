//! Abuse limits: how fast one person may post or create rooms, one address may sign
//! up, one account, browser or address may guess passwords, and how many password
//! hashes may be in flight. Each check answers `Ok` or how long to
//! wait, and the caller turns that into a 429 with words a person can read.
//!
//! The limiters live in memory, per process: with several processes behind a load
//! balancer each allows its share again, which bounds abuse by the number of
//! processes and keeps the hot path free of database writes.
use std::{
    collections::HashMap,
    net::IpAddr,
    num::NonZeroU32,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};

use crate::telemetry::metrics::{Limit, Refusals};

/// The numbers, from flags.
#[derive(Clone, Debug)]
pub struct LimitSettings {
    /// Messages one person may send at once before the rate applies.
    pub message_burst: u32,
    /// Messages per second one person may send after a burst.
    pub messages_per_second: u32,
    /// Sign-ups one address may make at once, refilled at one per six minutes.
    pub signup_burst: u32,
    /// Rooms one person may create at once, refilled at one per minute.
    pub room_burst: u32,
    /// Failed log-ins for one account before each further attempt waits longer.
    pub login_failures_per_account: u32,
    /// Failed log-ins from one address before each further attempt waits longer.
    pub login_failures_per_address: u32,
    /// Unknown API tokens from one address before each further try waits longer.
    pub token_failures_per_address: u32,
    /// Password hashes (log-ins, sign-ups) running or queued at once.
    pub hashes_in_flight: usize,
    /// Password hashes running or queued at once for one address.
    pub hashes_in_flight_per_address: usize,
    /// Sockets one person may hold open (tabs, devices).
    pub sockets_per_user: usize,
    /// Sockets this process holds at most; past it new ones get 503.
    pub max_sockets: usize,
    /// Messages with `@here` or `@everyone` one person may send at once, refilled at
    /// one per two minutes: each one reaches a whole room.
    pub group_mention_burst: u32,
    /// Sockets being set up at once (upgraded, not yet caught up); past it, 503.
    pub handshakes_in_flight: usize,
    /// New visitors' conversations (the support widget) one address may start a
    /// minute.
    pub guests_per_minute: u32,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            message_burst: 20,
            messages_per_second: 1,
            signup_burst: 10,
            room_burst: 10,
            login_failures_per_account: 5,
            login_failures_per_address: 20,
            token_failures_per_address: 20,
            hashes_in_flight: 32,
            hashes_in_flight_per_address: 2,
            sockets_per_user: 20,
            max_sockets: 50_000,
            group_mention_burst: 3,
            handshakes_in_flight: 256,
            guests_per_minute: 10,
        }
    }
}

/// Wait this long, then try again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl RetryAfter {
    /// "Wait 3 seconds", for people.
    pub fn in_words(self) -> String {
        let secs = self.seconds();
        match secs {
            1 => "a second".to_owned(),
            s if s < 120 => format!("{s} seconds"),
            s => format!("{} minutes", s.div_ceil(60)),
        }
    }

    /// Whole seconds, at least one: the `Retry-After` header's value.
    pub fn seconds(self) -> u64 {
        self.0.as_secs_f64().ceil().max(1.0) as u64
    }
}

/// Keys each log-in map holds at most. Names are checked before they become keys
/// (at most 32 bytes), so this bounds the maps' bytes too.
const LOGIN_KEYS: usize = 100_000;

pub struct Limits {
    pub settings: LimitSettings,
    messages: DefaultKeyedRateLimiter<i64>,
    group_mentions: DefaultKeyedRateLimiter<i64>,
    signups: DefaultKeyedRateLimiter<IpAddr>,
    rooms: DefaultKeyedRateLimiter<i64>,
    /// New visitors' conversations from one address (the support widget).
    guests: DefaultKeyedRateLimiter<IpAddr>,
    /// Log-ins from browsers the account has not logged in from before.
    login_accounts: Failures<String>,
    /// Log-ins from a browser that has (by its device cookie's nonce).
    login_devices: Failures<String>,
    login_addresses: Failures<IpAddr>,
    /// Unknown API tokens presented from an address.
    token_guesses: Failures<IpAddr>,
    hashing: Arc<Hashing>,
    /// Refusals by limit, for the metrics.
    refusals: Refusals,
}

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN)
}

fn check<K: std::hash::Hash + Eq + Clone>(
    limiter: &DefaultKeyedRateLimiter<K>,
    key: &K,
) -> Result<(), RetryAfter> {
    limiter
        .check_key(key)
        .map_err(|not_until| RetryAfter(not_until.wait_time_from(DefaultClock::default().now())))
}

/// Whose allowance a log-in attempt was taken from.
#[derive(Debug)]
enum Allowance {
    /// The account's, shared by every browser it has not logged in from.
    Account(String),
    /// One browser's own (a device cookie's nonce).
    Device(String),
    /// A name that cannot be an account: the address's only.
    Nobody,
}

/// A log-in attempt, counted as failed from the moment it is allowed: attempts in
/// flight take their share of the allowance, so parallel guesses cannot all pass the
/// check before any of them is recorded. [`Limits::login_succeeded`] gives it back.
#[derive(Debug)]
#[must_use = "an attempt counts as failed unless it is handed back as a success"]
pub struct LoginAttempt {
    allowance: Allowance,
    address: Option<IpAddr>,
}

impl Limits {
    pub fn new(settings: LimitSettings) -> Self {
        let messages = Quota::per_second(nonzero(settings.messages_per_second))
            .allow_burst(nonzero(settings.message_burst));
        let signups = Quota::with_period(Duration::from_secs(360))
            .unwrap_or_else(|| Quota::per_minute(NonZeroU32::MIN))
            .allow_burst(nonzero(settings.signup_burst));
        let group_mentions = Quota::with_period(Duration::from_secs(120))
            .unwrap_or_else(|| Quota::per_minute(NonZeroU32::MIN))
            .allow_burst(nonzero(settings.group_mention_burst));
        let rooms = Quota::per_minute(NonZeroU32::MIN).allow_burst(nonzero(settings.room_burst));
        Self {
            messages: RateLimiter::keyed(messages),
            group_mentions: RateLimiter::keyed(group_mentions),
            signups: RateLimiter::keyed(signups),
            rooms: RateLimiter::keyed(rooms),
            guests: RateLimiter::keyed(
                Quota::per_minute(nonzero(settings.guests_per_minute))
                    .allow_burst(nonzero(settings.guests_per_minute)),
            ),
            login_accounts: Failures::new(settings.login_failures_per_account, LOGIN_KEYS),
            login_devices: Failures::new(settings.login_failures_per_account, LOGIN_KEYS),
            login_addresses: Failures::new(settings.login_failures_per_address, LOGIN_KEYS),
            token_guesses: Failures::new(settings.token_failures_per_address, LOGIN_KEYS),
            hashing: Arc::new(Hashing {
                overall: settings.hashes_in_flight.max(1),
                per_address: settings.hashes_in_flight_per_address.max(1),
                state: Mutex::default(),
            }),
            settings,
            refusals: Refusals::default(),
        }
    }

    /// These limits, with their refusals counted in `refusals`.
    pub fn counted(mut self, refusals: Refusals) -> Self {
        self.refusals = refusals;
        self
    }

    /// Counts a refusal of `limit` (the socket caps are checked elsewhere).
    pub fn refused(&self, limit: Limit) {
        self.refusals.refused(limit);
    }

    fn counting<T>(&self, limit: Limit, outcome: Result<T, RetryAfter>) -> Result<T, RetryAfter> {
        if outcome.is_err() {
            self.refused(limit);
        }
        outcome
    }

    /// May `user_id` post a message now?
    pub fn message(&self, user_id: i64) -> Result<(), RetryAfter> {
        self.counting(Limit::Messages, check(&self.messages, &user_id))
    }

    /// May `user_id` mention `@here` or `@everyone` now?
    pub fn group_mention(&self, user_id: i64) -> Result<(), RetryAfter> {
        self.counting(Limit::GroupMentions, check(&self.group_mentions, &user_id))
    }

    /// May `address` sign up now?
    pub fn signup(&self, address: IpAddr) -> Result<(), RetryAfter> {
        self.counting(Limit::Signups, check(&self.signups, &address))
    }

    /// May `address` start another visitor's conversation now?
    pub fn guest(&self, address: IpAddr) -> Result<(), RetryAfter> {
        self.counting(Limit::Guests, check(&self.guests, &address))
    }

    /// May `user_id` create a room now?
    pub fn room(&self, user_id: i64) -> Result<(), RetryAfter> {
        self.counting(Limit::Rooms, check(&self.rooms, &user_id))
    }

    /// Takes an attempt to log in to `account` (a valid name's key) from `address`,
    /// or says how long to wait. With `device`, the nonce of a device cookie this
    /// account gave the browser at an earlier log-in, the attempt is that browser's
    /// alone: guesses from elsewhere, which lock the account's shared allowance, do not
    /// lock it out, and its own wrong guesses lock only itself (OWASP's device cookies).
    pub fn login_attempt(
        &self,
        account: &str,
        device: Option<&str>,
        address: IpAddr,
    ) -> Result<LoginAttempt, RetryAfter> {
        if let Some(device) = device {
            self.counting(
                Limit::LoginDevice,
                self.login_devices.reserve(device.to_owned()),
            )?;
            return Ok(LoginAttempt {
                allowance: Allowance::Device(device.to_owned()),
                address: None,
            });
        }
        self.counting(
            Limit::LoginAccount,
            self.login_accounts.reserve(account.to_owned()),
        )?;
        if let Err(wait) = self.login_addresses.reserve(address) {
            self.refused(Limit::LoginAddress);
            self.login_accounts.release(&account.to_owned());
            return Err(wait);
        }
        Ok(LoginAttempt {
            allowance: Allowance::Account(account.to_owned()),
            address: Some(address),
        })
    }

    /// Takes an attempt with a name that cannot be anyone's, from `address`.
    pub fn login_attempt_without_account(
        &self,
        address: IpAddr,
    ) -> Result<LoginAttempt, RetryAfter> {
        self.counting(Limit::LoginAddress, self.login_addresses.reserve(address))?;
        Ok(LoginAttempt {
            allowance: Allowance::Nobody,
            address: Some(address),
        })
    }

    /// The attempt succeeded: it clears its allowance's failures and is not counted
    /// against its address (whose other failures stay: one right password must not
    /// reset an address that is guessing many accounts).
    pub fn login_succeeded(&self, attempt: LoginAttempt) {
        match &attempt.allowance {
            Allowance::Account(account) => self.login_accounts.clear(account),
            Allowance::Device(device) => self.login_devices.clear(device),
            Allowance::Nobody => {}
        }
        if let Some(address) = attempt.address {
            self.login_addresses.release(&address);
        }
    }

    /// The attempt failed (a wrong password): it stays counted, and the wait before
    /// the next one runs from now, when the answer is known, rather than from when
    /// the attempt began (a hash can take a while on a busy server).
    pub fn login_failed(&self, attempt: LoginAttempt) {
        match &attempt.allowance {
            Allowance::Account(account) => self.login_accounts.touch(account),
            Allowance::Device(device) => self.login_devices.touch(device),
            Allowance::Nobody => {}
        }
        if let Some(address) = attempt.address {
            self.login_addresses.touch(&address);
        }
    }

    /// May `address` be told of another unknown API token now? After
    /// [`LimitSettings::token_failures_per_address`] unknown ones, each further one
    /// waits longer, as a log-in does (a good token is never held up).
    pub fn token_attempt(&self, address: IpAddr) -> Result<(), RetryAfter> {
        self.counting(Limit::TokenGuesses, self.token_guesses.waiting(&address))
    }

    /// `address` presented a token that is unknown, revoked or malformed.
    pub fn token_failed(&self, address: IpAddr) {
        self.token_guesses.note(address);
    }

    /// A turn at password hashing for `address`, or how long to wait for one. The
    /// turn lasts until the hash is done, including while it waits in the hashing
    /// queue, so the queue holds at most [`LimitSettings::hashes_in_flight`] hashes,
    /// and one address at most its own share of them.
    pub fn hashing_turn(&self, address: IpAddr) -> Result<HashingTurn, RetryAfter> {
        self.counting(Limit::Hashing, self.hashing.enter(address))
    }

    /// How many account names the log-in limits hold (for tests and metrics).
    pub fn login_accounts_tracked(&self) -> usize {
        self.login_accounts.map().len()
    }

    /// Forgets idle keys, so the maps stay bounded by recent activity.
    pub fn tidy(&self) {
        self.messages.retain_recent();
        self.group_mentions.retain_recent();
        self.signups.retain_recent();
        self.rooms.retain_recent();
        self.login_accounts.tidy();
        self.login_devices.tidy();
        self.login_addresses.tidy();
        self.token_guesses.tidy();
    }
}

/// Password hashes in flight, overall and per address.
struct Hashing {
    overall: usize,
    per_address: usize,
    state: Mutex<HashingState>,
}

#[derive(Default)]
struct HashingState {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// Those who are not let in now are told to come back in a second: a hash takes tens
/// of milliseconds, so a turn frees up long before that.
const BRIEF_WAIT: RetryAfter = RetryAfter(Duration::from_secs(1));

impl Hashing {
    fn state(&self) -> std::sync::MutexGuard<'_, HashingState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn enter(self: &Arc<Self>, address: IpAddr) -> Result<HashingTurn, RetryAfter> {
        let mut state = self.state();
        if state.total >= self.overall {
            return Err(BRIEF_WAIT);
        }
        let mine = state.by_address.entry(address).or_insert(0);
        if *mine >= self.per_address {
            return Err(BRIEF_WAIT);
        }
        *mine += 1;
        state.total += 1;
        Ok(HashingTurn {
            hashing: self.clone(),
            address,
        })
    }
}

/// A turn at password hashing; it ends when dropped (move it into the hashing job).
pub struct HashingTurn {
    hashing: Arc<Hashing>,
    address: IpAddr,
}

impl Drop for HashingTurn {
    fn drop(&mut self) {
        let mut state = self.hashing.state();
        state.total = state.total.saturating_sub(1);
        if let Some(mine) = state.by_address.get_mut(&self.address) {
            *mine = mine.saturating_sub(1);
            if *mine == 0 {
                state.by_address.remove(&self.address);
            }
        }
    }
}

/// Failed attempts per key. After `free` failures, each further attempt must wait
/// 1 s, 2 s, 4 s, … (at most 15 minutes) after the previous one. At most `capacity`
/// keys are kept: when full, keys whose wait is over go first, and while none has, new
/// keys wait (the map must not grow with an attacker's supply of names).
struct Failures<K> {
    free: u32,
    capacity: usize,
    seen: Mutex<HashMap<K, (u32, Instant)>>,
}

const LONGEST_WAIT: Duration = Duration::from_secs(15 * 60);

impl<K: std::hash::Hash + Eq> Failures<K> {
    fn new(free: u32, capacity: usize) -> Self {
        Self {
            free,
            capacity,
            seen: Mutex::new(HashMap::new()),
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<K, (u32, Instant)>> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wait_after(&self, failures: u32) -> Duration {
        if failures < self.free {
            return Duration::ZERO;
        }
        let doublings = (failures - self.free).min(20);
        Duration::from_secs(1u64 << doublings).min(LONGEST_WAIT)
    }

    /// Counts an attempt as failed now, if one is allowed now; checked and counted
    /// under one lock, so two attempts cannot both take the last one.
    fn reserve(&self, key: K) -> Result<(), RetryAfter> {
        let mut map = self.map();
        let now = Instant::now();
        if let Some(wait) = self.wait_of(&map, &key, now) {
            return Err(RetryAfter(wait));
        }
        self.note_in(&mut map, key, now)
    }

    /// How long `key` must still wait, if it must.
    fn wait_of(&self, map: &HashMap<K, (u32, Instant)>, key: &K, now: Instant) -> Option<Duration> {
        let &(failures, last) = map.get(key)?;
        let wait = self.wait_after(failures);
        let waited = now.saturating_duration_since(last);
        (waited < wait).then(|| wait - waited)
    }

    /// Whether `key` may try now (without counting a try).
    fn waiting(&self, key: &K) -> Result<(), RetryAfter> {
        let map = self.map();
        match self.wait_of(&map, key, Instant::now()) {
            Some(wait) => Err(RetryAfter(wait)),
            None => Ok(()),
        }
    }

    /// Counts a failure of `key` (dropped when the map is full of recent keys).
    fn note(&self, key: K) {
        let mut map = self.map();
        let _ = self.note_in(&mut map, key, Instant::now());
    }

    fn note_in(
        &self,
        map: &mut HashMap<K, (u32, Instant)>,
        key: K,
        now: Instant,
    ) -> Result<(), RetryAfter> {
        if !map.contains_key(&key) && map.len() >= self.capacity {
            map.retain(|_, (_, last)| now.saturating_duration_since(*last) < LONGEST_WAIT);
            if map.len() >= self.capacity {
                return Err(BRIEF_WAIT);
            }
        }
        let entry = map.entry(key).or_insert((0, now));
        entry.0 = entry.0.saturating_add(1);
        entry.1 = now;
        Ok(())
    }

    /// Gives back one attempt taken by [`Failures::reserve`].
    fn release(&self, key: &K) {
        let mut map = self.map();
        if let Some(entry) = map.get_mut(key) {
            entry.0 = entry.0.saturating_sub(1);
            if entry.0 == 0 {
                map.remove(key);
            }
        }
    }

    fn clear(&self, key: &K) {
        self.map().remove(key);
    }

    /// Makes `key`'s last failure now.
    fn touch(&self, key: &K) {
        if let Some(entry) = self.map().get_mut(key) {
            entry.1 = Instant::now();
        }
    }

    fn tidy(&self) {
        self.map()
            .retain(|_, (_, last)| last.elapsed() < LONGEST_WAIT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_messages_passes_then_the_rate_applies() {
        let limits = Limits::new(LimitSettings::default());
        for _ in 0..20 {
            assert!(limits.message(1).is_ok());
        }
        let refused = limits.message(1).expect_err("21st message");
        assert!(refused.0 <= Duration::from_secs(1));
        assert!(limits.message(2).is_ok(), "another person is not affected");
    }

    #[test]
    fn failed_log_ins_make_the_next_attempt_wait_longer_and_longer() {
        let failures = Failures::new(2, 10);
        assert!(failures.reserve("a").is_ok());
        assert!(failures.reserve("a").is_ok());
        assert!(failures.reserve("a").is_err(), "third attempt waits");
        assert_eq!(failures.wait_after(2), Duration::from_secs(1));
        assert_eq!(failures.wait_after(4), Duration::from_secs(4));
        assert_eq!(failures.wait_after(40), LONGEST_WAIT);
        failures.clear(&"a");
        assert!(failures.reserve("a").is_ok());
    }

    #[test]
    fn the_failure_map_holds_at_most_its_capacity_of_keys() {
        let failures = Failures::new(5, 3);
        for key in ["a", "b", "c"] {
            assert!(failures.reserve(key).is_ok());
        }
        assert!(failures.reserve("d").is_err(), "a fourth key waits");
        assert_eq!(failures.map().len(), 3);
        assert!(failures.reserve("a").is_ok(), "known keys go on");
        failures.release(&"b");
        assert!(failures.reserve("d").is_ok(), "a freed place is taken");
    }

    #[test]
    fn hashing_turns_are_bounded_per_address_and_overall() {
        let limits = Limits::new(LimitSettings {
            hashes_in_flight: 3,
            hashes_in_flight_per_address: 2,
            ..LimitSettings::default()
        });
        let (a, b, c) = (
            IpAddr::from([10, 0, 0, 1]),
            IpAddr::from([10, 0, 0, 2]),
            IpAddr::from([10, 0, 0, 3]),
        );
        let first = limits.hashing_turn(a).expect("a's first");
        let _second = limits.hashing_turn(a).expect("a's second");
        assert!(limits.hashing_turn(a).is_err(), "a's third waits");
        let _b = limits.hashing_turn(b).expect("b's first");
        assert!(limits.hashing_turn(c).is_err(), "all three turns are taken");
        drop(first);
        assert!(limits.hashing_turn(c).is_ok(), "a finished turn frees one");
    }
}
