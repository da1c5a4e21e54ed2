//! The JSON error body every failing request returns, with a stable machine-readable code.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Stable error codes. Clients match on these; the human message may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The body is not syntactically valid JSON (or not valid UTF-8).
    InvalidJson,
    /// The JSON is valid but does not have the expected shape (wrong type, missing or unknown field).
    InvalidBody,
    /// The request body must be `application/json`.
    UnsupportedMediaType,
    /// The request body exceeds the size limit.
    BodyTooLarge,
    /// A field's value breaks a rule (e.g. a username with forbidden characters); see `field`.
    InvalidField,
    /// No valid session: log in first.
    Unauthenticated,
    /// Username or password wrong (deliberately not saying which).
    InvalidCredentials,
    /// The account exists but has been disabled by an administrator.
    AccountDisabled,
    /// Too many attempts; retry after `retry_after_secs`.
    RateLimited,
    /// The logged-in user may not do this.
    Forbidden,
    /// A state-changing request lacked a valid `X-CSRF-Token` header or came from a foreign origin.
    CsrfFailed,
    /// The thing addressed does not exist (or is not visible to the caller).
    NotFound,
    /// A username is already taken.
    UsernameTaken,
    /// An invite or setup link is unknown, expired or already used.
    InviteInvalid,
    /// The current password given for a password change is wrong.
    WrongPassword,
    /// The operation would leave the server without an enabled administrator.
    LastAdmin,
    /// No such API route or method.
    NoRoute,
    /// Not possible between these two users (one blocked the other).
    NotAllowed,
    /// The upload would take the user past their storage quota for attachments.
    QuotaExceeded,
    /// The organisation's directory (LDAP) cannot be reached: directory accounts cannot sign
    /// in until it is back (local accounts can). Retry later.
    DirectoryUnavailable,
    /// The database cannot be reached right now (a restart, a network fault between this
    /// node and it). Nothing was changed; retry after the seconds in `retry_after_secs`.
    DatabaseUnavailable,
    /// The account's password is managed by the organisation's directory; change it there.
    ManagedByDirectory,
    /// A guest (meeting participant without an account) tried something outside their
    /// meeting: guests reach only their meeting, its chat and its call.
    GuestForbidden,
    /// The meeting link or code is unknown, or the meeting is over.
    NoSuchMeeting,
    /// The meeting is locked (or, for guests, open to members only): nobody new comes in.
    MeetingLocked,
    /// A meet-by-code code that was used already; it stays burnt for a day.
    CodeUsed,
    /// The server or the administrator has turned this off (guest access, meet-by-code).
    Disabled,
    /// Something failed on the server; details are in the server log, never in the reply.
    Internal,
}

/// Body of every 4xx/5xx response from `/api/v1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApiError {
    pub code: ErrorCode,
    /// Human-readable explanation, safe to show to the user.
    pub message: String,
    /// The request field the error is about, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For `rate_limited`: seconds until a retry may succeed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), field: None, retry_after_secs: None }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}
