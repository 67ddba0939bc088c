//! Throttles that keep one client from taking the server from the others: failed logins
//! per account (a growing wait), login attempts per source address and requests per
//! token (token buckets), decoded bytes per device per minute, and slots for the expensive
//! work (password hashing, sync rounds) so that a flood queues instead of exhausting memory.
//!
//! State lives in this process's memory, in maps of bounded size: under a flood of new keys
//! the oldest are forgotten first, which only ever makes a throttle more lenient, never lets
//! the map grow without bound.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::settings::{LoginLimits, Rate};

/// The most keys a throttle remembers.
const MAX_KEYS: usize = 100_000;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere leaves the counters whole; keep throttling.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Forgets the least recently touched half of `map` when it is full.
fn bound<K: Eq + Hash + Clone, V>(map: &mut HashMap<K, V>, touched: impl Fn(&V) -> Instant) {
    if map.len() < MAX_KEYS {
        return;
    }
    let mut times: Vec<Instant> = map.values().map(&touched).collect();
    times.sort();
    let cutoff = times[times.len() / 2];
    map.retain(|_, v| touched(v) > cutoff);
}

/// Token buckets, one per key.
#[derive(Debug)]
pub struct Buckets<K> {
    rate: Rate,
    buckets: Mutex<HashMap<K, (f64, Instant)>>,
}

impl<K: Eq + Hash + Clone> Buckets<K> {
    /// Buckets of `rate`.
    pub fn new(rate: Rate) -> Self {
        Buckets { rate, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one from `key`'s bucket, or says how long until one is there.
    pub fn take(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let mut buckets = lock(&self.buckets);
        bound(&mut buckets, |(_, at)| *at);
        let burst = f64::from(self.rate.burst.max(1));
        let (tokens, at) = buckets.entry(key.clone()).or_insert((burst, now));
        *tokens = (*tokens + now.saturating_duration_since(*at).as_secs_f64() * self.rate.per_second).min(burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            let per_second = self.rate.per_second.max(1e-6);
            Err(Duration::from_secs_f64(((1.0 - *tokens) / per_second).min(86_400.0)))
        }
    }
}

/// Failed logins per account, with a wait that doubles past the free ones.
#[derive(Debug)]
pub struct FailedLogins {
    limits: LoginLimits,
    accounts: Mutex<HashMap<String, (u32, Instant)>>,
}

impl FailedLogins {
    /// A tracker with `limits`.
    pub fn new(limits: LoginLimits) -> Self {
        FailedLogins { limits, accounts: Mutex::new(HashMap::new()) }
    }

    fn delay(&self, failures: u32) -> Duration {
        let past = failures.saturating_sub(self.limits.free_failures);
        if past == 0 {
            return Duration::ZERO;
        }
        let factor = 2u32.saturating_pow(past.saturating_sub(1).min(20));
        self.limits.first_delay.saturating_mul(factor).min(self.limits.max_delay)
    }

    /// How long `account` must still wait before its next attempt, if at all.
    pub fn wait(&self, account: &str, now: Instant) -> Option<Duration> {
        let accounts = lock(&self.accounts);
        let (failures, last) = accounts.get(account)?;
        let until = *last + self.delay(*failures);
        (until > now).then(|| until - now)
    }

    /// Records a failed attempt.
    pub fn failed(&self, account: &str, now: Instant) {
        let mut accounts = lock(&self.accounts);
        bound(&mut accounts, |(_, at)| *at);
        let entry = accounts.entry(account.to_owned()).or_insert((0, now));
        entry.0 = entry.0.saturating_add(1);
        entry.1 = now;
    }

    /// Forgets an account's failures after a successful login.
    pub fn succeeded(&self, account: &str) {
        lock(&self.accounts).remove(account);
    }
}

/// What each key has spent in the last minute, in one-second buckets.
#[derive(Debug)]
pub struct PerMinute<K> {
    limit: u64,
    spent: Mutex<HashMap<K, Spending>>,
}

/// One key's spending: `(second it began, amount)` buckets, and when the key was last seen
/// (so the least recently seen keys are forgotten first).
type Spending = (Vec<(Instant, u64)>, Instant);

impl<K: Eq + Hash + Clone> PerMinute<K> {
    /// A meter allowing `limit` per key per minute.
    pub fn new(limit: u64) -> Self {
        PerMinute { limit, spent: Mutex::new(HashMap::new()) }
    }

    /// Whether `key` has any room left in the last minute, or how long until it has.
    pub fn room(&self, key: &K, now: Instant) -> Result<(), Duration> {
        self.spend(key, 0, now)
    }

    /// Spends `amount` for `key`, and says how long to wait if that took the last minute past
    /// the limit. The amount is recorded either way: it is work already done (a request
    /// refused here must not be free to send again at once).
    pub fn spend(&self, key: &K, amount: u64, now: Instant) -> Result<(), Duration> {
        let mut spent = lock(&self.spent);
        bound(&mut spent, |(_, at)| *at);
        let (entries, touched) = spent.entry(key.clone()).or_insert_with(|| (Vec::new(), now));
        *touched = now;
        let minute = Duration::from_secs(60);
        entries.retain(|(at, _)| now.saturating_duration_since(*at) < minute);
        let before: u64 = entries.iter().map(|(_, n)| *n).sum();
        // Room comes back as the oldest spending leaves the window.
        let wait = |entries: &[(Instant, u64)]| {
            let oldest = entries.first().map_or(now, |(at, _)| *at);
            minute.saturating_sub(now.saturating_duration_since(oldest)).max(Duration::from_secs(1))
        };
        if amount > 0 {
            match entries.last_mut() {
                Some((at, n)) if now.saturating_duration_since(*at) < Duration::from_secs(1) => *n += amount,
                _ => entries.push((now, amount)),
            }
        }
        // One request larger than the limit still passes on its own.
        if before > 0 && before.saturating_add(amount) > self.limit { Err(wait(entries)) } else { Ok(()) }
    }
}

/// A counting semaphore for blocking work: at most `slots` at once, the rest wait. Each slot
/// owns a `T` that lives as long as the slots do, so work that needs a large buffer (password
/// hashing's 19 MiB) reuses the slot's buffer instead of asking the allocator each time.
#[derive(Debug)]
pub struct Slots<T = ()> {
    state: Mutex<SlotState<T>>,
    freed: Condvar,
}

#[derive(Debug)]
struct SlotState<T> {
    idle: Vec<T>,
    /// Slots whose `T` has not been made yet: made on first use, so an idle server holds none.
    unmade: usize,
}

/// A held slot, given back when dropped.
#[derive(Debug)]
pub struct Slot<'a, T: Default = ()> {
    slots: &'a Slots<T>,
    item: T,
}

impl<T: Default> Slots<T> {
    /// `slots` slots (at least one).
    pub fn new(slots: usize) -> Self {
        Slots { state: Mutex::new(SlotState { idle: Vec::new(), unmade: slots.max(1) }), freed: Condvar::new() }
    }

