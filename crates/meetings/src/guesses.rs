//! The limiter in front of everything that takes a code or a link: each client address gets
//! a few free failures, then exponential backoff (as for passwords); and all addresses
//! together get a fixed budget of failures per minute, so an attacker with many addresses
//! still makes at most that many guesses. An attempt is charged when it starts (so many at
//! once cannot all slip past the check) and refunded when it found something: successful
//! attempts cost nothing.

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
        Self {
            policy,
            addresses: Backoff::new(policy.per_address),
            tokens: f64::from(policy.global_per_minute),
            refilled_at: None,
        }
    }

    fn refill(&mut self, now: Instant) {
        let cap = f64::from(self.policy.global_per_minute);
        if let Some(at) = self.refilled_at {
            let secs = now.saturating_duration_since(at).as_secs_f64();
            self.tokens = (self.tokens + secs * cap / 60.0).min(cap);
        }
        self.refilled_at = Some(now);
    }

    /// Starts an attempt: charged as a failure to the address and the global budget until
    /// [`GuessLimiter::found`] refunds it. `Err(wait)`: refused without looking at the code.
    pub fn attempt(&mut self, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        self.addresses.check(&addr, now)?;
        self.refill(now);
        if self.tokens < 1.0 {
            let per_token = 60.0 / f64::from(self.policy.global_per_minute.max(1));
            return Err(Duration::from_secs_f64((1.0 - self.tokens) * per_token).max(Duration::from_secs(1)));
        }
        self.addresses.record_failure(&addr, now);
        self.tokens -= 1.0;
        Ok(())
    }

    /// The attempt found what it looked for: its charge is refunded.
    pub fn found(&mut self, addr: IpAddr) {
        self.addresses.forgive_one(&addr);
        self.tokens = (self.tokens + 1.0).min(f64::from(self.policy.global_per_minute));
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
        for _ in 0..11 {
            assert!(l.attempt(ip(1), t).is_ok());
        }
        assert_eq!(l.attempt(ip(1), t), Err(Duration::from_secs(1)), "ten free failures, then backoff");
        assert!(l.attempt(ip(2), t).is_ok(), "others are not affected by one address");
        // Attempts that found something cost nothing, however many.
        for _ in 0..100 {
            assert!(l.attempt(ip(3), t).is_ok());
            l.found(ip(3));
        }
    }

    #[test]
    fn many_addresses_share_one_global_budget_that_refills() {
        let policy = GuessPolicy { global_per_minute: 60, ..GuessPolicy::default() };
        let mut l = GuessLimiter::new(policy);
        let t = Instant::now();
        let mut allowed = 0;
        for i in 0..200u32 {
            let a = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            if l.attempt(a, t).is_ok() {
                allowed += 1;
            }
        }
        assert_eq!(allowed, 60, "the global budget caps guesses from any number of addresses");
        assert!(l.attempt(ip(9), t).is_err());
        assert!(l.attempt(ip(9), t + Duration::from_secs(1)).is_ok(), "one a second comes back");
        assert!(l.attempt(ip(9), t + Duration::from_secs(600)).is_ok());
    }
}
