//! Login throttling with exponential backoff, per account and per client address.
//!
//! Sans-IO: the caller passes the current time, so the policy is tested without sleeping.
//! A key (an account name or an address) gets `free_attempts` failures; after that each
//! further attempt must wait `2^(failures - free_attempts)` seconds (capped), counted from the
//! last failure. Failures are forgotten after `forget_after` without one. Memory is bounded:
//! when the table is full, forgotten entries are dropped first, then the oldest.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub free_attempts: u32,
    pub max_backoff: Duration,
    pub forget_after: Duration,
    pub max_entries: usize,
}

impl Policy {
    /// For account names: 5 free tries, then 1 s, 2 s, 4 s ... up to 15 minutes.
    pub const ACCOUNT: Policy = Policy {
        free_attempts: 5,
        max_backoff: Duration::from_secs(15 * 60),
        forget_after: Duration::from_secs(60 * 60),
        max_entries: 100_000,
    };
    /// For client addresses, which may be shared (NAT): more free tries, same backoff.
    pub const ADDRESS: Policy = Policy {
        free_attempts: 30,
        max_backoff: Duration::from_secs(15 * 60),
        forget_after: Duration::from_secs(60 * 60),
        max_entries: 100_000,
    };
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last_failure: Instant,
}

/// Failure counts for one kind of key.
#[derive(Debug)]
pub struct Backoff<K> {
    policy: Policy,
    entries: HashMap<K, Entry>,
}

impl<K: Eq + Hash + Clone> Backoff<K> {
    pub fn new(policy: Policy) -> Self {
        Self { policy, entries: HashMap::new() }
    }

    fn wait_for(&self, e: &Entry) -> Duration {
        let over = e.failures.saturating_sub(self.policy.free_attempts);
        if over == 0 {
            return Duration::ZERO;
        }
        let secs = 1u64.checked_shl(over - 1).unwrap_or(u64::MAX);
        Duration::from_secs(secs).min(self.policy.max_backoff)
    }

    /// `Err(wait)` if the key must wait before its next attempt.
    pub fn check(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let Some(e) = self.entries.get(key) else { return Ok(()) };
        if now.saturating_duration_since(e.last_failure) >= self.policy.forget_after {
            return Ok(());
        }
        let ready_at = e.last_failure + self.wait_for(e);
        match ready_at.checked_duration_since(now) {
            Some(wait) if !wait.is_zero() => Err(wait),
            _ => Ok(()),
        }
    }

    pub fn record_failure(&mut self, key: &K, now: Instant) {
        if !self.entries.contains_key(key) && self.entries.len() >= self.policy.max_entries {
            self.evict(now);
        }
        let forget = self.policy.forget_after;
        let e = self.entries.entry(key.clone()).or_insert(Entry { failures: 0, last_failure: now });
        if now.saturating_duration_since(e.last_failure) >= forget {
            e.failures = 0;
        }
        e.failures = e.failures.saturating_add(1);
        e.last_failure = now;
    }

    pub fn record_success(&mut self, key: &K) {
        self.entries.remove(key);
    }

    /// Takes back one failure recorded for the key (an attempt charged in advance that
    /// turned out to be good), without forgetting the others.
    pub fn forgive_one(&mut self, key: &K) {
        if let Some(e) = self.entries.get_mut(key) {
            e.failures = e.failures.saturating_sub(1);
            if e.failures == 0 {
                self.entries.remove(key);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn evict(&mut self, now: Instant) {
        let forget = self.policy.forget_after;
        self.entries.retain(|_, e| now.saturating_duration_since(e.last_failure) < forget);
        if self.entries.len() >= self.policy.max_entries {
            // Still full of live entries: drop the older half rather than grow without bound.
            let mut times: Vec<Instant> = self.entries.values().map(|e| e.last_failure).collect();
            times.sort_unstable();
            let cutoff = times[times.len() / 2];
            self.entries.retain(|_, e| e.last_failure > cutoff);
        }
    }
}

/// The login limiter: an attempt must pass both the account's and the address's backoff.
#[derive(Debug)]
pub struct LoginLimiter {
    accounts: Backoff<String>,
    addresses: Backoff<std::net::IpAddr>,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        Self::new(Policy::ACCOUNT, Policy::ADDRESS)
    }
}

impl LoginLimiter {
    pub fn new(account: Policy, address: Policy) -> Self {
        Self { accounts: Backoff::new(account), addresses: Backoff::new(address) }
    }

    /// `Err(wait)` when this attempt must be refused without checking the password.
    pub fn check(&self, account: &str, addr: std::net::IpAddr, now: Instant) -> Result<(), Duration> {
        let a = self.accounts.check(&account.to_owned(), now);
        let b = self.addresses.check(&addr, now);
        match (a, b) {
            (Ok(()), Ok(())) => Ok(()),
            (Err(x), Err(y)) => Err(x.max(y)),
            (Err(x), _) | (_, Err(x)) => Err(x),
        }
    }

    pub fn record_failure(&mut self, account: &str, addr: std::net::IpAddr, now: Instant) {
        self.accounts.record_failure(&account.to_owned(), now);
        self.addresses.record_failure(&addr, now);
    }

    /// A correct password clears the account's count. The address keeps its count (it decays),
    /// so one valid account cannot be used to reset an address that is guessing others.
    pub fn record_success(&mut self, account: &str) {
        self.accounts.record_success(&account.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    const IP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));

    #[test]
    fn backoff_doubles_after_free_attempts_and_resets_on_success() {
        let mut l = LoginLimiter::default();
        let t0 = Instant::now();
        for _ in 0..5 {
            assert!(l.check("bob", IP, t0).is_ok());
            l.record_failure("bob", IP, t0);
        }
        assert!(l.check("alice", IP, t0).is_ok(), "other accounts are unaffected");
        l.record_failure("bob", IP, t0); // 6th failure: 1 s
        assert_eq!(l.check("bob", IP, t0), Err(Duration::from_secs(1)));
        assert!(l.check("bob", IP, t0 + Duration::from_secs(1)).is_ok());
        l.record_failure("bob", IP, t0 + Duration::from_secs(1)); // 7th: 2 s
        assert_eq!(l.check("bob", IP, t0 + Duration::from_secs(1)), Err(Duration::from_secs(2)));
        l.record_success("bob");
        assert!(l.check("bob", IP, t0 + Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn backoff_is_capped_and_forgotten() {
        let mut b = Backoff::new(Policy::ACCOUNT);
        let t0 = Instant::now();
        for _ in 0..200 {
            b.record_failure(&"x", t0);
        }
        assert_eq!(b.check(&"x", t0), Err(Duration::from_secs(900)));
        assert!(b.check(&"x", t0 + Duration::from_secs(3600)).is_ok());
    }

    #[test]
    fn address_limit_spans_accounts() {
        let mut l = LoginLimiter::default();
        let t0 = Instant::now();
        for i in 0..31 {
            l.record_failure(&format!("user{i}"), IP, t0);
        }
        assert!(l.check("fresh", IP, t0).is_err());
        assert!(l.check("fresh", IpAddr::V4(Ipv4Addr::LOCALHOST), t0).is_ok());
    }

    #[test]
    fn memory_is_bounded() {
        let policy = Policy { max_entries: 100, ..Policy::ACCOUNT };
        let mut b = Backoff::new(policy);
        let t0 = Instant::now();
        for i in 0..10_000u32 {
            b.record_failure(&i, t0 + Duration::from_millis(u64::from(i)));
        }
        assert!(b.len() <= 100);
    }
}