    /// Waits up to `wait` for a slot.
    pub fn acquire(&self, wait: Duration) -> Option<Slot<'_, T>> {
        let deadline = Instant::now() + wait;
        let mut state = lock(&self.state);
        loop {
            if let Some(item) = state.idle.pop() {
                return Some(Slot { slots: self, item });
            }
            if state.unmade > 0 {
                state.unmade -= 1;
                return Some(Slot { slots: self, item: T::default() });
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            state = self.freed.wait_timeout(state, left).map(|(g, _)| g).unwrap_or_else(|e| e.into_inner().0);
        }
    }
}

impl<T: Default> std::ops::Deref for Slot<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.item
    }
}

impl<T: Default> std::ops::DerefMut for Slot<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.item
    }
}

impl<T: Default> Drop for Slot<'_, T> {
    fn drop(&mut self) {
        let item = std::mem::take(&mut self.item);
        lock(&self.slots.state).idle.push(item);
        self.slots.freed.notify_one();
    }
}

/// Every throttle and slot of one server.
#[derive(Debug)]
pub(crate) struct Guards {
    pub(crate) login_addresses: Buckets<std::net::IpAddr>,
    pub(crate) failed_logins: FailedLogins,
    pub(crate) requests: Buckets<[u8; 32]>,
    pub(crate) hashing: Slots<crate::password::Memory>,
    pub(crate) sync_rounds: Slots,
    pub(crate) device_bytes: PerMinute<terrain_backend::DeviceKey>,
    pub(crate) media_bytes: PerMinute<terrain_backend::DeviceKey>,
    /// Thumbnails decoded at once: a decode may take a quarter of a gigabyte.
    pub(crate) thumbnails: Slots,
    /// The one-time secret of the first administrator's setup link.
    pub(crate) setup: Mutex<Option<String>>,
}

