//! Long-term credentials (RFC 8489 §9.2) and the time-limited "TURN REST API" scheme coturn
//! implements (`use-auth-secret`): username = `expiry:label`, password =
//! base64(HMAC-SHA1(secret, username)). The web server hands such pairs to logged-in users;
//! this module checks them without any per-user state, so an external coturn configured with
//! the same secret accepts the same credentials.

use std::collections::HashMap;

use base64::Engine;
use md5::{Digest, Md5};
use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum CredentialError {
    #[error("unknown username")]
    Unknown,
    #[error("credentials expired")]
    Expired,
}

/// Where valid usernames and passwords come from.
#[derive(Clone, Default)]
pub struct Credentials {
    /// Shared secret of the REST API scheme; `None` disables it.
    pub secret: Option<Vec<u8>>,
    /// Fixed username → password pairs (tests, or a device that cannot log in).
    pub static_users: HashMap<String, String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets or passwords.
        f.debug_struct("Credentials")
            .field("secret", &self.secret.as_ref().map(|_| "<set>"))
            .field("static_users", &self.static_users.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Credentials {
    /// The password of `username` at `now` (Unix seconds).
    pub fn password(&self, username: &str, now: u64) -> Result<String, CredentialError> {
        if let Some(p) = self.static_users.get(username) {
            return Ok(p.clone());
        }
        let secret = self.secret.as_ref().ok_or(CredentialError::Unknown)?;
        let expiry: u64 = username.split(':').next().and_then(|e| e.parse().ok()).ok_or(CredentialError::Unknown)?;
        if expiry < now {
            return Err(CredentialError::Expired);
        }
        Ok(rest_password(secret, username))
    }

    /// The long-term key: MD5(username ":" realm ":" password).
    pub fn key(&self, username: &str, realm: &str, now: u64) -> Result<Vec<u8>, CredentialError> {
        Ok(long_term_key(username, realm, &self.password(username, now)?))
    }
}

pub fn long_term_key(username: &str, realm: &str, password: &str) -> Vec<u8> {
    let mut h = Md5::new();
    h.update(username.as_bytes());
    h.update(b":");
    h.update(realm.as_bytes());
    h.update(b":");
    h.update(password.as_bytes());
    h.finalize().to_vec()
}

/// base64(HMAC-SHA1(secret, username)), as coturn computes it.
pub fn rest_password(secret: &[u8], username: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    base64::engine::general_purpose::STANDARD.encode(ring::hmac::sign(&key, username.as_bytes()).as_ref())
}

/// Labels starting with this make a *scoped* credential: its allocations relay only to the
/// server's own media addresses ([`crate::Config::scoped_peers`]), e.g. for meeting guests.
pub const SCOPED_PREFIX: &str = "scoped~";

/// Whether a TURN REST username (`EXPIRY:LABEL`) is scoped (see [`SCOPED_PREFIX`]).
pub fn is_scoped(username: &str) -> bool {
    username.split_once(':').is_some_and(|(_, label)| label.starts_with(SCOPED_PREFIX))
}

/// A time-limited username and password for `label` (e.g. a user id), valid `ttl_secs`.
pub fn issue(secret: &[u8], label: &str, now: u64, ttl_secs: u64) -> (String, String) {
    let username = format!("{}:{label}", now + ttl_secs);
    let password = rest_password(secret, &username);
    (username, password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_scheme_round_trip_and_expiry() {
        let creds = Credentials { secret: Some(b"s3cret".to_vec()), ..Default::default() };
        let (user, pass) = issue(b"s3cret", "42", 1000, 3600);
        assert_eq!(user, "4600:42");
        assert_eq!(creds.password(&user, 2000), Ok(pass.clone()));
        assert_eq!(creds.password(&user, 4601), Err(CredentialError::Expired));
        assert_eq!(creds.password("no-expiry", 0), Err(CredentialError::Unknown));
        assert_ne!(rest_password(b"other", &user), pass);
        // Known answer: HMAC-SHA1 of the RFC 2202 test case 2, base64.
        assert_eq!(rest_password(b"Jefe", "what do ya want for nothing?"), "7/zfauXrL6LSdBbV8YTfnCWafHk=");
    }

    #[test]
    fn long_term_key_matches_rfc_example() {
        // RFC 5769 §2.4 uses the same construction: MD5("user:realm:pass").
        let k = long_term_key("user", "realm", "pass");
        assert_eq!(k.len(), 16);
        assert_eq!(k, Md5::digest(b"user:realm:pass").to_vec());
    }
}
