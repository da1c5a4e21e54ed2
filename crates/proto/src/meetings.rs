//! Meetings and guests (`/api/v1/meetings`, `/api/v1/meet/*`). Times are Unix seconds (UTC).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Who may come into a meeting without being let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MeetingAccess {
    /// Members of the organisation only; guests are refused.
    Members,
    /// Members come in; guests wait in the lobby until a host admits them (the default).
    Lobby,
    /// Nobody new comes in.
    Locked,
}

/// `POST /api/v1/meetings`: a new meeting, hosted by the caller.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMeeting {
    /// Shown to everyone who joins; up to 100 characters (default "Meeting").
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100)]
    pub title: Option<String>,
    /// When it is planned to start (informational; people can come in before).
    #[serde(default)]
    pub starts_at: Option<i64>,
    /// When it ends at the latest: its link and code stop working then. Default: 24 hours
    /// from now (or from `starts_at`); at most the configured longest meeting after the start.
    #[serde(default)]
    pub ends_at: Option<i64>,
    #[serde(default)]
    pub access: Option<MeetingAccess>,
}

/// `PATCH /api/v1/meetings/{id}`: a host changes who may come in (e.g. locks it).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMeeting {
    pub access: MeetingAccess,
}

/// A guest as hosts see them in the lobby and in the meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GuestInfo {
    /// The guest's user id (as in room members and chat messages).
    pub id: i64,
    pub display_name: String,
    /// `waiting`, `admitted`, `rejected`, `removed` or `gone`.
    pub state: String,
    pub since: i64,
}

/// A meeting as its hosts, members and guests see it. `link` and `code` are given to hosts
/// only; everyone else gets `null`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MeetingInfo {
    pub id: i64,
    pub title: String,
    /// The meeting's conversation: its chat, and its call (`room_join` with this `conv`).
    pub conv: i64,
    /// Path of the meeting's link on this server, `/m/<token>`.
    pub link: Option<String>,
    /// Code to type on the start page, `1234-5678-9012`.
    pub code: Option<String>,
    pub access: MeetingAccess,
    pub starts_at: Option<i64>,
    pub ends_at: i64,
    pub ended: bool,
    /// Made by two people typing the same code (no host; both must accept).
    pub by_code: bool,
    /// The caller's role: `host`, `member`, `guest` (let in), or `waiting` (a guest in the
    /// lobby, or not yet accepted in a meet-by-code meeting).
    pub role: String,
    /// Display names of the hosts.
    pub hosts: Vec<String>,
    /// Guests, for hosts (waiting ones first) and, in a meet-by-code meeting, for its two
    /// people; empty for everyone else.
    pub guests: Vec<GuestInfo>,
}

/// `POST /api/v1/meet/join`: come into a meeting by its link token or its code. With a
/// member's session the member comes in (no lobby); without one, a guest account is made
/// (`name` required) and waits in the lobby.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinMeeting {
    /// The token from the link `/m/<token>`.
    #[serde(default)]
    pub link: Option<String>,
    /// The meeting's code (digits; spaces and dashes ignored).
    #[serde(default)]
    pub code: Option<String>,
    /// A guest's display name (validated like members' names).
    #[serde(default)]
    #[schema(schema_with = crate::schemas::guest_name)]
    pub name: Option<String>,
}

/// `POST /api/v1/meet/code`: meet by code, the two people who type the same code within
/// the window meet. Always makes a guest account (the caller's session, if any, is kept).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeetByCode {
    /// What the two agreed on: 6 to 64 letters or digits (case, spaces, dashes, dots and
    /// underscores ignored).
    #[schema(pattern = r"^[ ._-]*(?:[A-Za-z0-9][ ._-]*){6,64}$", max_length = 512)]
    pub code: String,
    /// The display name the other person sees.
    #[schema(schema_with = crate::schemas::name)]
    pub name: String,
}

/// Answer to `POST /api/v1/meet/join` and `POST /api/v1/meet/code`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JoinedMeeting {
    pub meeting: MeetingInfo,
    /// `joined` (a member, in now), `waiting` (a guest in the lobby, or the first at a code),
    /// `matched` (meet-by-code: someone is waiting at the code; both must accept).
    pub state: String,
    /// The new guest session, when a guest account was made (its cookie is set too).
    pub session: Option<crate::rest::SessionInfo>,
    /// Meet-by-code, `matched`: the other person's display name.
    pub peer: Option<String>,
    /// Meet-by-code, `waiting`: seconds left for the other person to type the code.
    pub window_secs: Option<u64>,
}