impl Guards {
    pub(crate) fn new(settings: &crate::Settings) -> Guards {
        Guards {
            login_addresses: Buckets::new(settings.logins.per_address),
            failed_logins: FailedLogins::new(settings.logins.clone()),
            requests: Buckets::new(settings.requests),
            hashing: Slots::new(settings.logins.concurrent_hashes),
            sync_rounds: Slots::new(settings.sync.concurrent_rounds),
            device_bytes: PerMinute::new(settings.sync.device_decoded_bytes_per_minute),
            media_bytes: PerMinute::new(settings.media.device_bytes_per_minute),
            thumbnails: Slots::new(2),
            setup: Mutex::new(None),
        }
    }
}

pub(crate) fn lock_setup(m: &Mutex<Option<String>>) -> MutexGuard<'_, Option<String>> {
    lock(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_allow_a_burst_then_the_rate() {
        let b = Buckets::new(Rate { burst: 3, per_second: 1.0 });
        let t = Instant::now();
        for _ in 0..3 {
            assert!(b.take(&"k", t).is_ok());
        }
        let wait = b.take(&"k", t).unwrap_err();
        assert!(wait <= Duration::from_secs(1) && wait > Duration::from_millis(900));
        assert!(b.take(&"k", t + Duration::from_secs(1)).is_ok());
        assert!(b.take(&"other", t).is_ok(), "keys are independent");
    }

    #[test]
    fn failed_logins_wait_longer_each_time_and_reset_on_success() {
        let limits = LoginLimits { free_failures: 2, first_delay: Duration::from_secs(1), ..LoginLimits::default() };
        let f = FailedLogins::new(limits);
        let t = Instant::now();
        f.failed("awa", t);
        f.failed("awa", t);
        assert_eq!(f.wait("awa", t), None, "two free failures");
        f.failed("awa", t);
        assert_eq!(f.wait("awa", t), Some(Duration::from_secs(1)));
        f.failed("awa", t);
        assert_eq!(f.wait("awa", t), Some(Duration::from_secs(2)));
        assert_eq!(f.wait("awa", t + Duration::from_secs(3)), None);
        f.succeeded("awa");
        assert_eq!(f.wait("awa", t), None);
    }

    #[test]
    fn a_minute_meter_refuses_past_its_limit_and_recovers() {
        let m = PerMinute::new(100);
        let t = Instant::now();
        assert!(m.spend(&1, 60, t).is_ok());
        assert!(m.room(&1, t).is_ok());
        assert!(m.spend(&1, 60, t + Duration::from_secs(10)).is_err());
        // The refused spending was recorded: a minute after the first, the second still counts.
        assert!(m.spend(&1, 60, t + Duration::from_secs(61)).is_err());
        assert!(m.spend(&1, 60, t + Duration::from_secs(200)).is_ok());
        assert!(m.spend(&2, 1_000, t).is_ok(), "one request larger than the limit still passes alone");
    }

    #[test]
    fn slots_queue_then_time_out() {
        let s: Slots = Slots::new(1);
        let held = s.acquire(Duration::ZERO).unwrap();
        assert!(s.acquire(Duration::from_millis(20)).is_none());
        drop(held);
        assert!(s.acquire(Duration::ZERO).is_some());
    }

    #[test]
    fn a_slot_keeps_its_item_for_the_next_holder() {
        let s: Slots<Vec<u8>> = Slots::new(1);
        s.acquire(Duration::ZERO).unwrap().push(7);
        assert_eq!(*s.acquire(Duration::ZERO).unwrap(), vec![7]);
    }

    #[test]
    fn throttles_forget_old_keys_rather_than_grow() {
        let b = Buckets::new(Rate { burst: 1, per_second: 1.0 });
        let t = Instant::now();
        for i in 0..MAX_KEYS + 10 {
            let _ = b.take(&i, t + Duration::from_nanos(i as u64));
        }
        assert!(lock(&b.buckets).len() <= MAX_KEYS);
    }
}
