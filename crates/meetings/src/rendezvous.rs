//! Meet by code: the first person to type a code waits (for `window`); the next one to type
//! the same code within that time is paired with them, and the code is used up. The caller
//! burns used codes in the store (for a day) and refuses them before coming here.
//!
//! Only key hashes are kept ([`crate::meet_key`]); memory is bounded by `max_waiting`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Someone waiting at a code: the meeting made for them and their guest account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waiting {
    pub meeting: i64,
    pub guest: i64,
    pub until: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// Nobody waits at this code: the caller makes a meeting and calls [`Rendezvous::wait`].
    First,
    /// Someone was waiting: join their meeting. The code is used up now.
    Matched(Waiting),
    /// Too many people wait at other codes; try again later.
    Full,
}

#[derive(Debug)]
pub struct Rendezvous {
    window: Duration,
    max_waiting: usize,
    waiting: HashMap<[u8; 32], Waiting>,
}

impl Rendezvous {
    pub fn new(window: Duration, max_waiting: usize) -> Self {
        Self { window, max_waiting, waiting: HashMap::new() }
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    /// Someone typed the code with this hash.
    pub fn arrive(&mut self, key: &[u8; 32], now: Instant) -> Arrival {
        match self.waiting.remove(key) {
            Some(w) if w.until > now => Arrival::Matched(w),
            _ => {
                self.expire(now);
                if self.waiting.len() >= self.max_waiting {
                    Arrival::Full
                } else {
                    Arrival::First
                }
            }
        }
    }

    /// The first person now waits at the code (after [`Arrival::First`]).
    pub fn wait(&mut self, key: [u8; 32], meeting: i64, guest: i64, now: Instant) -> Waiting {
        let w = Waiting { meeting, guest, until: now + self.window };
        self.waiting.insert(key, w);
        w
    }

    /// The waiting person left (or was told nobody came): the code is free again.
    pub fn leave(&mut self, meeting: i64) {
        self.waiting.retain(|_, w| w.meeting != meeting);
    }

    /// Takes out everyone whose window ended by `now`.
    pub fn expire(&mut self, now: Instant) -> Vec<Waiting> {
        let mut gone = Vec::new();
        self.waiting.retain(|_, w| {
            let keep = w.until > now;
            if !keep {
                gone.push(*w);
            }
            keep
        });
        gone
    }

    /// When the next window ends.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.waiting.values().map(|w| w.until).min()
    }

    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Duration = Duration::from_secs(100);

    #[test]
    fn the_second_person_within_the_window_meets_the_first_and_uses_up_the_code() {
        let mut r = Rendezvous::new(W, 10);
        let t = Instant::now();
        assert_eq!(r.arrive(&[1; 32], t), Arrival::First);
        let w = r.wait([1; 32], 7, 70, t);
        assert_eq!(r.arrive(&[2; 32], t), Arrival::First, "another code waits on its own");
        assert_eq!(r.arrive(&[1; 32], t + Duration::from_secs(99)), Arrival::Matched(w));
        assert_eq!(r.arrive(&[1; 32], t + Duration::from_secs(99)), Arrival::First, "the pair is gone");
    }

    #[test]
    fn a_window_ends_and_memory_is_bounded() {
        let mut r = Rendezvous::new(W, 2);
        let t = Instant::now();
        r.wait([1; 32], 1, 10, t);
        r.wait([2; 32], 2, 20, t + Duration::from_secs(50));
        assert_eq!(r.arrive(&[3; 32], t), Arrival::Full);
        assert_eq!(r.poll_timeout(), Some(t + W));
        assert_eq!(r.arrive(&[1; 32], t + W), Arrival::First, "too late: a new wait");
        let gone = r.expire(t + W);
        assert!(gone.is_empty(), "the late arrival already took it out");
        assert_eq!(r.expire(t + W + Duration::from_secs(50)).len(), 1);
        assert!(r.is_empty());
        r.wait([4; 32], 4, 40, t);
        r.leave(4);
        assert!(r.is_empty());
    }
}
