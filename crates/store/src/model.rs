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

/// A user's contact list as they see it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactList {
    pub contacts: Vec<User>,
    /// Requests others sent to this user.
    pub incoming: Vec<User>,
    /// Requests this user sent, not yet answered.
    pub outgoing: Vec<User>,
    /// Users this user blocked.
    pub blocked: Vec<User>,
}

/// Ids of a user's contacts, and of users with a block in either direction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelationIds {
    pub contacts: Vec<i64>,
    pub blocked: Vec<i64>,
}

/// What a contact request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestOutcome {
    /// A request is now pending.
    Requested,
    /// The other side had already asked: they are now contacts.
    Accepted,
    /// They were contacts already.
    AlreadyContacts,
}

/// One entry of the call history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRow {
    pub id: i64,
    pub caller: Option<i64>,
    pub callee: Option<i64>,
    pub media: String,
    pub answered: bool,
    pub reason: String,
    pub started_at: i64,
    pub ring_secs: i64,
    pub talk_secs: i64,
    pub callee_seen: bool,
}
