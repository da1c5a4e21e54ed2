//! Request and response bodies of `/api/v1`. Times are Unix seconds (UTC).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /api/v1/session`: log in.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// A user as others see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UserInfo {
    pub id: i64,
    /// Normalised login name: lowercase ASCII letters, digits, `.`, `_`, `-`.
    pub username: String,
    pub display_name: String,
    pub is_admin: bool,
}

/// The caller's own session: who they are and the CSRF token for state-changing requests.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SessionInfo {
    pub user: UserInfo,
    /// Send this in the `X-CSRF-Token` header of every POST/PATCH/PUT/DELETE.
    pub csrf_token: String,
    pub session_id: i64,
    /// Who owns the password: `local` (changed here) or `directory` (the organisation's LDAP).
    #[serde(default = "local_source")]
    pub account_source: String,
}

fn local_source() -> String {
    "local".to_owned()
}

/// One logged-in device of the caller (`GET /api/v1/sessions`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeviceSession {
    pub id: i64,
    /// Browser description, from the User-Agent at login (truncated).
    pub user_agent: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    /// True for the session this request was made with.
    pub current: bool,
}

/// `POST /api/v1/me/password`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    /// 8 to 256 characters, not only spaces.
    #[schema(min_length = 8, max_length = 256)]
    pub new_password: String,
}

/// `POST /api/v1/invites/check`: is this invite or setup token usable?
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteCheckRequest {
    pub token: String,
}

/// Reply to an invite check.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InviteCheck {
    /// `setup` for the first-admin link, `registration` for an invite link.
    pub kind: InviteKind,
    /// Whether the account created with it will be an administrator.
    pub is_admin: bool,
    pub expires_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InviteKind {
    Setup,
    Registration,
}

/// `POST /api/v1/register`: create an account with an invite or setup token.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub token: String,
    /// 2 to 32 of `a-z 0-9 . _ -` after Unicode folding and lowercasing, starting and ending
    /// with a letter or digit.
    #[schema(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,30}[A-Za-z0-9]$")]
    pub username: String,
    #[serde(default)]
    #[schema(schema_with = crate::schemas::display_name)]
    pub display_name: Option<String>,
    /// 8 to 256 characters, not only spaces.
    #[schema(min_length = 8, max_length = 256)]
    pub password: String,
}

/// `POST /api/v1/admin/users`: an administrator creates an account.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    /// As for `RegisterRequest.username`.
    #[schema(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,30}[A-Za-z0-9]$")]
    pub username: String,
    #[serde(default)]
    #[schema(schema_with = crate::schemas::display_name)]
    pub display_name: Option<String>,
    #[schema(min_length = 8, max_length = 256)]
    pub password: String,
    #[serde(default)]
    pub is_admin: bool,
}

/// A user as an administrator sees them (`GET /api/v1/admin/users`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AdminUserInfo {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub is_admin: bool,
    pub disabled: bool,
    pub created_at: i64,
    /// `local` (created here) or `directory` (from the organisation's LDAP directory).
    pub source: String,
}

/// `PATCH /api/v1/admin/users/{id}`: change flags of an account. Absent fields stay as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    #[serde(default)]
    pub disabled: Option<bool>,
    #[serde(default)]
    pub is_admin: Option<bool>,
}

/// `POST /api/v1/admin/invites`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInviteRequest {
    /// Lifetime of the link in hours (1 to 720); default 72.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 720)]
    pub expires_in_hours: Option<u32>,
    /// Whether the account created with it is an administrator.
    #[serde(default)]
    pub is_admin: bool,
}

/// A freshly created invite link. The token is shown once and stored only as a hash.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedInvite {
    pub id: i64,
    pub url: String,
    pub expires_at: i64,
}

/// An invite as listed for administrators (without its secret).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InviteInfo {
    pub id: i64,
    pub is_admin: bool,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// `GET /readyz` and `GET /healthz` body.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
}

/// `GET /api/v1/contacts`: the caller's contact list.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ContactList {
    pub contacts: Vec<UserInfo>,
    /// Requests others sent to the caller.
    pub incoming: Vec<UserInfo>,
    /// Requests the caller sent, not yet answered.
    pub outgoing: Vec<UserInfo>,
    /// Users the caller blocked.
    pub blocked: Vec<UserInfo>,
}

/// `POST /api/v1/contacts/requests`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactRequest {
    pub user_id: i64,
}

/// Reply to a contact request.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ContactRequestResult {
    /// `requested` (pending), `accepted` (they had asked you: now contacts) or `already_contacts`.
    pub state: String,
}

/// One entry of `GET /api/v1/calls`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CallEntry {
    pub id: i64,
    /// `placed` or `received`, from the caller's point of view.
    pub direction: String,
    /// The other party (absent if their account was deleted); for a group call, who started it.
    pub other: Option<UserInfo>,
    /// `audio` or `video`; `group` for a group call that rang you (`conv`).
    pub media: String,
    pub answered: bool,
    /// How it ended: a `call_ended` reason of the signaling protocol (docs/protocol.md), e.g.
    /// hangup, declined, cancelled, no_answer, busy, unavailable, connection_lost, connect_failed,
    /// media_lost; for a group call `missed` or `declined`.
    pub reason: String,
    /// A received call that was not answered.
    pub missed: bool,
    /// For missed calls: whether the user has seen the notice.
    pub seen: bool,
    pub started_at: i64,
    pub ring_secs: i64,
    pub talk_secs: i64,
    /// For a group call: its conversation, and that conversation's name (absent if you are
    /// no longer a member).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conv: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conv_name: Option<String>,
}

/// One ICE server for `RTCPeerConnection` (`GET /api/v1/ice-servers`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// Which ICE candidates a browser may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IceTransportPolicy {
    /// Direct where possible, relayed where needed.
    All,
    /// Always through the TURN relay: peers never learn each other's IP addresses.
    Relay,
}

/// `GET /api/v1/ice-servers`: the `RTCPeerConnection` configuration for the caller. The
/// built-in TURN server's entry carries credentials valid for a limited time (fetch anew
/// before each call).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IceConfig {
    pub ice_servers: Vec<IceServer>,
    pub ice_transport_policy: IceTransportPolicy,
    /// When the credentials in `ice_servers` stop working (Unix seconds), if any expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_rejected() {
        let err = serde_json::from_str::<LoginRequest>(r#"{"username":"a","password":"b","admin":true}"#)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("unknown field `admin`"), "{err}");
    }

    #[test]
    fn error_codes_are_snake_case() {
        let s = serde_json::to_string(&crate::ApiError::new(crate::ErrorCode::InvalidCredentials, "x")).unwrap();
        assert_eq!(s, r#"{"code":"invalid_credentials","message":"x"}"#);
    }
}
