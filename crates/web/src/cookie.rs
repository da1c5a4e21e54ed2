//! The session cookie. The `__Host-` prefix makes the browser insist on Secure, Path=/ and no
//! Domain, so no sibling host or plain-HTTP page can set or shadow it.

use axum::http::{header, HeaderMap, HeaderValue};

pub const SESSION_COOKIE: &str = "__Host-mwsession";

/// The session token from the request's Cookie header(s), if any.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

pub fn set_session(token: &str, max_age_secs: u64) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}"
    ))
    .ok()
}

pub fn clear_session() -> HeaderValue {
    HeaderValue::from_static("__Host-mwsession=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_cookie_among_others_and_ignores_junk() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=b; __Host-mwsession=tok; c"));
        assert_eq!(session_token(&h).as_deref(), Some("tok"));
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("mwsession=tok; ;;="));
        assert_eq!(session_token(&h), None);
    }
}
