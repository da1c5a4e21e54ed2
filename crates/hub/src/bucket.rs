//! Token bucket for message rate limiting (per connection, per user).

use std::time::Instant;

#[derive(Debug, Clone)]
pub struct Bucket {
    tokens: f64,
    last: Instant,
    /// Refusals in a row; reset by any accepted message.
    pub strikes: u32,
}

impl Bucket {
    pub fn new(burst: f64, now: Instant) -> Self {
        Self { tokens: burst, last: now, strikes: 0 }
    }

    /// When a token was last asked for.
    pub fn last_used(&self) -> Instant {
        self.last
    }

    /// Takes one token if available.
    pub fn take(&mut self, rate: f64, burst: f64, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            self.strikes = 0;
            true
        } else {
            self.strikes = self.strikes.saturating_add(1);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_refill() {
        let t = Instant::now();
        let mut b = Bucket::new(3.0, t);
        assert!(b.take(1.0, 3.0, t) && b.take(1.0, 3.0, t) && b.take(1.0, 3.0, t));
        assert!(!b.take(1.0, 3.0, t));
        assert_eq!(b.strikes, 1);
        assert!(b.take(1.0, 3.0, t + Duration::from_secs(1)));
        assert_eq!(b.strikes, 0);
    }
}
