//! Stateless nonces: the expiry time and a MAC over it and the client's address, so the server
//! keeps no table, a nonce is useless from another address, and an old one is recognised as
//! stale (438) rather than wrong.

use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    Valid,
    /// Ours, but past its lifetime: answer 438 with a fresh one.
    Stale,
    /// Not one of ours (or for another address).
    Invalid,
}

pub struct Nonces {
    key: ring::hmac::Key,
    ttl_secs: u64,
}

impl Nonces {
    /// `seed`: random bytes chosen at start-up; nonces from an earlier run become invalid.
    pub fn new(seed: &[u8], ttl_secs: u64) -> Self {
        Self { key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, seed), ttl_secs }
    }

    fn mac(&self, expiry: u64, ip: IpAddr) -> String {
        let mut ctx = ring::hmac::Context::with_key(&self.key);
        ctx.update(&expiry.to_be_bytes());
        match ip {
            IpAddr::V4(a) => ctx.update(&a.octets()),
            IpAddr::V6(a) => ctx.update(&a.octets()),
        }
        ctx.sign().as_ref()[..12].iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn issue(&self, ip: IpAddr, now: u64) -> String {
        let expiry = now + self.ttl_secs;
        format!("{expiry:016x}{}", self.mac(expiry, ip))
    }

    pub fn check(&self, nonce: &str, ip: IpAddr, now: u64) -> NonceCheck {
        if nonce.len() != 40 || !nonce.is_ascii() {
            return NonceCheck::Invalid;
        }
        let Ok(expiry) = u64::from_str_radix(&nonce[..16], 16) else { return NonceCheck::Invalid };
        let want = self.mac(expiry, ip);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(want.as_bytes(), &nonce.as_bytes()[16..])) {
            return NonceCheck::Invalid;
        }
        if expiry < now {
            NonceCheck::Stale
        } else {
            NonceCheck::Valid
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_expire_and_are_bound_to_the_address() {
        let n = Nonces::new(b"seed", 600);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let nonce = n.issue(a, 1000);
        assert_eq!(n.check(&nonce, a, 1500), NonceCheck::Valid);
        assert_eq!(n.check(&nonce, a, 1601), NonceCheck::Stale);
        assert_eq!(n.check(&nonce, b, 1500), NonceCheck::Invalid);
        assert_eq!(n.check("x", a, 1500), NonceCheck::Invalid);
        assert_eq!(Nonces::new(b"other", 600).check(&nonce, a, 1500), NonceCheck::Invalid);
        let mut forged = nonce.clone();
        forged.replace_range(0..16, &format!("{:016x}", 999_999u64));
        assert_eq!(n.check(&forged, a, 1500), NonceCheck::Invalid, "extending the expiry breaks the MAC");
    }
}
