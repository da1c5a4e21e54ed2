//! The limiter in front of everything that takes a code or a link: each client address gets
//! a few free failures, then exponential backoff (as for passwords); and all addresses
//! together get a fixed budget of failures per minute, so an attacker with many addresses
//! still makes at most that many guesses. Successful attempts cost nothing.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use auth::ratelimit::{Backoff, Policy};

#[derive(Debug, Clone, Copy)]
pub struct GuessPolicy {
    pub per_address: Policy,
    /// Failures per minute from all addresses together.
    pub global_per_minute: u32,
}

impl Default for GuessPolicy {
    /// 10 free failures per address, then 1 s, 2 s, ... up to 15 minutes; 120 failures a
    /// minute in all (172,800 a day).
    fn default() -> Self {
        Self {
            per_address: Policy {
                free_attempts: 10,
                max_backoff: Duration::from_secs(15 * 60),
                forget_after: Duration::from_secs(60 * 60),
                max_entries: 100_000,
            },
            global_per_minute: 120,
        }
    }
}

/// See the module documentation.
#[derive(Debug)]
pub struct GuessLimiter {
    policy: GuessPolicy,
    addresses: Backoff<IpAddr>,
    /// Global budget as a token bucket: `tokens` failures may happen now, refilled at
    /// `global_per_minute` a minute up to that many.
    tokens: f64,
    refilled_at: Option<Instant>,
}

impl GuessLimiter {
    pub fn new(policy: GuessPolicy) -> Self {
        Self { policy, addresses: Backoff::new(policy.per_address), tokens: f64::from(policy.global_per_minute), refilled_at: None }
    }

    fn refill(&mut self, now: Instant) {
        let cap = f64::from(self.policy.global_per_minute);
        if let Some(at) = self.refilled_at {
            let secs = now.saturating_duration_since(at).as_secs_f64();
            self.tokens = (self.tokens + secs * cap / 60.0).min(cap);
        }
        self.refilled_at = Some(now);
    }

    /// `Err(wait)` when this attempt must be refused without looking at the code.
    pub fn check(&mut self, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        self.addresses.check(&addr, now)?;
        self.refill(now);
        if self.tokens < 1.0 {
            let per_token = 60.0 / f64::from(self.policy.global_per_minute.max(1));
            return Err(Duration::from_secs_f64((1.0 - self.tokens) * per_token).max(Duration::from_secs(1)));
        }
        Ok(())
    }

    /// The attempt found nothing: it counts against the address and the global budget.
    pub fn record_failure(&mut self, addr: IpAddr, now: Instant) {
        self.addresses.record_failure(&addr, now);
        self.refill(now);
        self.tokens = (self.tokens - 1.0).max(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(n: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(198, 51, 100, n))
    }

    #[test]
    fn one_address_backs_off_after_its_free_failures() {
        let mut l = GuessLimiter::new(GuessPolicy::default());
        let t = Instant::now();
        for _ in 0..10 {
            assert!(l.check(ip(1), t).is_ok());
            l.record_failure(ip(1), t);
        }
        assert!(l.check(ip(1), t).is_ok(), "ten free failures");
        l.record_failure(ip(1), t);
        assert_eq!(l.check(ip(1), t), Err(Duration::from_secs(1)));
        assert!(l.check(ip(2), t).is_ok(), "others are not affected by one address");
    }

    #[test]
    fn many_addresses_share_one_global_budget_that_refills() {
        let policy = GuessPolicy { global_per_minute: 60, ..GuessPolicy::default() };
        let mut l = GuessLimiter::new(policy);
        let t = Instant::now();
        let mut allowed = 0;
        for i in 0..200u32 {
            let a = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            if l.check(a, t).is_ok() {
                allowed += 1;
                l.record_failure(a, t);
            }
        }
        assert_eq!(allowed, 60, "the global budget caps guesses from any number of addresses");
        assert!(l.check(ip(9), t).is_err());
        assert!(l.check(ip(9), t + Duration::from_secs(1)).is_ok(), "one a second comes back");
        assert!(l.check(ip(9), t + Duration::from_secs(600)).is_ok());
    }
}
