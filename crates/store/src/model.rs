//! Rows as the rest of the server sees them. Times are Unix seconds (UTC).

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub is_admin: bool,
    pub disabled: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub is_admin: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: i64,
    pub user_id: i64,
    pub csrf_token: String,
    pub user_agent: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub absolute_expires_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewSession {
    /// SHA-256 of the cookie token; the token itself is never stored.
    pub token_hash: Vec<u8>,
    pub user_id: i64,
    pub csrf_token: String,
    pub user_agent: String,
    pub now: i64,
    pub expires_at: i64,
    pub absolute_expires_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteKind {
    /// The first-admin link printed at start-up while no admin exists.
    Setup,
    /// A registration link created by an administrator.
    Registration,
}

impl InviteKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            InviteKind::Setup => "setup",
            InviteKind::Registration => "registration",
        }
    }
    pub(crate) fn parse(s: &str) -> Self {
        if s == "setup" {
            InviteKind::Setup
        } else {
            InviteKind::Registration
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    pub id: i64,
    pub kind: InviteKind,
    pub is_admin: bool,
    pub created_by: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct NewInvite {
    /// SHA-256 of the link token.
    pub token_hash: Vec<u8>,
    pub kind: InviteKind,
    pub is_admin: bool,
    pub created_by: Option<i64>,
    pub now: i64,
    pub expires_at: i64,
}
