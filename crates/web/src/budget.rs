//! Budgets of the REST endpoints that create or search (contact requests, directory search,
//! invites, ICE credentials, new conversations): a token bucket per session and one per
//! client address, so neither one browser nor one address can hammer them. Handlers take a
//! [`Budget`] argument; when either bucket is empty the request gets `429 rate_limited` with
//! `retry_after_secs`, before any work is done.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use crate::error::HttpError;
use crate::state::AppState;

/// Rates of the budgets (requests per second sustained, and burst).
#[derive(Debug, Clone, Copy)]
pub struct BudgetRates {
    pub session_per_sec: f64,
    pub session_burst: f64,
    pub address_per_sec: f64,
    pub address_burst: f64,
}

impl Default for BudgetRates {
    fn default() -> Self {
        // A person clicking and typing stays far below; a script does not.
        // Many people may share an address (a NAT, or a reverse proxy in front of us: then
        // every request comes from the proxy's address), hence the larger address budget.
        Self { session_per_sec: 2.0, session_burst: 30.0, address_per_sec: 20.0, address_burst: 300.0 }
    }
}

#[derive(Hash, PartialEq, Eq, Clone, Copy)]
enum Key {
    /// SHA-256 of the session cookie's token (never the token itself).
    Session([u8; 32]),
    Address(IpAddr),
}

/// Most buckets kept; beyond, full (idle) ones are forgotten first.
const MAX_BUCKETS: usize = 100_000;

/// Token buckets by key (a session, an address, a user), created full on first use and
/// forgotten once idle long enough to have refilled when there are too many.
pub(crate) struct Buckets<K> {
    buckets: Mutex<HashMap<K, hub::Bucket>>,
}

impl<K> Default for Buckets<K> {
    fn default() -> Self {
        Self { buckets: Mutex::new(HashMap::new()) }
    }
}

impl<K: std::hash::Hash + Eq> Buckets<K> {
    /// Takes one token from `key`'s bucket; `Err(wait)` when it is empty.
    pub(crate) fn take(&self, key: K, rate: f64, burst: f64, now: Instant) -> Result<(), Duration> {
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_BUCKETS {
            let idle = Duration::from_secs_f64((burst / rate.max(0.01)).max(1.0));
            map.retain(|_, b| now.saturating_duration_since(b.last_used()) < idle);
        }
        let bucket = map.entry(key).or_insert_with(|| hub::Bucket::new(burst, now));
        if bucket.take(rate, burst, now) {
            Ok(())
        } else {
            Err(Duration::from_secs_f64(1.0 / rate.max(0.01)))
        }
    }
}

#[derive(Default)]
pub struct Budgets {
    buckets: Buckets<Key>,
}

impl Budgets {
    /// Takes one request from both budgets; `Err(wait)` if either is empty.
    fn take(&self, rates: BudgetRates, session: Option<[u8; 32]>, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        self.buckets.take(Key::Address(addr), rates.address_per_sec, rates.address_burst, now)?;
        if let Some(s) = session {
            self.buckets.take(Key::Session(s), rates.session_per_sec, rates.session_burst, now)?;
        }
        Ok(())
    }
}

/// Proof that the request fit its budgets.
pub struct Budget;

impl FromRequestParts<AppState> for Budget {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let addr = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |ConnectInfo(a)| a.ip());
        let session = crate::cookie::session_token(&parts.headers).map(|t| {
            let h = auth::token::hash_token(&t);
            let mut key = [0u8; 32];
            let n = h.len().min(32);
            key[..n].copy_from_slice(&h[..n]);
            key
        });
        state.budgets.take(state.config.budgets, session, addr, Instant::now()).map_err(HttpError::rate_limited)?;
        Ok(Budget)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_session_and_per_address() {
        let b = Budgets::default();
        let rates = BudgetRates { session_per_sec: 1.0, session_burst: 2.0, address_per_sec: 1.0, address_burst: 3.0 };
        let t = Instant::now();
        let a: IpAddr = [10, 0, 0, 1].into();
        assert!(b.take(rates, Some([1; 32]), a, t).is_ok());
        assert!(b.take(rates, Some([1; 32]), a, t).is_ok());
        assert!(b.take(rates, Some([1; 32]), a, t).is_err(), "session budget spent");
        assert!(b.take(rates, Some([2; 32]), a, t).is_err(), "the address's too (3 taken)");
        let other: IpAddr = [10, 0, 0, 2].into();
        assert!(b.take(rates, Some([2; 32]), other, t).is_ok(), "another session from another address");
        assert!(b.take(rates, Some([1; 32]), a, t + Duration::from_secs(2)).is_ok(), "refilled");
    }
}
