//! Abuse limits: how fast one person may post, one address may sign up, and one
//! account or address may guess passwords. Each check answers `Ok` or how long to
//! wait, and the caller turns that into a 429 with words a person can read.
//!
//! The limiters live in memory, per process: with several processes behind a load
//! balancer each allows its share again, which bounds abuse by the number of
//! processes and keeps the hot path free of database writes.
use std::{
    collections::HashMap,
    net::IpAddr,
    num::NonZeroU32,
    sync::Mutex,
    time::{Duration, Instant},
};

use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};

/// The numbers, from flags.
#[derive(Clone, Debug)]
pub struct LimitSettings {
    /// Messages one person may send at once before the rate applies.
    pub message_burst: u32,
    /// Messages per second one person may send after a burst.
    pub messages_per_second: u32,
    /// Sign-ups one address may make at once, refilled at one per six minutes.
    pub signup_burst: u32,
    /// Failed log-ins for one account before each further attempt waits longer.
    pub login_failures_per_account: u32,
    /// Failed log-ins from one address before each further attempt waits longer.
    pub login_failures_per_address: u32,
    /// Sockets one person may hold open (tabs, devices).
    pub sockets_per_user: usize,
    /// Sockets this process holds at most; past it new ones get 503.
    pub max_sockets: usize,
    /// Messages with `@here` or `@everyone` one person may send at once, refilled at
    /// one per two minutes: each one reaches a whole room.
    pub group_mention_burst: u32,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            message_burst: 20,
            messages_per_second: 1,
            signup_burst: 10,
            login_failures_per_account: 5,
            login_failures_per_address: 20,
            sockets_per_user: 20,
            max_sockets: 50_000,
            group_mention_burst: 3,
        }
    }
}

/// Wait this long, then try again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl RetryAfter {
    /// "Wait 3 seconds", for people.
    pub fn in_words(self) -> String {
        let secs = self.0.as_secs_f64().ceil().max(1.0) as u64;
        match secs {
            1 => "a second".to_owned(),
            s if s < 120 => format!("{s} seconds"),
            s => format!("{} minutes", s.div_ceil(60)),
        }
    }

    pub fn seconds(self) -> u64 {
        self.0.as_secs_f64().ceil().max(1.0) as u64
    }
}

pub struct Limits {
    pub settings: LimitSettings,
    messages: DefaultKeyedRateLimiter<i64>,
    group_mentions: DefaultKeyedRateLimiter<i64>,
    signups: DefaultKeyedRateLimiter<IpAddr>,
    login_accounts: Failures<String>,
    login_addresses: Failures<IpAddr>,
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
        Self {
            messages: RateLimiter::keyed(messages),
            group_mentions: RateLimiter::keyed(group_mentions),
            signups: RateLimiter::keyed(signups),
            login_accounts: Failures::new(settings.login_failures_per_account),
            login_addresses: Failures::new(settings.login_failures_per_address),
            settings,
        }
    }

    /// May `user_id` post a message now?
    pub fn message(&self, user_id: i64) -> Result<(), RetryAfter> {
        check(&self.messages, &user_id)
    }

    /// May `user_id` mention `@here` or `@everyone` now?
    pub fn group_mention(&self, user_id: i64) -> Result<(), RetryAfter> {
        check(&self.group_mentions, &user_id)
    }

    /// May `address` sign up now?
    pub fn signup(&self, address: IpAddr) -> Result<(), RetryAfter> {
        check(&self.signups, &address)
    }

    /// May someone at `address` try to log in to `account` now?
    pub fn login_attempt(&self, account: &str, address: IpAddr) -> Result<(), RetryAfter> {
        self.login_accounts.check(&account.to_owned())?;
        self.login_addresses.check(&address)
    }

    /// A failed log-in: the next attempts wait longer.
    pub fn login_failed(&self, account: &str, address: IpAddr) {
        self.login_accounts.record(account.to_owned());
        self.login_addresses.record(address);
    }

    /// A successful log-in clears the account's failures (not the address's: one
    /// right password must not reset an address that is guessing many accounts).
    pub fn login_succeeded(&self, account: &str) {
        self.login_accounts.clear(&account.to_owned());
    }

    /// Forgets idle keys, so the maps stay bounded by recent activity.
    pub fn tidy(&self) {
        self.messages.retain_recent();
        self.group_mentions.retain_recent();
        self.signups.retain_recent();
        self.login_accounts.tidy();
        self.login_addresses.tidy();
    }
}

/// Failed attempts per key. After `free` failures, each further attempt must wait
/// 1 s, 2 s, 4 s, … (at most 15 minutes) after the previous failure.
struct Failures<K> {
    free: u32,
    seen: Mutex<HashMap<K, (u32, Instant)>>,
}

const LONGEST_WAIT: Duration = Duration::from_secs(15 * 60);

impl<K: std::hash::Hash + Eq> Failures<K> {
    fn new(free: u32) -> Self {
        Self {
            free,
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

    fn check(&self, key: &K) -> Result<(), RetryAfter> {
        let map = self.map();
        let Some(&(failures, last)) = map.get(key) else {
            return Ok(());
        };
        let wait = self.wait_after(failures);
        let waited = last.elapsed();
        if waited >= wait {
            Ok(())
        } else {
            Err(RetryAfter(wait - waited))
        }
    }

    fn record(&self, key: K) {
        let mut map = self.map();
        let entry = map.entry(key).or_insert((0, Instant::now()));
        entry.0 = entry.0.saturating_add(1);
        entry.1 = Instant::now();
    }

    fn clear(&self, key: &K) {
        self.map().remove(key);
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
        let failures = Failures::new(2);
        failures.record("a");
        failures.record("a");
        assert!(failures.check(&"a").is_err(), "third attempt waits");
        assert_eq!(failures.wait_after(2), Duration::from_secs(1));
        assert_eq!(failures.wait_after(4), Duration::from_secs(4));
        assert_eq!(failures.wait_after(40), LONGEST_WAIT);
        failures.clear(&"a");
        assert!(failures.check(&"a").is_ok());
    }
}
