//! One-time links that let someone create an account: registration invites made by an
//! administrator (API or CLI) and the first-admin setup link printed at start-up.

use std::time::Duration;

use store::{InviteKind, NewInvite, Store, StoreError};

/// A freshly stored link. `url` holds the secret and is shown exactly once.
#[derive(Debug, Clone)]
pub struct Link {
    pub id: i64,
    pub url: String,
    pub expires_at: i64,
}

/// Stores a new link (only the token's hash) and returns its URL under `public_url`.
pub fn create_link(
    s: &dyn Store,
    public_url: &str,
    kind: InviteKind,
    is_admin: bool,
    created_by: Option<i64>,
    ttl: Duration,
    now: i64,
) -> Result<Link, StoreError> {
    let token = crate::token::new_token();
    let expires_at = now.saturating_add(ttl.as_secs().min(i64::MAX as u64) as i64);
    let id = s.create_invite(&NewInvite {
        token_hash: crate::token::hash_token(&token),
        kind,
        is_admin,
        created_by,
        now,
        expires_at,
    })?;
    // The token travels in the URL fragment: browsers never send a fragment to a server or
    // in a Referer header, so it cannot end up in any access log.
    let path = match kind {
        InviteKind::Setup => "setup",
        InviteKind::Registration => "invite",
    };
    Ok(Link { id, url: format!("{}/{path}#{token}", public_url.trim_end_matches('/')), expires_at })
}

/// If no enabled administrator exists, replaces any earlier setup link with a fresh admin
/// link valid for `ttl` and returns it; otherwise `None`.
pub fn ensure_setup_link(s: &dyn Store, public_url: &str, ttl: Duration, now: i64) -> Result<Option<Link>, StoreError> {
    if s.count_enabled_admins()? > 0 {
        return Ok(None);
    }
    s.delete_setup_invites()?;
    create_link(s, public_url, InviteKind::Setup, true, None, ttl, now).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_link_only_while_no_admin_and_only_the_newest_works() {
        let s = store::SqliteStore::open_in_memory().unwrap();
        let first = ensure_setup_link(&s, "https://h:1/", Duration::from_secs(60), 0).unwrap().unwrap();
        assert!(first.url.starts_with("https://h:1/setup#"));
        let second = ensure_setup_link(&s, "https://h:1", Duration::from_secs(60), 0).unwrap().unwrap();
        let token = |l: &Link| l.url.rsplit_once('#').unwrap().1.to_owned();
        let hash = |l: &Link| crate::token::hash_token(&token(l));
        assert!(s.usable_invite(&hash(&first), 1).unwrap().is_none(), "older link replaced");
        assert!(s.usable_invite(&hash(&second), 1).unwrap().is_some());
        let admin = crate::prepare_new_user("root", None, "long enough pw", false).unwrap();
        let u = s.redeem_invite(&hash(&second), &admin, 2).unwrap();
        assert!(u.is_admin);
        assert!(ensure_setup_link(&s, "https://h:1", Duration::from_secs(60), 3).unwrap().is_none());
    }
}
